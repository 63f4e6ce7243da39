//! The kubelet's admission of a pod bound to its node, the part that
//! reuses the scheduler's filters: the eviction manager's handler (a node
//! under pressure takes no new pod: every pod under disk or PID pressure,
//! BestEffort pods under memory pressure unless they tolerate its taint)
//! and the predicate handler (pkg/kubelet/lifecycle/predicate.go, which
//! runs the scheduler's `AdmissionCheck`: resources, node affinity, node
//! name, host ports, then untolerated NoExecute taints).
//!
//! A pod the scheduler placed passed those filters a moment before, under
//! the same lock; a pod created with `spec.nodeName` already set never
//! went through the scheduler, and this is the only check it gets, as on
//! a cluster. A refusal is the kubelet's `rejectPod`: phase Failed, the
//! handler's reason, `Pod was rejected: <message>`, and nothing runs.

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use super::{affinity, ports, resources, taints};
use crate::node::admission::Rejection;

/// The eviction manager's admit handler: the node's pressure conditions
/// that are True, in the kubelet's order.
pub fn admit_under_pressure(pod: &Pod, node: &Node) -> Result<(), Rejection> {
    let pressing: Vec<&str> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|c| {
            c.status == "True"
                && matches!(
                    c.type_.as_str(),
                    "MemoryPressure" | "DiskPressure" | "PIDPressure"
                )
        })
        .map(|c| c.type_.as_str())
        .collect();
    if pressing.is_empty() {
        return Ok(());
    }
    // Memory pressure alone keeps out only BestEffort pods, and not those
    // that tolerate its taint.
    if pressing == ["MemoryPressure"] {
        let spec = pod.spec.clone().unwrap_or_default();
        let best_effort = crate::api::defaults::qos_class(&spec) == "BestEffort";
        let taint = Taint {
            key: crate::node::pressure::TAINT_MEMORY_PRESSURE.into(),
            effect: taints::NO_SCHEDULE.into(),
            ..Default::default()
        };
        if !best_effort
            || taints::tolerated(spec.tolerations.as_deref().unwrap_or_default(), &taint)
        {
            return Ok(());
        }
    }
    Err(Rejection {
        reason: "Evicted".into(),
        // Go's %v of a slice of condition types.
        message: format!("The node had condition: [{}]. ", pressing.join(" ")),
    })
}

