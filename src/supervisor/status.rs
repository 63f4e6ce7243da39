//! The pod status in the Kubernetes shape: phase (the kubelet's
//! `getPhase`), conditions with their transition times and QoS class. The
//! status shown before the supervisor writes one, and that of a pod whose
//! supervisor is gone, are the store's (`store::observed`).

use k8s_openapi::api::core::v1::{Container, ContainerStatus, PodCondition, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub use crate::api::phase::{FAILED, PENDING, RUNNING, SUCCEEDED, is_terminal};

/// Whether an init container is a native sidecar (restartPolicy Always).
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The pod's restartPolicy, defaulted.
pub fn restart_policy(spec: &PodSpec) -> &str {
    spec.restart_policy.as_deref().unwrap_or("Always")
}

fn find<'a>(statuses: &'a [ContainerStatus], name: &str) -> Option<&'a ContainerStatus> {
    statuses.iter().find(|s| s.name == name)
}

fn last_terminated_code(s: &ContainerStatus) -> Option<i32> {
    s.last_state
        .as_ref()
        .and_then(|l| l.terminated.as_ref())
        .map(|t| t.exit_code)
}

/// The kubelet's `getPhase`: `terminal` says that no container of the pod
/// will run again (the supervisor decided the pod is done).
pub fn phase(
    spec: &PodSpec,
    init: &[ContainerStatus],
    apps: &[ContainerStatus],
    terminal: bool,
    initialized: bool,
) -> &'static str {
    let never = restart_policy(spec) == "Never";
    let (mut pending_init, mut pending_sidecars, mut failed_init) = (0, 0, 0);
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for c in spec.init_containers.iter().flatten() {
        let Some(s) = find(init, &c.name) else {
            if is_sidecar(c) {
                unknown += 1;
            } else {
                pending_init += 1;
            }
            continue;
        };
        let state = s.state.clone().unwrap_or_default();
        if is_sidecar(c) {
            if state.running.is_some() {
                if s.started != Some(true) {
                    pending_sidecars += 1;
                }
                running += 1;
            } else if state.terminated.is_some() {
                // A stopped sidecar does not decide the phase.
            } else if state.waiting.is_some() {
                if last_terminated_code(s).is_none() {
                    pending_sidecars += 1;
                }
            } else {
                pending_sidecars += 1;
                unknown += 1;
            }
            continue;
        }
        if state.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &state.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if state.waiting.is_some() {
            match last_terminated_code(s) {
                Some(code) if code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            }
        } else {
            pending_init += 1;
        }
    }
    for c in &spec.containers {
        let Some(s) = find(apps, &c.name) else {
            unknown += 1;
            continue;
        };
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            if last_terminated_code(s).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if failed_init > 0 && never {
        return FAILED;
    }
    if pending_init > 0 || (pending_sidecars > 0 && !initialized) || waiting > 0 {
        return PENDING;
    }
    if running > 0 && unknown == 0 {
        return RUNNING;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            return if stopped == succeeded {
                SUCCEEDED
            } else {
                FAILED
            };
        }
        return match restart_policy(spec) {
            "Always" => RUNNING,
            _ if stopped == succeeded => SUCCEEDED,
            "Never" => FAILED,
            _ => RUNNING,
        };
    }
    PENDING
}

/// The pod's conditions, keeping each one's last transition time.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    list: Vec<PodCondition>,
}

/// The order the kubelet lists them in.
const ORDER: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

impl Conditions {
    pub fn set(
        &mut self,
        type_: &str,
        ok: bool,
        reason: Option<&str>,
        message: Option<String>,
        now: Timestamp,
    ) {
        let status = if ok { "True" } else { "False" };
        let existing = self.list.iter_mut().find(|c| c.type_ == type_);
        match existing {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = Some(Time(now));
                }
                c.status = status.into();
                c.reason = reason.map(str::to_string);
                c.message = message;
            }
            None => {
                self.list.push(PodCondition {
                    type_: type_.into(),
                    status: status.into(),
                    reason: reason.map(str::to_string),
                    message,
                    last_transition_time: Some(Time(now)),
                    // The kubelet writes an explicit null here.
                    last_probe_time: None,
                    observed_generation: None,
                });
                self.list.sort_by_key(|c| {
                    ORDER
                        .iter()
                        .position(|t| *t == c.type_)
                        .unwrap_or(ORDER.len())
                });
            }
        }
    }

    /// The conditions as a status record had them (a supervisor that
    /// adopts the pod goes on from them, transition times included).
    pub fn restore(&mut self, list: Vec<PodCondition>) {
        self.list = list;
        self.list.sort_by_key(|c| {
            ORDER
                .iter()
                .position(|t| *t == c.type_)
                .unwrap_or(ORDER.len())
        });
    }

    pub fn get(&self, type_: &str) -> Option<&PodCondition> {
        self.list.iter().find(|c| c.type_ == type_)
    }

    pub fn to_vec(&self) -> Vec<PodCondition> {
        self.list.clone()
    }
}

