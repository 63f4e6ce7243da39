//! The pod's lifecycle as one pure decision, in the manner of the
//! kubelet's computePodActions: from what is seen of the pod (its restart
//! policy, its stage, the sandbox, each container's phase, exit, back-off
//! and probe state) and the time, to the actions to take. No I/O, no
//! clock, no processes in here: the event loop observes, calls `decide`,
//! and performs the actions in order (see `sync.rs`).
//!
//! The rules, as the kubelet applies them:
//! - Exits first: a container restarts per the pod's restartPolicy (an
//!   init container only after a failure and never under Never; a sidecar
//!   always, unless the pod is completing), at once the first time, then
//!   after its crash-loop back-off; else it is done.
//! - Init containers and sidecars start one by one, each after the one
//!   before it succeeded (init) or started (sidecar: running, and its
//!   startup probe passed); a failed init container that will not restart
//!   fails the pod: the sidecars stop and the pod ends.
//! - A container that started with a postStart hook runs it, whatever
//!   the pod's stage; it counts as running once the hook is done, and is
//!   stopped (FailedPostStartHook, preStop first) if the hook failed.
//! - A container whose liveness or startup probe failed is stopped
//!   inside the probe's grace period (else the pod's), then restarts per
//!   the restart policy.
//! - A running container whose definition changed (its image, updated
//!   through the API) is stopped inside the pod's grace period and
//!   started again at once with the new one, whatever the restart
//!   policy: the kubelet's "definition changed, will be restarted".
//! - Then the app containers and sidecars start, in order, but none while
//!   a container with a postStart hook is on its way to running it.
//! - Every app container done: the sidecars are stopped, in reverse
//!   order, and once no process is left the pod ends.
//! - A deletion stops the app and init containers first, then the
//!   sidecars, each inside what is left of the grace period.
//! - A stop runs the container's preStop hook first (once the sandbox is
//!   up), then kills it inside what the hook left of the grace period.
//! - The pod's status is written at the end of a round in which what it
//!   shows changed: the loop saw something new, or an action changes it
//!   (a start, a restart, a retirement, the sandbox, the pod's stage);
//!   never once its record is gone (a forced deletion).
//! - Once the pod is over (it ended, or its deletion has no process left)
//!   the sandbox is torn down, and after a deletion the pod's record and
//!   files are removed. A pod that ends writes its final phase first and
//!   is torn down in the next round (a teardown can take a while: the
//!   network's DEL), so the teardown's own status (PodReadyToStartContainers
//!   false) is a second write, as the kubelet's status manager reports
//!   the phase before the pod's sandbox is killed.
//! - A deletion at once (`--force --grace-period=0`, or the pod record
//!   vanished) SIGKILLs every process at once: no hook, no stop signal,
//!   no order.
//! - A dead sandbox (its pause process died) is the kubelet's changed
//!   sandbox: every container is killed, and once none is left the
//!   sandbox is re-created with the containers the restart policy runs
//!   again (see `sandbox`).
//! - A failed image pull is retried after the image back-off (10 s,
//!   doubling to 300 s, as the kubelet's image puller backs off): the loop
//!   counts the failure in the back-off as it sees it, the decision says
//!   when the retry is and wakes the loop then. A failed pull shows
//!   ErrImagePull, then ImagePullBackOff from the next sync on (a second
//!   after the failure here), as the kubelet's puller answers while the
//!   back-off runs.
//! - Any other failure before a process ran (the sandbox, a container's
//!   configuration or creation, an invalid image name, a Never pull of a
//!   missing image) fails the kubelet's sync of the pod, and its pod
//!   worker requeues the pod after a fixed period (`backOffPeriod`, 10 s,
//!   jittered by up to half: pod_workers.go's completeWork): retried
//!   every 10 s here, never backed off further (`SeenPod::requeue`).

use std::time::{Duration, Instant};

use crate::supervisor::backoff::BackOff;

use super::slot::Role;

mod action;
mod sandbox;
mod starting;
mod stopping;

pub(super) use action::{Action, Why, apply};

/// The pod's restartPolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Policy {
    Always,
    OnFailure,
    Never,
}

impl Policy {
    pub(super) fn parse(policy: &str) -> Policy {
        match policy {
            "OnFailure" => Policy::OnFailure,
            "Never" => Policy::Never,
            _ => Policy::Always,
        }
    }
}

