//! `describe` in kubectl's layout.
//!
//! TODO(print): first cut.

use k8s_openapi::api::core::v1::Event;

use crate::api::Object;

pub fn describe(object: &Object, _events: &[Event]) -> String {
    format!(
        "Name:         {}\nNamespace:    {}\n",
        object.name(),
        object.namespace()
    )
}
