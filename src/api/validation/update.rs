//! What an update may change (`ValidatePodUpdate`, `ValidateObjectMetaUpdate`,
//! the ConfigMap and Secret `immutable` rules of
//! pkg/apis/core/validation): a pod's spec is fixed at create but for its
//! images, a shorter activeDeadlineSeconds, added tolerations, removed
//! scheduling gates and a negative grace period turned to 1.

use k8s_openapi::api::core::v1::{Pod, PodSpec, Toleration};

use super::super::field::BadValue;
use super::super::{FieldError, Object};

/// The API server's message for a pod update touching other fields (it
/// follows it with a diff of the two specs, which is left out here).
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Every cause for which the server refuses to replace `old` by `new`,
/// beyond those of `validate(new)`.
pub fn validate_update(new: &Object, old: &Object) -> Vec<FieldError> {
    let mut errs = meta_update(new, old);
    match (new, old) {
        (Object::Pod(new), Object::Pod(old)) => errs.extend(pod_update(new, old)),
        (Object::ConfigMap(new), Object::ConfigMap(old)) if old.immutable == Some(true) => {
            errs.extend(immutable_data(
                new.immutable,
                new.data != old.data || new.binary_data != old.binary_data,
            ));
        }
        (Object::Secret(new), Object::Secret(old)) => {
            if new.type_ != old.type_ {
                let value = BadValue::Str(new.type_.clone().unwrap_or_default());
                errs.push(FieldError::invalid("type", value, "field is immutable"));
            }
            if old.immutable == Some(true) {
                errs.extend(immutable_data(new.immutable, new.data != old.data));
            }
        }
        _ => {}
    }
    errs
}

/// `ValidateObjectMetaUpdate`: identity does not change.
fn meta_update(new: &Object, old: &Object) -> Vec<FieldError> {
    let (new, old) = (new.metadata(), old.metadata());
    let mut errs = Vec::new();
    let immutable = |field: &str, new: &Option<String>, old: &Option<String>| {
        (new != old).then(|| {
            FieldError::invalid(
                format!("metadata.{field}"),
                BadValue::Str(new.clone().unwrap_or_default()),
                "field is immutable",
            )
        })
    };
    errs.extend(immutable("name", &new.name, &old.name));
    errs.extend(immutable("namespace", &new.namespace, &old.namespace));
    errs.extend(immutable("uid", &new.uid, &old.uid));
    if new.creation_timestamp != old.creation_timestamp {
        let value = new
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        errs.push(FieldError::invalid(
            "metadata.creationTimestamp",
            BadValue::Str(value),
            "field is immutable",
        ));
    }
    errs
}

