//! Deleting a namespace, as the API server and the namespace controller
//! do it together: the namespace is marked Terminating at once (so nothing
//! new can be created in it and `get ns` says so), every pod in it is
//! deleted with its own grace period, the other objects in it are removed,
//! and the namespace itself goes last. The built-in namespaces cannot be
//! deleted.
//!
//! Without waiting (`--wait=false`) the pods end on their own (their
//! supervisors finish their deletion), and the namespace is removed by
//! whichever command next reads it Terminating and empty
//! (`store::namespaces::finish_if_empty`), as the controller would notice.

use anyhow::Result;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::Termination;
use crate::api::ApiError;
use crate::api::{Kind, Object};
use crate::store::{Store, namespaces};

/// Deletes namespace `name` and what is in it; false when there is no
/// such namespace.
pub fn delete(store: &Store, name: &str, how: Termination, wait: bool) -> Result<bool> {
    if namespaces::BUILT_IN.contains(&name) {
        return Err(ApiError::Refused {
            reason: "Forbidden".into(),
            message: format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            ),
        }
        .into());
    }
    if !mark_terminating(store, name)? {
        return Ok(false);
    }
    let pods = store.list(Kind::Pod, Some(name))?;
    let outcomes: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pods
            .iter()
            .filter_map(|o| match o {
                Object::Pod(pod) => Some(scope.spawn(move || super::delete(store, pod, how, wait))),
                _ => None,
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("deleting a pod failed unexpectedly")))
            })
            .collect()
    });
    for outcome in outcomes {
        outcome?;
    }
    for kind in crate::api::kind::ALL
        .into_iter()
        .filter(|k| *k != Kind::Pod)
    {
        for object in store.list(kind, Some(name))? {
            store.remove(kind, name, object.name())?;
        }
    }
    namespaces::finish_if_empty(store, name)?;
    Ok(true)
}

/// Sets the namespace's deletionTimestamp (Terminating); false when it
/// does not exist.
fn mark_terminating(store: &Store, name: &str) -> Result<bool> {
    let _lock = store.lock(Kind::Namespace, "", name)?;
    let Some(Object::Namespace(mut ns)) = store.get(Kind::Namespace, "", name)? else {
        return Ok(false);
    };
    if ns.metadata.deletion_timestamp.is_none() {
        ns.metadata.deletion_timestamp = Some(Time(crate::duration::now()));
        ns.status = None;
        store.replace(&Object::Namespace(ns))?;
    }
    Ok(true)
}
