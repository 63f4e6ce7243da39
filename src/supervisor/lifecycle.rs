//! The pod's life as the kubelet drives it, in one single-threaded event
//! loop: every outside happening (a process exit, a pull finished, a
//! container's set-up done, a probe verdict, a hook done, a timer, a
//! delete request) is a message; after each batch of messages `sync`
//! decides what to start, restart or stop, and the status is written when
//! it changed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodIP, PodSpec, PodStatus, Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::attach;
use super::backoff::BackOff;
use super::crilog::LogFile;
use super::duration::go_string;
use super::events::{PodRef, Recorder, Source, Type};
use super::handler::{self, Outcome, Target};
use super::launch::Settings;
use super::netns::NetNs;
use super::reaper::{Exit, Reaper};
use super::record::{Process, Records};
use super::socket::{Reply, Request};
use super::status::{self, Conditions};
use super::stdio;
use crate::image::{Image, ImageStore, PullError, PullPolicy};
use crate::runtime::{PodRuntime, StartError};
use crate::store::Store;

/// The kubelet's minimum time between the stop signal and SIGKILL.
const MIN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Init,
    Sidecar,
    App,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// Where a container is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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
struct Live {
    pid: i32,
    instance: u32,
    started_at: Timestamp,
    container_id: String,
    probes: Vec<AbortHandle>,
    /// The streams attach clients connect to.
    attach: Option<attach::Streams>,
    stopping: bool,
}

/// A container instance whose process is being set up: what `created`
/// needs once it has executed the container's program, or failed to.
struct Creation {
    pid: i32,
    instance: u32,
    image: Image,
    kept: stdio::Kept,
    output: stdio::Output,
    log_path: std::path::PathBuf,
    exited: tokio::sync::oneshot::Receiver<Exit>,
}

struct Slot {
    spec: Container,
    role: Role,
    field_path: String,
    status: ContainerStatus,
    phase: Phase,
    backoff: BackOff,
    pull_backoff: BackOff,
    image: Option<Image>,
    live: Option<Live>,
    /// Set while the phase is `Creating`.
    creation: Option<Creation>,
    started_once: bool,
    finished_at: Option<Instant>,
}

impl Slot {
    /// Whether a process of this container exists: running, or still being
    /// set up.
    fn has_process(&self) -> bool {
        self.live.is_some() || self.creation.is_some()
    }

    /// Whether this container is on its way to running its postStart
    /// hook, or running it: no other container starts meanwhile.
    fn holds_back_starts(&self) -> bool {
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

    fn waiting(&mut self, reason: &str, message: Option<String>) {
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

    fn exit_code(&self) -> Option<i32> {
        self.status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code)
    }

    fn succeeded(&self) -> bool {
        self.phase == Phase::Done && self.exit_code() == Some(0)
    }

    fn probe(&self, kind: ProbeKind) -> Option<&Probe> {
        match kind {
            ProbeKind::Startup => self.spec.startup_probe.as_ref(),
            ProbeKind::Liveness => self.spec.liveness_probe.as_ref(),
            ProbeKind::Readiness => self.spec.readiness_probe.as_ref(),
        }
    }
}

enum Msg {
    /// A client wants to attach to a container's main process.
    Attach {
        container: String,
        client: UnixStream,
    },
    Pulled {
        slot: usize,
        result: Box<Result<Image, PullError>>,
        took: Duration,
    },
    Exited {
        slot: usize,
        pid: i32,
        exit: Exit,
    },
    /// A container's process executed its program, or failed to.
    Created {
        slot: usize,
        pid: i32,
        result: Result<crate::runtime::Started, StartError>,
    },
    PostStart {
        slot: usize,
        pid: i32,
        result: Outcome,
    },
    PreStopDone {
        slot: usize,
        pid: i32,
        grace: Duration,
        since: Instant,
        result: Outcome,
    },
    ProbeFailed {
        slot: usize,
        pid: i32,
        kind: ProbeKind,
        message: String,
    },
    Verdict {
        slot: usize,
        pid: i32,
        kind: ProbeKind,
        ok: bool,
    },
    Kill {
        slot: usize,
        pid: i32,
    },
    Wake,
    /// Periodic: is the pod record still there?
    Check,
    Delete {
        grace: Duration,
        force: bool,
        client: UnixStream,
    },
}

/// A deletion under way.
struct Stopping {
    grace: Duration,
    since: Instant,
    /// --force --grace-period=0, or the pod record vanished: SIGKILL at
    /// once, no preStop.
    now: bool,
    clients: Vec<UnixStream>,
}

struct Supervisor {
    store: Store,
    pod: Pod,
    spec: PodSpec,
    namespace: String,
    name: String,
    uid: String,
    settings: Settings,
    images: ImageStore,
    events: Recorder,
    records: Records,
    reaper: Rc<Reaper>,
    tx: mpsc::UnboundedSender<Msg>,
    runtime: Option<Rc<RefCell<PodRuntime>>>,
    netns: Option<NetNs>,
    sandbox_backoff: BackOff,
    sandbox_retry: Option<Instant>,
    slots: Vec<Slot>,
    conditions: Conditions,
    start_time: Timestamp,
    host_ip: String,
    initialized: bool,
    /// Every app container is done: the sidecars are being stopped.
    completing: bool,
    /// No container will run again; the phase is final.
    terminal: bool,
    stopping: Option<Stopping>,
    /// The CLI removed the pod record (force deletion): write nothing more.
    detached: bool,
    finished: bool,
    last_status: Option<PodStatus>,
    processes: BTreeMap<String, Process>,
}

pub async fn run(
    store: Store,
    pod: Pod,
    records: Records,
    listener: StdUnixListener,
    settings: Settings,
) -> Result<()> {
    let reaper = Reaper::start()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    accept(listener, tx.clone())?;
    let check = tx.clone();
    tokio::task::spawn_local(async move {
        let mut every = tokio::time::interval(Duration::from_secs(2));
        loop {
            every.tick().await;
            if check.send(Msg::Check).is_err() {
                break;
            }
        }
    });
    let mut sup = Supervisor::new(store, pod, records, settings, reaper, tx)?;
    sup.begin();
    sup.sync();
    sup.write_status();
    while !sup.finished {
        let Some(msg) = rx.recv().await else { break };
        sup.handle(msg).await;
        while let Ok(msg) = rx.try_recv() {
            sup.handle(msg).await;
        }
        sup.sync();
        sup.write_status();
        if sup.ready_to_finish() {
            sup.finish().await;
        }
    }
    Ok(())
}

/// Accepts connections on the socket and turns requests into messages.
fn accept(listener: StdUnixListener, tx: mpsc::UnboundedSender<Msg>) -> Result<()> {
    let listener = tokio::net::UnixListener::from_std(listener)?;
    tokio::task::spawn_local(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::task::spawn_local(async move {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).await.is_err() {
                    return;
                }
                let mut stream = reader.into_inner();
                match serde_json::from_str::<Request>(&line) {
                    Ok(Request::Delete {
                        grace_period_seconds,
                        force,
                    }) => {
                        let _ = tx.send(Msg::Delete {
                            grace: Duration::from_secs(grace_period_seconds),
                            force,
                            client: stream,
                        });
                    }
                    Ok(Request::Attach { container }) => {
                        let _ = tx.send(Msg::Attach {
                            container,
                            client: stream,
                        });
                    }
                    Err(e) => {
                        let reply = Reply::Error {
                            message: format!("malformed request: {e}"),
                        };
                        let _ = send_reply(&mut stream, &reply).await;
                    }
                }
            });
        }
    });
    Ok(())
}

