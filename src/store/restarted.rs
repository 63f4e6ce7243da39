//! How a pod reads once the node restarted under it: its run directory
//! (a tmpfs, `/run/pod`) is gone with every process it named, while its
//! status record (on disk) still says what ran. The kubelet meets the
//! same thing when it starts after a reboot and the runtime no longer
//! knows the pod's containers, and its answer is copied here:
//!
//! - a container that was running is no longer found: its last state
//!   becomes `ContainerStatusUnknown` ("The container could not be
//!   located when the pod was deleted.  The container used to be
//!   Running", exit code 137), its restart count goes up by one, and it
//!   waits to be created again (kubelet_pods.go,
//!   convertToAPIContainerStatuses);
//! - the phase follows (getPhase): a pod with restartPolicy Never that
//!   had started a container is Failed, and every container of it not
//!   terminated is terminated `ContainerStatusUnknown` ("The container
//!   could not be located when the pod was terminated", 137), as the
//!   status manager's TerminatePod leaves it; a pod that restarts its
//!   containers is Running (Pending if none had started yet) until
//!   `pod up` starts it again.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::phase::{FAILED, PENDING, RUNNING};

pub const REASON: &str = "ContainerStatusUnknown";
/// The last state of a container that ran when the node went down.
pub const USED_TO_RUN: &str = "The container could not be located when the pod was deleted.  The container used to be Running";
/// The state of a container of a pod that will not run again.
pub const TERMINATED: &str = "The container could not be located when the pod was terminated";

fn unknown(message: &str) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: 137,
        reason: Some(REASON.into()),
        message: Some(message.into()),
        ..Default::default()
    }
}

/// The status a pod whose node restarted reads with (`recorded`: the
/// status its supervisor last wrote; not a terminal one).
pub fn status(pod: &Pod, mut recorded: PodStatus) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let has_init = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
    let never = spec.restart_policy.as_deref() == Some("Never");
    let mut started = false;
    let mut app_started = false;
    for (list, app) in [
        (recorded.init_container_statuses.as_mut(), false),
        (recorded.container_statuses.as_mut(), true),
    ] {
        for c in list.into_iter().flatten() {
            let state = c.state.clone().unwrap_or_default();
            let ran = state.running.is_some()
                || state.terminated.is_some()
                || c.last_state
                    .as_ref()
                    .is_some_and(|l| l.terminated.is_some());
            started |= ran;
            app_started |= ran && app;
            c.ready = false;
            if state.running.is_some() {
                c.started = Some(false);
                c.restart_count += 1;
                c.last_state = Some(ContainerState {
                    terminated: Some(unknown(USED_TO_RUN)),
                    ..Default::default()
                });
                let reason = if app && has_init {
                    "PodInitializing"
                } else {
                    "ContainerCreating"
                };
                c.state = Some(waiting(reason));
            }
        }
    }
    let phase = if never && started {
        terminate(&mut recorded);
        FAILED
    } else if app_started {
        RUNNING
    } else {
        PENDING
    };
    recorded.phase = Some(phase.into());
    for c in recorded.conditions.iter_mut().flatten() {
        if matches!(c.type_.as_str(), "Ready" | "ContainersReady") && c.status != "False" {
            c.status = "False".into();
            c.last_transition_time = Some(Time(crate::duration::now()));
            c.reason = Some(if phase == FAILED {
                "PodFailed".into()
            } else {
                "ContainersNotReady".into()
            });
        }
    }
    recorded
}

fn waiting(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: None,
        }),
        ..Default::default()
    }
}

/// Every container not terminated is terminated, its fate unknown.
fn terminate(status: &mut PodStatus) {
    let lists = [
        status.init_container_statuses.as_mut(),
        status.container_statuses.as_mut(),
    ];
    for c in lists.into_iter().flatten().flat_map(|l| l.iter_mut()) {
        terminate_one(c);
    }
}

fn terminate_one(c: &mut ContainerStatus) {
    if c.state.as_ref().is_some_and(|s| s.terminated.is_some()) {
        return;
    }
    c.state = Some(ContainerState {
        terminated: Some(unknown(TERMINATED)),
        ..Default::default()
    });
    c.ready = false;
    c.started = Some(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerStateRunning, PodCondition, PodSpec};

    fn pod(policy: &str) -> Pod {
        Pod {
            spec: Some(PodSpec {
                restart_policy: Some(policy.into()),
                containers: vec![
                    Container {
                        name: "a".into(),
                        ..Default::default()
                    },
                    Container {
                        name: "b".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn recorded() -> PodStatus {
        let running = ContainerStatus {
            name: "a".into(),
            ready: true,
            started: Some(true),
            restart_count: 2,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let done = ContainerStatus {
            name: "b".into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        PodStatus {
            phase: Some(RUNNING.into()),
            container_statuses: Some(vec![running, done]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn a_restarting_pod_waits_to_be_created_again_with_one_more_restart() {
        for policy in ["Always", "OnFailure"] {
            let s = status(&pod(policy), recorded());
            assert_eq!(s.phase.as_deref(), Some(RUNNING), "{policy}");
            let a = &s.container_statuses.as_ref().unwrap()[0];
            assert_eq!(a.restart_count, 3);
            assert!(!a.ready);
            let waiting = a.state.as_ref().unwrap().waiting.as_ref().unwrap();
            assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
            let last = a.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
            assert_eq!(
                (
                    last.exit_code,
                    last.reason.as_deref(),
                    last.message.as_deref()
                ),
                (137, Some(REASON), Some(USED_TO_RUN))
            );
            // A container that had finished stays as it was.
            let b = &s.container_statuses.as_ref().unwrap()[1];
            assert_eq!(b.state, recorded().container_statuses.unwrap()[1].state);
            assert_eq!(s.conditions.as_ref().unwrap()[0].status, "False");
        }
    }

    #[test]
    fn a_never_pod_that_had_started_fails_with_its_containers_unknown() {
        let s = status(&pod("Never"), recorded());
        assert_eq!(s.phase.as_deref(), Some(FAILED));
        let a = &s.container_statuses.as_ref().unwrap()[0];
        let state = a.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(
            (
                state.exit_code,
                state.reason.as_deref(),
                state.message.as_deref()
            ),
            (137, Some(REASON), Some(TERMINATED))
        );
        assert_eq!(a.restart_count, 3);
        assert_eq!(
            a.last_state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some(USED_TO_RUN)
        );
        let b = &s.container_statuses.as_ref().unwrap()[1];
        assert_eq!(
            b.state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("Completed")
        );
    }

    #[test]
    fn a_pod_that_never_started_a_container_stays_pending() {
        let mut never_ran = recorded();
        for c in never_ran.container_statuses.as_mut().unwrap() {
            c.state = Some(waiting("ContainerCreating"));
            c.restart_count = 0;
        }
        never_ran.phase = Some(PENDING.into());
        let s = status(&pod("Never"), never_ran.clone());
        assert_eq!(s.phase.as_deref(), Some(PENDING));
        assert_eq!(
            s.container_statuses,
            never_ran.container_statuses.map(|l| {
                l.into_iter()
                    .map(|mut c| {
                        c.ready = false;
                        c
                    })
                    .collect()
            })
        );
    }
}
