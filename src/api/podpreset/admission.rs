//! The PodPreset admission plugin as Kubernetes 1.19 ran it
//! (plugin/pkg/admission/podpreset): on a pod's creation, every preset of
//! its namespace whose selector matches the pod's labels is merged in:
//! env, envFrom and volume mounts into every container and init
//! container, volumes into the pod, and a
//! `podpreset.admission.kubernetes.io/podpreset-<name>` annotation with
//! the preset's resourceVersion. The plugin checks all matching presets
//! first: one conflict (an env var or volume of the same name, or a mount
//! at the same path, with a different value) and the pod is left exactly
//! as it was, with the plugin's warning. A pod annotated
//! `podpreset.admission.kubernetes.io/exclude: "true"` and a mirror pod
//! are left alone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvFromSource, EnvVar, Pod, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{PodPreset, PodPresetSpec};

/// The annotation by which a pod opts out.
const EXCLUDE_ANNOTATION: &str = "podpreset.admission.kubernetes.io/exclude";
const ANNOTATION_PREFIX: &str = "podpreset.admission.kubernetes.io";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// What the plugin did to a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// No preset applies (none matches, or the pod opted out).
    Untouched,
    /// These presets were merged in.
    Applied(Vec<String>),
    /// The matching presets conflict with the pod: nothing was merged;
    /// the plugin's warning.
    Conflict(String),
}

