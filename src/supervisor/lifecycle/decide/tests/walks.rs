//! Pods walked through their life: the decision's actions applied, the
//! containers' runs and exits told, and the phase and conditions read at
//! every step from the container statuses the loop would write.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, PodSpec,
};

use super::*;
use crate::supervisor::lifecycle::report::{Readiness, conditions};
use crate::supervisor::status;

/// A pod walked through its life: the decision's actions applied, the
/// containers' runs and exits told, its phase and conditions read at
/// every step from the container statuses the loop would write.
struct Walk {
    pod: SeenPod,
    spec: PodSpec,
    names: Vec<String>,
    exit: Vec<Option<i32>>,
    initialized: bool,
    now: Instant,
}

impl Walk {
    fn new(policy: &str, containers: &[(&str, Role)]) -> Walk {
        let mut spec = PodSpec {
            restart_policy: Some(policy.into()),
            ..Default::default()
        };
        for (name, role) in containers {
            let container = Container {
                name: name.to_string(),
                restart_policy: (*role == Sidecar).then(|| "Always".into()),
                ..Default::default()
            };
            match role {
                App => spec.containers.push(container),
                _ => spec.init_containers.get_or_insert_default().push(container),
            }
        }
        let has_init = containers.iter().any(|(_, r)| *r != App);
        let mut pod = pod(
            Policy::parse(policy),
            if has_init {
                Initializing
            } else {
                PodStage::Running
            },
            containers.iter().map(|(_, r)| c(*r, IDLE)).collect(),
        );
        pod.sandbox = Sandbox::Missing { retry_at: None };
        Walk {
            pod,
            spec,
            names: containers.iter().map(|(n, _)| n.to_string()).collect(),
            exit: vec![None; containers.len()],
            initialized: !has_init,
            now: at(0),
        }
    }

    fn slot(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap()
    }

    fn decide(&mut self) -> Vec<Action> {
        let actions = rounds(&mut self.pod, self.now);
        self.initialized |= actions.contains(&Initialized);
        actions
    }

    fn runs(&mut self, name: &str) {
        let i = self.slot(name);
        self.pod.containers[i].state = UP;
    }

    fn exits(&mut self, name: &str, code: i32) {
        let i = self.slot(name);
        self.exit[i] = Some(code);
        self.pod.containers[i].state = State::Exited { code, at: self.now };
    }

    fn status(&self, i: usize) -> ContainerStatus {
        let terminated = |code| ContainerStateTerminated {
            exit_code: code,
            ..Default::default()
        };
        let waiting = ContainerState {
            waiting: Some(ContainerStateWaiting::default()),
            ..Default::default()
        };
        let mut s = ContainerStatus {
            name: self.names[i].clone(),
            ..Default::default()
        };
        match (self.pod.containers[i].state, self.exit[i]) {
            (State::Running { started, .. }, _) => {
                s.state = Some(ContainerState {
                    running: Some(ContainerStateRunning::default()),
                    ..Default::default()
                });
                s.started = Some(started);
                s.ready = started;
            }
            (State::Exited { .. } | State::Done { .. }, Some(code)) => {
                s.state = Some(ContainerState {
                    terminated: Some(terminated(code)),
                    ..Default::default()
                });
            }
            (_, last) => {
                s.state = Some(waiting);
                s.last_state = last.map(|code| ContainerState {
                    terminated: Some(terminated(code)),
                    ..Default::default()
                });
            }
        }
        s
    }

    /// The pod's phase and its Initialized and Ready conditions (with
    /// their reasons when false).
    fn shows(&self) -> (&'static str, String, String) {
        let statuses: Vec<_> = (0..self.names.len()).map(|i| self.status(i)).collect();
        let (mut init, mut apps) = (Vec::new(), Vec::new());
        for (i, s) in statuses.iter().enumerate() {
            match self.pod.containers[i].role {
                App => apps.push(s.clone()),
                _ => init.push(s.clone()),
            }
        }
        let initialized = self.initialized;
        let terminal = self.pod.stage == Ended;
        let phase = status::phase(&self.spec, &init, &apps, terminal, initialized);
        let seen: Vec<Readiness> = (0..self.names.len())
            .map(|i| Readiness {
                role: self.pod.containers[i].role,
                name: &self.names[i],
                succeeded: self.pod.containers[i].state == OK,
                started: statuses[i].started == Some(true),
                ready: statuses[i].ready,
            })
            .collect();
        let conds = conditions(initialized, phase, &seen);
        let show = |type_: &str| {
            let (_, ok, reason, message) = conds.iter().find(|c| c.0 == type_).unwrap();
            match (ok, reason, message) {
                (true, ..) => "True".to_string(),
                (false, Some(r), Some(m)) => format!("False {r}: {m}"),
                (false, Some(r), None) => format!("False {r}"),
                (false, None, _) => "False".to_string(),
            }
        };
        (phase, show("Initialized"), show("Ready"))
    }
}

