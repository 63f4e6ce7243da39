//! A container as the supervisor tracks it: its role in the pod, where
//! it is in its cycle, and the process it has while it runs.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateWaiting, ContainerStatus, Probe,
};
use k8s_openapi::jiff::Timestamp;
use tokio::task::AbortHandle;

use crate::image::Image;
use crate::supervisor::attach;
use crate::supervisor::backoff::BackOff;
use crate::supervisor::launch::Settings;
use crate::supervisor::reaper::Exit;
use crate::supervisor::stdio;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Init,
    Sidecar,
    App,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    pub(super) fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// Where a container is in its cycle. Each phase holds what is valid in
/// it (the process only while there is one, the deadline only while
/// waiting), and it changes only through `Slot`'s transitions, which
/// refuse the impossible ones.
pub(super) enum Phase {
    /// Not started yet.
    Idle,
    /// Its image is being pulled.
    Pulling,
    /// Its process is being set up and has not executed the container's
    /// program yet.
    Creating(Creation),
    /// Waiting (crash-loop, image or configuration back-off) until then.
    Waiting(Instant),
    /// The process runs; postStart has not finished.
    Starting(Live),
    /// The process runs.
    Running(Live),
    /// Exited then; whether it restarts is decided by the next sync.
    Exited(Instant),
    /// Its image or configuration failed then, before any process ran
    /// (`pull`: the pull itself); when it is retried is decided by the
    /// next sync.
    StartFailed { at: Instant, pull: bool },
    /// Will not run again.
    Done,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "Idle",
            Phase::Pulling => "Pulling",
            Phase::Creating(_) => "Creating",
            Phase::Waiting(_) => "Waiting",
            Phase::Starting(_) => "Starting",
            Phase::Running(_) => "Running",
            Phase::Exited(_) => "Exited",
            Phase::StartFailed { .. } => "StartFailed",
            Phase::Done => "Done",
        }
    }
}

/// A transition the container's phase does not allow (a message that
/// arrived late, or a bug): the phase is left as it was.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refused {
    /// `container "name"` or `the pod`.
    pub(super) what: String,
    pub(super) from: &'static str,
    pub(super) to: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: no transition from {} to {}",
            self.what, self.from, self.to
        )
    }
}

/// A running instance of a container.
pub(super) struct Live {
    pub(super) pid: i32,
    pub(super) instance: u32,
    pub(super) started_at: Timestamp,
    pub(super) container_id: String,
    pub(super) probes: Vec<AbortHandle>,
    /// The streams attach clients connect to.
    pub(super) attach: Option<attach::Streams>,
    pub(super) stopping: bool,
    /// Its postStart hook was begun (while Starting).
    pub(super) hook_begun: bool,
    /// Its postStart hook failed: the decision stops it.
    pub(super) hook_failed: bool,
    /// SIGKILLed by a deletion at once.
    pub(super) killed: bool,
    /// Its liveness or startup probe (named) failed: the decision stops
    /// it inside this grace period.
    pub(super) unhealthy: Option<(&'static str, Duration)>,
    /// Its preStop hook is done, and it is to be killed inside this grace
    /// period counted from this instant.
    pub(super) pre_stop_done: Option<(Duration, Instant)>,
    /// A pidfd of the process, when it was adopted from a dead supervisor:
    /// the keeper reaps it, so its pid alone could name a new process.
    pub(super) pidfd: Option<std::os::fd::OwnedFd>,
}

impl Live {
    /// Sends `signal` to the process.
    pub(super) fn kill(&self, signal: i32) {
        use std::os::fd::AsFd;
        let _ = match &self.pidfd {
            Some(fd) => crate::process::kill_pidfd(fd.as_fd(), signal),
            // kill(2) on our own child, not reaped yet (its exit is only
            // collected through the reaper on this thread).
            None => crate::process::kill(self.pid, signal),
        };
    }
}

/// A container instance whose process is being set up.
pub(super) struct Creation {
    pub(super) pid: i32,
    pub(super) instance: u32,
    /// What `created` needs once the process has executed the container's
    /// program, or failed to; taken out then.
    pub(super) io: Option<Box<CreationIo>>,
}

pub(super) struct CreationIo {
    pub(super) image: Image,
    pub(super) ends: stdio::Ends,
    pub(super) log_path: std::path::PathBuf,
    pub(super) exited: tokio::sync::oneshot::Receiver<Exit>,
}

pub(super) struct Slot {
    pub(super) spec: Container,
    pub(super) role: Role,
    pub(super) field_path: String,
    pub(super) status: ContainerStatus,
    phase: Phase,
    pub(super) backoff: BackOff,
    /// The image back-off of its failed pulls.
    pub(super) pull_backoff: BackOff,
    /// After a failed pull: ImagePullBackOff is shown then.
    pub(super) pull_back_off_at: Option<Instant>,
    pub(super) image: Option<Image>,
    pub(super) started_once: bool,
    /// Its image changed in the pod's record since its process was
    /// created: it is stopped and started again with the new one.
    pub(super) changed: bool,
}

impl Slot {
    pub(super) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether a process of this container exists: running, or still being
    /// set up.
    pub(super) fn has_process(&self) -> bool {
        matches!(
            self.phase,
            Phase::Creating(_) | Phase::Starting(_) | Phase::Running(_)
        )
    }

