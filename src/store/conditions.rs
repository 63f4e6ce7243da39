//! The pod conditions set through the API rather than by the pod's
//! supervisor: a readiness gate's condition a controller sets, an
//! eviction's `DisruptionTarget`, any condition type of a client's own
//! (`PUT`/`PATCH pods/<name>/status`). On a cluster they live in the API
//! server's copy of the status and the kubelet keeps them when it writes
//! its own (its status manager merges in the conditions whose type it
//! does not own). Here the supervisor writes `status.json` whole from its
//! own state, so the API's conditions have a file of their own,
//! `conditions.json`, and a pod is read with both: the supervisor's
//! conditions, then the API's of any other type.

use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
use serde::{Deserialize, Serialize};

/// The file, in the pod's directory.
pub const FILE: &str = "conditions.json";

/// What the file holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    #[serde(default)]
    pub conditions: Vec<PodCondition>,
}

/// The condition types the kubelet owns: its writes replace whatever a
/// client set for them (`PodConditionsByKubelet`). `DisruptionTarget`
/// is shared (the kubelet sets it when it evicts, the API server on an
/// eviction); pod's supervisor never sets it.
pub const KUBELET_OWNED: &[&str] = &[
    "PodScheduled",
    "Ready",
    "Initialized",
    "ContainersReady",
    "PodReadyToStartContainers",
];

/// Adds to `status` the API's `conditions` of the types it has none of.
pub fn merge(status: &mut PodStatus, conditions: Vec<PodCondition>) {
    if conditions.is_empty() {
        return;
    }
    let own = status.conditions.get_or_insert_with(Vec::new);
    for c in conditions {
        if !own.iter().any(|o| o.type_ == c.type_) {
            own.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str, status: &str) -> PodCondition {
        PodCondition {
            type_: type_.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_supervisors_conditions_win_and_others_are_added() {
        let mut status = PodStatus {
            conditions: Some(vec![condition("Ready", "True")]),
            ..Default::default()
        };
        merge(
            &mut status,
            vec![
                condition("Ready", "False"),
                condition("example.com/gate", "True"),
            ],
        );
        assert_eq!(
            status.conditions.unwrap(),
            vec![
                condition("Ready", "True"),
                condition("example.com/gate", "True")
            ]
        );
        let mut empty = PodStatus::default();
        merge(&mut empty, Vec::new());
        assert_eq!(empty.conditions, None);
    }
}
