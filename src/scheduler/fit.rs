//! One scheduling cycle of the default profile against the one node: the
//! PreFilter and Filter plugins in the profile's order, and when the node
//! is refused, the FitError text the scheduler puts in the pod's
//! PodScheduled condition and its FailedScheduling event, with the
//! DefaultPreemption PostFilter's part.
//!
//! As in the framework, a node is refused by the first filter that fails
//! (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
//! NodeResourcesFit, PodTopologySpread, InterPodAffinity), with every
//! reason of that filter. Priority is not supported (every pod has the
//! same), so preemption never finds a victim.

use k8s_openapi::api::core::v1::{Node, Pod};

use super::affinity::{self, NamespaceLabels};
use super::{ports, resources, taints};

/// What the one node's pods and their namespaces look like to a pod being
/// scheduled.
pub struct Snapshot<'a> {
    pub node: &'a Node,
    /// The pods bound to the node and not finished.
    pub here: &'a [Pod],
    pub namespace_labels: NamespaceLabels<'a>,
}

/// A filter's refusal: its reasons, and whether evicting pods could help
/// (Unschedulable) or not (UnschedulableAndUnresolvable).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    reasons: Vec<String>,
    unresolvable: bool,
}

impl Refusal {
    fn one(reason: impl Into<String>, unresolvable: bool) -> Refusal {
        Refusal {
            reasons: vec![reason.into()],
            unresolvable,
        }
    }
}

/// Whether the pod fits the node: Ok, or the scheduler's message.
pub fn schedule(pod: &Pod, snapshot: &Snapshot<'_>) -> Result<(), String> {
    let node_name = snapshot.node.metadata.name.as_deref().unwrap_or_default();
    // The NodeAffinity PreFilter: matchFields on metadata.name narrow the
    // nodes before any filter runs.
    let refusal = match affinity::required_node_names(pod) {
        Some(names) if names.is_empty() => {
            return Err(message(pod, Err("pod affinity terms conflict"), true));
        }
        Some(names) if !names.iter().any(|n| n == node_name) => {
            Refusal::one("node(s) didn't satisfy plugin(s) [NodeAffinity]", true)
        }
        _ => match filter(pod, snapshot) {
            None => return Ok(()),
            Some(refusal) => refusal,
        },
    };
    let unresolvable = refusal.unresolvable;
    Err(message(pod, Ok(refusal.reasons), unresolvable))
}

/// The filters in the default profile's order; the first refusal.
fn filter(pod: &Pod, snapshot: &Snapshot<'_>) -> Option<Refusal> {
    let spec = pod.spec.clone().unwrap_or_default();
    let node = snapshot.node;
    let node_spec = node.spec.clone().unwrap_or_default();
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let node_taints = node_spec.taints.clone().unwrap_or_default();

    // NodeUnschedulable: a cordoned node takes only pods that tolerate
    // its unschedulable taint.
    if node_spec.unschedulable == Some(true) {
        let cordon = k8s_openapi::api::core::v1::Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: taints::NO_SCHEDULE.into(),
            ..Default::default()
        };
        if !taints::tolerated(&tolerations, &cordon) {
            return Some(Refusal::one("node(s) were unschedulable", true));
        }
    }

    // NodeName.
    if let Some(wanted) = spec.node_name.as_deref().filter(|n| !n.is_empty())
        && Some(wanted) != node.metadata.name.as_deref()
    {
        return Some(Refusal::one(
            "node(s) didn't match the requested node name",
            true,
        ));
    }

    // TaintToleration: NoSchedule and NoExecute (PreferNoSchedule only
    // scores).
    if let Some(taint) = taints::first_untolerated(
        &node_taints,
        &tolerations,
        &[taints::NO_SCHEDULE, taints::NO_EXECUTE],
    ) {
        let reason = format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or_default()
        );
        return Some(Refusal::one(reason, true));
    }

    // NodeAffinity: nodeSelector and the required terms.
    if !affinity::required_node_affinity_matches(pod, node) {
        return Some(Refusal::one(
            "node(s) didn't match Pod's node affinity/selector",
            true,
        ));
    }

    // NodePorts.
    let used: Vec<ports::HostPort> = snapshot
        .here
        .iter()
        .filter_map(|p| p.spec.as_ref())
        .flat_map(ports::host_ports)
        .collect();
    if ports::host_ports(&spec)
        .iter()
        .any(|want| ports::conflicts(want, &used))
    {
        return Some(Refusal::one(
            "node(s) didn't have free ports for the requested pod ports",
            false,
        ));
    }

    // NodeResourcesFit.
    let short = resources::insufficient(
        &resources::pod_requests(&spec),
        &resources::allocatable(node),
        &resources::requested(snapshot.here.iter().filter_map(|p| p.spec.as_ref())),
        snapshot.here.len(),
    );
    if !short.is_empty() {
        return Some(Refusal {
            unresolvable: short.iter().any(|s| s.unresolvable),
            reasons: short.into_iter().map(|s| s.reason).collect(),
        });
    }

    // PodTopologySpread: hard constraints.
    if let Some(refusal) = topology_spread(pod, snapshot) {
        return Some(refusal);
    }

    // InterPodAffinity.
    affinity::inter_pod_affinity(pod, node, snapshot.here, snapshot.namespace_labels)
        .map(|(reason, unresolvable)| Refusal::one(reason, unresolvable))
}