    /// The running process, while there is one.
    pub(super) fn live(&self) -> Option<&Live> {
        match &self.phase {
            Phase::Starting(live) | Phase::Running(live) => Some(live),
            _ => None,
        }
    }

    pub(super) fn live_mut(&mut self) -> Option<&mut Live> {
        match &mut self.phase {
            Phase::Starting(live) | Phase::Running(live) => Some(live),
            _ => None,
        }
    }

    /// The running process if it is `pid` (messages about an earlier
    /// instance are stale).
    pub(super) fn live_pid(&self, pid: i32) -> Option<&Live> {
        self.live().filter(|l| l.pid == pid)
    }

    pub(super) fn has_post_start(&self) -> bool {
        self.spec
            .lifecycle
            .as_ref()
            .is_some_and(|l| l.post_start.is_some())
    }

    pub(super) fn has_pre_stop(&self) -> bool {
        self.spec
            .lifecycle
            .as_ref()
            .is_some_and(|l| l.pre_stop.is_some())
    }

    fn refuse(&self, to: &'static str) -> Refused {
        Refused {
            what: format!("container {:?}", self.spec.name),
            from: self.phase.name(),
            to,
        }
    }

    /// Idle or waiting, and due: it may be pulled or created.
    fn can_start(&self) -> bool {
        matches!(self.phase, Phase::Idle | Phase::Waiting(_))
    }

    pub(super) fn pulling(&mut self) -> Result<(), Refused> {
        if !self.can_start() {
            return Err(self.refuse("Pulling"));
        }
        self.phase = Phase::Pulling;
        Ok(())
    }

    pub(super) fn creating(&mut self, creation: Creation) -> Result<(), Refused> {
        if !(self.can_start() || matches!(self.phase, Phase::Pulling)) {
            return Err(self.refuse("Creating"));
        }
        self.phase = Phase::Creating(creation);
        Ok(())
    }

    /// Takes what `created` needs from the creation of process `pid`; the
    /// phase stays Creating until `launched` or `exited`.
    pub(super) fn take_creation(&mut self, pid: i32) -> Option<(u32, CreationIo)> {
        match &mut self.phase {
            Phase::Creating(c) if c.pid == pid => c.io.take().map(|io| (c.instance, *io)),
            _ => None,
        }
    }

    /// The process executed the container's program: Starting while a
    /// postStart hook runs, else Running.
    pub(super) fn launched(&mut self, live: Live, hooked: bool) -> Result<(), Refused> {
        let to = if hooked { "Starting" } else { "Running" };
        if !matches!(self.phase, Phase::Creating(_)) {
            return Err(self.refuse(to));
        }
        self.phase = if hooked {
            Phase::Starting(live)
        } else {
            Phase::Running(live)
        };
        Ok(())
    }

    /// A running process adopted from a dead supervisor (from Idle):
    /// Starting when its postStart hook is to run again, else Running.
    pub(super) fn adopted(&mut self, live: Live, hooked: bool) -> Result<(), Refused> {
        let to = if hooked { "Starting" } else { "Running" };
        if !matches!(self.phase, Phase::Idle) {
            return Err(self.refuse(to));
        }
        self.phase = if hooked {
            Phase::Starting(live)
        } else {
            Phase::Running(live)
        };
        Ok(())
    }

