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
//! - A deletion at once (`--force --grace-period=0`, or the pod record
//!   vanished) SIGKILLs every process at once: no hook, no stop signal,
//!   no order.
//! - A failed sandbox, image pull or container configuration is retried
//!   after its back-off (10 s, doubling to 300 s, as the kubelet's image
//!   puller and its pod workers retry): the loop counts the failure in
//!   the back-off as it sees it, the decision says when the retry is and
//!   wakes the loop then. A failed pull shows ErrImagePull, then
//!   ImagePullBackOff from the next sync on (a second after the failure
//!   here), as the kubelet's puller answers while the back-off runs.

use std::time::{Duration, Instant};

use crate::supervisor::backoff::BackOff;

use super::slot::Role;

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
    /// Its image or configuration failed then, before any process ran
    /// (counted in its start back-off); `pull`: pulling the image failed
    /// (ErrImagePull), which turns into ImagePullBackOff while it waits.
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
    /// The crash-loop back-off.
    pub(super) backoff: BackOff,
    /// The back-off of failed pulls and configurations.
    pub(super) start_backoff: BackOff,
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
    /// Its creation failed then (counted in the sandbox's back-off).
    Failed {
        at: Instant,
    },
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
    /// The back-off of failed sandbox creations.
    pub(super) sandbox_backoff: BackOff,
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

/// Why a container is stopped (the Killing event's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// The pod's deletion or completion, or a failed init container:
    /// "Stopping container <name>".
    Stop,
    /// Its postStart hook failed: "FailedPostStartHook".
    FailedPostStartHook,
    /// A liveness or startup probe failed: "Container <name> failed
    /// <probe> probe, will be restarted".
    Unhealthy,
}

/// What to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
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
    /// again at `at`, after its start back-off; a failed pull shows
    /// ImagePullBackOff at `show_back_off`.
    RetryStart {
        slot: usize,
        at: Instant,
        show_back_off: Option<Instant>,
    },
    /// A failed pull waits: ImagePullBackOff and a BackOff event.
    ShowPullBackOff(usize),
    /// Wake the loop then (a back-off ends).
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
}

impl Action {
    /// Whether it changes what the pod's status shows: a container's
    /// state or reason, the pod's phase or conditions.
    fn shows(self) -> bool {
        match self {
            Action::CreateSandbox
            | Action::Start(_)
            | Action::Restart { .. }
            | Action::ShowPullBackOff(_)
            | Action::Retire(_)
            | Action::Initialized
            | Action::EndPod => true,
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
            | Action::WriteStatus => false,
        }
    }
}

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
    let shows = seen.status_changed || d.actions.iter().any(|a| a.shows());
    if shows && !seen.detached {
        d.actions.push(Action::WriteStatus);
    }
    d.actions
}

/// Whether the pod is over: it ended, or its deletion has no process
/// left to wait for. The loop then tears the sandbox down and stops.
pub(super) fn finished(seen: &SeenPod) -> bool {
    let none_left = seen.containers.iter().all(|c| !c.state.has_process());
    match seen.stage {
        PodStage::Ended => true,
        PodStage::Deleting { .. } => none_left,
        _ => false,
    }
}

