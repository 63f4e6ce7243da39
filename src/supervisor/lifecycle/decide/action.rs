//! What the decision returns: the actions, in order, and what each does
//! to the decision's own view of the pod as it goes (`apply`).

use std::time::{Duration, Instant};

use super::{Hook, PodStage, Sandbox, SeenPod, State};

/// Why a container is stopped (the Killing event's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::supervisor::lifecycle) enum Why {
    /// The pod's deletion or completion, or a failed init container:
    /// "Stopping container <name>".
    Stop,
    /// Its postStart hook failed: "FailedPostStartHook".
    FailedPostStartHook,
    /// A liveness or startup probe failed: "Container <name> failed
    /// <probe> probe, will be restarted".
    Unhealthy,
    /// Its definition changed: "Container <name> definition changed,
    /// will be restarted".
    DefinitionChanged,
}

/// What to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::supervisor::lifecycle) enum Action {
    /// Start the pause process and the pod's network namespace; decide
    /// again once it is up (or failed).
    CreateSandbox,
    /// The sandbox's creation failed: it is created again at `at`.
    RetrySandbox { at: Instant },
    /// Pull the image if need be, create and start the container; a
    /// container with a postStart hook waits in Starting for `PostStart`,
    /// else its startup probe begins.
    Start(usize),
    /// Run the started container's postStart hook; it is running (and its
    /// startup probe begins) once the hook succeeded, and is stopped if
    /// the hook failed.
    PostStart(usize),
    /// The container exited and starts again at `at`: at once, or after a
    /// crash-loop back-off of `back_off` (CrashLoopBackOff and a BackOff
    /// event).
    Restart {
        slot: usize,
        at: Instant,
        back_off: Option<Duration>,
    },
    /// The container's image or configuration failed: it is started
    /// again at `at`, after its image back-off (a failed pull, which
    /// shows ImagePullBackOff at `show_back_off`) or the requeue.
    RetryStart {
        slot: usize,
        at: Instant,
        show_back_off: Option<Instant>,
    },
    /// A failed pull waits: ImagePullBackOff and a BackOff event.
    ShowPullBackOff(usize),
    /// Wake the loop then (a back-off ends); at once (the decision's
    /// now): decide again before any other message is handled.
    WakeAt(Instant),
    /// The container will not run again.
    Retire(usize),
    /// Write the pod's status, as it stands once this round's actions
    /// are done (the loop writes once per batch of messages, and only
    /// what differs from the last write).
    WriteStatus,
    /// Run the container's preStop hook, inside `grace`; the container
    /// is stopping from now on, and `Stop` follows once the hook is done.
    PreStop {
        slot: usize,
        grace: Duration,
        why: Why,
    },
    /// The stop signal, SIGKILL once `grace` is spent (never sooner than
    /// 2 s after the signal).
    Stop {
        slot: usize,
        grace: Duration,
        why: Why,
    },
    /// SIGKILL now, without a hook or a Killing event (a deletion at
    /// once); the container is stopping from now on.
    Kill(usize),
    /// Every init container succeeded and every sidecar started.
    Initialized,
    /// Every app container is done: the sidecars are stopped.
    Complete,
    /// No container will run again: the pod's phase is final.
    EndPod,
    /// The sandbox died and will be re-created: the SandboxChanged event.
    SandboxChanged,
    /// The dead sandbox is let go (its network's DEL runs before the next
    /// ADD); it is created anew next (decide again at once).
    ReplaceSandbox,
    /// A done (or killed) init container or sidecar runs again in the new
    /// sandbox, from `at`.
    Rerun { slot: usize, at: Instant },
    /// The new sandbox starts with the init containers again.
    Reinitialize,
    /// The pod is over: its sandbox goes (the pause process, the pod's
    /// network and mounts), its process records are emptied, its socket
    /// removed, and PodReadyToStartContainers turns false.
    TearDown,
    /// A deletion is over, its sandbox gone: the pod's record (unless it
    /// is already gone, or holds a new pod of that name), logs and
    /// runtime directory are removed, and the deletion's clients told.
    /// Nothing more is written for it.
    RemovePod,
}

impl Action {
    /// Whether it changes what the pod's status shows: a container's
    /// state or reason, the pod's phase or conditions.
    pub(super) fn shows(self) -> bool {
        match self {
            Action::CreateSandbox
            | Action::Start(_)
            | Action::Restart { .. }
            | Action::ShowPullBackOff(_)
            | Action::Retire(_)
            | Action::Initialized
            | Action::EndPod
            | Action::ReplaceSandbox
            | Action::Rerun { .. }
            | Action::Reinitialize
            | Action::TearDown => true,
            // The failure itself was seen (and shown) by the loop; stops
            // show once the process exited.
            Action::RetrySandbox { .. }
            | Action::RetryStart { .. }
            | Action::PostStart(_)
            | Action::WakeAt(_)
            | Action::PreStop { .. }
            | Action::Stop { .. }
            | Action::Kill(_)
            | Action::Complete
            | Action::SandboxChanged
            | Action::WriteStatus
            | Action::RemovePod => false,
        }
    }
}

/// What an action does to what the decision sees, as far as the next
/// rule needs to know (its real outcome is seen in the next round).
pub(in crate::supervisor::lifecycle) fn apply(pod: &mut SeenPod, action: Action) {
    match action {
        Action::CreateSandbox => pod.sandbox = Sandbox::Ready,
        Action::RetrySandbox { at } => pod.sandbox = Sandbox::Missing { retry_at: Some(at) },
        // Assumed to have a process from now on (its image may be present):
        // nothing may end the pod on the strength of its absence.
        Action::Start(i) => {
            let c = &mut pod.containers[i];
            c.state = State::Creating;
            c.pull_back_off_at = None;
        }
        Action::Restart { slot, at, .. } => pod.containers[slot].state = State::Waiting(at),
        Action::RetryStart {
            slot,
            at,
            show_back_off,
        } => {
            let c = &mut pod.containers[slot];
            c.state = State::Waiting(at);
            c.pull_back_off_at = show_back_off;
        }
        Action::ShowPullBackOff(i) => pod.containers[i].pull_back_off_at = None,
        Action::PostStart(i) => {
            if let State::Starting { hook, .. } = &mut pod.containers[i].state {
                *hook = Hook::Running;
            }
        }
        Action::WakeAt(_) => {}
        Action::WriteStatus => pod.status_changed = false,
        Action::Retire(i) => {
            let succeeded = matches!(pod.containers[i].state, State::Exited { code: 0, .. });
            pod.containers[i].state = State::Done { succeeded };
        }
        Action::PreStop { slot, .. } | Action::Stop { slot, .. } | Action::Kill(slot) => {
            let c = &mut pod.containers[slot];
            c.pre_stop_done = None;
            c.killed |= action == Action::Kill(slot);
            match &mut c.state {
                State::Starting { stopping, .. } | State::Running { stopping, .. } => {
                    *stopping = true
                }
                _ => {}
            }
        }
        Action::Initialized => pod.stage = PodStage::Running,
        Action::Complete => pod.stage = PodStage::Completing,
        Action::EndPod => pod.stage = PodStage::Ended,
        Action::SandboxChanged => pod.sandbox = Sandbox::Dead { announced: true },
        Action::ReplaceSandbox => pod.sandbox = Sandbox::Missing { retry_at: None },
        Action::Rerun { slot, at } => pod.containers[slot].state = State::Waiting(at),
        Action::Reinitialize => pod.stage = PodStage::Initializing,
        Action::TearDown => pod.sandbox = Sandbox::Gone,
        Action::RemovePod => pod.detached = true,
    }
}
