//! The decision in tables, the way kuberuntime_manager_test.go tests
//! computePodActions: a pod as seen, the time, the actions wanted
//! (`walks` takes pods through their life and checks their phase and
//! conditions at every step). Nothing here needs root or a process.
//!
//! Longer than the other files on purpose: one table per rule, each read
//! beside the helpers that build its rows.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::*;
use crate::supervisor::backoff::Limits;
use Action::*;
use Role::{App, Init, Sidecar};

/// `n` seconds after a base instant shared by every test.
fn at(n: u64) -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now) + Duration::from_secs(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const IDLE: State = State::Idle;
const PULLING: State = State::Pulling;
const CREATING: State = State::Creating;
const UP: State = State::Running {
    started: true,
    stopping: false,
};
/// Running, its startup probe not passed yet.
const UNSTARTED: State = State::Running {
    started: false,
    stopping: false,
};
const STOPPING: State = State::Running {
    started: true,
    stopping: true,
};
/// Started; its postStart hook runs.
const HOOK: State = State::Starting {
    hook: Hook::Running,
    stopping: false,
};
/// Started; its postStart hook is to run.
const STARTED: State = State::Starting {
    hook: Hook::Due,
    stopping: false,
};
const OK: State = State::Done { succeeded: true };
const FAILED: State = State::Done { succeeded: false };

fn exited(code: i32) -> State {
    State::Exited { code, at: at(0) }
}

fn waiting(n: u64) -> State {
    State::Waiting(at(n))
}

fn c(role: Role, state: State) -> Seen {
    Seen {
        role,
        post_start: false,
        pre_stop: false,
        pre_stop_done: None,
        state,
        killed: false,
        unhealthy: None,
        changed: false,
        backoff: BackOff::new(Limits::default()),
        pull_backoff: BackOff::new(Limits::default()),
        pull_back_off_at: None,
    }
}

/// A container with a postStart hook.
fn hooked(role: Role, state: State) -> Seen {
    Seen {
        post_start: true,
        ..c(role, state)
    }
}

fn pod(policy: Policy, stage: PodStage, containers: Vec<Seen>) -> SeenPod {
    SeenPod {
        policy,
        grace: secs(30),
        stage,
        sandbox: Sandbox::Ready,
        requeue: Limits::default().initial,
        containers,
        status_changed: false,
        detached: false,
    }
}

/// Decides as `sync` does (again once the sandbox is created or a dead
/// one let go), applying the actions to `pod`. The status writes are left out: they have their
/// own table (`the_status_is_written_when_what_it_shows_changed`).
fn rounds(pod: &mut SeenPod, now: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    for _ in 0..3 {
        let actions = decide(pod, now);
        let again = actions.contains(&CreateSandbox) || actions.contains(&ReplaceSandbox);
        for a in &actions {
            apply(pod, *a);
        }
        all.extend(actions.into_iter().filter(|a| *a != WriteStatus));
        if !again {
            break;
        }
    }
    all
}

struct Case {
    name: &'static str,
    pod: SeenPod,
    now: Instant,
    want: Vec<Action>,
}

fn case(name: &'static str, pod: SeenPod, now: Instant, want: Vec<Action>) -> Case {
    Case {
        name,
        pod,
        now,
        want,
    }
}

fn check(cases: Vec<Case>) {
    for mut case in cases {
        let got = rounds(&mut case.pod, case.now);
        assert_eq!(got, case.want, "{}", case.name);
    }
}

fn restart(slot: usize, now: Instant) -> Action {
    Restart {
        slot,
        at: now,
        back_off: None,
    }
}

fn stop(slot: usize, grace: u64) -> Action {
    Stop {
        slot,
        grace: secs(grace),
        why: Why::Stop,
    }
}

use PodStage::{Completing, Ended, Initializing};
use Policy::{Always, Never, OnFailure};

#[test]
fn app_containers_as_compute_pod_actions() {
    let three = |s: [State; 3]| s.into_iter().map(|s| c(App, s)).collect::<Vec<_>>();
    let mut new = pod(Always, PodStage::Running, three([IDLE; 3]));
    new.sandbox = Sandbox::Missing { retry_at: None };
    let mut backing_off = new.clone();
    backing_off.sandbox = Sandbox::Missing {
        retry_at: Some(at(10)),
    };
    check(vec![
        case(
            "everything is good; do nothing",
            pod(Always, PodStage::Running, three([UP; 3])),
            at(0),
            vec![],
        ),
        case(
            "a new pod: the sandbox, then every container",
            new,
            at(0),
            vec![CreateSandbox, Start(0), Start(1), Start(2)],
        ),
        case(
            "a failed sandbox waits for its back-off",
            backing_off.clone(),
            at(9),
            vec![],
        ),
        case(
            "a failed sandbox is retried once its back-off ends",
            backing_off,
            at(10),
            vec![CreateSandbox, Start(0), Start(1), Start(2)],
        ),
        case(
            "Always restarts the completed and the failed container",
            pod(
                Always,
                PodStage::Running,
                three([exited(0), exited(111), UP]),
            ),
            at(0),
            vec![restart(0, at(0)), restart(1, at(0)), Start(0), Start(1)],
        ),
        case(
            "OnFailure restarts only the failed container",
            pod(
                OnFailure,
                PodStage::Running,
                three([exited(0), exited(111), UP]),
            ),
            at(0),
            vec![Retire(0), restart(1, at(0)), Start(1)],
        ),
        case(
            "Never restarts no container",
            pod(
                Never,
                PodStage::Running,
                three([exited(0), exited(111), UP]),
            ),
            at(0),
            vec![Retire(0), Retire(1)],
        ),
        case(
            "Never: every container exited; the pod ends",
            pod(Never, PodStage::Running, three([exited(0), exited(1), OK])),
            at(0),
            vec![Retire(0), Retire(1), Complete, EndPod, WakeAt(at(0))],
        ),
        case(
            "OnFailure: every container succeeded; the pod ends",
            pod(
                OnFailure,
                PodStage::Running,
                three([exited(0), exited(0), OK]),
            ),
            at(0),
            vec![Retire(0), Retire(1), Complete, EndPod, WakeAt(at(0))],
        ),
        case(
            "a restart that is due starts",
            pod(Always, PodStage::Running, three([waiting(5), UP, UP])),
            at(5),
            vec![Start(0)],
        ),
        case(
            "a restart that is not due waits",
            pod(Always, PodStage::Running, three([waiting(6), UP, UP])),
            at(5),
            vec![],
        ),
        case(
            "containers being pulled, set up or killed are waited for",
            pod(
                Always,
                PodStage::Running,
                three([PULLING, CREATING, STOPPING]),
            ),
            at(0),
            vec![],
        ),
        case(
            "an ended pod is torn down and does nothing else",
            pod(Always, Ended, three([exited(1), IDLE, UP])),
            at(0),
            vec![TearDown],
        ),
    ]);
}

#[test]
fn init_containers_run_in_order_and_are_retried_per_policy() {
    // Two init containers, then two app containers.
    let p = |policy, stage, s: [State; 2]| {
        let mut cs = vec![c(Init, s[0]), c(Init, s[1])];
        cs.extend([c(App, IDLE), c(App, IDLE)]);
        pod(policy, stage, cs)
    };
    check(vec![
        case(
            "no init container has run; the first starts",
            p(Always, Initializing, [IDLE, IDLE]),
            at(0),
            vec![Start(0)],
        ),
        case(
            "the first runs; nothing else starts",
            p(Always, Initializing, [UP, IDLE]),
            at(0),
            vec![],
        ),
        case(
            "the first succeeded; the second starts",
            p(Never, Initializing, [exited(0), IDLE]),
            at(0),
            vec![Retire(0), Start(1)],
        ),
        case(
            "initialization completed; every app container starts",
            p(Always, Initializing, [OK, OK]),
            at(0),
            vec![Initialized, Start(2), Start(3)],
        ),
        case(
            "a failed init container restarts under Always",
            p(Always, Initializing, [OK, exited(137)]),
            at(0),
            vec![restart(1, at(0)), Start(1)],
        ),
        case(
            "a failed init container restarts under OnFailure",
            p(OnFailure, Initializing, [OK, exited(137)]),
            at(0),
            vec![restart(1, at(0)), Start(1)],
        ),
        case(
            "a succeeded init container is not restarted under Always",
            p(Always, Initializing, [exited(0), IDLE]),
            at(0),
            vec![Retire(0), Start(1)],
        ),
        case(
            "a failed init container under Never fails the pod",
            p(Never, Initializing, [OK, exited(137)]),
            at(0),
            vec![Retire(1), Retire(2), Retire(3), EndPod, WakeAt(at(0))],
        ),
        case(
            "an init container being set up is waited for",
            p(Always, Initializing, [CREATING, IDLE]),
            at(0),
            vec![],
        ),
        case(
            "an init container backing off is waited for",
            p(Always, Initializing, [waiting(10), IDLE]),
            at(5),
            vec![],
        ),
        case(
            "init containers do not run again once the pod is initialized",
            {
                let mut q = p(Always, PodStage::Running, [OK, OK]);
                q.containers[2].state = UP;
                q.containers[3].state = UP;
                q
            },
            at(0),
            vec![],
        ),
    ]);
}

#[test]
fn native_sidecars_start_in_order_restart_and_stop_after_the_apps() {
    let p = |policy, stage, s: Vec<(Role, State)>| {
        pod(policy, stage, s.into_iter().map(|(r, s)| c(r, s)).collect())
    };
    check(vec![
        case(
            "a sidecar before an init container starts first",
            p(
                Always,
                Initializing,
                vec![(Sidecar, IDLE), (Init, IDLE), (App, IDLE)],
            ),
            at(0),
            vec![Start(0)],
        ),
        case(
            "the next init container waits for the sidecar's startup probe",
            p(
                Always,
                Initializing,
                vec![(Sidecar, UNSTARTED), (Init, IDLE), (App, IDLE)],
            ),
            at(0),
            vec![],
        ),
        case(
            "a started sidecar lets the next init container start",
            p(
                Always,
                Initializing,
                vec![(Sidecar, UP), (Init, IDLE), (App, IDLE)],
            ),
            at(0),
            vec![Start(1)],
        ),
        case(
            "sidecar up and init done: the app starts",
            p(
                Always,
                Initializing,
                vec![(Sidecar, UP), (Init, OK), (App, IDLE)],
            ),
            at(0),
            vec![Initialized, Start(2)],
        ),
        case(
            "a sidecar restarts while init runs, even under Never",
            p(
                Never,
                Initializing,
                vec![(Sidecar, exited(1)), (Init, UP), (App, IDLE)],
            ),
            at(0),
            vec![restart(0, at(0)), Start(0)],
        ),
        case(
            "a sidecar that exited 0 restarts beside the apps",
            p(
                Never,
                PodStage::Running,
                vec![(Sidecar, exited(0)), (Init, OK), (App, UP)],
            ),
            at(0),
            vec![restart(0, at(0)), Start(0)],
        ),
        case(
            "the apps are done: the sidecars stop, the last first",
            p(
                Never,
                PodStage::Running,
                vec![(Sidecar, UP), (Sidecar, UP), (Init, OK), (App, exited(0))],
            ),
            at(0),
            vec![Retire(3), Complete, stop(1, 30), stop(0, 30)],
        ),
        case(
            "a failed init container under Never stops the running sidecar",
            p(
                Never,
                Initializing,
                vec![(Sidecar, UP), (Init, exited(1)), (App, IDLE)],
            ),
            at(0),
            vec![Retire(1), stop(0, 30), Retire(2)],
        ),
        case(
            "the pod whose init failed ends once its sidecar is gone; no restart",
            p(
                Never,
                Initializing,
                vec![(Sidecar, exited(143)), (Init, FAILED), (App, FAILED)],
            ),
            at(0),
            vec![Retire(0), EndPod, WakeAt(at(0))],
        ),
        case(
            "completing: stopping sidecars are waited for",
            p(Never, Completing, vec![(Sidecar, STOPPING), (App, OK)]),
            at(0),
            vec![],
        ),
        case(
            "completing: a sidecar that came up meanwhile is stopped too",
            p(Never, Completing, vec![(Sidecar, UP), (App, OK)]),
            at(0),
            vec![stop(0, 30)],
        ),
        case(
            "completing: an exited sidecar is not restarted; the pod ends",
            p(
                Always,
                Completing,
                vec![(Sidecar, exited(143)), (Init, OK), (App, OK)],
            ),
            at(0),
            vec![Retire(0), EndPod, WakeAt(at(0))],
        ),
        case(
            "completing: a sidecar that had not started will not",
            p(
                Never,
                PodStage::Running,
                vec![(Sidecar, waiting(9)), (App, exited(0))],
            ),
            at(5),
            vec![Retire(1), Complete, Retire(0), EndPod, WakeAt(at(5))],
        ),
    ]);
}

#[test]
fn restart_policy_by_exit_code_and_role() {
    // (policy, role, exit code, restarted)
    let table = [
        (Always, App, 0, true),
        (Always, App, 1, true),
        (Always, App, 137, true),
        (OnFailure, App, 0, false),
        (OnFailure, App, 1, true),
        (OnFailure, App, 137, true),
        (Never, App, 0, false),
        (Never, App, 1, false),
        (Never, App, 137, false),
        (Always, Init, 0, false),
        (Always, Init, 1, true),
        (Always, Init, 137, true),
        (OnFailure, Init, 0, false),
        (OnFailure, Init, 1, true),
        (OnFailure, Init, 137, true),
        (Never, Init, 0, false),
        (Never, Init, 1, false),
        (Never, Init, 137, false),
        (Always, Sidecar, 0, true),
        (Always, Sidecar, 1, true),
        (OnFailure, Sidecar, 0, true),
        (OnFailure, Sidecar, 137, true),
        (Never, Sidecar, 0, true),
        (Never, Sidecar, 1, true),
    ];
    for (policy, role, code, restarted) in table {
        // Another app container runs, so the pod is not complete.
        let stage = if role == App {
            PodStage::Running
        } else {
            Initializing
        };
        let mut p = pod(policy, stage, vec![c(role, exited(code)), c(App, UP)]);
        let first = rounds(&mut p, at(0))[0];
        let want = if restarted {
            restart(0, at(0))
        } else {
            Retire(0)
        };
        assert_eq!(first, want, "{policy:?} {role:?} exit {code}");
    }
}

/// The container started as the loop starts it: a start after the first
/// counts as a restart for the back-off.
fn began(p: &mut SeenPod, now: Instant, runs: &mut u32) {
    if *runs > 0 {
        p.containers[0].backoff.restarted(now);
    }
    *runs += 1;
    p.containers[0].state = UP;
}

#[test]
fn crash_loop_back_off_doubles_to_the_cap_and_resets_after_ten_quiet_minutes() {
    let mut p = pod(Always, PodStage::Running, vec![c(App, IDLE)]);
    let mut now = at(0);
    let mut runs = 0;
    let mut waits = Vec::new();
    assert_eq!(rounds(&mut p, now), vec![Start(0)]);
    began(&mut p, now, &mut runs);
    for _ in 0..8 {
        // It crashes at once.
        p.containers[0].state = State::Exited { code: 1, at: now };
        let actions = rounds(&mut p, now);
        match actions[..] {
            [
                Restart {
                    at, back_off: None, ..
                },
                Start(0),
            ] => {
                assert_eq!(at, now);
                waits.push(0);
            }
            [
                Restart {
                    at: due,
                    back_off: Some(delay),
                    ..
                },
                WakeAt(wake),
            ] => {
                assert_eq!(wake, due);
                assert_eq!(due - now, delay, "the whole delay is waited out");
                waits.push((due - now).as_secs());
                assert_eq!(rounds(&mut p, due - Duration::from_millis(1)), vec![]);
                now = due;
                assert_eq!(rounds(&mut p, now), vec![Start(0)]);
            }
            _ => panic!("unexpected {actions:?}"),
        }
        began(&mut p, now, &mut runs);
    }
    assert_eq!(waits, [0, 10, 20, 40, 80, 160, 300, 300]);
    // Ten quiet minutes (twice the cap) later it crashes: at once again,
    // and the next delay starts over at 10 s.
    now += secs(601);
    p.containers[0].state = State::Exited { code: 1, at: now };
    assert_eq!(rounds(&mut p, now), vec![restart(0, now), Start(0)]);
    p.containers[0].backoff.restarted(now);
    p.containers[0].state = State::Exited { code: 1, at: now };
    assert_eq!(
        rounds(&mut p, now),
        vec![
            Restart {
                slot: 0,
                at: now + secs(10),
                back_off: Some(secs(10))
            },
            WakeAt(now + secs(10))
        ]
    );
}

#[test]
fn a_post_start_hook_holds_back_later_starts() {
    let p = |cs: Vec<Seen>| pod(Always, PodStage::Running, cs);
    check(vec![
        case(
            "a hooked container starts alone",
            p(vec![hooked(App, IDLE), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![Start(0)],
        ),
        case(
            "while its image is pulled",
            p(vec![hooked(App, PULLING), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![],
        ),
        case(
            "while it is set up",
            p(vec![hooked(App, CREATING), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![],
        ),
        case(
            "once started it runs its hook, the others still held back",
            p(vec![hooked(App, STARTED), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![PostStart(0)],
        ),
        case(
            "while its hook runs",
            p(vec![hooked(App, HOOK), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![],
        ),
        case(
            "once it runs the others start together",
            p(vec![hooked(App, UP), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![Start(1), Start(2)],
        ),
        case(
            "without a hook the set-ups overlap",
            p(vec![c(App, CREATING), c(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![Start(1), Start(2)],
        ),
        case(
            "a hook holds back only the containers after it",
            p(vec![c(App, IDLE), hooked(App, IDLE), c(App, IDLE)]),
            at(0),
            vec![Start(0), Start(1)],
        ),
        case(
            "a hooked sidecar holds back the apps",
            p(vec![hooked(Sidecar, HOOK), c(App, IDLE)]),
            at(0),
            vec![],
        ),
        case(
            "a sidecar's hook runs while the pod initializes",
            pod(
                Always,
                Initializing,
                vec![hooked(Sidecar, STARTED), c(App, IDLE)],
            ),
            at(0),
            vec![PostStart(0)],
        ),
        case(
            "the hooks of two started containers both run",
            p(vec![hooked(App, STARTED), hooked(App, STARTED)]),
            at(0),
            vec![PostStart(0), PostStart(1)],
        ),
    ]);
}

#[test]
fn deletion_stops_apps_then_sidecars_within_the_grace() {
    let deleting = PodStage::Deleting {
        grace: secs(30),
        since: at(0),
        at_once: false,
    };
    let p = |cs: Vec<(Role, State)>| {
        pod(
            Always,
            deleting,
            cs.into_iter().map(|(r, s)| c(r, s)).collect(),
        )
    };
    check(vec![
        case(
            "the app containers stop first, in what is left of the grace",
            p(vec![(Sidecar, UP), (App, UP), (App, HOOK)]),
            at(10),
            vec![stop(1, 20), stop(2, 20)],
        ),
        case(
            "a container that started as the deletion began runs its hook, then stops",
            p(vec![(App, STARTED)]),
            at(10),
            vec![PostStart(0), stop(0, 20)],
        ),
        case(
            "the sidecars wait while an app container is being set up",
            p(vec![(Sidecar, UP), (App, CREATING)]),
            at(10),
            vec![],
        ),
        case(
            "the sidecars stop once the apps are gone; no restart",
            p(vec![(Sidecar, UP), (App, exited(143))]),
            at(12),
            vec![Retire(1), stop(0, 18)],
        ),
        case(
            "what never ran, or waits to run again, will not run",
            p(vec![(Init, IDLE), (App, waiting(50)), (App, PULLING)]),
            at(1),
            vec![Retire(0), Retire(1), Retire(2), TearDown, RemovePod],
        ),
        case(
            "stopping containers are waited for",
            p(vec![(App, STOPPING), (Sidecar, STOPPING)]),
            at(1),
            vec![],
        ),
        case(
            "a spent grace period stops with none left (SIGKILL after 2 s)",
            p(vec![(App, UP)]),
            at(45),
            vec![stop(0, 0)],
        ),
        case(
            "no sandbox is created for a pod being deleted",
            {
                let mut q = p(vec![(App, IDLE)]);
                q.sandbox = Sandbox::Missing { retry_at: None };
                q
            },
            at(0),
            vec![Retire(0), TearDown, RemovePod],
        ),
    ]);
}

#[test]
fn the_pod_is_over_once_ended_or_deleted_with_no_process_left() {
    let deleting = PodStage::Deleting {
        grace: secs(30),
        since: at(0),
        at_once: false,
    };
    // (stage, containers, over)
    let table = [
        (PodStage::Running, vec![OK, OK], false),
        (Completing, vec![STOPPING, OK], false),
        (Ended, vec![OK, State::Done { succeeded: false }], true),
        (deleting, vec![STOPPING, OK], false),
        (deleting, vec![CREATING, OK], false),
        (deleting, vec![HOOK, OK], false),
        (deleting, vec![exited(143), IDLE], true),
        (deleting, vec![OK, PULLING], true),
    ];
    for (stage, states, is_over) in table {
        let mut p = pod(Always, stage, states.iter().map(|s| c(App, *s)).collect());
        assert_eq!(over(&p), is_over, "{stage:?} {states:?}");
        assert!(!finished(&p), "not torn down yet: {stage:?} {states:?}");
        p.sandbox = Sandbox::Gone;
        assert_eq!(finished(&p), is_over, "torn down: {stage:?} {states:?}");
    }
}

/// Once the pod is over its sandbox is torn down, after a deletion the
/// pod is removed, and the status written as the kubelet reports it: a
/// pod that ends writes its final phase, then is torn down (woken at
/// once for it) and writes PodReadyToStartContainers false; a deleted
/// pod writes nothing more once it is removed.
#[test]
fn the_pod_over_is_torn_down_and_a_deleted_one_removed() {
    let deleting = |at_once: bool, states: Vec<State>| {
        pod(
            Always,
            PodStage::Deleting {
                grace: secs(30),
                since: at(0),
                at_once,
            },
            states.into_iter().map(|s| c(App, s)).collect(),
        )
    };
    let changed = |mut p: SeenPod| {
        p.status_changed = true;
        p
    };
    let mut torn_down = pod(Never, Ended, vec![c(App, OK)]);
    torn_down.sandbox = Sandbox::Gone;
    let mut rejected = pod(Always, Ended, vec![c(App, IDLE)]);
    rejected.sandbox = Sandbox::Missing { retry_at: None };
    let mut forced = deleting(true, vec![exited(137), IDLE]);
    forced.detached = true;
    // (name, pod, its actions, the loop is done after them)
    let table = [
        (
            "a pod that ends: its final phase written, the loop woken to tear it down",
            pod(Never, PodStage::Running, vec![c(App, exited(0))]),
            vec![Retire(0), Complete, EndPod, WakeAt(at(0)), WriteStatus],
            false,
        ),
        (
            "its phase written: torn down, and the teardown's status written",
            pod(Never, Ended, vec![c(App, OK)]),
            vec![TearDown, WriteStatus],
            true,
        ),
        (
            "something new seen as well: still one write",
            changed(pod(Never, Ended, vec![c(App, OK)])),
            vec![TearDown, WriteStatus],
            true,
        ),
        ("torn down: nothing more", torn_down, vec![], true),
        (
            "ended before it had a sandbox (admission refused it)",
            rejected,
            vec![TearDown, WriteStatus],
            true,
        ),
        (
            "a deletion with no process left: torn down and removed, nothing written",
            changed(deleting(false, vec![exited(143), OK])),
            vec![Retire(0), TearDown, RemovePod],
            true,
        ),
        (
            "a deletion waits for its last process",
            changed(deleting(false, vec![STOPPING, OK])),
            vec![WriteStatus],
            false,
        ),
        (
            "a forced deletion, its record already gone: the same",
            forced,
            vec![Retire(0), Retire(1), TearDown, RemovePod],
            true,
        ),
    ];
    for (name, mut p, want, done) in table {
        let actions = decide(&p, at(0));
        assert_eq!(actions, want, "{name}");
        for a in actions {
            apply(&mut p, a);
        }
        assert_eq!(finished(&p), done, "{name}");
        if done {
            assert_eq!(decide(&p, at(1)), vec![], "{name}: once");
        }
    }
}

mod sandbox;
mod walks;

/// A container with a preStop hook.
fn pre_stopped(role: Role, state: State) -> Seen {
    Seen {
        pre_stop: true,
        ..c(role, state)
    }
}

/// A stopping container whose preStop hook (begun at `since`, inside
/// `grace`) is done.
fn pre_stop_done(role: Role, grace: u64, since: u64) -> Seen {
    Seen {
        pre_stop_done: Some((secs(grace), at(since))),
        ..pre_stopped(role, STOPPING)
    }
}

fn pre_stop(slot: usize, grace: u64) -> Action {
    PreStop {
        slot,
        grace: secs(grace),
        why: Why::Stop,
    }
}

#[test]
fn pre_stop_hooks_run_before_the_kill() {
    let deleting = PodStage::Deleting {
        grace: secs(30),
        since: at(0),
        at_once: false,
    };
    check(vec![
        case(
            "a deletion runs the hook in what is left of the grace",
            pod(
                Always,
                deleting,
                vec![pre_stopped(Sidecar, UP), pre_stopped(App, UP), c(App, UP)],
            ),
            at(10),
            vec![pre_stop(1, 20), stop(2, 20)],
        ),
        case(
            "while the hook runs nothing is done",
            pod(Always, deleting, vec![pre_stopped(App, STOPPING)]),
            at(11),
            vec![],
        ),
        case(
            "once it is done the kill follows in what the hook left",
            pod(Always, deleting, vec![pre_stop_done(App, 20, 10)]),
            at(15),
            vec![stop(0, 15)],
        ),
        case(
            "a hook that spent the grace leaves none (SIGKILL after 2 s)",
            pod(Always, deleting, vec![pre_stop_done(App, 20, 10)]),
            at(40),
            vec![stop(0, 0)],
        ),
        case(
            "a deletion shortened meanwhile (to end at 16 s) cuts what the hook left",
            pod(
                Always,
                PodStage::Deleting {
                    grace: secs(16),
                    since: at(0),
                    at_once: false,
                },
                vec![pre_stop_done(App, 20, 10)],
            ),
            at(15),
            vec![stop(0, 1)],
        ),
        case(
            "then the sidecars, each with its hook",
            pod(
                Always,
                deleting,
                vec![pre_stopped(Sidecar, UP), c(App, exited(143))],
            ),
            at(16),
            vec![Retire(1), pre_stop(0, 14)],
        ),
        case(
            "completion: a sidecar's hook runs in the pod's grace",
            pod(
                Never,
                Completing,
                vec![pre_stopped(Sidecar, UP), c(App, OK)],
            ),
            at(0),
            vec![pre_stop(0, 30)],
        ),
        case(
            "a failed init container: the sidecars' hooks run",
            pod(
                Never,
                Initializing,
                vec![pre_stopped(Sidecar, UP), c(Init, FAILED), c(App, IDLE)],
            ),
            at(0),
            vec![pre_stop(0, 30), Retire(2)],
        ),
        case(
            "no hook without the sandbox: the kill at once",
            SeenPod {
                sandbox: Sandbox::Missing { retry_at: None },
                ..pod(Always, deleting, vec![pre_stopped(App, UP)])
            },
            at(0),
            vec![stop(0, 30)],
        ),
        case(
            "a hook done in an ended pod changes nothing but its teardown",
            pod(Always, Ended, vec![pre_stop_done(App, 20, 10)]),
            at(15),
            vec![TearDown],
        ),
    ]);
}

/// A container whose pull (`pull`) or configuration failed at `n`; a
/// pull the `failures`-th to fail in a row, as the loop counts them in
/// the image back-off (the other failures are not counted).
fn start_failed(role: Role, pull: bool, n: u64, failures: u32) -> Seen {
    let mut seen = c(role, State::StartFailed { at: at(n), pull });
    for _ in 0..failures {
        if pull {
            seen.pull_backoff.restarted(at(n));
        }
    }
    seen
}

fn retry(slot: usize, n: u64, show: Option<u64>) -> Action {
    RetryStart {
        slot,
        at: at(n),
        show_back_off: show.map(at),
    }
}

#[test]
fn failed_pulls_configurations_and_sandboxes_back_off() {
    let mut sandbox_failed = pod(Always, PodStage::Running, vec![c(App, IDLE)]);
    sandbox_failed.sandbox = Sandbox::Failed { at: at(0) };
    let mut sandbox_failed_again = sandbox_failed.clone();
    sandbox_failed_again.sandbox = Sandbox::Failed { at: at(10) };
    let mut pull_waits = pod(Always, PodStage::Running, vec![c(App, waiting(10))]);
    pull_waits.containers[0].pull_back_off_at = Some(at(1));
    check(vec![
        case(
            "a failed pull: ErrImagePull, retried after 10 s, ImagePullBackOff after 1 s",
            pod(
                Always,
                PodStage::Running,
                vec![start_failed(App, true, 0, 1)],
            ),
            at(0),
            vec![retry(0, 10, Some(1)), WakeAt(at(1)), WakeAt(at(10))],
        ),
        case(
            "the pull waits: ErrImagePull until the next sync",
            pull_waits.clone(),
            at(0),
            vec![],
        ),
        case(
            "the pull waits: ImagePullBackOff once",
            pull_waits.clone(),
            at(1),
            vec![ShowPullBackOff(0)],
        ),
        case(
            "the pull's back-off ended: ImagePullBackOff shown late, then the retry",
            pull_waits,
            at(10),
            vec![ShowPullBackOff(0), Start(0)],
        ),
        case(
            "a second failed pull waits 20 s",
            pod(
                Always,
                PodStage::Running,
                vec![start_failed(App, true, 10, 2)],
            ),
            at(10),
            vec![retry(0, 30, Some(11)), WakeAt(at(11)), WakeAt(at(30))],
        ),
        case(
            "a failed configuration: CreateContainerConfigError, retried after 10 s",
            pod(
                Always,
                PodStage::Running,
                vec![start_failed(App, false, 0, 1)],
            ),
            at(0),
            vec![retry(0, 10, None), WakeAt(at(10))],
        ),
        case(
            "the fourth failed configuration waits 10 s too: the pod worker's requeue",
            pod(
                Always,
                PodStage::Running,
                vec![start_failed(App, false, 0, 4)],
            ),
            at(0),
            vec![retry(0, 10, None), WakeAt(at(10))],
        ),
        case(
            "not a restart: whatever the policy, it is retried",
            pod(
                Never,
                PodStage::Running,
                vec![start_failed(App, false, 0, 1), c(App, UP)],
            ),
            at(0),
            vec![retry(0, 10, None), WakeAt(at(10))],
        ),
        case(
            "an init container's failed pull holds the next one back",
            pod(
                Always,
                Initializing,
                vec![start_failed(Init, true, 0, 1), c(Init, IDLE), c(App, IDLE)],
            ),
            at(0),
            vec![retry(0, 10, Some(1)), WakeAt(at(1)), WakeAt(at(10))],
        ),
        case(
            "a deletion retires a failed start",
            pod(
                Always,
                PodStage::Deleting {
                    grace: secs(30),
                    since: at(0),
                    at_once: false,
                },
                vec![start_failed(App, true, 0, 1)],
            ),
            at(0),
            vec![Retire(0), TearDown, RemovePod],
        ),
        case(
            "a failed sandbox is retried after 10 s",
            sandbox_failed.clone(),
            at(0),
            vec![RetrySandbox { at: at(10) }, WakeAt(at(10))],
        ),
        case(
            "and again after 10 s, not backed off further",
            sandbox_failed_again,
            at(10),
            vec![RetrySandbox { at: at(20) }, WakeAt(at(20))],
        ),
    ]);
}

#[test]
fn the_pull_back_off_doubles_to_the_cap_and_resets_after_ten_quiet_minutes() {
    let mut p = pod(Always, PodStage::Running, vec![c(App, IDLE)]);
    let mut now = at(0);
    let mut waits = Vec::new();
    for _ in 0..8 {
        assert_eq!(rounds(&mut p, now), vec![Start(0)]);
        // The pull fails at once, and the loop counts it.
        p.containers[0].pull_backoff.restarted(now);
        p.containers[0].state = State::StartFailed {
            at: now,
            pull: true,
        };
        let actions = rounds(&mut p, now);
        let [
            RetryStart {
                at: due,
                show_back_off: Some(show),
                ..
            },
            WakeAt(first),
            WakeAt(second),
        ] = actions[..]
        else {
            panic!("unexpected {actions:?}");
        };
        assert_eq!((first, second), (show, due));
        assert_eq!(show, now + secs(1));
        assert_eq!(rounds(&mut p, show), vec![ShowPullBackOff(0)]);
        assert_eq!(rounds(&mut p, due - Duration::from_millis(1)), vec![]);
        waits.push((due - now).as_secs());
        now = due;
    }
    assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
    // Ten quiet minutes after the last failure the next one waits 10 s.
    now += secs(601);
    p.containers[0].pull_backoff.restarted(now);
    p.containers[0].state = State::StartFailed {
        at: now,
        pull: true,
    };
    assert_eq!(
        rounds(&mut p, now)[0],
        RetryStart {
            slot: 0,
            at: now + secs(10),
            show_back_off: Some(now + secs(1)),
        }
    );
}

/// The kubelet does not back a configuration error off: the failed sync
/// is requeued by the pod worker after backOffPeriod (10 s) each time,
/// however often it failed, while a failed pull doubles (above). Nor is
/// it a restart: the crash-loop back-off is untouched.
#[test]
fn failed_configurations_and_sandboxes_are_retried_at_the_pod_workers_requeue() {
    let mut p = pod(Always, PodStage::Running, vec![c(App, IDLE)]);
    let mut now = at(0);
    let mut waits = Vec::new();
    for _ in 0..8 {
        assert_eq!(rounds(&mut p, now), vec![Start(0)]);
        // CreateContainerConfigError: the loop counts it nowhere.
        p.containers[0].state = State::StartFailed {
            at: now,
            pull: false,
        };
        let actions = rounds(&mut p, now);
        let [
            RetryStart {
                at: due,
                show_back_off: None,
                ..
            },
            WakeAt(wake),
        ] = actions[..]
        else {
            panic!("unexpected {actions:?}");
        };
        assert_eq!(wake, due);
        assert_eq!(rounds(&mut p, due - Duration::from_millis(1)), vec![]);
        waits.push((due - now).as_secs());
        now = due;
    }
    assert_eq!(waits, [10; 8]);
    assert_eq!(p.containers[0].backoff.current(), Duration::ZERO);
    assert_eq!(p.containers[0].pull_backoff.current(), Duration::ZERO);

    // The sandbox's creation alike.
    let mut p = pod(Always, PodStage::Running, vec![c(App, IDLE)]);
    p.sandbox = Sandbox::Missing { retry_at: None };
    let mut now = at(0);
    let mut waits = Vec::new();
    for _ in 0..6 {
        assert_eq!(decide(&p, now), vec![CreateSandbox, WriteStatus]);
        p.sandbox = Sandbox::Failed { at: now };
        let actions = rounds(&mut p, now);
        let [RetrySandbox { at: due }, WakeAt(wake)] = actions[..] else {
            panic!("unexpected {actions:?}");
        };
        assert_eq!(wake, due);
        assert_eq!(rounds(&mut p, due - Duration::from_millis(1)), vec![]);
        waits.push((due - now).as_secs());
        now = due;
    }
    assert_eq!(waits, [10; 6]);

    // Shortened for tests with the back-offs (POD_BACKOFF_INITIAL).
    let mut p = pod(
        Always,
        PodStage::Running,
        vec![start_failed(App, false, 0, 1)],
    );
    p.requeue = Duration::from_millis(10);
    assert_eq!(
        rounds(&mut p, at(0)),
        vec![
            RetryStart {
                slot: 0,
                at: at(0) + Duration::from_millis(10),
                show_back_off: None
            },
            WakeAt(at(0) + Duration::from_millis(10))
        ]
    );
}

/// Started; its postStart hook failed.
const HOOK_FAILED: State = State::Starting {
    hook: Hook::Failed,
    stopping: false,
};

/// A running container whose liveness or startup probe failed.
fn unhealthy(role: Role, grace: u64) -> Seen {
    Seen {
        unhealthy: Some(secs(grace)),
        ..c(role, UP)
    }
}

#[test]
fn a_failed_post_start_hook_or_probe_stops_the_container() {
    let p = |cs: Vec<Seen>| pod(Always, PodStage::Running, cs);
    let deleting = PodStage::Deleting {
        grace: secs(30),
        since: at(0),
        at_once: false,
    };
    let why = |slot, grace, why| Stop {
        slot,
        grace: secs(grace),
        why,
    };
    check(vec![
        case(
            "a failed postStart hook stops the container in the pod's grace",
            p(vec![hooked(App, HOOK_FAILED), c(App, IDLE)]),
            at(0),
            vec![why(0, 30, Why::FailedPostStartHook)],
        ),
        case(
            "its preStop hook runs first",
            p(vec![Seen {
                pre_stop: true,
                ..hooked(App, HOOK_FAILED)
            }]),
            at(0),
            vec![PreStop {
                slot: 0,
                grace: secs(30),
                why: Why::FailedPostStartHook,
            }],
        ),
        case(
            "a container stopping after its failed hook still holds back later starts",
            p(vec![
                hooked(
                    App,
                    State::Starting {
                        hook: Hook::Failed,
                        stopping: true,
                    },
                ),
                c(App, IDLE),
            ]),
            at(0),
            vec![],
        ),
        case(
            "once it exited it restarts per the policy; the others start",
            p(vec![hooked(App, exited(137)), c(App, IDLE)]),
            at(0),
            vec![restart(0, at(0)), Start(0)],
        ),
        case(
            "in a deletion, inside what is left of its grace",
            pod(Always, deleting, vec![hooked(App, HOOK_FAILED)]),
            at(25),
            vec![why(0, 5, Why::FailedPostStartHook)],
        ),
        case(
            "a failed probe stops the container in the probe's grace",
            p(vec![unhealthy(App, 5), c(App, UP)]),
            at(0),
            vec![why(0, 5, Why::Unhealthy)],
        ),
        case(
            "a failed probe of a sidecar while the pod initializes",
            pod(
                Always,
                Initializing,
                vec![unhealthy(Sidecar, 30), c(Init, UP), c(App, IDLE)],
            ),
            at(0),
            vec![why(0, 30, Why::Unhealthy)],
        ),
        case(
            "an unhealthy container with a preStop hook runs it first",
            p(vec![Seen {
                pre_stop: true,
                ..unhealthy(App, 5)
            }]),
            at(0),
            vec![PreStop {
                slot: 0,
                grace: secs(5),
                why: Why::Unhealthy,
            }],
        ),
        case(
            "an unhealthy container already stopping is waited for",
            p(vec![Seen {
                unhealthy: Some(secs(5)),
                ..c(App, STOPPING)
            }]),
            at(0),
            vec![],
        ),
        case(
            "in a deletion, the lesser of the probe's grace and what is left",
            pod(
                Always,
                deleting,
                vec![unhealthy(App, 60), unhealthy(App, 2)],
            ),
            at(20),
            vec![why(0, 10, Why::Unhealthy), why(1, 2, Why::Unhealthy)],
        ),
    ]);
}

#[test]
fn a_deletion_at_once_kills_every_process_without_hooks() {
    let now = PodStage::Deleting {
        grace: Duration::ZERO,
        since: at(0),
        at_once: true,
    };
    let p = |cs: Vec<Seen>| pod(Always, now, cs);
    let killed = |state| Seen {
        killed: true,
        ..c(App, state)
    };
    check(vec![
        case(
            "every process at once, sidecars too; no preStop, no order",
            p(vec![
                pre_stopped(Sidecar, UP),
                pre_stopped(App, UP),
                hooked(App, HOOK),
            ]),
            at(0),
            vec![Kill(0), Kill(1), Kill(2)],
        ),
        case(
            "a container started with a hook is killed before its hook runs",
            p(vec![hooked(App, STARTED)]),
            at(0),
            vec![Kill(0)],
        ),
        case(
            "a harsher deletion kills what is already stopping, in its hook or not",
            p(vec![c(App, STOPPING), pre_stop_done(App, 30, 0)]),
            at(1),
            vec![Kill(0), Kill(1)],
        ),
        case(
            "what was killed is waited for, once",
            p(vec![killed(STOPPING), killed(HOOK)]),
            at(1),
            vec![],
        ),
        case(
            "what is being set up is killed once it runs",
            p(vec![c(App, CREATING), c(App, UP)]),
            at(0),
            vec![Kill(1)],
        ),
        case(
            "what has no process will not run; no restart",
            p(vec![
                c(Init, IDLE),
                c(App, exited(137)),
                c(App, waiting(5)),
                c(App, PULLING),
            ]),
            at(0),
            vec![
                Retire(0),
                Retire(1),
                Retire(2),
                Retire(3),
                TearDown,
                RemovePod,
            ],
        ),
        case(
            "a failed hook or probe changes nothing",
            p(vec![
                killed(HOOK_FAILED),
                Seen {
                    unhealthy: Some(secs(5)),
                    ..killed(STOPPING)
                },
            ]),
            at(0),
            vec![],
        ),
    ]);
    let mut over = pod(Always, now, vec![c(App, exited(137)), c(App, OK)]);
    assert!(!finished(&over), "its sandbox is still up");
    assert_eq!(
        rounds(&mut over, at(0)),
        vec![Retire(0), TearDown, RemovePod]
    );
    assert!(finished(&over));
    assert!(!finished(&p(vec![killed(STOPPING)])));
}

#[test]
fn the_status_is_written_when_what_it_shows_changed() {
    let running = |states: Vec<State>| {
        pod(
            Always,
            PodStage::Running,
            states.into_iter().map(|s| c(App, s)).collect(),
        )
    };
    let changed = |mut p: SeenPod| {
        p.status_changed = true;
        p
    };
    let detached = |mut p: SeenPod| {
        p.detached = true;
        p
    };
    let deleting = |states: Vec<State>| SeenPod {
        stage: PodStage::Deleting {
            grace: secs(30),
            since: at(0),
            at_once: false,
        },
        ..running(states)
    };
    let mut new = running(vec![IDLE]);
    new.sandbox = Sandbox::Missing { retry_at: None };
    let mut sandbox_failed = running(vec![IDLE]);
    sandbox_failed.sandbox = Sandbox::Failed { at: at(0) };
    // (name, pod, now, its actions end with WriteStatus)
    let table = [
        ("nothing new, nothing done", running(vec![UP]), at(0), false),
        (
            "a probe's verdict or an exit seen, nothing to do",
            changed(running(vec![UP])),
            at(0),
            true,
        ),
        ("the sandbox is created", new, at(0), true),
        ("a container starts", running(vec![UP, IDLE]), at(0), true),
        (
            "a crash-loop back-off",
            running(vec![UP, exited(1)]),
            at(0),
            true,
        ),
        (
            "a failed sandbox waits: its failure was written as it was seen",
            sandbox_failed,
            at(0),
            false,
        ),
        (
            "a failed pull waits: the same",
            pod(
                Always,
                PodStage::Running,
                vec![start_failed(App, true, 0, 1)],
            ),
            at(0),
            false,
        ),
        (
            "ImagePullBackOff shows",
            {
                let mut p = running(vec![waiting(10)]);
                p.containers[0].pull_back_off_at = Some(at(1));
                p
            },
            at(1),
            true,
        ),
        (
            "a deletion's stops show once the processes exited",
            deleting(vec![UP, UP]),
            at(0),
            false,
        ),
        (
            "a deletion retires what never ran",
            deleting(vec![UP, IDLE]),
            at(0),
            true,
        ),
        (
            "the pod ends",
            pod(Never, PodStage::Running, vec![c(App, exited(0))]),
            at(0),
            true,
        ),
        (
            "a forced deletion: nothing is written",
            detached(changed(deleting(vec![exited(137), IDLE]))),
            at(0),
            false,
        ),
    ];
    for (name, p, now, writes) in table {
        let actions = decide(&p, now);
        assert_eq!(
            actions.last() == Some(&WriteStatus),
            writes,
            "{name}: {actions:?}"
        );
        let count = actions.iter().filter(|a| **a == WriteStatus).count();
        assert!(count <= 1, "{name}: once a round");
    }
}

fn changed(role: Role, state: State) -> Seen {
    Seen {
        changed: true,
        ..c(role, state)
    }
}

/// The kubelet's "definition changed, will be restarted": a running
/// container whose image was updated stops in the pod's grace and starts
/// again at once, whatever the restart policy; not in a deletion.
#[test]
fn a_container_whose_definition_changed_is_stopped_and_started_again() {
    let deleting = PodStage::Deleting {
        grace: secs(30),
        since: at(0),
        at_once: false,
    };
    check(vec![
        case(
            "running: stopped inside the pod's grace",
            pod(Never, PodStage::Running, vec![changed(App, UP), c(App, UP)]),
            at(0),
            vec![Stop {
                slot: 0,
                grace: secs(30),
                why: Why::DefinitionChanged,
            }],
        ),
        case(
            "already stopping: nothing more",
            pod(Always, PodStage::Running, vec![changed(App, STOPPING)]),
            at(0),
            vec![],
        ),
        case(
            "exited: started again at once under Never",
            pod(Never, PodStage::Running, vec![changed(App, exited(143))]),
            at(3),
            vec![restart(0, at(3)), Start(0)],
        ),
        case(
            "exited in a crash loop: no back-off",
            pod(
                Always,
                PodStage::Running,
                vec![Seen {
                    backoff: {
                        let mut b = BackOff::new(Limits::default());
                        b.restarted(at(0));
                        b.restarted(at(1));
                        b
                    },
                    ..changed(App, exited(1))
                }],
            ),
            at(2),
            vec![restart(0, at(2)), Start(0)],
        ),
        case(
            "in a deletion: the deletion's stop",
            pod(Always, deleting, vec![changed(App, UP)]),
            at(0),
            vec![stop(0, 30)],
        ),
    ]);
}
