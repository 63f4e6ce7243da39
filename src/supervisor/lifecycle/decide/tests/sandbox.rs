//! A dead sandbox (its pause process died), as computePodActions decides
//! for a sandbox that is not ready: the kill, then a new sandbox or none.

use super::*;

fn dead(policy: Policy, stage: PodStage, containers: Vec<Seen>) -> SeenPod {
    SeenPod {
        sandbox: Sandbox::Dead { announced: false },
        ..pod(policy, stage, containers)
    }
}

fn announced(mut p: SeenPod) -> SeenPod {
    p.sandbox = Sandbox::Dead { announced: true };
    p
}

fn rerun(slot: usize, now: Instant) -> Action {
    Rerun { slot, at: now }
}

#[test]
fn a_dead_sandbox_kills_the_pod_and_is_re_created_per_restart_policy() {
    let two = |a: State, b: State| vec![c(App, a), c(App, b)];
    check(vec![
        case(
            "Always: the event, then every running container is stopped",
            dead(Always, PodStage::Running, two(UP, UNSTARTED)),
            at(5),
            vec![SandboxChanged, stop(0, 30), stop(1, 30)],
        ),
        case(
            "the event is given once; a stopping container is waited for",
            announced(dead(Always, PodStage::Running, two(STOPPING, exited(137)))),
            at(5),
            vec![],
        ),
        case(
            "a container being set up is stopped once it runs",
            announced(dead(Always, PodStage::Running, two(CREATING, exited(137)))),
            at(5),
            vec![],
        ),
        case(
            "no process left: a new sandbox, and the containers restart in it",
            announced(dead(
                Always,
                PodStage::Running,
                two(exited(137), exited(143)),
            )),
            at(5),
            vec![
                ReplaceSandbox,
                restart(0, at(5)),
                restart(1, at(5)),
                CreateSandbox,
                Start(0),
                Start(1),
            ],
        ),
        case(
            "a container waiting out its back-off goes on waiting",
            announced(dead(
                Always,
                PodStage::Running,
                two(exited(137), waiting(60)),
            )),
            at(5),
            vec![ReplaceSandbox, restart(0, at(5)), CreateSandbox, Start(0)],
        ),
        case(
            "killed with a shared PID namespace: nothing to stop, re-created at once",
            dead(Always, PodStage::Running, two(exited(137), exited(137))),
            at(5),
            vec![
                SandboxChanged,
                ReplaceSandbox,
                restart(0, at(5)),
                restart(1, at(5)),
                CreateSandbox,
                Start(0),
                Start(1),
            ],
        ),
        case(
            "OnFailure: the running container restarts, the succeeded one does not",
            announced(dead(OnFailure, PodStage::Running, two(exited(137), OK))),
            at(5),
            vec![ReplaceSandbox, restart(0, at(5)), CreateSandbox, Start(0)],
        ),
        case(
            "OnFailure with every app container succeeded: no new sandbox, no event",
            dead(OnFailure, PodStage::Running, two(OK, exited(0))),
            at(5),
            vec![Retire(1), EndPod, WakeAt(at(5))],
        ),
        case(
            "Never: the containers are killed, no event and no new sandbox",
            dead(Never, PodStage::Running, two(UP, OK)),
            at(5),
            vec![stop(0, 30)],
        ),
        case(
            "Never, once they are gone: the pod ends",
            dead(Never, PodStage::Running, two(exited(137), OK)),
            at(5),
            vec![Retire(0), EndPod, WakeAt(at(5))],
        ),
        case(
            "Never, no container created yet: a new sandbox",
            dead(Never, PodStage::Running, two(PULLING, IDLE)),
            at(5),
            vec![SandboxChanged, ReplaceSandbox, CreateSandbox, Start(1)],
        ),
    ]);
}

#[test]
fn a_new_sandbox_starts_from_the_first_init_container() {
    check(vec![
        case(
            "init containers and sidecars run again, the pod initializes again",
            dead(
                Always,
                PodStage::Running,
                vec![c(Init, OK), c(Sidecar, exited(137)), c(App, exited(137))],
            ),
            at(5),
            vec![
                SandboxChanged,
                ReplaceSandbox,
                rerun(0, at(5)),
                rerun(1, at(5)),
                restart(2, at(5)),
                Reinitialize,
                CreateSandbox,
                Start(0),
            ],
        ),
        case(
            "dead while initializing: the running init container is stopped",
            dead(
                OnFailure,
                Initializing,
                vec![c(Init, OK), c(Init, UP), c(App, IDLE)],
            ),
            at(5),
            vec![SandboxChanged, stop(1, 30)],
        ),
        case(
            "Never while initializing: the pod ends once the init container is gone",
            dead(
                Never,
                Initializing,
                vec![c(Init, OK), c(Init, exited(137)), c(App, IDLE)],
            ),
            at(5),
            vec![Retire(1), Retire(2), EndPod, WakeAt(at(5))],
        ),
    ]);
}

#[test]
fn the_killed_containers_run_their_pre_stop_hooks_first() {
    check(vec![
        case(
            "the hook runs in the dead sandbox's namespaces",
            dead(
                Always,
                PodStage::Running,
                vec![pre_stopped(App, UP), c(App, UP)],
            ),
            at(5),
            vec![SandboxChanged, pre_stop(0, 30), stop(1, 30)],
        ),
        case(
            "the hook done: the kill inside what it left of the grace",
            announced(dead(
                Always,
                PodStage::Running,
                vec![pre_stop_done(App, 30, 2), c(App, exited(137))],
            )),
            at(5),
            vec![stop(0, 27)],
        ),
    ]);
}

#[test]
fn a_deletion_goes_on_whatever_the_sandbox() {
    let deleting = PodStage::Deleting {
        grace: secs(30),
        since: at(0),
        at_once: false,
    };
    let mut p = dead(Always, deleting, vec![c(App, UP), c(App, exited(137))]);
    let got = rounds(&mut p, at(1));
    assert_eq!(
        got,
        vec![Retire(1), stop(0, 29)],
        "no new sandbox, no event"
    );
    p.containers[0].state = exited(137);
    let got = rounds(&mut p, at(2));
    assert_eq!(got, vec![Retire(0), TearDown, RemovePod]);
    assert!(finished(&p));
}