/// `containers with unready status: [a b]` and friends.
pub fn names_message(what: &str, names: &[String]) -> String {
    format!("containers with {what} status: [{}]", names.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::observed::waiting;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated,
    };

    fn spec(policy: &str, apps: &[&str], init: &[(&str, bool)]) -> PodSpec {
        PodSpec {
            restart_policy: Some(policy.into()),
            containers: apps
                .iter()
                .map(|n| Container {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            init_containers: Some(
                init.iter()
                    .map(|(n, sidecar)| Container {
                        name: n.to_string(),
                        restart_policy: sidecar.then(|| "Always".to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn running(name: &str, started: bool) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            started: Some(started),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn exited(name: &str, code: i32) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn backing_off(name: &str, last_code: i32) -> ContainerStatus {
        let mut s = waiting(name, "", "CrashLoopBackOff");
        s.last_state = exited(name, last_code).state;
        s
    }

    #[test]
    fn running_succeeded_failed() {
        let s = spec("Always", &["a", "b"], &[]);
        assert_eq!(
            phase(
                &s,
                &[],
                &[running("a", true), running("b", true)],
                false,
                true
            ),
            RUNNING
        );
        assert_eq!(
            phase(
                &s,
                &[],
                &[running("a", true), waiting("b", "", "ContainerCreating")],
                false,
                true
            ),
            PENDING
        );
        // Always: everything exited but restarting.
        assert_eq!(
            phase(&s, &[], &[exited("a", 0), exited("b", 0)], false, true),
            RUNNING
        );
        let never = spec("Never", &["a", "b"], &[]);
        assert_eq!(
            phase(&never, &[], &[exited("a", 0), exited("b", 0)], false, true),
            SUCCEEDED
        );
        assert_eq!(
            phase(&never, &[], &[exited("a", 0), exited("b", 2)], false, true),
            FAILED
        );
        assert_eq!(
            phase(
                &never,
                &[],
                &[running("a", true), exited("b", 2)],
                false,
                true
            ),
            RUNNING
        );
        let on_failure = spec("OnFailure", &["a"], &[]);
        assert_eq!(
            phase(&on_failure, &[], &[backing_off("a", 1)], false, true),
            RUNNING
        );
        assert_eq!(
            phase(&on_failure, &[], &[exited("a", 0)], false, true),
            SUCCEEDED
        );
        // A terminal pod is decided by exit codes alone.
        assert_eq!(
            phase(&s, &[], &[exited("a", 0), exited("b", 137)], true, true),
            FAILED
        );
    }

    #[test]
    fn init_containers_keep_the_pod_pending_or_fail_it() {
        let s = spec("Always", &["app"], &[("setup", false)]);
        let app = waiting("app", "", "PodInitializing");
        assert_eq!(
            phase(
                &s,
                &[running("setup", true)],
                std::slice::from_ref(&app),
                false,
                false
            ),
            PENDING
        );
        assert_eq!(
            phase(
                &s,
                &[backing_off("setup", 1)],
                std::slice::from_ref(&app),
                false,
                false
            ),
            PENDING
        );
        let never = spec("Never", &["app"], &[("setup", false)]);
        assert_eq!(
            phase(
                &never,
                &[exited("setup", 1)],
                std::slice::from_ref(&app),
                false,
                false
            ),
            FAILED
        );
        assert_eq!(
            phase(
                &never,
                &[exited("setup", 0)],
                &[running("app", true)],
                false,
                true
            ),
            RUNNING
        );
    }

    #[test]
    fn sidecars_must_start_and_then_do_not_decide() {
        let s = spec("Never", &["app"], &[("proxy", true)]);
        let app = waiting("app", "", "PodInitializing");
        assert_eq!(
            phase(
                &s,
                &[running("proxy", false)],
                std::slice::from_ref(&app),
                false,
                false
            ),
            PENDING
        );
        assert_eq!(
            phase(
                &s,
                &[running("proxy", true)],
                &[running("app", true)],
                false,
                true
            ),
            RUNNING
        );
        // The app finished and the sidecar was stopped: Succeeded.
        assert_eq!(
            phase(&s, &[exited("proxy", 137)], &[exited("app", 0)], true, true),
            SUCCEEDED
        );
    }

    #[test]
    fn transition_time_changes_only_with_the_status() {
        let mut c = Conditions::default();
        let t1: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let t2: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        let t3: Timestamp = "2024-01-01T00:02:00Z".parse().unwrap();
        c.set("PodScheduled", true, None, None, t1);
        c.set(
            "Ready",
            false,
            Some("ContainersNotReady"),
            Some(names_message("unready", &["a".into(), "b".into()])),
            t1,
        );
        c.set("Ready", false, Some("ContainersNotReady"), None, t2);
        assert_eq!(c.get("Ready").unwrap().last_transition_time, Some(Time(t1)));
        c.set("Ready", true, None, None, t3);
        assert_eq!(c.get("Ready").unwrap().last_transition_time, Some(Time(t3)));
        let order: Vec<_> = c.to_vec().into_iter().map(|c| c.type_).collect();
        assert_eq!(order, ["Ready", "PodScheduled"]);
        assert_eq!(
            names_message("unready", &["a".into(), "b".into()]),
            "containers with unready status: [a b]"
        );
    }
}