    /// Its postStart hook begins: the process it runs in.
    pub(super) fn post_start_begun(&mut self) -> Result<i32, Refused> {
        match &mut self.phase {
            Phase::Starting(live) if !live.hook_begun => {
                live.hook_begun = true;
                Ok(live.pid)
            }
            _ => Err(self.refuse("postStart")),
        }
    }

    /// postStart finished.
    pub(super) fn post_started(&mut self) -> Result<(), Refused> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Starting(live) | Phase::Running(live) => {
                self.phase = Phase::Running(live);
                Ok(())
            }
            other => {
                self.phase = other;
                Err(self.refuse("Running"))
            }
        }
    }

    /// Its image or configuration failed at `at` (from Pulling, or from
    /// Idle or Waiting when its image was present).
    pub(super) fn start_failed(&mut self, at: Instant, pull: bool) -> Result<(), Refused> {
        if !(self.can_start() || matches!(self.phase, Phase::Pulling)) {
            return Err(self.refuse("StartFailed"));
        }
        self.phase = Phase::StartFailed { at, pull };
        Ok(())
    }

    /// A (re)start is due at `at`: after an exit, or a failed pull or
    /// configuration.
    pub(super) fn wait_until(&mut self, at: Instant) -> Result<(), Refused> {
        match self.phase {
            Phase::Idle
            | Phase::Waiting(_)
            | Phase::Pulling
            | Phase::Exited(_)
            | Phase::StartFailed { .. } => {
                self.phase = Phase::Waiting(at);
                Ok(())
            }
            _ => Err(self.refuse("Waiting")),
        }
    }

    /// A container that ran (exited, or done) runs again from `at`: the
    /// init containers and sidecars of a re-created sandbox.
    pub(super) fn rerun(&mut self, at: Instant) -> Result<(), Refused> {
        match self.phase {
            Phase::Exited(_) | Phase::Done => {
                self.phase = Phase::Waiting(at);
                Ok(())
            }
            _ => Err(self.refuse("Waiting")),
        }
    }

    /// The process ended (or never got to run): returns the running
    /// instance, if there was one.
    pub(super) fn exited(&mut self, at: Instant) -> Result<Option<Live>, Refused> {
        match std::mem::replace(&mut self.phase, Phase::Exited(at)) {
            Phase::Starting(live) | Phase::Running(live) => Ok(Some(live)),
            Phase::Creating(_) | Phase::Idle | Phase::Waiting(_) | Phase::Pulling => Ok(None),
            other => {
                self.phase = other;
                Err(self.refuse("Exited"))
            }
        }
    }

    /// Will not run again; refused while its process exists.
    pub(super) fn retire(&mut self) -> Result<(), Refused> {
        if self.has_process() {
            return Err(self.refuse("Done"));
        }
        self.phase = Phase::Done;
        Ok(())
    }

    pub(super) fn waiting(&mut self, reason: &str, message: Option<String>) {
        self.status.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message,
            }),
            ..Default::default()
        });
        self.status.ready = false;
        self.status.started = Some(false);
    }

    pub(super) fn exit_code(&self) -> Option<i32> {
        self.status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code)
    }

    pub(super) fn succeeded(&self) -> bool {
        matches!(self.phase, Phase::Done) && self.exit_code() == Some(0)
    }

    pub(super) fn probe(&self, kind: ProbeKind) -> Option<&Probe> {
        match kind {
            ProbeKind::Startup => self.spec.startup_probe.as_ref(),
            ProbeKind::Liveness => self.spec.liveness_probe.as_ref(),
            ProbeKind::Readiness => self.spec.readiness_probe.as_ref(),
        }
    }
}

pub(super) fn waiting_state(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: None,
        }),
        ..Default::default()
    }
}