fn shows(phase: &'static str, init: &str, ready: &str) -> (&'static str, String, String) {
    (phase, init.to_string(), ready.to_string())
}

#[test]
fn an_init_container_retried_a_sidecar_and_an_app_that_completes() {
    let mut w = Walk::new(
        "OnFailure",
        &[("proxy", Sidecar), ("setup", Init), ("main", App)],
    );
    let unready_all = "False ContainersNotReady: containers with unready status: [proxy main]";
    assert_eq!(w.decide(), vec![CreateSandbox, Start(0)]);
    assert_eq!(
        w.shows(),
        shows(
            "Pending",
            "False ContainersNotInitialized: containers with incomplete status: [proxy setup]",
            unready_all
        )
    );
    w.runs("proxy");
    assert_eq!(w.decide(), vec![Start(1)]);
    let setup_incomplete =
        "False ContainersNotInitialized: containers with incomplete status: [setup]";
    let main_unready = "False ContainersNotReady: containers with unready status: [main]";
    assert_eq!(w.shows(), shows("Pending", setup_incomplete, main_unready));
    w.runs("setup");
    w.exits("setup", 1);
    assert_eq!(w.decide(), vec![restart(1, w.now), Start(1)]);
    assert_eq!(w.shows(), shows("Pending", setup_incomplete, main_unready));
    w.runs("setup");
    w.exits("setup", 0);
    assert_eq!(w.decide(), vec![Retire(1), Initialized, Start(2)]);
    assert_eq!(w.shows(), shows("Pending", "True", main_unready));
    w.runs("main");
    assert_eq!(w.decide(), vec![]);
    assert_eq!(w.shows(), shows("Running", "True", "True"));
    w.exits("main", 0);
    assert_eq!(w.decide(), vec![Retire(2), Complete, stop(0, 30)]);
    assert_eq!(w.shows(), shows("Running", "True", main_unready));
    w.exits("proxy", 143);
    assert_eq!(w.decide(), vec![Retire(0), EndPod, WakeAt(w.now)]);
    assert_eq!(w.shows(), shows("Succeeded", "True", "False PodCompleted"));
    assert_eq!(
        w.decide(),
        vec![TearDown],
        "its final phase written, torn down"
    );
    assert_eq!(w.decide(), vec![], "an ended pod stays ended");
}

#[test]
fn a_failed_init_container_under_never_fails_the_pod() {
    let mut w = Walk::new("Never", &[("setup", Init), ("main", App)]);
    assert_eq!(w.decide(), vec![CreateSandbox, Start(0)]);
    let incomplete = "False ContainersNotInitialized: containers with incomplete status: [setup]";
    let unready = "False ContainersNotReady: containers with unready status: [main]";
    assert_eq!(w.shows(), shows("Pending", incomplete, unready));
    w.runs("setup");
    w.exits("setup", 2);
    assert_eq!(
        w.decide(),
        vec![Retire(0), Retire(1), EndPod, WakeAt(w.now)]
    );
    assert_eq!(w.shows(), shows("Failed", incomplete, "False PodCompleted"));
}

#[test]
fn restart_policies_end_or_keep_a_pod_whose_container_exits() {
    // (policy, exit code, actions, phase after)
    let table = [
        ("Always", 0, vec![restart(0, at(0)), Start(0)], "Running"),
        ("Always", 1, vec![restart(0, at(0)), Start(0)], "Running"),
        (
            "OnFailure",
            0,
            vec![Retire(0), Complete, EndPod, WakeAt(at(0))],
            "Succeeded",
        ),
        ("OnFailure", 1, vec![restart(0, at(0)), Start(0)], "Running"),
        (
            "Never",
            0,
            vec![Retire(0), Complete, EndPod, WakeAt(at(0))],
            "Succeeded",
        ),
        (
            "Never",
            3,
            vec![Retire(0), Complete, EndPod, WakeAt(at(0))],
            "Failed",
        ),
    ];
    for (policy, code, actions, phase) in table {
        let mut w = Walk::new(policy, &[("main", App)]);
        assert_eq!(w.decide(), vec![CreateSandbox, Start(0)]);
        assert_eq!(w.shows().0, "Pending", "{policy}");
        w.runs("main");
        assert_eq!(w.decide(), vec![]);
        assert_eq!(w.shows(), shows("Running", "True", "True"), "{policy}");
        w.exits("main", code);
        assert_eq!(w.decide(), actions, "{policy} exit {code}");
        assert_eq!(w.shows().0, phase, "{policy} exit {code}");
    }
}