/// The PodTopologySpread filter for `DoNotSchedule` constraints on one
/// node: the node must carry the topology key; the skew is the matching
/// pods here plus this one, less the smallest domain's count, which is 0
/// when minDomains asks for more domains than the one there is.
fn topology_spread(pod: &Pod, snapshot: &Snapshot<'_>) -> Option<Refusal> {
    let spec = pod.spec.as_ref()?;
    let labels = affinity::node_labels(snapshot.node);
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let pod_labels = pod.metadata.labels.clone().unwrap_or_default();
    for c in spec.topology_spread_constraints.iter().flatten() {
        if c.when_unsatisfiable != "DoNotSchedule" {
            continue;
        }
        if !labels.contains_key(&c.topology_key) {
            return Some(Refusal::one(
                "node(s) didn't match pod topology spread constraints (missing required label)",
                true,
            ));
        }
        let selector = c.label_selector.as_ref();
        let matching = snapshot
            .here
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.metadata.namespace.as_deref().unwrap_or_default() == namespace)
            .filter(|p| {
                affinity::label_selector_matches(
                    selector,
                    p.metadata.labels.as_ref().unwrap_or(&Default::default()),
                )
            })
            .count() as i32;
        let own = i32::from(affinity::label_selector_matches(selector, &pod_labels));
        let min = if c.min_domains.unwrap_or(1) > 1 {
            0
        } else {
            matching
        };
        if matching + own - min > c.max_skew {
            return Some(Refusal::one(
                "node(s) didn't match pod topology spread constraints",
                false,
            ));
        }
    }
    None
}

/// The FitError text (`0/1 nodes are available: …`) and the
/// DefaultPreemption PostFilter's message after it. `refused` is the
/// node's reasons, or a PreFilter's message.
fn message(pod: &Pod, refused: Result<Vec<String>, &str>, unresolvable: bool) -> String {
    let mut text = String::from("0/1 nodes are available:");
    match refused {
        Err(pre_filter) => text.push_str(&format!(" {pre_filter}.")),
        Ok(reasons) => {
            let mut histogram: Vec<String> = reasons.iter().map(|r| format!("1 {r}")).collect();
            histogram.sort();
            text.push_str(&format!(" {}.", histogram.join(", ")));
        }
    }
    let never = pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never");
    let preemption = if never {
        "not eligible due to preemptionPolicy=Never.".to_string()
    } else if unresolvable {
        "0/1 nodes are available: 1 Preemption is not helpful for scheduling.".to_string()
    } else {
        "0/1 nodes are available: 1 No preemption victims found for incoming pod.".to_string()
    };
    text.push_str(&format!(" preemption: {preemption}"));
    text
}
