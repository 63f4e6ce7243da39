//! A container as the supervisor tracks it: its role in the pod, where
//! it is in its cycle, and the process it has while it runs.

use std::time::Instant;

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

/// Where a container is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not started yet.
    Idle,
    /// Its image is being pulled.
    Pulling,
    /// Its process is being set up (see `Creation`) and has not executed
    /// the container's program yet.
    Creating,
    /// Waiting (crash-loop or image back-off) until then.
    Waiting(Instant),
    /// The process runs; postStart has not finished.
    Starting,
    Running,
    /// Exited; whether it restarts is decided by the next sync.
    Exited,
    /// Will not run again.
    Done,
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
}

/// A container instance whose process is being set up: what `created`
/// needs once it has executed the container's program, or failed to.
pub(super) struct Creation {
    pub(super) pid: i32,
    pub(super) instance: u32,
    pub(super) image: Image,
    pub(super) kept: stdio::Kept,
    pub(super) output: stdio::Output,
    pub(super) log_path: std::path::PathBuf,
    pub(super) exited: tokio::sync::oneshot::Receiver<Exit>,
}

pub(super) struct Slot {
    pub(super) spec: Container,
    pub(super) role: Role,
    pub(super) field_path: String,
    pub(super) status: ContainerStatus,
    pub(super) phase: Phase,
    pub(super) backoff: BackOff,
    pub(super) pull_backoff: BackOff,
    pub(super) image: Option<Image>,
    pub(super) live: Option<Live>,
    /// Set while the phase is `Creating`.
    pub(super) creation: Option<Creation>,
    pub(super) started_once: bool,
    pub(super) finished_at: Option<Instant>,
}

impl Slot {
    /// Whether a process of this container exists: running, or still being
    /// set up.
    pub(super) fn has_process(&self) -> bool {
        self.live.is_some() || self.creation.is_some()
    }

    /// Whether this container is on its way to running its postStart
    /// hook, or running it: no other container starts meanwhile.
    pub(super) fn holds_back_starts(&self) -> bool {
        let hooked = self
            .spec
            .lifecycle
            .as_ref()
            .is_some_and(|l| l.post_start.is_some());
        hooked
            && matches!(
                self.phase,
                Phase::Pulling | Phase::Creating | Phase::Starting
            )
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
        self.phase == Phase::Done && self.exit_code() == Some(0)
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
            image: None,
            live: None,
            creation: None,
            started_once: false,
            finished_at: None,
        }
    }
}
