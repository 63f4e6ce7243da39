//! From `resources` to cgroup limits, and the pod's QoS class as
//! Kubernetes computes it (pkg/apis/core/helper/qos).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use super::cgroups::{CPU_PERIOD_US, Limits, devices, quota_from_millis, shares_from_millis};
use crate::api::quantity::Quantity;

/// Default pids limit of a pod (the kubelet's podPidsLimit is unlimited by
/// default; a runaway fork bomb in one pod should not take the machine).
/// `POD_PIDS_LIMIT` overrides it; `-1` or `max` means unlimited.
pub const DEFAULT_POD_PIDS_LIMIT: i64 = 16384;

fn quantity(map: Option<&BTreeMap<String, ApiQuantity>>, name: &str) -> Option<Quantity> {
    map.and_then(|m| m.get(name))
        .and_then(|q| Quantity::parse(&q.0).ok())
}

fn limits_map(r: Option<&ResourceRequirements>) -> Option<&BTreeMap<String, ApiQuantity>> {
    r.and_then(|r| r.limits.as_ref())
}

fn requests_map(r: Option<&ResourceRequirements>) -> Option<&BTreeMap<String, ApiQuantity>> {
    r.and_then(|r| r.requests.as_ref())
}

/// A container's cgroup limits (kubelet's generateLinuxContainerResources),
/// with runc's default device allow list unless the container is
/// privileged.
pub fn container_limits(container: &Container) -> Limits {
    let privileged = container
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        .unwrap_or(false);
    let r = container.resources.as_ref();
    let memory = quantity(limits_map(r), "memory")
        .map(|q| q.as_bytes_ceil())
        .filter(|b| *b > 0);
    let cpu_limit = quantity(limits_map(r), "cpu").map(|q| q.as_millis_ceil());
    // A request left out defaults to the limit (API defaulting).
    let cpu_request = quantity(requests_map(r), "cpu")
        .map(|q| q.as_millis_ceil())
        .or(cpu_limit);
    Limits {
        memory,
        cpu_quota: cpu_limit
            .filter(|m| *m > 0)
            .map(|m| (quota_from_millis(m, CPU_PERIOD_US), CPU_PERIOD_US)),
        cpu_shares: Some(shares_from_millis(cpu_request.unwrap_or(0))),
        pids: None,
        devices: (!privileged).then_some(devices::DEFAULT_RULES),
    }
}

/// The pod cgroup's limits: memory is the pod's limit (`PodLimits`) when
/// every app container has one (as the kubelet's pod-level cgroup), plus
/// the pids limit.
pub fn pod_limits(pod: &Pod) -> Limits {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    // The pod's memory.max only when every app container has a limit
    // (the kubelet's `memoryLimitsDeclared`); then the pod's limit as the
    // scheduler and `describe node` count it (`PodLimits`): the app
    // containers and native sidecars together, or an init container with
    // the sidecars started before it if more, plus the overhead.
    let declared = !containers.is_empty()
        && containers
            .iter()
            .all(|c| quantity(limits_map(c.resources.as_ref()), "memory").is_some());
    let memory = pod.spec.as_ref().filter(|_| declared).and_then(|spec| {
        crate::scheduler::resources::pod_list(spec, crate::scheduler::resources::Side::Limits)
            .get("memory")
            .map(Quantity::as_bytes_ceil)
    });
    Limits {
        memory,
        cpu_quota: None,
        cpu_shares: None,
        pids: pids_limit(),
        devices: None,
    }
}

fn pids_limit() -> Option<i64> {
    match std::env::var("POD_PIDS_LIMIT").ok().as_deref() {
        Some("-1") | Some("max") => None,
        Some(v) => v.parse().ok().or(Some(DEFAULT_POD_PIDS_LIMIT)),
        None => Some(DEFAULT_POD_PIDS_LIMIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pods_memory_limit_counts_sidecars_and_overhead_as_pod_limits_does() {
        let pod = |spec: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "spec": spec}))
                .unwrap()
        };
        let limit = |memory: &str| serde_json::json!({"limits": {"memory": memory}});
        // A native sidecar runs beside the app containers: their sum.
        let sidecar = pod(serde_json::json!({
            "initContainers": [
                {"name": "setup", "resources": limit("96Mi")},
                {"name": "side", "restartPolicy": "Always", "resources": limit("64Mi")},
            ],
            "containers": [{"name": "a", "resources": limit("64Mi")}],
            "overhead": {"memory": "8Mi"},
        }));
        assert_eq!(pod_limits(&sidecar).memory, Some((64 + 64 + 8) << 20));
        // An init container alone needing more than the app containers.
        let init = pod(serde_json::json!({
            "initContainers": [{"name": "setup", "resources": limit("256Mi")}],
            "containers": [
                {"name": "a", "resources": limit("64Mi")},
                {"name": "b", "resources": limit("64Mi")},
            ],
        }));
        assert_eq!(pod_limits(&init).memory, Some(256 << 20));
        // An app container without a limit: none for the pod.
        let open = pod(serde_json::json!({
            "containers": [{"name": "a", "resources": limit("64Mi")}, {"name": "b"}],
        }));
        assert_eq!(pod_limits(&open).memory, None);
    }

    #[test]
    fn container_limits_follow_the_kubelet() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "a", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}
        }))
        .unwrap();
        assert_eq!(
            container_limits(&c),
            Limits {
                memory: Some(64 << 20),
                cpu_quota: Some((50_000, CPU_PERIOD_US)),
                cpu_shares: Some(512),
                pids: None,
                devices: Some(devices::DEFAULT_RULES),
            }
        );
        let bare: Container = serde_json::from_value(serde_json::json!({"name": "a"})).unwrap();
        assert_eq!(container_limits(&bare).cpu_shares, Some(2));
        let privileged: Container = serde_json::from_value(serde_json::json!({
            "name": "a", "securityContext": {"privileged": true}
        }))
        .unwrap();
        assert_eq!(container_limits(&privileged).devices, None);
    }
}
