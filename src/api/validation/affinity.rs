//! Scheduling fields that a single node ignores but a cluster validates
//! (`validateAffinity`, `validateTopologySpreadConstraints`): a manifest
//! `pod` accepts must be one a cluster accepts too.

use k8s_openapi::api::core::v1::{
    Affinity, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{Errors, Path, names};

pub fn validate_affinity(affinity: &Affinity, path: &Path) -> Errors {
    let mut errs = Errors::default();
    if let Some(node) = affinity.node_affinity.as_ref() {
        let np = path.child("nodeAffinity");
        if let Some(required) = node
            .required_during_scheduling_ignored_during_execution
            .as_ref()
        {
            let rp = np.child("requiredDuringSchedulingIgnoredDuringExecution");
            if required.node_selector_terms.is_empty() {
                errs.required_because(
                    &rp.child("nodeSelectorTerms"),
                    "must have at least one node selector term",
                );
            }
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                validate_node_selector_term(
                    &mut errs,
                    term,
                    &rp.child("nodeSelectorTerms").index(i),
                );
            }
        }
        for (i, preferred) in node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            let pp = np
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            validate_weight(&mut errs, preferred.weight, &pp.child("weight"));
            validate_node_selector_term(&mut errs, &preferred.preference, &pp.child("preference"));
        }
    }
    for (field, terms) in [
        (
            "podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ] {
        let Some((required, preferred)) = terms else {
            continue;
        };
        let ap = path.child(field);
        for (i, term) in required.iter().flatten().enumerate() {
            validate_pod_affinity_term(
                &mut errs,
                term,
                &ap.child("requiredDuringSchedulingIgnoredDuringExecution")
                    .index(i),
            );
        }
        for (i, weighted) in preferred.iter().flatten().enumerate() {
            let wp = ap
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            validate_weight(&mut errs, weighted.weight, &wp.child("weight"));
            validate_pod_affinity_term(
                &mut errs,
                &weighted.pod_affinity_term,
                &wp.child("podAffinityTerm"),
            );
        }
    }
    errs
}

fn validate_weight(errs: &mut Errors, weight: i32, path: &Path) {
    if !(1..=100).contains(&weight) {
        errs.invalid(path, weight, "must be in the range 1-100");
    }
}

fn validate_node_selector_term(errs: &mut Errors, term: &NodeSelectorTerm, path: &Path) {
    for (i, requirement) in term.match_expressions.iter().flatten().enumerate() {
        validate_node_requirement(
            errs,
            requirement,
            &path.child("matchExpressions").index(i),
            true,
        );
    }
    for (i, requirement) in term.match_fields.iter().flatten().enumerate() {
        validate_node_requirement(
            errs,
            requirement,
            &path.child("matchFields").index(i),
            false,
        );
    }
}

/// `ValidateNodeSelectorRequirement`
fn validate_node_requirement(
    errs: &mut Errors,
    requirement: &NodeSelectorRequirement,
    path: &Path,
    label_key: bool,
) {
    let values = requirement.values.as_deref().unwrap_or(&[]);
    match requirement.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.required_because(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                );
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                );
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.required_because(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                );
            }
        }
        other => errs.invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        ),
    }
    if label_key {
        errs.check(
            &path.child("key"),
            &requirement.key,
            names::qualified_name(&requirement.key),
        );
    }
}

fn validate_pod_affinity_term(errs: &mut Errors, term: &PodAffinityTerm, path: &Path) {
    if term.topology_key.is_empty() {
        errs.required_because(&path.child("topologyKey"), "can not be empty");
    } else {
        errs.check(
            &path.child("topologyKey"),
            &term.topology_key,
            names::qualified_name(&term.topology_key),
        );
    }
    if let Some(selector) = term.label_selector.as_ref() {
        validate_label_selector(errs, selector, &path.child("labelSelector"));
    }
    for (i, namespace) in term.namespaces.iter().flatten().enumerate() {
        errs.check(
            &path.child("namespaces").index(i),
            namespace,
            names::dns1123_label(namespace),
        );
    }
}

/// `ValidateLabelSelector`
pub(super) fn validate_label_selector(errs: &mut Errors, selector: &LabelSelector, path: &Path) {
    for (i, requirement) in selector.match_expressions.iter().flatten().enumerate() {
        let rp = path.child("matchExpressions").index(i);
        let values = requirement.values.as_deref().unwrap_or(&[]);
        match requirement.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.required_because(
                        &rp.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    );
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.forbidden(
                        &rp.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    );
                }
            }
            other => errs.invalid(
                &rp.child("operator"),
                other,
                "not a valid selector operator",
            ),
        }
        errs.check(
            &rp.child("key"),
            &requirement.key,
            names::qualified_name(&requirement.key),
        );
        for value in values {
            errs.check(&rp.child("values"), value, names::label_value(value));
        }
    }
    if let Some(labels) = selector.match_labels.as_ref() {
        errs.extend(super::meta::validate_labels(
            Some(labels),
            &path.child("matchLabels"),
        ));
    }
}

/// `validateTopologySpreadConstraints`
pub fn validate_topology_spread(constraints: &[TopologySpreadConstraint], path: &Path) -> Errors {
    let mut errs = Errors::default();
    let mut seen = std::collections::BTreeSet::new();
    for (i, constraint) in constraints.iter().enumerate() {
        let cp = path.index(i);
        if constraint.max_skew <= 0 {
            errs.invalid(
                &cp.child("maxSkew"),
                constraint.max_skew,
                "must be greater than zero",
            );
        }
        if constraint.topology_key.is_empty() {
            errs.required_because(&cp.child("topologyKey"), "can not be empty");
        } else {
            errs.check(
                &cp.child("topologyKey"),
                &constraint.topology_key,
                names::qualified_name(&constraint.topology_key),
            );
        }
        match constraint.when_unsatisfiable.as_str() {
            "DoNotSchedule" | "ScheduleAnyway" => {}
            "" => errs.required(&cp.child("whenUnsatisfiable")),
            other => errs.not_supported(
                &cp.child("whenUnsatisfiable"),
                other,
                &["DoNotSchedule", "ScheduleAnyway"],
            ),
        }
        if let Some(min_domains) = constraint.min_domains
            && min_domains <= 0
        {
            errs.invalid(
                &cp.child("minDomains"),
                min_domains,
                "must be greater than 0",
            );
        }
        let pair = (
            constraint.topology_key.clone(),
            constraint.when_unsatisfiable.clone(),
        );
        if !seen.insert(pair) {
            errs.duplicate(
                &cp,
                format!(
                    "{{{}, {}}}",
                    constraint.topology_key, constraint.when_unsatisfiable
                ),
            );
        }
        if let Some(selector) = constraint.label_selector.as_ref() {
            validate_label_selector(&mut errs, selector, &cp.child("labelSelector"));
        }
    }
    errs
}