/// Where a container is, as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Idle,
    Pulling,
    /// Its process is being set up.
    Creating,
    /// A (re)start is due then.
    Waiting(Instant),
    /// Its process runs; its postStart hook is to run (or runs, or
    /// failed) before it counts as running.
    Starting {
        hook: Hook,
        stopping: bool,
    },
    /// Its process runs; `started` once its startup probe passed (or it
    /// has none).
    Running {
        started: bool,
        stopping: bool,
    },
    Exited {
        code: i32,
        at: Instant,
    },
    /// Its image or configuration failed then, before any process ran;
    /// `pull`: pulling the image failed (ErrImagePull, counted in its
    /// image back-off), which turns into ImagePullBackOff while it waits;
    /// else it is retried at the pod worker's requeue.
    StartFailed {
        at: Instant,
        pull: bool,
    },
    Done {
        succeeded: bool,
    },
}

/// A started container's postStart hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    Due,
    Running,
    Failed,
}

impl State {
    fn has_process(self) -> bool {
        matches!(
            self,
            State::Creating | State::Starting { .. } | State::Running { .. }
        )
    }

    /// A process that can be told to stop (one being set up is stopped
    /// once it runs).
    fn stoppable(self) -> bool {
        matches!(
            self,
            State::Starting {
                stopping: false,
                ..
            } | State::Running {
                stopping: false,
                ..
            }
        )
    }

    fn due(self, now: Instant) -> bool {
        match self {
            State::Idle => true,
            State::Waiting(at) => at <= now,
            _ => false,
        }
    }
}

/// One container as the decision sees it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) role: Role,
    pub(super) post_start: bool,
    /// It has a preStop hook.
    pub(super) pre_stop: bool,
    /// A stopping container whose preStop hook is done (or timed out):
    /// the kill is due, inside the grace period counted from then.
    pub(super) pre_stop_done: Option<(Duration, Instant)>,
    pub(super) state: State,
    /// SIGKILLed by a deletion at once (waits for its exit).
    pub(super) killed: bool,
    /// Its liveness or startup probe failed: it is stopped inside this
    /// grace period (the probe's, else the pod's), and restarted per the
    /// restart policy once it exited.
    pub(super) unhealthy: Option<Duration>,
    /// Its definition changed (its image, updated through the API): it
    /// is stopped and started again with the new one, whatever the
    /// restart policy, without a back-off.
    pub(super) changed: bool,
    /// The crash-loop back-off.
    pub(super) backoff: BackOff,
    /// The image back-off of its failed pulls.
    pub(super) pull_backoff: BackOff,
    /// While it waits after a failed pull: ImagePullBackOff is due then.
    pub(super) pull_back_off_at: Option<Instant>,
}