/// The predicate admit handler against the node and the pods already on
/// it (not finished); the first failure, as the kubelet reports it.
pub fn admit_predicates(pod: &Pod, node: &Node, here: &[Pod]) -> Result<(), Rejection> {
    let spec = pod.spec.clone().unwrap_or_default();
    let reject = |reason: &str, message: String| {
        Err(Rejection {
            reason: reason.into(),
            message,
        })
    };
    // The pod's own kubernetes.io/os label (not its nodeSelector) against
    // the node's OS.
    if let Some(os) = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/os"))
        && os != "linux"
    {
        return reject(
            "PodOSSelectorNodeLabelDoesNotMatch",
            "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label".into(),
        );
    }
    if spec.os.as_ref().is_some_and(|os| os.name != "linux") {
        return reject(
            "PodOSNotSupported",
            "Failed to admit pod as the OS field doesn't match node OS".into(),
        );
    }
    // Extended resources the node does not know are left out (cluster-level
    // resources); huge pages and the rest are counted.
    let allocatable = resources::allocatable(node);
    let mut request = resources::pod_requests(&spec);
    request
        .scalar
        .retain(|name, _| !resources::is_extended(name) || allocatable.scalar.contains_key(name));
    let short = resources::insufficient(
        &request,
        &allocatable,
        &resources::requested(here.iter().filter_map(|p| p.spec.as_ref())),
        here.len(),
    );
    if let Some(first) = short.first() {
        let reason = match first.resource.as_str() {
            "cpu" => "OutOfcpu".to_string(),
            "memory" => "OutOfmemory".to_string(),
            "ephemeral-storage" => "OutOfephemeral-storage".to_string(),
            "pods" => "OutOfpods".to_string(),
            other => format!("OutOf{other}"),
        };
        return reject(
            &reason,
            format!(
                "Node didn't have enough resource: {}, requested: {}, used: {}, capacity: {}",
                first.resource, first.requested, first.used, first.capacity
            ),
        );
    }
    let predicate = |name: &str, description: &str| {
        reject(name, format!("Predicate {name} failed: {description}"))
    };
    if !affinity::required_node_affinity_matches(pod, node) {
        return predicate(
            "NodeAffinity",
            "node(s) didn't match Pod's node affinity/selector",
        );
    }
    if let Some(wanted) = spec.node_name.as_deref().filter(|n| !n.is_empty())
        && Some(wanted) != node.metadata.name.as_deref()
    {
        return predicate("NodeName", "node(s) didn't match the requested node name");
    }
    let used: Vec<ports::HostPort> = here
        .iter()
        .filter_map(|p| p.spec.as_ref())
        .flat_map(ports::host_ports)
        .collect();
    if ports::host_ports(&spec)
        .iter()
        .any(|want| ports::conflicts(want, &used))
    {
        return predicate(
            "NodePorts",
            "node(s) didn't have free ports for the requested pod ports",
        );
    }
    // The kubelet looks at NoExecute taints only.
    let node_taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    if taints::first_untolerated(
        &node_taints,
        spec.tolerations.as_deref().unwrap_or_default(),
        &[taints::NO_EXECUTE],
    )
    .is_some()
    {
        return predicate(
            "TaintToleration",
            "node(s) had taints that the pod didn't tolerate",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(conditions: &[(&str, &str)], taints: serde_json::Value) -> Node {
        let conditions: Vec<_> = conditions
            .iter()
            .map(|(t, s)| json!({"type": t, "status": s}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "box", "labels": {"kubernetes.io/hostname": "box", "disktype": "ssd"}},
            "spec": {"taints": taints},
            "status": {
                "allocatable": {"cpu": "2", "memory": "1Gi", "pods": "3", "ephemeral-storage": "10Gi", "hugepages-2Mi": "0"},
                "conditions": conditions,
            },
        }))
        .unwrap()
    }

    fn pod(spec: serde_json::Value) -> Pod {
        let mut spec = spec;
        spec["nodeName"] = json!("box");
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "c"}]);
        }
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}),
        )
        .unwrap()
    }

    fn with_requests(cpu: &str, memory: &str) -> Pod {
        pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}),
        )
    }

    fn status(r: Result<(), Rejection>) -> (String, String) {
        let r = r.unwrap_err();
        (r.reason.clone(), r.status_message())
    }

    #[test]
    fn resources_are_reported_with_the_kubelets_figures() {
        let n = node(&[], json!([]));
        let here = [with_requests("500m", "100Mi")];
        assert_eq!(
            status(admit_predicates(&with_requests("2", "10Mi"), &n, &here)),
            (
                "OutOfcpu".into(),
                "Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: 500, capacity: 2000".into()
            )
        );
        assert_eq!(
            status(admit_predicates(&with_requests("1", "1000Mi"), &n, &here)),
            (
                "OutOfmemory".into(),
                "Pod was rejected: Node didn't have enough resource: memory, requested: 1048576000, used: 104857600, capacity: 1073741824".into()
            )
        );
        assert_eq!(
            admit_predicates(&with_requests("1", "10Mi"), &n, &here),
            Ok(())
        );
        let full = [pod(json!({})), pod(json!({})), pod(json!({}))];
        assert_eq!(
            status(admit_predicates(&pod(json!({})), &n, &full)).1,
            "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"
        );
        let huge = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"hugepages-2Mi": "2Mi"}, "limits": {"hugepages-2Mi": "2Mi"}}}]}),
        );
        assert_eq!(
            status(admit_predicates(&huge, &n, &[])).0,
            "OutOfhugepages-2Mi"
        );
        // An extended resource the node does not know is not counted.
        let extended = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}}]}),
        );
        assert_eq!(admit_predicates(&extended, &n, &[]), Ok(()));
    }

    #[test]
    fn predicates_after_resources() {
        let n = node(
            &[],
            json!([{"key": "evict", "effect": "NoExecute"}, {"key": "soft", "effect": "NoSchedule"}]),
        );
        let tolerating = json!([{"key": "evict", "operator": "Exists"}]);
        assert_eq!(
            status(admit_predicates(&pod(json!({"nodeSelector": {"disktype": "hdd"}, "tolerations": tolerating})), &n, &[])),
            (
                "NodeAffinity".into(),
                "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector".into()
            )
        );
        // NoSchedule taints are the scheduler's business, not the kubelet's.
        assert_eq!(
            status(admit_predicates(&pod(json!({})), &n, &[])),
            (
                "TaintToleration".into(),
                "Pod was rejected: Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate".into()
            )
        );
        assert_eq!(
            admit_predicates(&pod(json!({"tolerations": tolerating})), &n, &[]),
            Ok(())
        );
        let port = json!([{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]);
        let here = [pod(json!({"containers": port}))];
        assert_eq!(
            status(admit_predicates(
                &pod(json!({"containers": port, "tolerations": tolerating})),
                &n,
                &here
            ))
            .0,
            "NodePorts"
        );
    }

    #[test]
    fn a_node_under_pressure_admits_no_pod() {
        let disk = node(
            &[
                ("MemoryPressure", "False"),
                ("DiskPressure", "True"),
                ("Ready", "True"),
            ],
            json!([]),
        );
        assert_eq!(
            status(admit_under_pressure(&pod(json!({})), &disk)),
            (
                "Evicted".into(),
                "Pod was rejected: The node had condition: [DiskPressure]. ".into()
            )
        );
        let memory = node(
            &[("MemoryPressure", "True"), ("DiskPressure", "False")],
            json!([]),
        );
        assert_eq!(
            status(admit_under_pressure(&pod(json!({})), &memory)).1,
            "Pod was rejected: The node had condition: [MemoryPressure]. "
        );
        // Burstable pods, and BestEffort ones tolerating the taint, come in.
        assert_eq!(
            admit_under_pressure(&with_requests("100m", "1Mi"), &memory),
            Ok(())
        );
        let tolerating = pod(
            json!({"tolerations": [{"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert_eq!(admit_under_pressure(&tolerating, &memory), Ok(()));
        let both = node(
            &[("MemoryPressure", "True"), ("DiskPressure", "True")],
            json!([]),
        );
        assert_eq!(
            status(admit_under_pressure(&with_requests("100m", "1Mi"), &both)).1,
            "Pod was rejected: The node had condition: [MemoryPressure DiskPressure]. "
        );
        assert_eq!(
            admit_under_pressure(
                &pod(json!({})),
                &node(&[("DiskPressure", "False")], json!([]))
            ),
            Ok(())
        );
    }
}
