//! A delete as `pod delete` and the API server's DELETE do it: a pod
//! (or a namespace, with its pods) is ended by its supervisor within its
//! grace; other kinds are removed from the store.

use anyhow::Result;

use crate::api::{Kind, Object};
use crate::pods::{self, Termination};
use crate::store::{Detail, Store, StoreError};

/// Deletes one object as `pod delete` does (the API server's DELETE
/// comes here too); false when there is no such object.
pub fn delete_one(
    store: &Store,
    kind: Kind,
    namespace: &str,
    name: &str,
    grace: Termination,
    wait: bool,
) -> Result<bool> {
    match kind {
        Kind::Namespace => pods::namespace::delete(store, name, grace, wait),
        Kind::Pod => match store.get_as(kind, namespace, name, Detail::Manifest) {
            Ok(Some(Object::Pod(pod))) => {
                pods::delete(store, &pod, grace, wait)?;
                Ok(true)
            }
            // A damaged record must not keep its pod from being deleted.
            // (A record of a newer format is left to the build that wrote
            // it: this one may not know all it holds.)
            Err(e @ StoreError::Corrupt { .. }) => {
                pods::delete_damaged(store, (namespace, name), e, grace)?;
                Ok(true)
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(false),
        },
        _ => Ok(super::remove(store, kind, namespace, name)?),
    }
}
