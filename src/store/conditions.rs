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

use k8s_openapi::api::core::v1::{PodCondition, PodReadinessGate, PodStatus};
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

/// Adds to `status` the API's `conditions` of the types it has none of,
/// then gates `Ready` on the pod's readiness gates.
pub fn merge(status: &mut PodStatus, conditions: Vec<PodCondition>, gates: &[PodReadinessGate]) {
    if !conditions.is_empty() {
        let own = status.conditions.get_or_insert_with(Vec::new);
        for c in conditions {
            if !own.iter().any(|o| o.type_ == c.type_) {
                own.push(c);
            }
        }
    }
    gate_ready(status, gates);
}

/// The kubelet's reason for a Ready held back by a readiness gate.
const GATES_NOT_READY: &str = "ReadinessGatesNotReady";

/// The kubelet's Ready with readiness gates: once the containers are
/// ready, the pod is Ready only if every gate's condition is there and
/// True; otherwise Ready is False with the kubelet's reason and message.
/// The supervisor knows nothing of the gates' conditions (they come
/// through the API), so this is done where the two are read together.
/// Its transition time is the latest of the conditions it derives from.
fn gate_ready(status: &mut PodStatus, gates: &[PodReadinessGate]) {
    let Some(conditions) = status.conditions.as_mut() else {
        return;
    };
    let containers_ready = conditions
        .iter()
        .any(|c| c.type_ == "ContainersReady" && c.status == "True");
    if !containers_ready {
        return;
    }
    let mut unready = Vec::new();
    let mut latest = None;
    for gate in gates {
        match conditions.iter().find(|c| c.type_ == gate.condition_type) {
            None => unready.push(format!(
                "corresponding condition of pod readiness gate {:?} does not exist.",
                gate.condition_type
            )),
            Some(c) => {
                latest = latest.max(c.last_transition_time.clone());
                if c.status != "True" {
                    unready.push(format!(
                        "the status of pod readiness gate {:?} is not \"True\", but {}",
                        gate.condition_type, c.status
                    ));
                }
            }
        }
    }
    let Some(ready) = conditions.iter_mut().find(|c| c.type_ == "Ready") else {
        return;
    };
    if !unready.is_empty() {
        ready.status = "False".into();
        ready.reason = Some(GATES_NOT_READY.into());
        ready.message = Some(unready.join(", "));
    } else if ready.reason.as_deref() == Some(GATES_NOT_READY) {
        // Held back by an earlier read (a status write re-merges).
        ready.status = "True".into();
        ready.reason = None;
        ready.message = None;
    } else {
        return;
    }
    ready.last_transition_time = ready.last_transition_time.clone().max(latest);
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
            &[],
        );
        assert_eq!(
            status.conditions.unwrap(),
            vec![
                condition("Ready", "True"),
                condition("example.com/gate", "True")
            ]
        );
        let mut empty = PodStatus::default();
        merge(&mut empty, Vec::new(), &[]);
        assert_eq!(empty.conditions, None);
    }

    fn gate(type_: &str) -> PodReadinessGate {
        PodReadinessGate {
            condition_type: type_.into(),
        }
    }

    fn ready_of(status: &PodStatus) -> PodCondition {
        let all = status.conditions.as_deref().unwrap_or_default();
        all.iter().find(|c| c.type_ == "Ready").unwrap().clone()
    }

    #[test]
    fn ready_waits_for_every_readiness_gate_as_the_kubelets_does() {
        let supervisors = || PodStatus {
            conditions: Some(vec![
                condition("Ready", "True"),
                condition("ContainersReady", "True"),
            ]),
            ..Default::default()
        };
        let gates = [gate("example.com/a"), gate("example.com/b")];

        let mut status = supervisors();
        merge(
            &mut status,
            vec![condition("example.com/b", "False")],
            &gates,
        );
        let ready = ready_of(&status);
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some(
                "corresponding condition of pod readiness gate \"example.com/a\" does not exist., \
                 the status of pod readiness gate \"example.com/b\" is not \"True\", but False"
            )
        );

        // Both gates True: Ready, and a second merge (a status write
        // re-merges what was read) lifts an earlier hold.
        let both = vec![
            condition("example.com/a", "True"),
            condition("example.com/b", "True"),
        ];
        let mut fresh = supervisors();
        merge(&mut fresh, both.clone(), &gates);
        assert_eq!(ready_of(&fresh), condition("Ready", "True"));
        status
            .conditions
            .as_mut()
            .unwrap()
            .retain(|c| KUBELET_OWNED.contains(&c.type_.as_str()));
        merge(&mut status, both, &gates);
        assert_eq!(ready_of(&status), condition("Ready", "True"));

        // Containers not ready: Ready stays the supervisor's.
        let mut not_ready = PodStatus {
            conditions: Some(vec![
                condition("Ready", "False"),
                condition("ContainersReady", "False"),
            ]),
            ..Default::default()
        };
        merge(&mut not_ready, Vec::new(), &gates);
        assert_eq!(ready_of(&not_ready), condition("Ready", "False"));
    }
}