impl Slot {
    pub(super) fn new(c: &Container, role: Role, reason: &str, settings: Settings) -> Slot {
        let field = match role {
            Role::App => "containers",
            _ => "initContainers",
        };
        Slot {
            field_path: format!("spec.{field}{{{}}}", c.name),
            status: ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                image_id: String::new(),
                state: Some(waiting_state(reason)),
                ready: false,
                restart_count: 0,
                started: Some(false),
                ..Default::default()
            },
            spec: c.clone(),
            role,
            phase: Phase::Idle,
            backoff: BackOff::new(settings.backoff),
            pull_backoff: BackOff::new(settings.backoff),
            pull_back_off_at: None,
            image: None,
            started_once: false,
            changed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(post_start: bool) -> Slot {
        let mut c = Container {
            name: "c".into(),
            image: Some("busybox".into()),
            ..Default::default()
        };
        if post_start {
            c.lifecycle = Some(k8s_openapi::api::core::v1::Lifecycle {
                post_start: Some(Default::default()),
                ..Default::default()
            });
        }
        Slot::new(&c, Role::App, "ContainerCreating", Settings::default())
    }

    fn creation(pid: i32) -> Creation {
        Creation {
            pid,
            instance: 0,
            io: None,
        }
    }

    fn live(pid: i32) -> Live {
        Live {
            pid,
            instance: 0,
            started_at: Timestamp::UNIX_EPOCH,
            container_id: String::new(),
            probes: Vec::new(),
            attach: None,
            stopping: false,
            hook_begun: false,
            hook_failed: false,
            killed: false,
            unhealthy: None,
            pre_stop_done: None,
            pidfd: None,
        }
    }

    #[test]
    fn a_container_goes_through_its_cycle() {
        let t = Instant::now();
        let mut s = slot(true);
        assert!(!s.has_process() && s.has_post_start());
        s.pulling().unwrap();
        s.creating(creation(7)).unwrap();
        assert!(s.has_process() && s.live().is_none());
        assert!(s.take_creation(8).is_none(), "another process's message");
        s.launched(live(7), true).unwrap();
        assert!(matches!(s.phase(), Phase::Starting(_)));
        assert!(s.live_pid(7).is_some());
        assert_eq!(s.post_start_begun(), Ok(7));
        assert!(s.post_start_begun().is_err(), "a hook runs once");
        s.post_started().unwrap();
        assert!(matches!(s.phase(), Phase::Running(_)));
        let gone = s.exited(t).unwrap();
        assert_eq!(gone.map(|l| l.pid), Some(7));
        assert!(matches!(s.phase(), Phase::Exited(at) if *at == t) && !s.has_process());
        s.wait_until(t).unwrap();
        s.creating(creation(9)).unwrap();
        assert_eq!(s.exited(t).unwrap().map(|l| l.pid), None, "never ran");
        s.retire().unwrap();
        assert!(matches!(s.phase(), Phase::Done));
        let mut f = slot(false);
        f.start_failed(t, true).unwrap();
        assert!(
            f.pulling().is_err() && f.exited(t).is_err(),
            "decided first"
        );
        f.wait_until(t).unwrap();
        f.pulling().unwrap();
        f.start_failed(t, true).unwrap();
        assert!(f.start_failed(t, true).is_err(), "a failure is seen once");
        f.retire().unwrap();
    }

    #[test]
    fn impossible_transitions_are_refused_and_change_nothing() {
        let t = Instant::now();
        let mut s = slot(false);
        let refused = s.launched(live(1), false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "container \"c\": no transition from Idle to Running"
        );
        assert!(s.post_started().is_err());
        assert!(matches!(s.phase(), Phase::Idle));
        s.creating(creation(1)).unwrap();
        assert!(s.pulling().is_err());
        assert!(s.wait_until(t).is_err());
        assert!(s.retire().is_err(), "its process exists");
        assert!(s.creating(creation(2)).is_err());
        s.launched(live(1), false).unwrap();
        assert!(s.retire().is_err() && s.wait_until(t).is_err() && s.pulling().is_err());
        assert!(s.launched(live(2), false).is_err());
        assert_eq!(s.live().map(|l| l.pid), Some(1));
        s.exited(t).unwrap();
        assert!(s.exited(t).is_err(), "an exit is seen once");
        assert!(s.pulling().is_err(), "an exit is decided first");
        s.retire().unwrap();
        for refused in [
            s.pulling(),
            s.creating(creation(3)),
            s.wait_until(t),
            s.exited(t).map(|_| ()),
        ] {
            assert_eq!(refused.unwrap_err().from, "Done");
        }
    }
}
