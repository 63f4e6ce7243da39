//! What the API server checks when a Node is updated (`ValidateNodeUpdate`)
//! and a user can change here: labels, annotations and taints.

use k8s_openapi::api::core::v1::Node;

use super::meta::{validate_annotations, validate_labels};
use super::{Errors, Path, names};
use crate::api::FieldError;

/// The taint effects the API accepts.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

pub fn validate_node(node: &Node) -> Vec<FieldError> {
    let meta = Path::new("metadata");
    let mut errs = Errors::default();
    errs.extend(validate_labels(
        node.metadata.labels.as_ref(),
        &meta.child("labels"),
    ));
    errs.extend(validate_annotations(
        node.metadata.annotations.as_ref(),
        &meta.child("annotations"),
    ));
    let taints = Path::new("spec").child("taints");
    for (i, taint) in node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = taints.index(i);
        errs.check(
            &at.child("key"),
            &taint.key,
            names::qualified_name(&taint.key),
        );
        let value = taint.value.as_deref().unwrap_or("");
        let problems = names::label_value(value);
        if !problems.is_empty() {
            errs.invalid(&at.child("value"), value, problems.join(";"));
        }
        if !TAINT_EFFECTS.contains(&taint.effect.as_str()) {
            errs.not_supported(&at.child("effect"), &taint.effect, &TAINT_EFFECTS);
        }
    }
    errs.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_taints_are_checked() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "box", "labels": {"a b": "c"}},
            "spec": {"taints": [
                {"key": "k", "value": "v", "effect": "NoSchedule"},
                {"key": "k/", "effect": "Sometimes"},
            ]},
        }))
        .unwrap();
        let errs: Vec<String> = validate_node(&node)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].starts_with("metadata.labels: Invalid value: \"a b\""));
        assert_eq!(
            errs[1],
            "spec.taints[1].key: Invalid value: \"k/\": name part must be non-empty"
        );
        assert_eq!(
            errs[3],
            "spec.taints[1].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
        );
    }
}
