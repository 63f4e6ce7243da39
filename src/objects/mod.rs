//! The objects of every kind as the API serves them, for the verbs that
//! take any kind (get, describe, label, annotate, apply, create, delete,
//! wait, watch): the stored kinds come from `store`, the one Node from
//! `node`, which builds it from the machine and its record (it is no file
//! of its own). Code that works on one stored kind uses the store
//! directly; the store refuses a Node rather than guess.

mod admit;
mod delete;

pub use admit::{DryRun, admit_and_store};
pub use delete::delete_one;

use anyhow::anyhow;

use crate::api::{ApiError, Kind, Object};
use crate::store::{Detail, Result, Store, StoreError, names};

/// Reads one object; a pod comes with its status record merged in.
pub fn get(store: &Store, kind: Kind, namespace: &str, name: &str) -> Result<Option<Object>> {
    get_as(store, kind, namespace, name, Detail::Full)
}

/// Reads one object, decoding as much as `detail` says.
pub fn get_as(
    store: &Store,
    kind: Kind,
    namespace: &str,
    name: &str,
    detail: Detail,
) -> Result<Option<Object>> {
    if kind == Kind::Pod {
        let found = store.get_as(kind, namespace, name, detail)?;
        return match &found {
            // Its supervisor and keeper died: a new supervisor adopts it
            // (`pods::revive`), and it reads as that one says.
            Some(Object::Pod(pod)) if crate::pods::revive(store, &[pod]) == [true] => {
                store.get_as(kind, namespace, name, detail)
            }
            _ => Ok(found),
        };
    }
    if kind != Kind::Node {
        return store.get_as(kind, namespace, name, detail);
    }
    // The one node, whatever namespace was asked.
    names::check_path_segment(name)?;
    let node = crate::node::current(store)?;
    Ok((node.metadata.name.as_deref() == Some(name)).then(|| Object::Node(Box::new(node))))
}

/// Like `get`, but a missing object is kubectl's NotFound error.
pub fn get_required(store: &Store, kind: Kind, namespace: &str, name: &str) -> Result<Object> {
    get(store, kind, namespace, name)?.ok_or_else(|| StoreError::NotFound {
        resource: kind.resource().to_string(),
        name: name.to_string(),
    })
}

/// Every object of `kind` in `namespace` (all namespaces when `None`),
/// sorted by namespace then name as the API server lists them.
pub fn list(store: &Store, kind: Kind, namespace: Option<&str>) -> Result<Vec<Object>> {
    list_each(store, kind, namespace, Detail::Full)?
        .into_iter()
        .collect()
}

/// Like `list`, with one result per object: an unreadable one (a corrupt
/// record) does not keep the others from being read.
pub fn list_each(
    store: &Store,
    kind: Kind,
    namespace: Option<&str>,
    detail: Detail,
) -> Result<Vec<Result<Object>>> {
    if kind == Kind::Pod {
        return Ok(revived(
            store,
            store.list_each(kind, namespace, detail)?,
            detail,
        ));
    }
    if kind != Kind::Node {
        return store.list_each(kind, namespace, detail);
    }
    let node = crate::node::current(store)
        .map(|n| Object::Node(Box::new(n)))
        .map_err(StoreError::from);
    Ok(vec![node])
}

/// Listed pods whose supervisor and keeper died are adopted by new
/// supervisors, all at once (`pods::revive`), and read again.
fn revived(store: &Store, mut listed: Vec<Result<Object>>, detail: Detail) -> Vec<Result<Object>> {
    let lost: Vec<(usize, &k8s_openapi::api::core::v1::Pod)> = listed
        .iter()
        .enumerate()
        .filter_map(|(i, read)| match read {
            Ok(Object::Pod(pod)) if crate::pods::maybe_lost(pod) => Some((i, pod.as_ref())),
            _ => None,
        })
        .collect();
    if lost.is_empty() {
        return listed;
    }
    let pods: Vec<&k8s_openapi::api::core::v1::Pod> = lost.iter().map(|(_, p)| *p).collect();
    let revived = crate::pods::revive(store, &pods);
    let again: Vec<usize> = lost
        .iter()
        .zip(revived)
        .filter_map(|((i, _), revived)| revived.then_some(*i))
        .collect();
    for i in again {
        let (namespace, name) = match &listed[i] {
            Ok(o) => (o.namespace().to_string(), o.name().to_string()),
            Err(_) => continue,
        };
        // Deleted since it was listed: it is shown as listed.
        if let Ok(Some(o)) = store.get_as(Kind::Pod, &namespace, &name, detail) {
            listed[i] = Ok(o);
        }
    }
    listed
}

/// Stores a new object; a Node is refused (see [`refuse_node_create`]).
pub fn create(store: &Store, object: &Object) -> Result<()> {
    if let Object::Node(_) = object {
        return Err(anyhow::Error::from(refuse_node_create(store, object.name())).into());
    }
    store.create(object)
}

/// Replaces an object (apply, label, annotate, taint): of a Node, what a
/// user may change of it (see `node::save`).
pub fn replace(store: &Store, object: &Object) -> Result<()> {
    if let Object::Node(node) = object {
        return Ok(crate::node::save(store, node)?);
    }
    store.replace(object)
}

/// Removes an object; returns whether there was one. The Node is the
/// machine: it is never removed.
pub fn remove(store: &Store, kind: Kind, namespace: &str, name: &str) -> Result<bool> {
    if kind != Kind::Node {
        return store.remove(kind, namespace, name);
    }
    if get(store, kind, namespace, name)?.is_none() {
        return Ok(false);
    }
    Err(anyhow!("{}", node_is_the_machine(name)).into())
}

/// What the API server of a one-node cluster answers a Node create: the
/// node's own name exists already (the kubelet registered it); another
/// name would be a Node no kubelet ever reports for, NotReady for ever, so
/// it is refused rather than stored.
pub fn refuse_node_create(store: &Store, name: &str) -> ApiError {
    let this = crate::node::name_of(store);
    if name == this {
        return ApiError::AlreadyExists {
            resource: "nodes".into(),
            name: name.to_string(),
        };
    }
    ApiError::Refused {
        reason: "Forbidden".into(),
        message: format!(
            "nodes {name:?} is forbidden: pod's one node is this machine, {this:?}, registered by pod itself; no kubelet would ever run a Node named {name:?}"
        ),
    }
}

/// Why a node cannot be created or deleted here.
fn node_is_the_machine(name: &str) -> String {
    format!(
        "nodes {name:?} cannot be created or deleted: pod's one node is this machine, registered by pod itself"
    )
}