/// Runs the plugin on a pod being created, with the presets of its
/// namespace.
pub fn admit(pod: &mut Pod, presets: &[PodPreset]) -> Admission {
    let annotations = pod.metadata.annotations.as_ref();
    if annotations.is_some_and(|a| {
        a.contains_key(MIRROR_ANNOTATION)
            || a.get(EXCLUDE_ANNOTATION).map(String::as_str) == Some("true")
    }) {
        return Admission::Untouched;
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let matching: Vec<&PodPreset> = presets
        .iter()
        .filter(|p| {
            let selector = p.spec.as_ref().and_then(|s| s.selector.clone());
            selects(&selector.unwrap_or_default(), &labels)
        })
        .collect();
    if matching.is_empty() {
        return Admission::Untouched;
    }
    let names: Vec<String> = matching
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    let Some(spec) = pod.spec.as_mut() else {
        return Admission::Untouched;
    };
    let conflicts = conflicts(spec, &matching);
    if !conflicts.is_empty() {
        return Admission::Conflict(format!(
            "conflict occurred while applying podpresets: {} on pod: {} err: {}",
            names.join(","),
            pod.metadata.generate_name.as_deref().unwrap_or(""),
            aggregate(&conflicts)
        ));
    }
    if let Ok(volumes) = merge_volumes(spec.volumes.as_deref().unwrap_or_default(), &matching) {
        spec.volumes = (!volumes.is_empty()).then_some(volumes);
    }
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for container in containers {
        apply_to_container(container, &matching);
    }
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for preset in &matching {
        let name = preset.metadata.name.as_deref().unwrap_or("");
        let version = preset.metadata.resource_version.clone().unwrap_or_default();
        annotations.insert(format!("{ANNOTATION_PREFIX}/podpreset-{name}"), version);
    }
    Admission::Applied(names)
}

/// apimachinery's `Aggregate.Error()`: one message alone, several in
/// brackets.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// `safeToApplyPodPresetsOnPod`: the conflicts of the pod's volumes, then
/// of each container and init container.
fn conflicts(spec: &k8s_openapi::api::core::v1::PodSpec, presets: &[&PodPreset]) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(e) = merge_volumes(spec.volumes.as_deref().unwrap_or_default(), presets) {
        errors.push(aggregate(&e));
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for container in containers {
        let mut own = Vec::new();
        if let Err(e) = merge_env(container.env.as_deref().unwrap_or_default(), presets) {
            own.push(aggregate(&e));
        }
        let mounts = container.volume_mounts.as_deref().unwrap_or_default();
        if let Err(e) = merge_volume_mounts(mounts, presets) {
            own.push(aggregate(&e));
        }
        if !own.is_empty() {
            errors.push(aggregate(&own));
        }
    }
    errors
}

fn apply_to_container(container: &mut Container, presets: &[&PodPreset]) {
    if let Ok(env) = merge_env(container.env.as_deref().unwrap_or_default(), presets) {
        container.env = (!env.is_empty()).then_some(env);
    }
    let mounts = container.volume_mounts.as_deref().unwrap_or_default();
    if let Ok(mounts) = merge_volume_mounts(mounts, presets) {
        container.volume_mounts = (!mounts.is_empty()).then_some(mounts);
    }
    let env_from = merge_env_from(container.env_from.as_deref().unwrap_or_default(), presets);
    container.env_from = (!env_from.is_empty()).then_some(env_from);
}

/// The plugin's `%#v` of a value; JSON says the same to a reader.
fn shown<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn preset_name(preset: &PodPreset) -> &str {
    preset.metadata.name.as_deref().unwrap_or("")
}

/// `mergeEnv`: a preset's variable is added unless one of its name is
/// there already, which must then be identical.
fn merge_env(env: &[EnvVar], presets: &[&PodPreset]) -> Result<Vec<EnvVar>, Vec<String>> {
    merge_by_name(env, presets, "env", |s| s.env.as_ref(), |v| &v.name)
}

/// The plugin's merge of named items (env, volumes): an item of a
/// preset is added unless one of its name is there already, which must
/// then be identical; every conflict is reported in the plugin's words.
fn merge_by_name<T: Clone + PartialEq + serde::Serialize>(
    items: &[T],
    presets: &[&PodPreset],
    what: &str,
    of: impl Fn(&PodPresetSpec) -> Option<&Vec<T>>,
    name: impl Fn(&T) -> &String,
) -> Result<Vec<T>, Vec<String>> {
    let mut known: BTreeMap<String, T> =
        items.iter().map(|i| (name(i).clone(), i.clone())).collect();
    let mut merged = items.to_vec();
    let mut errors = Vec::new();
    for preset in presets {
        for item in preset.spec.iter().flat_map(|s| of(s).into_iter().flatten()) {
            match known.get(name(item)) {
                None => {
                    known.insert(name(item).clone(), item.clone());
                    merged.push(item.clone());
                }
                Some(found) if found != item => errors.push(format!(
                    "merging {what} for {} has a conflict on {}: \n{}\ndoes not match\n{}\n in container",
                    preset_name(preset),
                    name(item),
                    shown(item),
                    shown(found)
                )),
                Some(_) => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(errors)
    }
}

/// `mergeEnvFrom`: appended, never a conflict.
fn merge_env_from(sources: &[EnvFromSource], presets: &[&PodPreset]) -> Vec<EnvFromSource> {
    let mut merged = sources.to_vec();
    for preset in presets {
        merged.extend(
            preset
                .spec
                .iter()
                .flat_map(|s| s.env_from.iter().flatten())
                .cloned(),
        );
    }
    merged
}

/// `mergeVolumeMounts`: a mount is added unless one of its name is there;
/// a mount of the same name, or at the same path, must be identical.
fn merge_volume_mounts(
    mounts: &[VolumeMount],
    presets: &[&PodPreset],
) -> Result<Vec<VolumeMount>, Vec<String>> {
    let mut by_name: BTreeMap<String, VolumeMount> =
        mounts.iter().map(|m| (m.name.clone(), m.clone())).collect();
    let mut by_path: BTreeMap<String, VolumeMount> = mounts
        .iter()
        .map(|m| (m.mount_path.clone(), m.clone()))
        .collect();
    let mut merged = mounts.to_vec();
    let mut errors = Vec::new();
    for preset in presets {
        for mount in preset
            .spec
            .iter()
            .flat_map(|s| s.volume_mounts.iter().flatten())
        {
            match by_name.get(&mount.name) {
                None => {
                    by_name.insert(mount.name.clone(), mount.clone());
                    merged.push(mount.clone());
                }
                Some(found) if found != mount => errors.push(format!(
                    "merging volume mounts for {} has a conflict on {}: \n{}\ndoes not match\n{}\n in container",
                    preset_name(preset),
                    mount.name,
                    shown(mount),
                    shown(found)
                )),
                Some(_) => {}
            }
            match by_path.get(&mount.mount_path) {
                None => {
                    by_path.insert(mount.mount_path.clone(), mount.clone());
                }
                Some(found) if found != mount => errors.push(format!(
                    "merging volume mounts for {} has a conflict on mount path {}: \n{}\ndoes not match\n{}\n in container",
                    preset_name(preset),
                    mount.mount_path,
                    shown(mount),
                    shown(found)
                )),
                Some(_) => {}
            }
        }
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(errors)
    }
}

/// `mergeVolumes`: a volume is added unless one of its name is there,
/// which must then be identical.
fn merge_volumes(volumes: &[Volume], presets: &[&PodPreset]) -> Result<Vec<Volume>, Vec<String>> {
    merge_by_name(
        volumes,
        presets,
        "volumes",
        |s| s.volumes.as_ref(),
        |v| &v.name,
    )
}

fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector.match_labels.iter().flatten();
    let labels_hold = pairs.into_iter().all(|(k, v)| labels.get(k) == Some(v));
    let expressions_hold = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            // Validation refuses any other operator.
            _ => false,
        }
    });
    labels_hold && expressions_hold
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn preset(name: &str, version: &str, spec: serde_json::Value) -> PodPreset {
        serde_json::from_value(json!({
            "apiVersion": "settings.k8s.io/v1alpha1", "kind": "PodPreset",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": version},
            "spec": spec,
        }))
        .unwrap()
    }

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn frontend(containers: serde_json::Value) -> Pod {
        pod(
            json!({"metadata": {"name": "p", "labels": {"role": "frontend"}},
            "spec": {"containers": containers}}),
        )
    }

    #[test]
    fn presets_agreeing_with_each_other_merge_once() {
        let a = preset(
            "a",
            "7",
            json!({"env": [{"name": "X", "value": "1"}], "volumes": [{"name": "v", "emptyDir": {}}]}),
        );
        let b = preset(
            "b",
            "9",
            json!({"env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                   "volumes": [{"name": "v", "emptyDir": {}}],
                   "envFrom": [{"configMapRef": {"name": "cm"}}]}),
        );
        let mut p = frontend(json!([{"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}]));
        assert_eq!(
            admit(&mut p, &[a, b]),
            Admission::Applied(vec!["a".into(), "b".into()])
        );
        let value = serde_json::to_value(&p).unwrap();
        assert_eq!(
            value["spec"]["containers"][0]["env"],
            json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])
        );
        assert_eq!(
            value["spec"]["containers"][0]["envFrom"],
            json!([{"secretRef": {"name": "s"}}, {"configMapRef": {"name": "cm"}}])
        );
        assert_eq!(
            value["spec"]["volumes"],
            json!([{"name": "v", "emptyDir": {}}])
        );
        assert_eq!(
            value["metadata"]["annotations"],
            json!({"podpreset.admission.kubernetes.io/podpreset-a": "7",
                   "podpreset.admission.kubernetes.io/podpreset-b": "9"})
        );
    }

    #[test]
    fn presets_that_disagree_with_each_other_conflict() {
        let a = preset(
            "a",
            "1",
            json!({"volumes": [{"name": "v", "emptyDir": {}}]}),
        );
        let b = preset(
            "b",
            "2",
            json!({"volumes": [{"name": "v", "hostPath": {"path": "/x"}}]}),
        );
        let mut p = frontend(json!([{"name": "c"}]));
        let before = p.clone();
        let Admission::Conflict(warning) = admit(&mut p, &[a, b]) else {
            panic!("no conflict");
        };
        assert!(
            warning.starts_with("conflict occurred while applying podpresets: a,b on pod:  err: merging volumes for b has a conflict on v: \n"),
            "{warning}"
        );
        assert_eq!(p, before);
    }

    #[test]
    fn several_conflicts_are_one_aggregate() {
        let a = preset(
            "a",
            "1",
            json!({"env": [{"name": "X", "value": "new"}],
                   "volumeMounts": [{"name": "m", "mountPath": "/other"}]}),
        );
        let mut p = frontend(json!([{"name": "c",
            "env": [{"name": "X", "value": "old"}],
            "volumeMounts": [{"name": "m", "mountPath": "/m"}]}]));
        let Admission::Conflict(warning) = admit(&mut p, &[a]) else {
            panic!("no conflict");
        };
        let err = warning.split(" err: ").nth(1).unwrap();
        assert!(
            err.starts_with("[merging env for a has a conflict on X: "),
            "{err}"
        );
        assert!(
            err.contains(", merging volume mounts for a has a conflict on m: "),
            "{err}"
        );
    }

    #[test]
    fn mirror_pods_and_pods_without_matching_labels_are_untouched() {
        let a = preset(
            "a",
            "1",
            json!({"selector": {"matchLabels": {"role": "frontend"}}, "env": [{"name": "X", "value": "1"}]}),
        );
        let mut mirror = pod(
            json!({"metadata": {"name": "m", "labels": {"role": "frontend"},
            "annotations": {"kubernetes.io/config.mirror": "x"}},
            "spec": {"containers": [{"name": "c"}]}}),
        );
        assert_eq!(
            admit(&mut mirror, std::slice::from_ref(&a)),
            Admission::Untouched
        );
        let mut other = pod(
            json!({"metadata": {"name": "o", "labels": {"role": "backend"}},
            "spec": {"containers": [{"name": "c"}]}}),
        );
        assert_eq!(admit(&mut other, &[a]), Admission::Untouched);
        assert!(other.spec.unwrap().containers[0].env.is_none());
    }
}
