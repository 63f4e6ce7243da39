//! `Warning:` lines for what a single node cannot honour: fields that only
//! mean something to a cluster's controllers. The manifest
//! stays valid for a real cluster; `pod` says what it leaves aside.

use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};

use crate::api::Object;

/// One line per ignored field, naming its path.
pub fn warnings(object: &Object) -> Vec<String> {
    match object {
        Object::Pod(pod) => pod
            .spec
            .as_ref()
            .map(|spec| {
                let mut out = spec_warnings(spec);
                out.extend(not_built_warnings(spec));
                out
            })
            .unwrap_or_default(),
        Object::ConfigMap(_)
        | Object::Secret(_)
        | Object::Namespace(_)
        | Object::PodPreset(_)
        | Object::Node(_) => Vec::new(),
    }
}

const NO_CLUSTER: &str = "ignored: there is no cluster to provide it";

fn spec_warnings(spec: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut warn = |path: &str, why: &str| out.push(format!("spec.{path}: {why}"));
    // nodeSelector, affinity, tolerations, nodeName, topology spread
    // constraints and scheduling gates are the scheduler's, and honoured
    // (`scheduler`); a scheduler of another name never comes.
    if spec
        .scheduler_name
        .as_deref()
        .is_some_and(|s| !s.is_empty() && s != "default-scheduler")
    {
        warn(
            "schedulerName",
            "no scheduler of that name runs here: the pod stays Pending",
        );
    }
    if spec
        .priority_class_name
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        warn(
            "priorityClassName",
            "priority and preemption are not supported: every pod is scheduled with the same priority",
        );
    }
    if spec
        .runtime_class_name
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        warn("runtimeClassName", "ignored: pod has a single runtime");
    }
    if spec.readiness_gates.as_ref().is_some_and(|g| !g.is_empty()) {
        warn(
            "readinessGates",
            "ignored: no controller sets these conditions",
        );
    }
    if spec
        .image_pull_secrets
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        warn(
            "imagePullSecrets",
            "ignored: images are pulled with the host's credentials",
        );
    }
    let account = spec
        .service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .unwrap_or("");
    if !account.is_empty() && account != "default" {
        warn(
            "serviceAccountName",
            "ignored: there are no service accounts without a cluster",
        );
    }
    if spec.resource_claims.as_ref().is_some_and(|c| !c.is_empty()) {
        warn("resourceClaims", NO_CLUSTER);
    }
    if spec.overhead.as_ref().is_some_and(|o| !o.is_empty()) {
        warn("overhead", "ignored: set by a RuntimeClass in a cluster");
    }
    if spec.os.as_ref().is_some_and(|os| os.name == "windows") {
        warn("os.name", "ignored: pod runs Linux containers");
    }
    for (i, volume) in spec.volumes.iter().flatten().enumerate() {
        let cluster_source = [
            (
                volume.persistent_volume_claim.is_some(),
                "persistentVolumeClaim",
            ),
            (volume.ephemeral.is_some(), "ephemeral"),
            (volume.csi.is_some(), "csi"),
            (volume.nfs.is_some(), "nfs"),
            (volume.iscsi.is_some(), "iscsi"),
            (volume.rbd.is_some(), "rbd"),
            (volume.cephfs.is_some(), "cephfs"),
            (volume.glusterfs.is_some(), "glusterfs"),
            (volume.fc.is_some(), "fc"),
            (
                volume.aws_elastic_block_store.is_some(),
                "awsElasticBlockStore",
            ),
            (volume.gce_persistent_disk.is_some(), "gcePersistentDisk"),
            (volume.azure_disk.is_some(), "azureDisk"),
            (volume.azure_file.is_some(), "azureFile"),
            (volume.cinder.is_some(), "cinder"),
            (volume.flex_volume.is_some(), "flexVolume"),
            (volume.git_repo.is_some(), "gitRepo"),
        ];
        for (present, name) in cluster_source {
            if present {
                warn(
                    &format!("volumes[{i}].{name}"),
                    "not supported: needs a cluster's storage, which a single node does not have",
                );
            }
        }
    }
    out
}

const NOT_BUILT: &str = "ignored: not supported by pod yet";

/// Fields that mean something on one node too, but that `pod` does not
/// carry out (yet): said out loud rather than dropped.
fn not_built_warnings(spec: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    let mut warn = |path: String| out.push(format!("spec.{path}: {NOT_BUILT}"));
    if spec.active_deadline_seconds.is_some() {
        warn("activeDeadlineSeconds".into());
    }
    if spec.resources.is_some() {
        warn("resources".into());
    }
    if let Some(sc) = &spec.security_context {
        let shared = confinement(sc.se_linux_options.is_some(), sc.windows_options.is_some());
        let pod_only = [
            (sc.fs_group_change_policy.is_some(), "fsGroupChangePolicy"),
            (
                sc.supplemental_groups_policy.is_some(),
                "supplementalGroupsPolicy",
            ),
            (sc.se_linux_change_policy.is_some(), "seLinuxChangePolicy"),
        ];
        for field in present(shared.into_iter().chain(pod_only)) {
            warn(field);
        }
    }
    let containers = [
        ("containers", spec.containers.as_slice()),
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or_default(),
        ),
    ];
    for (list, containers) in containers {
        for (i, container) in containers.iter().enumerate() {
            for field in container_fields(container) {
                warn(format!("{list}[{i}].{field}"));
            }
        }
    }
    out
}

fn container_fields(container: &Container) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(sc) = &container.security_context {
        out.extend(security_context_fields(sc));
    }
    if container
        .volume_devices
        .as_ref()
        .is_some_and(|d| !d.is_empty())
    {
        out.push("volumeDevices".into());
    }
    if container.resize_policy.is_some() {
        out.push("resizePolicy".into());
    }
    if container.restart_policy_rules.is_some() {
        out.push("restartPolicyRules".into());
    }
    out
}

fn security_context_fields(sc: &SecurityContext) -> Vec<String> {
    let shared = confinement(sc.se_linux_options.is_some(), sc.windows_options.is_some());
    present(shared.into_iter()).collect()
}

/// The security-context fields pods and containers share, each with
/// whether it asks for something `pod` does not carry out. (seccomp and
/// AppArmor profiles are carried out: see `runtime::seccomp`,
/// `runtime::apparmor` and `node::admission`.)
fn confinement(se_linux: bool, windows: bool) -> [(bool, &'static str); 2] {
    [(se_linux, "seLinuxOptions"), (windows, "windowsOptions")]
}

/// `securityContext.<name>` for every field that is set.
fn present(fields: impl Iterator<Item = (bool, &'static str)>) -> impl Iterator<Item = String> {
    fields
        .filter(|(set, _)| *set)
        .map(|(_, name)| format!("securityContext.{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_pod_does_not_carry_out_are_named() {
        let spec: PodSpec = serde_json::from_value(serde_json::json!({
            "activeDeadlineSeconds": 5,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "a",
                "livenessProbe": {"grpc": {"port": 9000}},
                "readinessProbe": {"httpGet": {"port": 80, "scheme": "HTTPS"}},
                "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            }],
        }))
        .unwrap();
        assert_eq!(
            not_built_warnings(&spec),
            ["spec.activeDeadlineSeconds: ignored: not supported by pod yet",]
        );
    }
}
