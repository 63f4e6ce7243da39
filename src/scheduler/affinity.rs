//! Node affinity and pod (anti-)affinity as the scheduler reads them
//! (component-helpers' nodeaffinity, the NodeAffinity and InterPodAffinity
//! plugins), for the one node.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

type Labels = BTreeMap<String, String>;

/// The node's labels (none: empty).
pub fn node_labels(node: &Node) -> Labels {
    node.metadata.labels.clone().unwrap_or_default()
}

/// The pod's required node affinity: every nodeSelector pair, and one of
/// the required terms (`GetRequiredNodeAffinity(pod).Match`).
pub fn required_node_affinity_matches(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node_labels(node);
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    if !selector_ok {
        return false;
    }
    match spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        }) {
        Some(required) => required
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, &labels, name)),
        None => true,
    }
}

/// A node selector term: its expressions and fields all hold; a term with
/// neither matches no node.
pub fn term_matches(term: &NodeSelectorTerm, labels: &Labels, node_name: &str) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            // metadata.name is the only field a node selector may name.
            r.key == "metadata.name" && requirement_matches(r, Some(node_name))
        })
}

/// One requirement against the value the node has for its key (None:
/// the label is absent). Gt and Lt compare integers; a value that is not
/// one never matches.
fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let [bound] = values else { return false };
            let (Some(actual), Ok(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                bound.parse::<i64>(),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                actual > bound
            } else {
                actual < bound
            }
        }
        _ => false,
    }
}

/// The node names the required terms restrict the pod to through
/// `matchFields` on metadata.name with In (the NodeAffinity PreFilter):
/// None when some term leaves every node possible.
pub fn required_node_names(pod: &Pod) -> Option<Vec<String>> {
    let terms = &pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    if terms.is_empty() {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for term in terms {
        let mut term_names: Option<Vec<String>> = None;
        for r in term.match_fields.iter().flatten() {
            if r.key == "metadata.name" && r.operator == "In" {
                let values = r.values.clone().unwrap_or_default();
                term_names = Some(match term_names {
                    None => values,
                    Some(before) => before.into_iter().filter(|n| values.contains(n)).collect(),
                });
            }
        }
        // A term without such a field: every node is possible.
        let term_names = term_names?;
        for n in term_names {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    Some(names)
}

/// A `metav1.LabelSelector` (`LabelSelectorAsSelector`): None selects
/// nothing, the empty selector everything.
pub fn label_selector_matches(selector: Option<&LabelSelector>, labels: &Labels) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|r| label_requirement_matches(r, labels))
}

fn label_requirement_matches(r: &LabelSelectorRequirement, labels: &Labels) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// The labels of a namespace, for namespaceSelector.
pub type NamespaceLabels<'a> = &'a dyn Fn(&str) -> Labels;

/// Whether `target` is a pod the term of `owner` speaks about
/// (`AffinityTerm.Matches`): in the term's namespaces (the owner's own
/// when neither namespaces nor a namespaceSelector is given) or a
/// namespace its selector picks, and with labels its selector picks.
pub fn term_selects(
    term: &PodAffinityTerm,
    owner: &Pod,
    target: &Pod,
    namespace_labels: NamespaceLabels<'_>,
) -> bool {
    let target_ns = target.metadata.namespace.as_deref().unwrap_or_default();
    let listed = term.namespaces.as_deref().unwrap_or_default();
    let in_namespace = if listed.is_empty() && term.namespace_selector.is_none() {
        owner.metadata.namespace.as_deref().unwrap_or_default() == target_ns
    } else {
        listed.iter().any(|n| n == target_ns)
            || label_selector_matches(
                term.namespace_selector.as_ref(),
                &namespace_labels(target_ns),
            )
    };
    in_namespace
        && label_selector_matches(
            term.label_selector.as_ref(),
            target.metadata.labels.as_ref().unwrap_or(&Labels::new()),
        )
}

fn required_terms(pod: &Pod, anti: bool) -> &[PodAffinityTerm] {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    let terms = if anti {
        affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
    } else {
        affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
    };
    terms.map(Vec::as_slice).unwrap_or_default()
}

/// The InterPodAffinity filter on the one node, whose pods are `here`:
/// the failing rule's reason and whether it is unresolvable, or None.
/// Every pod here shares the node's value of any topology key it has; a
/// key the node lacks puts it in no domain.
pub fn inter_pod_affinity(
    pod: &Pod,
    node: &Node,
    here: &[Pod],
    namespace_labels: NamespaceLabels<'_>,
) -> Option<(&'static str, bool)> {
    let labels = node_labels(node);
    let has = |key: &str| labels.contains_key(key);

    let affinity = required_terms(pod, false);
    if !affinity.is_empty() {
        // All topology labels must exist on the node.
        let all_keys = affinity.iter().all(|t| has(&t.topology_key));
        let matches_all = |p: &Pod| {
            affinity
                .iter()
                .all(|t| term_selects(t, pod, p, namespace_labels))
        };
        let any_here = here.iter().any(matches_all);
        // The first of a group that has affinity to itself may go where
        // none of the group runs yet (affinityCounts empty cluster-wide:
        // on one node, none here).
        let first_of_group = !any_here && matches_all(pod);
        if !all_keys || !(any_here || first_of_group) {
            return Some(("node(s) didn't match pod affinity rules", true));
        }
    }

    let anti = required_terms(pod, true);
    let violates = anti.iter().any(|t| {
        has(&t.topology_key)
            && here
                .iter()
                .any(|p| term_selects(t, pod, p, namespace_labels))
    });
    if violates {
        return Some(("node(s) didn't match pod anti-affinity rules", false));
    }

    let existing = here.iter().any(|p| {
        required_terms(p, true)
            .iter()
            .any(|t| has(&t.topology_key) && term_selects(t, p, pod, namespace_labels))
    });
    if existing {
        return Some((
            "node(s) didn't satisfy existing pods anti-affinity rules",
            false,
        ));
    }
    None
}
