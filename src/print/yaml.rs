//! YAML output as kubectl prints it (sigs.k8s.io/yaml over Go's
//! encoding/json: sorted keys, two-space indentation, block sequences not
//! indented under their key).
//!
//! TODO(print): first cut.

pub fn to_yaml(value: &serde_json::Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_default()
}
