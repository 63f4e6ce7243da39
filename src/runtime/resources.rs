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

/// The pod cgroup's limits: memory is the sum of the app containers'
/// limits when all have one (as the kubelet's pod-level cgroup), plus the
/// pids limit.
pub fn pod_limits(pod: &Pod) -> Limits {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    let memories: Vec<Option<i64>> = containers
        .iter()
        .map(|c| quantity(limits_map(c.resources.as_ref()), "memory").map(|q| q.as_bytes_ceil()))
        .collect();
    let memory = if !memories.is_empty() && memories.iter().all(Option::is_some) {
        let apps: i64 = memories.iter().flatten().sum();
        // Init containers run alone: the pod needs the larger of the two.
        let init = pod
            .spec
            .as_ref()
            .and_then(|s| s.init_containers.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|c| quantity(limits_map(c.resources.as_ref()), "memory"))
            .map(|q| q.as_bytes_ceil())
            .max()
            .unwrap_or(0);
        Some(apps.max(init))
    } else {
        None
    };
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
