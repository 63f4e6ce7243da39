//! Namespaces as the API server keeps them: the four built-in ones exist
//! from the start, an object can be created only in a namespace that
//! exists and is not being deleted (the NamespaceLifecycle admission
//! plugin), and a deleted namespace stays Terminating until the objects
//! in it are gone (the namespace controller's finalizer).
//!
//! The built-in namespaces are written on first use into a staging
//! directory renamed into place, so no reader ever sees some of them and
//! not the others; a state directory from before namespaces were stored
//! gets a namespace for each one its objects are in.

use std::fs;
use std::io;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};

use super::{Store, atomic, object_bytes, sorted_entries, tempdir_in};
use crate::api::ApiError;
use crate::api::{Kind, Object, defaults};

/// What every cluster has (and the API server refuses to delete).
pub const BUILT_IN: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// The namespace's phase, from whether its deletion has begun.
pub fn fill_status(ns: &mut Namespace) {
    let phase = if ns.metadata.deletion_timestamp.is_some() {
        "Terminating"
    } else {
        "Active"
    };
    ns.status = Some(NamespaceStatus {
        phase: Some(phase.into()),
        ..Default::default()
    });
}

/// Whether `name` is being deleted (None: there is no such namespace).
pub fn terminating(store: &Store, name: &str) -> Result<Option<bool>> {
    ensure_built_in(store)?;
    // A Terminating namespace found empty is gone (see `Store::get_as`).
    match store.get(Kind::Namespace, "", name)? {
        Some(Object::Namespace(ns)) => Ok(Some(ns.metadata.deletion_timestamp.is_some())),
        _ => Ok(None),
    }
}

/// NamespaceLifecycle: a new object of `kind` named `name` may go into
/// `namespace` only if the namespace exists and is not terminating.
pub fn admit_create(store: &Store, kind: Kind, namespace: &str, name: &str) -> Result<()> {
    match terminating(store, namespace)? {
        Some(false) => Ok(()),
        None => Err(ApiError::NotFound {
            resource: Kind::Namespace.resource().into(),
            name: namespace.into(),
        }
        .into()),
        Some(true) => Err(ApiError::Refused {
            reason: "Forbidden".into(),
            message: format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                kind.resource()
            ),
        }
        .into()),
    }
}

/// Writes the built-in namespaces (and those the stored objects are in)
/// unless the namespaces directory already exists.
pub fn ensure_built_in(store: &Store) -> Result<()> {
    let target = store.root().join(Kind::Namespace.plural());
    if target.is_dir() {
        return Ok(());
    }
    let mut names: Vec<String> = BUILT_IN.iter().map(|n| n.to_string()).collect();
    for kind in crate::api::kind::ALL {
        names.extend(sorted_entries(&store.root().join(kind.plural()))?);
    }
    names.sort();
    names.dedup();
    let staging = tempdir_in(&store.root().join("tmp"))?;
    let written = (|| -> Result<()> {
        for name in &names {
            let mut object = Object::Namespace(Namespace {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                ..Default::default()
            });
            defaults::apply(&mut object, "");
            atomic::write_atomic(
                &staging.join(format!("{name}.json")),
                &object_bytes(&object)?,
            )?;
        }
        Ok(())
    })();
    let placed = written.and_then(|()| match atomic::rename_noreplace(&staging, &target) {
        // Another command seeded them first: theirs are as good.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.context("storing the built-in namespaces"),
    });
    let _ = fs::remove_dir_all(&staging);
    placed
}

/// Removes a Terminating namespace once nothing is left in it (the
/// namespace controller's last step); true when it is gone.
pub fn finish_if_empty(store: &Store, name: &str) -> Result<bool> {
    for kind in crate::api::kind::ALL {
        if !sorted_entries(&store.kind_dir(kind, name))?.is_empty() {
            return Ok(false);
        }
    }
    match fs::remove_file(store.object_path(Kind::Namespace, "", name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).context("removing a deleted namespace")
        }
        _ => Ok(true),
    }
}