/// What an action does to what the decision sees, as far as the next
/// rule needs to know (its real outcome is seen in the next round).
pub(super) fn apply(pod: &mut SeenPod, action: Action) {
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
    }
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
        self.after_pre_stop();
        if let Some(remaining) = self.deletion_grace_left() {
            return self.deleting(remaining);
        }
        if let Sandbox::Failed { at } = self.pod.sandbox {
            let retry = at + self.pod.sandbox_backoff.current();
            self.act(Action::RetrySandbox { at: retry });
            self.act(Action::WakeAt(retry));
        }
        match self.pod.sandbox {
            Sandbox::Ready => {}
            Sandbox::Missing { retry_at: Some(at) } if self.now < at => return,
            Sandbox::Missing { .. } | Sandbox::Failed { .. } => {
                return self.actions.push(Action::CreateSandbox);
            }
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

    /// The hooks of the containers that started with one and have not
    /// begun it; before any stop, so that a container stopped in the same
    /// round still runs its hook (the kubelet runs postStart right after
    /// the start, whatever happens next). A container whose hook failed
    /// is stopped, as the kubelet kills it, inside the pod's grace period
    /// (what is left of it in a deletion).
    fn post_start_hooks(&mut self) {
        for i in 0..self.pod.containers.len() {
            match self.pod.containers[i].state {
                State::Starting {
                    hook: Hook::Due, ..
                } => self.act(Action::PostStart(i)),
                State::Starting {
                    hook: Hook::Failed,
                    stopping: false,
                } => {
                    let grace = self.deletion_grace_left().unwrap_or(self.pod.grace);
                    self.stop(i, grace, Why::FailedPostStartHook);
                }
                _ => {}
            }
        }
    }

    /// The containers whose liveness or startup probe failed stop (in a
    /// deletion, inside what is left of its grace, if that is less).
    fn unhealthy(&mut self) {
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            let running = matches!(
                c.state,
                State::Running {
                    stopping: false,
                    ..
                }
            );
            if let (true, Some(grace)) = (running, c.unhealthy) {
                let grace = grace.min(self.deletion_grace_left().unwrap_or(grace));
                self.stop(i, grace, Why::Unhealthy);
            }
        }
    }

    /// In a deletion: what is left of its grace period.
    fn deletion_grace_left(&self) -> Option<Duration> {
        match self.pod.stage {
            PodStage::Deleting { grace, since, .. } => {
                Some(grace.saturating_sub(self.now.saturating_duration_since(since)))
            }
            _ => None,
        }
    }

    /// A deletion at once: every process is SIGKILLed (once), and what
    /// has none will not run again.
    fn kill_all(&mut self) {
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            let live = matches!(c.state, State::Starting { .. } | State::Running { .. });
            if live && !c.killed {
                self.act(Action::Kill(i));
            } else if !c.state.has_process() && !matches!(c.state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
    }

    /// A stop: the preStop hook first when there is one to run, else the
    /// kill at once.
    fn stop(&mut self, slot: usize, grace: Duration, why: Why) {
        let c = &self.pod.containers[slot];
        if c.pre_stop && self.pod.sandbox == Sandbox::Ready {
            self.act(Action::PreStop { slot, grace, why });
        } else {
            self.act(Action::Stop { slot, grace, why });
        }
    }

    /// The containers whose preStop hook is done are killed inside what
    /// the hook left of their grace period.
    fn after_pre_stop(&mut self) {
        for slot in 0..self.pod.containers.len() {
            if let Some((grace, since)) = self.pod.containers[slot].pre_stop_done {
                let spent = self.now.saturating_duration_since(since);
                self.act(Action::Stop {
                    slot,
                    grace: grace.saturating_sub(spent),
                    why: Why::Stop,
                });
            }
        }
    }

    /// Restart now, after the back-off, or never.
    fn after_exit(&mut self, i: usize, code: i32, at: Instant) {
        let c = &self.pod.containers[i];
        let policy = self.pod.policy;
        let restart = match c.role {
            Role::Sidecar => self.pod.stage != PodStage::Completing && !self.init_failed(),
            Role::Init => code != 0 && policy != Policy::Never,
            Role::App => policy == Policy::Always || (policy == Policy::OnFailure && code != 0),
        };
        if !restart {
            return self.act(Action::Retire(i));
        }
        let wait = c.backoff.remaining(at, self.now);
        if wait.is_zero() {
            return self.act(Action::Restart {
                slot: i,
                at: self.now,
                back_off: None,
            });
        }
        let back_off = Some(c.backoff.current());
        let at = self.now + wait;
        self.act(Action::Restart {
            slot: i,
            at,
            back_off,
        });
        self.act(Action::WakeAt(at));
    }

    /// A failed pull or configuration is retried once its start back-off
    /// (raised by this failure) ends; a failed pull shows ImagePullBackOff
    /// in the meantime. Not a restart: no process ran.
    fn after_start_failure(&mut self, slot: usize, failed: Instant, pull: bool) {
        let at = failed + self.pod.containers[slot].start_backoff.current();
        let show_back_off = pull.then(|| (failed + PULL_BACK_OFF_SHOWN).min(at));
        self.act(Action::RetryStart {
            slot,
            at,
            show_back_off,
        });
        if let Some(show) = show_back_off.filter(|show| *show < at) {
            self.act(Action::WakeAt(show));
        }
        self.act(Action::WakeAt(at));
    }

    /// The failed pulls whose ImagePullBackOff is due and still waiting.
    fn show_pull_back_offs(&mut self) {
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            let due = c.pull_back_off_at.is_some_and(|at| at <= self.now);
            if due && matches!(c.state, State::Waiting(_)) {
                self.act(Action::ShowPullBackOff(i));
            }
        }
    }

    /// An init container failed and will not run again (restartPolicy
    /// Never): the pod failed.
    fn init_failed(&self) -> bool {
        self.containers()
            .any(|(_, c)| c.role == Role::Init && c.state == State::Done { succeeded: false })
    }

    /// Init containers and sidecars one by one; whether all are through.
    fn initialize(&mut self) -> bool {
        if self.init_failed() {
            // The kubelet kills the pod: the sidecars that run stop (the
            // last first), and the pod ends once they are gone.
            let grace = self.pod.grace;
            for i in (0..self.pod.containers.len()).rev() {
                if self.pod.containers[i].state.stoppable() {
                    self.stop(i, grace, Why::Stop);
                }
            }
            self.end_pod();
            return false;
        }
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            match (c.role, c.state) {
                (Role::App, _) => break,
                (Role::Init, State::Done { succeeded: true }) => continue,
                (Role::Sidecar, State::Running { started: true, .. }) => continue,
                (_, state) if state.due(self.now) => {
                    self.act(Action::Start(i));
                    return false;
                }
                _ => return false,
            }
        }
        self.act(Action::Initialized);
        true
    }

    /// The app containers and sidecars that are due start in order; the
    /// kubelet runs a postStart hook before the next start, so a hooked
    /// container holds the ones after it back (a proxy that must be up
    /// first). Without a hook their set-ups overlap.
    fn start_containers(&mut self) {
        if self.pod.stage == PodStage::Completing {
            return;
        }
        for i in 0..self.pod.containers.len() {
            if self.pod.containers.iter().any(Seen::holds_back_starts) {
                break;
            }
            let c = &self.pod.containers[i];
            if c.role != Role::Init && c.state.due(self.now) {
                self.act(Action::Start(i));
            }
        }
    }

    /// Every app container done: stop the sidecars (last first), then end
    /// the pod once no process is left.
    fn check_completion(&mut self) {
        let apps_done = self
            .containers()
            .filter(|(_, c)| c.role == Role::App)
            .all(|(_, c)| matches!(c.state, State::Done { .. }));
        if !apps_done {
            return;
        }
        if self.pod.stage != PodStage::Completing {
            self.act(Action::Complete);
        }
        let grace = self.pod.grace;
        for i in (0..self.pod.containers.len()).rev() {
            let c = &self.pod.containers[i];
            if c.role != Role::Sidecar {
                continue;
            }
            if c.state.stoppable() {
                // Also a sidecar that came up while the pod completed.
                self.stop(i, grace, Why::Stop);
            } else if !c.state.has_process() && !matches!(c.state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
        if self.containers().all(|(_, c)| !c.state.has_process()) {
            self.end_pod();
        }
    }

    /// No container will run again.
    fn end_pod(&mut self) {
        for i in 0..self.pod.containers.len() {
            let state = self.pod.containers[i].state;
            if !state.has_process() && !matches!(state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
        if self.containers().all(|(_, c)| !c.state.has_process()) {
            self.act(Action::EndPod);
        }
    }

    /// A deletion: what has no process will not run again; the app and
    /// init containers stop first, then the sidecars, each inside what
    /// is left of the grace period.
    fn deleting(&mut self, remaining: Duration) {
        for i in 0..self.pod.containers.len() {
            let state = self.pod.containers[i].state;
            if !state.has_process() && !matches!(state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
        let apps_live = self
            .containers()
            .any(|(_, c)| c.role != Role::Sidecar && c.state.has_process());
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            if c.role == Role::Sidecar && apps_live {
                continue;
            }
            if c.state.stoppable() {
                self.stop(i, remaining, Why::Stop);
            }
        }
    }
}

#[cfg(test)]
mod tests;