/// A ConfigMap's or Secret's contents once `immutable` was set.
fn immutable_data(new_immutable: Option<bool>, data_changed: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new_immutable != Some(true) {
        errs.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    if data_changed {
        errs.push(FieldError::forbidden(
            "data",
            "field is immutable when `immutable` is set",
        ));
    }
    errs
}

fn pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let empty = PodSpec::default();
    let new_spec = new.spec.as_ref().unwrap_or(&empty);
    let old_spec = old.spec.as_ref().unwrap_or(&empty);
    let mut errs = Vec::new();
    for (field, new_list, old_list) in [
        ("containers", &new_spec.containers, &old_spec.containers),
        (
            "initContainers",
            new_spec.init_containers.as_ref().unwrap_or(&Vec::new()),
            old_spec.init_containers.as_ref().unwrap_or(&Vec::new()),
        ),
    ] {
        let path = format!("spec.{field}");
        if new_list.len() != old_list.len() {
            errs.push(FieldError::forbidden(
                path,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in new_list.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.is_empty() {
                errs.push(FieldError::required(format!("{path}[{i}].image"), ""));
            } else if image.trim() != image {
                errs.push(FieldError::invalid(
                    format!("{path}[{i}].image"),
                    BadValue::Str(image.into()),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let deadline = "spec.activeDeadlineSeconds";
    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(new), _) if !(0..=i32::MAX as i64).contains(&new) => {
            errs.push(FieldError::invalid(
                deadline,
                BadValue::Int(new),
                "must be between 0 and 2147483647, inclusive",
            ));
            return errs;
        }
        (Some(new), Some(old)) if old < new => {
            errs.push(FieldError::invalid(
                deadline,
                BadValue::Int(new),
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            deadline,
            BadValue::None,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    errs.extend(only_added_tolerations(
        new_spec.tolerations.as_deref().unwrap_or_default(),
        old_spec.tolerations.as_deref().unwrap_or_default(),
    ));
    let old_gates = old_spec.scheduling_gates.as_deref().unwrap_or_default();
    for gate in new_spec.scheduling_gates.as_deref().unwrap_or_default() {
        if !old_gates.contains(gate) {
            errs.push(FieldError::forbidden(
                "spec.schedulingGates",
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    gate.name
                ),
            ));
        }
    }
    // The fields an update may change are set back to the old values; what
    // differs after that is forbidden.
    let mut munged = new_spec.clone();
    for (c, old) in munged.containers.iter_mut().zip(&old_spec.containers) {
        c.image = old.image.clone();
    }
    if let (Some(init), Some(old)) = (&mut munged.init_containers, &old_spec.init_containers) {
        for (c, old) in init.iter_mut().zip(old) {
            c.image = old.image.clone();
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    munged.tolerations = old_spec.tolerations.clone();
    munged.ephemeral_containers = old_spec.ephemeral_containers.clone();
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if munged != *old_spec {
        errs.push(FieldError::forbidden("spec", POD_UPDATE_FORBIDDEN));
    }
    errs
}

/// `validateOnlyAddedTolerations`: every old toleration is still there,
/// but for its tolerationSeconds.
fn only_added_tolerations(new: &[Toleration], old: &[Toleration]) -> Vec<FieldError> {
    for old in old {
        let kept = new.iter().any(|new| {
            let mut old = old.clone();
            old.toleration_seconds = new.toleration_seconds;
            old == *new
        });
        if !kept {
            return vec![FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Object {
        let value =
            json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": spec});
        Object::Pod(Box::new(serde_json::from_value(value).unwrap()))
    }

    type Change = fn(&mut serde_json::Value);

    fn base() -> serde_json::Value {
        json!({
            "containers": [{"name": "a", "image": "busybox"}],
            "initContainers": [{"name": "i", "image": "busybox"}],
            "activeDeadlineSeconds": 100,
            "terminationGracePeriodSeconds": -1,
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}],
            "schedulingGates": [{"name": "g"}],
            "restartPolicy": "Always"
        })
    }

    fn causes(change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
        let mut spec = base();
        change(&mut spec);
        validate_update(&pod(spec), &pod(base()))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn what_a_pod_update_may_change() {
        let allowed: [Change; 6] = [
            |s| s["containers"][0]["image"] = json!("nginx"),
            |s| s["initContainers"][0]["image"] = json!("nginx"),
            |s| s["activeDeadlineSeconds"] = json!(50),
            |s| {
                s["tolerations"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"key": "x", "operator": "Exists"}))
            },
            |s| s["tolerations"][0]["tolerationSeconds"] = json!(60),
            |s| {
                s["schedulingGates"] = json!([]);
                s["terminationGracePeriodSeconds"] = json!(1);
            },
        ];
        for change in allowed {
            assert_eq!(causes(change), Vec::<String>::new());
        }
    }

    #[test]
    fn what_it_may_not_with_the_servers_messages() {
        let forbidden = format!("spec: Forbidden: {POD_UPDATE_FORBIDDEN}");
        let cases: [(Change, &str); 8] = [
            (|s| s["restartPolicy"] = json!("Never"), &forbidden),
            (
                |s| s["containers"][0]["command"] = json!(["sh"]),
                &forbidden,
            ),
            (
                |s| s["terminationGracePeriodSeconds"] = json!(5),
                &forbidden,
            ),
            (
                |s| {
                    s["containers"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"name": "b", "image": "x"}))
                },
                "spec.containers: Forbidden: pod updates may not add or remove containers",
            ),
            (
                |s| s["activeDeadlineSeconds"] = json!(200),
                "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value",
            ),
            (
                |s| {
                    s.as_object_mut()
                        .unwrap()
                        .remove("activeDeadlineSeconds")
                        .map(drop)
                        .unwrap()
                },
                "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value",
            ),
            (
                |s| s["tolerations"] = json!([]),
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
            ),
            (
                |s| s["schedulingGates"] = json!([{"name": "g"}, {"name": "h"}]),
                "spec.schedulingGates: Forbidden: only deletion is allowed, but found new scheduling gate 'h'",
            ),
        ];
        for (change, want) in cases {
            assert_eq!(causes(change), vec![want.to_string()]);
        }
        assert_eq!(
            causes(|s| s["containers"][0]["image"] = json!(" x")),
            vec![
                "spec.containers[0].image: Invalid value: \" x\": must not have leading or trailing whitespace"
            ]
        );
    }

    #[test]
    fn identity_and_immutable_data() {
        let mut renamed = pod(base());
        renamed.metadata_mut().uid = Some("other".into());
        let got: Vec<String> = validate_update(&renamed, &pod(base()))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            ["metadata.uid: Invalid value: \"other\": field is immutable"]
        );

        let cm = |data: &str, immutable: Option<bool>| {
            Object::ConfigMap(k8s_openapi::api::core::v1::ConfigMap {
                data: Some([("k".to_string(), data.to_string())].into()),
                immutable,
                ..Default::default()
            })
        };
        let got: Vec<String> = validate_update(&cm("b", None), &cm("a", Some(true)))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set"
            ]
        );
        assert!(validate_update(&cm("b", None), &cm("a", None)).is_empty());
    }
}