impl Seen {
    /// On its way to running its postStart hook, or running it.
    fn holds_back_starts(&self) -> bool {
        self.post_start
            && matches!(
                self.state,
                State::Pulling | State::Creating | State::Starting { .. }
            )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sandbox {
    Ready,
    /// Not created yet, or its last creation failed and may be retried
    /// from then on.
    Missing {
        retry_at: Option<Instant>,
    },
    /// Its creation failed then (retried at the pod worker's requeue).
    Failed {
        at: Instant,
    },
    /// Its pause process died (see `sandbox`); `announced`: the
    /// SandboxChanged event was given.
    Dead {
        announced: bool,
    },
    /// Torn down: the pod is over.
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PodStage {
    Initializing,
    Running,
    Completing,
    /// A deletion with this grace period began then; `at_once`: every
    /// process is SIGKILLed, no hook runs.
    Deleting {
        grace: Duration,
        since: Instant,
        at_once: bool,
    },
    Ended,
}

/// Everything the decision reads.
#[derive(Debug, Clone)]
pub(super) struct SeenPod {
    pub(super) policy: Policy,
    /// terminationGracePeriodSeconds.
    pub(super) grace: Duration,
    pub(super) stage: PodStage,
    pub(super) sandbox: Sandbox,
    /// How long after a failed sync (a failed sandbox, configuration or
    /// creation) the pod worker retries: the kubelet's backOffPeriod,
    /// which is also the first delay of its back-offs (shortened with
    /// them for tests, `backoff::Limits`).
    pub(super) requeue: Duration,
    pub(super) containers: Vec<Seen>,
    /// What the status shows differs from what was last written.
    pub(super) status_changed: bool,
    /// The pod's record is gone (a forced deletion, or it vanished):
    /// nothing more is written for it.
    pub(super) detached: bool,
}

/// How long after a failed pull the status shows ImagePullBackOff: the
/// kubelet shows it at its next sync of the pod, which finds the image
/// in back-off.
pub(super) const PULL_BACK_OFF_SHOWN: Duration = Duration::from_secs(1);

/// The actions to take now. The decision works on its own copy of what
/// it sees, applying each action to it as it goes, so that a later rule
/// sees what an earlier one did (a container restarted at once starts in
/// the same round, a container started with a postStart hook holds the
/// next ones back).
pub(super) fn decide(seen: &SeenPod, now: Instant) -> Vec<Action> {
    let mut d = Decision {
        pod: seen.clone(),
        now,
        actions: Vec::new(),
    };
    d.run();
    d.tear_down(seen);
    let shows = seen.status_changed || d.actions.iter().any(|a| a.shows());
    if shows && !d.pod.detached {
        d.actions.push(Action::WriteStatus);
    }
    d.actions
}

/// Whether the pod is over: it ended, or its deletion has no process
/// left to wait for.
fn over(pod: &SeenPod) -> bool {
    let none_left = pod.containers.iter().all(|c| !c.state.has_process());
    match pod.stage {
        PodStage::Ended => true,
        PodStage::Deleting { .. } => none_left,
        _ => false,
    }
}

/// Whether the loop is done: the pod is over and its sandbox torn down
/// (and after a deletion, the pod removed).
pub(super) fn finished(seen: &SeenPod) -> bool {
    over(seen) && seen.sandbox == Sandbox::Gone
}

struct Decision {
    pod: SeenPod,
    now: Instant,
    actions: Vec<Action>,
}

impl Decision {
    fn act(&mut self, action: Action) {
        apply(&mut self.pod, action);
        self.actions.push(action);
    }

    fn containers(&self) -> impl Iterator<Item = (usize, &Seen)> {
        self.pod.containers.iter().enumerate()
    }

    fn run(&mut self) {
        match self.pod.stage {
            PodStage::Ended => return,
            PodStage::Deleting { at_once: true, .. } => return self.kill_all(),
            _ => {}
        }
        self.post_start_hooks();
        self.unhealthy();
        self.definition_changed();
        self.after_pre_stop();
        if let Some(remaining) = self.deletion_grace_left() {
            return self.deleting(remaining);
        }
        if let Sandbox::Dead { announced } = self.pod.sandbox {
            return self.sandbox_dead(announced);
        }
        if let Sandbox::Failed { at } = self.pod.sandbox {
            let retry = at + self.pod.requeue;
            self.act(Action::RetrySandbox { at: retry });
            self.act(Action::WakeAt(retry));
        }
        match self.pod.sandbox {
            Sandbox::Ready => {}
            // Only once the pod is over, which returned above.
            Sandbox::Gone => return,
            Sandbox::Missing { retry_at: Some(at) } if self.now < at => return,
            Sandbox::Missing { .. } | Sandbox::Failed { .. } => {
                return self.actions.push(Action::CreateSandbox);
            }
            // Decided above.
            Sandbox::Dead { .. } => return,
        }
        for i in 0..self.pod.containers.len() {
            match self.pod.containers[i].state {
                State::Exited { code, at } => self.after_exit(i, code, at),
                State::StartFailed { at, pull } => self.after_start_failure(i, at, pull),
                _ => {}
            }
        }
        self.show_pull_back_offs();
        if self.pod.stage == PodStage::Initializing && !self.initialize() {
            return;
        }
        self.start_containers();
        self.check_completion();
    }

    /// The pod is over: the sandbox goes, and after a deletion the pod
    /// (nothing is written for it after that). A pod that ended in this
    /// round is torn down in the next, once its final phase is written:
    /// the loop is woken for it at once.
    fn tear_down(&mut self, seen: &SeenPod) {
        if !over(&self.pod) || self.pod.sandbox == Sandbox::Gone {
            return;
        }
        match self.pod.stage {
            PodStage::Deleting { .. } => {
                self.act(Action::TearDown);
                self.act(Action::RemovePod);
            }
            _ if seen.stage == PodStage::Ended => self.act(Action::TearDown),
            _ => self.act(Action::WakeAt(self.now)),
        }
    }
}

#[cfg(test)]
mod tests;
