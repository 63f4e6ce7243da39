//! Defaulting as the API server does it (pkg/apis/core/v1/defaults.go) plus
//! what the server fills on create (uid, creationTimestamp, namespace).
//!
//! TODO(api): the full defaulting of the Pod spec.

use super::Object;

/// Defaults `object` for storing in `namespace`.
pub fn apply(object: &mut Object, namespace: &str) {
    let meta = object.metadata_mut();
    if meta.namespace.is_none() {
        meta.namespace = Some(namespace.to_string());
    }
}