async fn send_reply(stream: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line).await
}

fn waiting_state(reason: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: None,
        }),
        ..Default::default()
    }
}

fn pull_policy(c: &Container) -> PullPolicy {
    match c.image_pull_policy.as_deref() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::IfNotPresent,
        // Not defaulted: the API server's rule (latest or no tag: Always).
        _ => match crate::api::defaults::pull_policy_for(c.image.as_deref().unwrap_or("")) {
            "Always" => PullPolicy::Always,
            _ => PullPolicy::IfNotPresent,
        },
    }
}

fn stop_signal(image: Option<&Image>) -> i32 {
    image.map_or(libc::SIGTERM, |i| PodRuntime::stop_signal(i) as i32)
}

/// The host's primary address as the kernel would pick it for an outgoing
/// packet (a UDP connect sends nothing), or loopback.
fn host_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

fn node_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A fresh container id in the `<runtime>://<64 hex>` shape.
fn container_id(uid: &str, name: &str, instance: u32) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!(
        "{uid}/{name}/{instance}/{}",
        super::now().as_nanosecond()
    ));
    format!("pod://{}", hex::encode(h.finalize()))
}

impl Supervisor {
    fn new(
        store: Store,
        pod: Pod,
        records: Records,
        settings: Settings,
        reaper: Rc<Reaper>,
        tx: mpsc::UnboundedSender<Msg>,
    ) -> Result<Supervisor> {
        let spec = pod.spec.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let node = spec.node_name.clone().unwrap_or_else(node_name);
        let events = Recorder::new(
            PodRef {
                namespace: namespace.clone(),
                name: name.clone(),
                uid: uid.clone(),
                node,
            },
            &store.pod_dir(&namespace, &name).join("events.jsonl"),
        );
        let images = ImageStore::open(&store.images_dir())?;
        let has_init = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
        let mut slots = Vec::new();
        for c in spec.init_containers.iter().flatten() {
            let role = if status::is_sidecar(c) {
                Role::Sidecar
            } else {
                Role::Init
            };
            slots.push(Slot::new(c, role, "PodInitializing", settings));
        }
        let app_reason = if has_init {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        for c in &spec.containers {
            slots.push(Slot::new(c, Role::App, app_reason, settings));
        }
        Ok(Supervisor {
            store,
            spec,
            namespace,
            name,
            uid,
            settings,
            images,
            events,
            records,
            reaper,
            tx,
            runtime: None,
            netns: None,
            sandbox_backoff: BackOff::new(settings.backoff),
            sandbox_retry: None,
            slots,
            conditions: Conditions::default(),
            start_time: super::now(),
            host_ip: host_ip(),
            initialized: !has_init,
            completing: false,
            terminal: false,
            stopping: None,
            detached: false,
            finished: false,
            last_status: None,
            processes: BTreeMap::new(),
            pod,
        })
    }

    fn pod_label(&self) -> String {
        format!("{}_{}({})", self.name, self.namespace, self.uid)
    }

    fn event(&mut self, slot: Option<usize>, type_: Type, reason: &str, message: &str) {
        if self.detached {
            return;
        }
        let path = slot.map(|i| self.slots[i].field_path.clone());
        if let Err(e) = self
            .events
            .record(path.as_deref(), type_, Source::Kubelet, reason, message)
        {
            eprintln!("pod-supervisor: recording event: {e}");
        }
    }

    /// The scheduler's part: the pod is bound to this node at once.
    fn begin(&mut self) {
        let node = node_name();
        let message = format!(
            "Successfully assigned {}/{} to {node}",
            self.namespace, self.name
        );
        let _ = self
            .events
            .record(None, Type::Normal, Source::Scheduler, "Scheduled", &message);
        let now = super::now();
        self.conditions.set("PodScheduled", true, None, None, now);
        if self.spec.node_name.is_none()
            && let Err(e) = self.bind(&node)
        {
            eprintln!("pod-supervisor: recording spec.nodeName: {e:#}");
        }
    }

    fn bind(&mut self, node: &str) -> Result<()> {
        use crate::api::{Kind, Object};
        let _lock = self.store.lock(Kind::Pod, &self.namespace, &self.name)?;
        if let Some(Object::Pod(mut pod)) =
            self.store.get(Kind::Pod, &self.namespace, &self.name)?
            && pod.metadata.uid.as_deref() == Some(&self.uid)
        {
            pod.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
            self.store.replace(&Object::Pod(pod))?;
            self.spec.node_name = Some(node.to_string());
        }
        Ok(())
    }

    fn wake_at(&self, at: Instant) {
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep_until(at.into()).await;
            let _ = tx.send(Msg::Wake);
        });
    }

    fn write_processes(&self) {
        if let Err(e) = self.records.write_processes(&self.processes) {
            eprintln!("pod-supervisor: recording processes: {e}");
        }
    }

    // ----- the sandbox -----

    fn ensure_sandbox(&mut self) -> bool {
        if self.netns.is_some() {
            return true;
        }
        let now = Instant::now();
        if self.sandbox_retry.is_some_and(|t| now < t) {
            return false;
        }
        match self.start_sandbox() {
            Ok(()) => {
                self.conditions
                    .set("PodReadyToStartContainers", true, None, None, super::now());
                true
            }
            Err(e) => {
                let message = format!("Failed to create pod sandbox: {e:#}");
                self.event(None, Type::Warning, "FailedCreatePodSandBox", &message);
                self.conditions
                    .set("PodReadyToStartContainers", false, None, None, super::now());
                self.sandbox_backoff.restarted(now);
                let at = now + self.sandbox_backoff.current();
                self.sandbox_retry = Some(at);
                self.wake_at(at);
                false
            }
        }
    }

    fn start_sandbox(&mut self) -> Result<()> {
        if self.runtime.is_none() {
            let rt = PodRuntime::prepare(&self.store, &self.pod)?;
            self.runtime = Some(Rc::new(RefCell::new(rt)));
        }
        let rt = self.runtime.clone().expect("prepared");
        let started = rt.borrow_mut().start_sandbox()?;
        if let Some(p) = Process::of(started.pid) {
            self.processes.insert("pause".into(), p);
            self.write_processes();
        }
        // The pause process lives as long as the pod; its exit is reaped
        // here so it never lingers as a zombie.
        let exited = self.reaper.wait(started.pid);
        tokio::task::spawn_local(async move {
            let _ = exited.await;
        });
        let host_network = self.spec.host_network == Some(true);
        let ns = if host_network {
            None
        } else {
            let path = format!("/proc/{}/ns/net", started.pid);
            Some(
                std::fs::File::open(&path)
                    .with_context(|| format!("opening {path}"))?
                    .into(),
            )
        };
        self.netns = Some(NetNs::start(ns)?);
        Ok(())
    }

    // ----- deciding what to do -----

    fn sync(&mut self) {
        if self.finished || self.terminal {
            return;
        }
        if self.stopping.is_some() {
            self.sync_stopping();
            return;
        }
        if !self.ensure_sandbox() {
            return;
        }
        let now = Instant::now();
        // Exits decided first: restart, back off, or done.
        for i in 0..self.slots.len() {
            if self.slots[i].phase == Phase::Exited {
                self.after_exit(i, now);
            }
        }
        if !self.initialized {
            self.sync_init(now);
        }
        if self.initialized {
            for i in 0..self.slots.len() {
                // The kubelet starts containers one after another and runs
                // a postStart hook before the next start, so a hook can
                // hold the containers after it back (a proxy that must be
                // up first). Without a hook their set-ups overlap.
                if self.slots.iter().any(Slot::holds_back_starts) {
                    break;
                }
                let slot = &self.slots[i];
                let due = match slot.phase {
                    Phase::Idle => slot.role == Role::App || slot.role == Role::Sidecar,
                    Phase::Waiting(t) => t <= now && slot.role != Role::Init,
                    _ => false,
                };
                if due && !self.completing {
                    self.begin_start(i);
                }
            }
            self.check_completion();
        }
    }

    /// Init containers one by one; sidecars started in their turn.
    fn sync_init(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let role = self.slots[i].role;
            if role == Role::App {
                break;
            }
            let slot = &self.slots[i];
            match (role, slot.phase) {
                (Role::Init, Phase::Done) if slot.succeeded() => continue,
                (Role::Init, Phase::Done) => {
                    // Failed with restartPolicy Never: the pod failed.
                    self.end_pod();
                    return;
                }
                (Role::Sidecar, Phase::Running) if slot.status.started == Some(true) => continue,
                (_, Phase::Idle) => {
                    self.begin_start(i);
                    return;
                }
                (_, Phase::Waiting(t)) if t <= now => {
                    self.begin_start(i);
                    return;
                }
                _ => return,
            }
        }
        self.initialized = true;
    }

    /// A container exited: restart it now, after a back-off, or never.
    fn after_exit(&mut self, i: usize, now: Instant) {
        let policy = status::restart_policy(&self.spec).to_string();
        let slot = &mut self.slots[i];
        let code = slot.exit_code().unwrap_or(0);
        let restart = match slot.role {
            Role::Sidecar => !self.completing,
            Role::Init => code != 0 && policy != "Never",
            Role::App => policy == "Always" || (policy == "OnFailure" && code != 0),
        };
        if !restart {
            slot.phase = Phase::Done;
            return;
        }
        let finished = slot.finished_at.unwrap_or(now);
        let wait = slot.backoff.remaining(finished, now);
        slot.status.last_state = slot.status.state.clone();
        if wait.is_zero() {
            // Restarted by this very sync (init order permitting).
            slot.phase = Phase::Waiting(now);
            return;
        }
        let name = slot.spec.name.clone();
        let delay = go_string(slot.backoff.current());
        let message = format!(
            "back-off {delay} restarting failed container={name} pod={}",
            self.pod_label()
        );
        let slot = &mut self.slots[i];
        slot.waiting("CrashLoopBackOff", Some(message));
        slot.phase = Phase::Waiting(now + wait);
        self.wake_at(now + wait);
        let event = format!(
            "Back-off restarting failed container {name} in pod {}",
            self.pod_label()
        );
        self.event(Some(i), Type::Warning, "BackOff", &event);
    }

    /// All app containers done: stop the sidecars, then end the pod.
    fn check_completion(&mut self) {
        let apps_done = self
            .slots
            .iter()
            .filter(|s| s.role == Role::App)
            .all(|s| s.phase == Phase::Done);
        if !apps_done {
            return;
        }
        if !self.completing {
            self.completing = true;
            let grace = self.pod_grace();
            for i in (0..self.slots.len()).rev() {
                if self.slots[i].role == Role::Sidecar {
                    let name = self.slots[i].spec.name.clone();
                    self.stop_container(i, grace, &format!("Stopping container {name}"));
                    if !self.slots[i].has_process() {
                        self.slots[i].phase = Phase::Done;
                    }
                }
            }
        }
        if self.slots.iter().all(|s| !s.has_process()) {
            self.end_pod();
        }
    }

    fn pod_grace(&self) -> Duration {
        Duration::from_secs(
            self.spec
                .termination_grace_period_seconds
                .unwrap_or(30)
                .max(0) as u64,
        )
    }

    /// No container will run again: the phase becomes final.
    fn end_pod(&mut self) {
        for slot in &mut self.slots {
            if !slot.has_process() && slot.phase != Phase::Done {
                slot.phase = Phase::Done;
            }
        }
        if self.slots.iter().all(|s| !s.has_process()) {
            self.terminal = true;
        }
    }

    // ----- starting a container -----

    fn begin_start(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if !slot.started_once {
            slot.waiting("ContainerCreating", None);
        }
        let reference = slot.spec.image.clone().unwrap_or_default();
        let policy = pull_policy(&slot.spec);
        if policy != PullPolicy::Always {
            let known = match slot.image.clone() {
                Some(image) => Some(image),
                None => self.images.resolve(&reference).ok().flatten(),
            };
            if let Some(image) = known {
                let message = format!("Container image {reference:?} already present on machine");
                self.event(Some(i), Type::Normal, "Pulled", &message);
                self.create(i, image);
                return;
            }
        }
        if policy != PullPolicy::Never {
            self.event(
                Some(i),
                Type::Normal,
                "Pulling",
                &format!("Pulling image {reference:?}"),
            );
        }
        self.slots[i].phase = Phase::Pulling;
        let images = self.images.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let begun = Instant::now();
            let result = tokio::task::spawn_blocking(move || images.ensure(&reference, policy))
                .await
                .unwrap_or_else(|e| Err(PullError::Pull(format!("pull task failed: {e}"))));
            let _ = tx.send(Msg::Pulled {
                slot: i,
                result: Box::new(result),
                took: begun.elapsed(),
            });
        });
    }

    fn pulled(&mut self, i: usize, result: Result<Image, PullError>, took: Duration) {
        if self.slots[i].phase != Phase::Pulling || self.stopping.is_some() {
            return;
        }
        let reference = self.slots[i].spec.image.clone().unwrap_or_default();
        match result {
            Ok(image) => {
                if pull_policy(&self.slots[i].spec) != PullPolicy::Never {
                    let message = pulled_message(&reference, took, image.size);
                    self.event(Some(i), Type::Normal, "Pulled", &message);
                }
                self.slots[i].image = Some(image.clone());
                self.create(i, image);
            }
            Err(err) => {
                let (reason, message) = match &err {
                    PullError::NeverPull(_) => {
                        self.event(
                            Some(i),
                            Type::Warning,
                            "ErrImageNeverPull",
                            &err.to_string(),
                        );
                        ("ErrImageNeverPull", err.to_string())
                    }
                    PullError::InvalidName(..) => {
                        self.event(Some(i), Type::Warning, "InspectFailed", &err.to_string());
                        ("InvalidImageName", err.to_string())
                    }
                    PullError::Pull(msg) => {
                        let text = format!("Failed to pull image {reference:?}: {msg}");
                        self.event(Some(i), Type::Warning, "Failed", &text);
                        ("ErrImagePull", text)
                    }
                };
                self.event(
                    Some(i),
                    Type::Warning,
                    "Failed",
                    &format!("Error: {reason}"),
                );
                let now = Instant::now();
                let slot = &mut self.slots[i];
                slot.waiting(reason, Some(message));
                slot.pull_backoff.restarted(now);
                let at = now + slot.pull_backoff.current();
                slot.phase = Phase::Waiting(at);
                self.wake_at(at);
                if reason == "ErrImagePull" {
                    // After a moment the kubelet shows the back-off itself.
                    let tx = self.tx.clone();
                    let show = now + Duration::from_secs(1).min(at - now);
                    tokio::task::spawn_local(async move {
                        tokio::time::sleep_until(show.into()).await;
                        let _ = tx.send(Msg::Wake);
                    });
                }
            }
        }
    }

    /// ErrImagePull turns into ImagePullBackOff while the pull waits.
    fn show_pull_backoff(&mut self) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            let reason = slot
                .status
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone());
            if matches!(slot.phase, Phase::Waiting(_)) && reason.as_deref() == Some("ErrImagePull")
            {
                let reference = slot.spec.image.clone().unwrap_or_default();
                let message = format!("Back-off pulling image {reference:?}");
                self.slots[i].waiting("ImagePullBackOff", Some(message.clone()));
                self.event(Some(i), Type::Normal, "BackOff", &message);
                self.event(Some(i), Type::Warning, "Failed", "Error: ImagePullBackOff");
            }
        }
    }

    fn create(&mut self, i: usize, image: Image) {
        let now = Instant::now();
        let rt = self.runtime.clone().expect("sandbox started first");
        let slot = &mut self.slots[i];
        slot.image = Some(image.clone());
        if slot.started_once {
            slot.status.restart_count += 1;
            slot.backoff.restarted(now);
        }
        slot.started_once = true;
        let instance = slot.status.restart_count.max(0) as u32;
        let spec = slot.spec.clone();
        let (stdio, kept, output) = match stdio::open(&spec) {
            Ok(s) => s,
            Err(e) => {
                self.start_failed(
                    i,
                    instance,
                    format!("creating the container's streams: {e}"),
                );
                return;
            }
        };
        let log_path = self
            .store
            .pod_log_dir(&self.namespace, &self.name, &self.uid)
            .join(&spec.name)
            .join(format!("{instance}.log"));
        let begun = rt
            .borrow_mut()
            .begin_container(&spec, instance, &image, stdio);
        let creating = match begun {
            Ok(c) => c,
            Err(StartError::Config(msg)) => {
                self.event(Some(i), Type::Warning, "Failed", &format!("Error: {msg}"));
                let slot = &mut self.slots[i];
                slot.waiting("CreateContainerConfigError", Some(msg));
                // Not a restart: the container never ran.
                slot.status.restart_count = (slot.status.restart_count - 1).max(0);
                slot.started_once =
                    slot.status.restart_count > 0 || slot.status.last_state.is_some();
                slot.pull_backoff.restarted(now);
                let at = now + slot.pull_backoff.current();
                slot.phase = Phase::Waiting(at);
                self.wake_at(at);
                return;
            }
            Err(StartError::Runtime(msg)) => {
                self.start_failed(i, instance, msg);
                return;
            }
        };
        // Waited for in the same synchronous stretch as the fork, so the
        // reaper cannot collect its exit unseen.
        let pid = creating.pid();
        let exited = self.reaper.wait(pid);
        let slot = &mut self.slots[i];
        slot.phase = Phase::Creating;
        slot.creation = Some(Creation {
            pid,
            instance,
            image,
            kept,
            output,
            log_path,
            exited,
        });
        // The container's set-up (overlay, mounts, pivot_root) runs in its
        // own process: the loop goes on, so the next container's set-up
        // overlaps it.
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let result = tokio::task::spawn_blocking(move || creating.finish())
                .await
                .unwrap_or_else(|e| Err(StartError::Runtime(format!("start task failed: {e}"))));
            let _ = tx.send(Msg::Created {
                slot: i,
                pid,
                result,
            });
        });
    }

    /// The end of a container's start (see `create`).
    fn created(&mut self, i: usize, pid: i32, result: Result<crate::runtime::Started, StartError>) {
        let slot = &mut self.slots[i];
        let Some(creation) = slot.creation.take_if(|c| c.pid == pid) else {
            return;
        };
        let Creation {
            instance,
            image,
            kept,
            output,
            log_path,
            exited,
            ..
        } = creation;
        let spec = slot.spec.clone();
        let started = match result {
            Ok(started) => started,
            Err(e) => {
                if let Some(rt) = &self.runtime
                    && let Err(e) = rt.borrow_mut().cleanup_container(&spec.name, instance)
                {
                    eprintln!("pod-supervisor: cleaning up {}: {e:#}", spec.name);
                }
                self.start_failed(i, instance, e.to_string());
                return;
            }
        };
        let container_id = container_id(&self.uid, &spec.name, instance);
        let tap = attach::tap();
        let logs = LogFile::create(&log_path, self.settings.rotation)
            .and_then(|log| stdio::pump(output, log, tap.clone()));
        let logs = match logs {
            Ok(handle) => Some(handle),
            Err(e) => {
                eprintln!("pod-supervisor: logging {}: {e}", log_path.display());
                None
            }
        };
        let tx = self.tx.clone();
        let pid = started.pid;
        tokio::task::spawn_local(async move {
            let exit = exited.await.unwrap_or(Exit::Signal(libc::SIGKILL));
            // Let the pumps drain what the container wrote last, for the
            // termination message and `logs`; a daemonised grandchild that
            // keeps the pipe open must not hold the exit back.
            if let Some(logs) = logs {
                let _ = tokio::time::timeout(Duration::from_millis(500), logs).await;
            }
            let _ = tx.send(Msg::Exited { slot: i, pid, exit });
        });
        if let Some(p) = Process::of(pid) {
            self.processes.insert(spec.name.clone(), p);
            self.write_processes();
        }
        let name = spec.name.clone();
        self.event(
            Some(i),
            Type::Normal,
            "Created",
            &format!("Created container: {name}"),
        );
        self.event(
            Some(i),
            Type::Normal,
            "Started",
            &format!("Started container {name}"),
        );
        let slot = &mut self.slots[i];
        slot.status.container_id = Some(container_id.clone());
        slot.status.image = image.name.clone();
        slot.status.image_id = image_id(&image);
        slot.live = Some(Live {
            pid,
            instance,
            started_at: super::now(),
            container_id,
            probes: Vec::new(),
            attach: attach::Streams::new(kept, tap, spec.stdin_once == Some(true))
                .inspect_err(|e| eprintln!("pod-supervisor: streams for attach: {e}"))
                .ok(),
            stopping: false,
        });
        match spec.lifecycle.as_ref().and_then(|l| l.post_start.clone()) {
            Some(hook) => {
                slot.phase = Phase::Starting;
                let target = self.target(i);
                let pod = self.pod_label();
                let tx = self.tx.clone();
                tokio::task::spawn_local(async move {
                    let result = handler::hook(&target, &hook, &pod).await;
                    let _ = tx.send(Msg::PostStart {
                        slot: i,
                        pid,
                        result,
                    });
                });
            }
            None => self.became_running(i),
        }
        // A sidecar that came up while the pod was completing is stopped
        // like the others were (sync_stopping covers a deletion).
        if self.completing && self.slots[i].role == Role::Sidecar {
            let grace = self.pod_grace();
            self.stop_container(i, grace, &format!("Stopping container {name}"));
        }
    }

    /// The runtime could not start the process: StartError, exit code 128.
    fn start_failed(&mut self, i: usize, _instance: u32, msg: String) {
        self.event(Some(i), Type::Warning, "Failed", &format!("Error: {msg}"));
        let now = super::now();
        let slot = &mut self.slots[i];
        slot.status.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 128,
                reason: Some("StartError".into()),
                message: Some(msg),
                started_at: Some(Time(now)),
                finished_at: Some(Time(now)),
                ..Default::default()
            }),
            ..Default::default()
        });
        slot.status.ready = false;
        slot.status.started = Some(false);
        slot.finished_at = Some(Instant::now());
        slot.phase = Phase::Exited;
    }

    fn target(&self, i: usize) -> Target {
        Target::new(
            self.runtime.clone().expect("sandbox started"),
            self.reaper.clone(),
            self.netns.clone().expect("sandbox started"),
            self.slots[i].spec.clone(),
        )
    }

    fn became_running(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let Some(live) = &slot.live else { return };
        slot.phase = Phase::Running;
        slot.status.state = Some(ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(Time(live.started_at)),
            }),
            ..Default::default()
        });
        if slot.spec.startup_probe.is_some() {
            slot.status.started = Some(false);
            slot.status.ready = false;
            self.spawn_probe(i, ProbeKind::Startup);
        } else {
            self.started(i);
        }
    }

    /// The startup probe passed (or there is none).
    fn started(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        slot.status.started = Some(true);
        slot.status.ready = slot.spec.readiness_probe.is_none();
        if slot.spec.liveness_probe.is_some() {
            self.spawn_probe(i, ProbeKind::Liveness);
        }
        if self.slots[i].spec.readiness_probe.is_some() {
            self.spawn_probe(i, ProbeKind::Readiness);
        }
    }

    fn spawn_probe(&mut self, i: usize, kind: ProbeKind) {
        let Some(probe) = self.slots[i].probe(kind).cloned() else {
            return;
        };
        let Some(pid) = self.slots[i].live.as_ref().map(|l| l.pid) else {
            return;
        };
        let target = self.target(i);
        let tx = self.tx.clone();
        let handle = tokio::task::spawn_local(async move {
            let secs = |v: Option<i32>, default: i32| {
                Duration::from_secs(v.unwrap_or(default).max(0) as u64)
            };
            tokio::time::sleep(secs(probe.initial_delay_seconds, 0)).await;
            let period = secs(probe.period_seconds, 10).max(Duration::from_secs(1));
            let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
            let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
            let (mut oks, mut fails) = (0, 0);
            let mut verdict = None;
            let mut next = tokio::time::Instant::now();
            loop {
                next += period;
                match handler::probe(&target, &probe).await {
                    Ok(()) => {
                        oks += 1;
                        fails = 0;
                        if oks >= success_threshold && verdict != Some(true) {
                            verdict = Some(true);
                            let _ = tx.send(Msg::Verdict {
                                slot: i,
                                pid,
                                kind,
                                ok: true,
                            });
                            if kind == ProbeKind::Startup {
                                return;
                            }
                        }
                    }
                    Err(message) => {
                        oks = 0;
                        fails += 1;
                        let _ = tx.send(Msg::ProbeFailed {
                            slot: i,
                            pid,
                            kind,
                            message,
                        });
                        if fails >= failure_threshold && verdict != Some(false) {
                            verdict = Some(false);
                            let _ = tx.send(Msg::Verdict {
                                slot: i,
                                pid,
                                kind,
                                ok: false,
                            });
                            if kind != ProbeKind::Readiness {
                                return;
                            }
                        }
                    }
                }
                tokio::time::sleep_until(next.max(tokio::time::Instant::now())).await;
            }
        });
        if let Some(live) = &mut self.slots[i].live {
            live.probes.push(handle.abort_handle());
        }
    }

    // ----- stopping a container -----

    /// preStop, then the stop signal, then SIGKILL once `grace` is spent
    /// (never sooner than 2 s after the signal).
    fn stop_container(&mut self, i: usize, grace: Duration, message: &str) {
        let Some(live) = &mut self.slots[i].live else {
            return;
        };
        if live.stopping {
            return;
        }
        live.stopping = true;
        for p in live.probes.drain(..) {
            p.abort();
        }
        let pid = live.pid;
        if self.stopping.as_ref().is_some_and(|s| s.now) {
            // SAFETY: kill(2) on our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return;
        }
        self.event(Some(i), Type::Normal, "Killing", message);
        let since = Instant::now();
        let pre_stop = self.slots[i]
            .spec
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.clone());
        match pre_stop {
            Some(hook) if self.netns.is_some() => {
                let target = self.target(i);
                let pod = self.pod_label();
                let tx = self.tx.clone();
                tokio::task::spawn_local(async move {
                    let result = match tokio::time::timeout(
                        grace,
                        handler::hook(&target, &hook, &pod),
                    )
                    .await
                    {
                        Ok(r) => r,
                        Err(_) => Ok(()),
                    };
                    let _ = tx.send(Msg::PreStopDone {
                        slot: i,
                        pid,
                        grace,
                        since,
                        result,
                    });
                });
            }
            _ => self.signal(i, pid, grace, since),
        }
    }

    fn signal(&mut self, i: usize, pid: i32, grace: Duration, since: Instant) {
        if self.slots[i].live.as_ref().map(|l| l.pid) != Some(pid) {
            return;
        }
        let sig = stop_signal(self.slots[i].image.as_ref());
        // SAFETY: kill(2) on our own child, which is not reaped yet (its
        // exit is only collected through the reaper on this thread).
        unsafe { libc::kill(pid, sig) };
        let remaining = grace.saturating_sub(since.elapsed()).max(MIN_GRACE);
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(remaining).await;
            let _ = tx.send(Msg::Kill { slot: i, pid });
        });
    }

    // ----- messages -----

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Pulled { slot, result, took } => self.pulled(slot, *result, took),
            Msg::Exited { slot, pid, exit } => self.exited(slot, pid, exit),
            Msg::Created { slot, pid, result } => self.created(slot, pid, result),
            Msg::PostStart { slot, pid, result } => {
                if self.slots[slot].live.as_ref().map(|l| l.pid) != Some(pid) {
                    return;
                }
                match result {
                    Ok(()) if self.slots[slot].phase == Phase::Starting => {
                        self.became_running(slot)
                    }
                    Ok(()) => {}
                    Err(message) => {
                        self.event(Some(slot), Type::Warning, "FailedPostStartHook", &message);
                        let grace = self.pod_grace();
                        self.stop_container(slot, grace, "FailedPostStartHook");
                    }
                }
            }
            Msg::PreStopDone {
                slot,
                pid,
                grace,
                since,
                result,
            } => {
                if let Err(message) = result {
                    self.event(Some(slot), Type::Warning, "FailedPreStopHook", &message);
                }
                self.signal(slot, pid, grace, since);
            }
            Msg::ProbeFailed {
                slot,
                pid,
                kind,
                message,
            } => {
                let live = self.slots[slot].live.as_ref();
                if live.is_some_and(|l| l.pid == pid && !l.stopping) {
                    let text = format!("{} probe failed: {message}", kind.title());
                    self.event(Some(slot), Type::Warning, "Unhealthy", &text);
                }
            }
            Msg::Verdict {
                slot,
                pid,
                kind,
                ok,
            } => self.verdict(slot, pid, kind, ok),
            Msg::Kill { slot, pid } => {
                if self.slots[slot].live.as_ref().map(|l| l.pid) == Some(pid) {
                    // SAFETY: as in `signal`.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            Msg::Wake => self.show_pull_backoff(),
            Msg::Check => {
                if self.stopping.is_none() && !self.still_stored() {
                    // Deleted behind our back (its state directory removed):
                    // nothing is left to report to; stop everything now.
                    eprintln!("pod-supervisor: the pod record is gone; stopping the pod");
                    self.detached = true;
                    self.begin_stopping(Duration::ZERO, true, None);
                }
            }
            Msg::Attach {
                container,
                mut client,
            } => {
                let live = self
                    .slots
                    .iter()
                    .filter(|s| s.spec.name == container)
                    .find_map(|s| s.live.as_ref().filter(|l| !l.stopping));
                match live.and_then(|l| l.attach.as_ref()) {
                    // `serve` replies once the client is subscribed to the
                    // output, so that it misses nothing written after.
                    Some(streams) => streams.serve(client),
                    None => {
                        let reply = Reply::Error {
                            message: format!(
                                "unable to upgrade connection: container not found ({container:?})"
                            ),
                        };
                        let _ = send_reply(&mut client, &reply).await;
                    }
                }
            }
            Msg::Delete {
                grace,
                force,
                mut client,
            } => {
                // If the CLI went away, the deletion goes on regardless.
                let _ = send_reply(&mut client, &Reply::Accepted).await;
                if force {
                    self.detached = true;
                }
                self.begin_stopping(grace, force && grace.is_zero(), Some(client));
            }
        }
    }

    fn verdict(&mut self, i: usize, pid: i32, kind: ProbeKind, ok: bool) {
        let Some(live) = &self.slots[i].live else {
            return;
        };
        if live.pid != pid || live.stopping {
            return;
        }
        let name = self.slots[i].spec.name.clone();
        let probe_grace = self.slots[i]
            .probe(kind)
            .and_then(|p| p.termination_grace_period_seconds)
            .map(|s| Duration::from_secs(s.max(0) as u64));
        let grace = probe_grace.unwrap_or_else(|| self.pod_grace());
        match (kind, ok) {
            (ProbeKind::Startup, true) => self.started(i),
            (ProbeKind::Startup, false) => self.stop_container(
                i,
                grace,
                &format!("Container {name} failed startup probe, will be restarted"),
            ),
            (ProbeKind::Liveness, false) => self.stop_container(
                i,
                grace,
                &format!("Container {name} failed liveness probe, will be restarted"),
            ),
            (ProbeKind::Liveness, true) => {}
            (ProbeKind::Readiness, ready) => self.slots[i].status.ready = ready,
        }
    }

    fn exited(&mut self, i: usize, pid: i32, exit: Exit) {
        let slot = &mut self.slots[i];
        if slot.live.as_ref().map(|l| l.pid) != Some(pid) {
            return;
        }
        let live = slot.live.take().expect("checked");
        for p in &live.probes {
            p.abort();
        }
        let name = slot.spec.name.clone();
        let oom = self
            .runtime
            .as_ref()
            .is_some_and(|rt| rt.borrow().container_oom_killed(&name));
        let code = if oom { 137 } else { exit.code() };
        let reason = match code {
            _ if oom => "OOMKilled",
            0 => "Completed",
            _ => "Error",
        };
        let message = self.termination_message(i, live.instance, code);
        let slot = &mut self.slots[i];
        slot.status.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                signal: match exit {
                    Exit::Signal(s) => Some(s),
                    Exit::Code(_) => None,
                },
                reason: Some(reason.into()),
                message,
                started_at: Some(Time(live.started_at)),
                finished_at: Some(Time(super::now())),
                container_id: Some(live.container_id.clone()),
            }),
            ..Default::default()
        });
        slot.status.ready = false;
        slot.status.started = Some(false);
        slot.finished_at = Some(Instant::now());
        slot.phase = if self.stopping.is_some() || self.completing && slot.role == Role::Sidecar {
            Phase::Done
        } else {
            Phase::Exited
        };
        self.processes.remove(&name);
        self.write_processes();
        if let Some(rt) = &self.runtime
            && let Err(e) = rt.borrow_mut().cleanup_container(&name, live.instance)
        {
            eprintln!("pod-supervisor: cleaning up {name}: {e:#}");
        }
    }

    /// terminated.message: the termination message file's content (at
    /// most 4096 bytes), or with FallbackToLogsOnError and a failure, the
    /// end of the log (80 lines, 2048 bytes).
    fn termination_message(&self, i: usize, instance: u32, code: i32) -> Option<String> {
        let spec = &self.slots[i].spec;
        if let Some(rt) = &self.runtime {
            let path = rt.borrow().termination_message_path(&spec.name, instance);
            if let Ok(mut bytes) = std::fs::read(path)
                && !bytes.is_empty()
            {
                bytes.truncate(4096);
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        let fallback = spec.termination_message_policy.as_deref() == Some("FallbackToLogsOnError");
        if !fallback || code == 0 {
            return None;
        }
        let path = self
            .store
            .pod_log_dir(&self.namespace, &self.name, &self.uid)
            .join(&spec.name)
            .join(format!("{instance}.log"));
        let text = std::fs::read(path).ok()?;
        let lines = super::crilog::lines(&text);
        let start = lines.len().saturating_sub(80);
        let mut out: Vec<u8> = lines[start..]
            .iter()
            .flat_map(|l| l.content.clone())
            .collect();
        if out.len() > 2048 {
            out.drain(..out.len() - 2048);
        }
        (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    // ----- deletion -----

    fn begin_stopping(&mut self, grace: Duration, now: bool, client: Option<UnixStream>) {
        if let Some(stopping) = &mut self.stopping {
            stopping.clients.extend(client);
            if now && !stopping.now {
                stopping.now = true;
                for slot in &mut self.slots {
                    if let Some(live) = &slot.live {
                        // SAFETY: kill(2) on our unreaped child.
                        unsafe { libc::kill(live.pid, libc::SIGKILL) };
                    }
                }
            }
            return;
        }
        self.stopping = Some(Stopping {
            grace,
            since: Instant::now(),
            now,
            clients: client.into_iter().collect(),
        });
        for slot in &mut self.slots {
            if !slot.has_process() {
                slot.phase = Phase::Done;
            }
        }
        self.sync_stopping();
    }

    /// App containers first, then the sidecars, each inside what is left
    /// of the grace period.
    fn sync_stopping(&mut self) {
        let Some(stopping) = &self.stopping else {
            return;
        };
        let remaining = stopping.grace.saturating_sub(stopping.since.elapsed());
        let apps_live = self
            .slots
            .iter()
            .any(|s| s.role != Role::Sidecar && s.has_process());
        for i in 0..self.slots.len() {
            let sidecar = self.slots[i].role == Role::Sidecar;
            if sidecar && apps_live {
                continue;
            }
            let name = self.slots[i].spec.name.clone();
            self.stop_container(i, remaining, &format!("Stopping container {name}"));
        }
    }

    fn ready_to_finish(&self) -> bool {
        if self.finished {
            return false;
        }
        let none_live = self.slots.iter().all(|s| !s.has_process());
        (self.stopping.is_some() && none_live) || self.terminal
    }

    /// Every container is gone: tear the sandbox down and, for a deletion,
    /// remove the pod.
    async fn finish(&mut self) {
        self.finished = true;
        self.terminal = true;
        if let Some(rt) = &self.runtime
            && let Err(e) = rt.borrow_mut().teardown()
        {
            eprintln!("pod-supervisor: tearing down: {e:#}");
        }
        self.processes.clear();
        self.write_processes();
        self.conditions
            .set("PodReadyToStartContainers", false, None, None, super::now());
        let Some(stopping) = self.stopping.take() else {
            // A completed pod: its final status stays for get and logs.
            self.write_status();
            let _ = std::fs::remove_file(self.records.socket());
            return;
        };
        if !self.detached
            && let Err(e) = self.remove_record()
        {
            eprintln!("pod-supervisor: removing the pod: {e:#}");
        }
        let _ = std::fs::remove_dir_all(self.store.pod_log_dir(
            &self.namespace,
            &self.name,
            &self.uid,
        ));
        let _ = std::fs::remove_dir_all(self.records.dir());
        for mut client in stopping.clients {
            let _ = send_reply(&mut client, &Reply::Deleted).await;
        }
    }

    /// Whether the store still holds this pod (this uid under its name).
    fn still_stored(&self) -> bool {
        let pod_json = self
            .store
            .pod_dir(&self.namespace, &self.name)
            .join("pod.json");
        match std::fs::read(&pod_json) {
            Ok(bytes) => serde_json::from_slice::<Pod>(&bytes)
                .map(|p| p.metadata.uid.as_deref() == Some(self.uid.as_str()))
                .unwrap_or(true),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    fn remove_record(&self) -> Result<()> {
        use crate::api::{Kind, Object};
        let _lock = self.store.lock(Kind::Pod, &self.namespace, &self.name)?;
        // The name may already hold a new pod (after a force deletion).
        if let Some(Object::Pod(p)) = self.store.get(Kind::Pod, &self.namespace, &self.name)?
            && p.metadata.uid.as_deref() == Some(&self.uid)
        {
            self.store.remove(Kind::Pod, &self.namespace, &self.name)?;
        }
        Ok(())
    }

    // ----- status -----

    fn status(&mut self) -> PodStatus {
        let now = super::now();
        let collect = |roles: &[Role]| -> Vec<ContainerStatus> {
            self.slots
                .iter()
                .filter(|s| roles.contains(&s.role))
                .map(|s| s.status.clone())
                .collect()
        };
        let init = collect(&[Role::Init, Role::Sidecar]);
        let apps = collect(&[Role::App]);
        let phase = status::phase(&self.spec, &init, &apps, self.terminal, self.initialized);
        let incomplete: Vec<String> = self
            .slots
            .iter()
            .filter(|s| match s.role {
                Role::Init => !s.succeeded(),
                Role::Sidecar => s.status.started != Some(true),
                Role::App => false,
            })
            .map(|s| s.spec.name.clone())
            .collect();
        if self.initialized {
            self.conditions.set("Initialized", true, None, None, now);
        } else {
            self.conditions.set(
                "Initialized",
                false,
                Some("ContainersNotInitialized"),
                Some(status::names_message("incomplete", &incomplete)),
                now,
            );
        }
        let unready: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.role != Role::Init && !s.status.ready)
            .map(|s| s.spec.name.clone())
            .collect();
        for type_ in ["ContainersReady", "Ready"] {
            if unready.is_empty() {
                self.conditions.set(type_, true, None, None, now);
            } else if status::is_terminal(Some(phase)) {
                self.conditions
                    .set(type_, false, Some("PodCompleted"), None, now);
            } else {
                self.conditions.set(
                    type_,
                    false,
                    Some("ContainersNotReady"),
                    Some(status::names_message("unready", &unready)),
                    now,
                );
            }
        }
        if self.conditions.get("PodReadyToStartContainers").is_none() {
            self.conditions
                .set("PodReadyToStartContainers", false, None, None, now);
        }
        let host_network = self.spec.host_network == Some(true);
        PodStatus {
            phase: Some(phase.into()),
            conditions: Some(self.conditions.to_vec()),
            host_ip: Some(self.host_ip.clone()),
            host_ips: Some(vec![HostIP {
                ip: self.host_ip.clone(),
            }]),
            pod_ip: host_network.then(|| self.host_ip.clone()),
            pod_ips: host_network.then(|| {
                vec![PodIP {
                    ip: self.host_ip.clone(),
                }]
            }),
            start_time: Some(Time(self.start_time)),
            qos_class: Some(crate::api::defaults::qos_class(&self.spec).into()),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(apps),
            ..Default::default()
        }
    }

    fn write_status(&mut self) {
        if self.detached {
            return;
        }
        let status = self.status();
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        if let Err(e) = self
            .store
            .write_pod_status(&self.namespace, &self.name, &status)
        {
            eprintln!("pod-supervisor: writing status: {e:#}");
        }
        self.last_status = Some(status);
    }
}

/// imageID as the kubelet shows it: `<repository>@<manifest digest>`.
/// The kubelet's Pulled event after a pull: Go durations truncated to
/// milliseconds. Pulls are not queued behind each other here, so the
/// time including waiting is the pull's own.
fn pulled_message(reference: &str, took: Duration, size: u64) -> String {
    let took = go_string(Duration::from_millis(took.as_millis() as u64));
    format!(
        "Successfully pulled image {reference:?} in {took} ({took} including waiting). Image size: {size} bytes."
    )
}

fn image_id(image: &Image) -> String {
    let name = image.name.split('@').next().unwrap_or(&image.name);
    let repo = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    };
    if image.digest.is_empty() {
        image.id.clone()
    } else {
        format!("{repo}@{}", image.digest)
    }
}

impl Slot {
    fn new(c: &Container, role: Role, reason: &str, settings: Settings) -> Slot {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulled_messages_are_the_kubelets() {
        assert_eq!(
            pulled_message("nginx", Duration::from_micros(1_387_900), 59774010),
            "Successfully pulled image \"nginx\" in 1.387s (1.387s including waiting). Image size: 59774010 bytes."
        );
        assert_eq!(
            pulled_message("busybox", Duration::from_micros(313_999), 2222260),
            "Successfully pulled image \"busybox\" in 313ms (313ms including waiting). Image size: 2222260 bytes."
        );
    }

    #[test]
    fn pull_policy_defaults_by_tag() {
        let c = |image: &str| Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        };
        assert_eq!(pull_policy(&c("busybox")), PullPolicy::Always);
        assert_eq!(pull_policy(&c("busybox:latest")), PullPolicy::Always);
        assert_eq!(pull_policy(&c("busybox:1.36")), PullPolicy::IfNotPresent);
        assert_eq!(
            pull_policy(&c("localhost:5000/busybox")),
            PullPolicy::Always
        );
        assert_eq!(
            pull_policy(&c("busybox@sha256:abc")),
            PullPolicy::IfNotPresent
        );
    }

    #[test]
    fn container_ids_look_like_the_cri_ones() {
        let id = container_id("uid", "c", 0);
        assert!(id.starts_with("pod://"));
        assert_eq!(id.len(), "pod://".len() + 64);
    }
}
