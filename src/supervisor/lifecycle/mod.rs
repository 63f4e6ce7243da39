//! The pod's life as the kubelet drives it, in one single-threaded event
//! loop: every outside happening (a process exit, a pull finished, a
//! container's set-up done, a probe verdict, a hook done, a timer, a
//! delete request) is a message; after each batch of messages `sync`
//! hands what it sees to the pure decision (`decide`) and performs the
//! actions it returns, and the status is written once if a decision of
//! the batch said so (`WriteStatus`).
//!
//! - `mod.rs`: the loop, its messages and the socket's requests.
//! - `decide`: the decision, no I/O: what it sees (`decide.rs`), the
//!   actions it returns (`action.rs`), its rules for running and for
//!   stopping containers (`starting.rs`, `stopping.rs`); its tables in
//!   `decide/tests.rs`.
//! - `sync`: from the supervisor's state to the decision and back.
//! - `slot` / `stage`: a container's phase and the pod's stage, each
//!   holding what is valid in it and changed by guarded transitions.
//! - `sandbox`, `start`, `probes`, `stop`: the work the actions stand
//!   for; `prepare`: the inits of the first starts set up (and held
//!   before the program) while the network's ADD runs; `report`: events, process records, the pod status.
//! - `update`: the pod's record read at every check: still stored, and
//!   a changed image acted on.

mod admit;
mod adopt;
mod decide;
mod evict;
mod prepare;
mod pressure;
mod probes;
mod report;
mod sandbox;
mod slot;
mod stage;
mod start;
mod stop;
mod sync;
mod update;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::handler::Outcome;
use super::keeper::{Generation, Keeper};
use super::launch::{Scheduling, Settings};
use super::reaper::{Exit, Reaper};
use super::socket::{Reply, Request};
use super::status::{self, Conditions};
use super::status_writer::StatusWriter;
use crate::image::{Image, ImageStore, PullError};
use crate::runtime::netns::NetNs;
use crate::runtime::{PodRuntime, StartError};
use crate::store::Store;
use crate::store::events::{PodRef, Recorder, Type};
use crate::store::record::{BackOffRecord, Process, Records};

use crate::node::config::NodeConfig;
use crate::node::host_ip;
use slot::{Phase, ProbeKind, Role, Slot};
use stage::Stage;

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
    /// The network's ADD ended: the pod's addresses, or why not.
    Network {
        result: Result<Vec<std::net::IpAddr>, String>,
    },
    /// The pause process `pid` exited.
    PauseExited {
        pid: i32,
    },
    /// Periodic: is the pod record still there?
    Check,
    Delete {
        grace: Duration,
        force: bool,
        client: UnixStream,
    },
}

struct Supervisor {
    store: Store,
    /// The node configuration, read once when the supervisor started.
    node_config: NodeConfig,
    pod: Pod,
    spec: PodSpec,
    namespace: String,
    name: String,
    uid: String,
    settings: Settings,
    /// What is asked of the scheduler's layer (see `launch::Scheduling`).
    scheduling: Scheduling,
    images: ImageStore,
    events: Recorder,
    records: Records,
    reaper: Rc<Reaper>,
    tx: mpsc::UnboundedSender<Msg>,
    runtime: Option<Rc<RefCell<PodRuntime>>>,
    netns: Option<NetNs>,
    /// The network's ADD, running on a thread of its own (see `sandbox`).
    network: Option<sandbox::PendingNetwork>,
    /// The inits of the containers started first, set up meanwhile and
    /// waiting for the word, by slot (see `prepare`).
    held: BTreeMap<usize, prepare::Held>,
    /// The pod's addresses from the network (none for hostNetwork).
    pod_ips: Vec<String>,
    /// The last creation of the sandbox failed then (not decided yet).
    sandbox_failed: Option<Instant>,
    /// The sandbox is created again from then on.
    sandbox_retry: Option<Instant>,
    /// The current pause process.
    pause_pid: Option<i32>,
    /// It died: the sandbox is to be killed and re-created (`decide::sandbox`).
    pause_died: bool,
    /// The SandboxChanged event of that death was given.
    sandbox_announced: bool,
    /// The pod is over and its sandbox torn down (`decide::Action::TearDown`).
    torn_down: bool,
    /// A decision asked to be woken at once: the loop decides again
    /// before it waits for a message.
    resync: bool,
    slots: Vec<Slot>,
    conditions: Conditions,
    start_time: Timestamp,
    /// The node's address, probed once when the supervisor started.
    host_ip: String,
    stage: Stage,
    last_status: Option<PodStatus>,
    /// A decision of this batch asked for the status to be written.
    status_due: bool,
    /// Writes it apart from the loop (see `status_writer`).
    status_writer: StatusWriter,
    /// The status writer was told what status to expect (`expect_status`).
    expecting: bool,
    processes: BTreeMap<String, Process>,
    /// The kubelet's admission refused the pod: nothing of it runs.
    rejected: Option<crate::node::admission::Rejection>,
    /// The node the pod is bound to.
    node_name: String,
    /// The node's NoExecute taints as last seen (`evict`).
    taint_watch: evict::TaintWatch,
    /// The node's pressure as last looked at (`pressure`).
    pressure: pressure::PressureWatch,
    /// The kubelet's eviction manager evicted the pod: its message. The
    /// pod ends Failed, reason Evicted, and its record stays.
    evicted: Option<String>,
    /// The keeper, which holds the containers' streams (`keeper`).
    keeper: Rc<Keeper>,
    /// Its exit pipe, until the reaper follows it (after adoption).
    keeper_exits: Option<OwnedFd>,
    /// The pty masters of the running `tty: true` containers, by slot:
    /// the pause process keeps them too (`PodRuntime::keep_ttys`).
    ttys: BTreeMap<usize, OwnedFd>,
    /// Instants as the next supervisor reads them (`record_backoffs`).
    clock: super::backoff::Clock,
    /// The back-offs as last recorded.
    backoffs_written: BTreeMap<String, BackOffRecord>,
}

// What the launch hands over, each its own thing (see `Supervisor::new`).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: Store,
    node_config: NodeConfig,
    node_config_stamp: Option<SystemTime>,
    pod: Pod,
    records: Records,
    listener: StdUnixListener,
    settings: Settings,
    generation: Generation,
    scheduling: Scheduling,
) -> Result<()> {
    let reaper = Reaper::start()?;
    // Exits the keeper reported while no supervisor ran, before any
    // process is adopted.
    reaper.take_reported(&generation.exits);
    let (tx, mut rx) = mpsc::unbounded_channel();
    accept(listener, tx.clone())?;
    let check = tx.clone();
    tokio::task::spawn_local(async move {
        // The first check a second from now, not at once: at once it came
        // in the middle of the pod's start (the node's files read, and
        // the memory the start still used given back, its code unmapped
        // and faulted in again a moment later), while what it looks at
        // was just looked at by the start itself. A second is after the
        // start of a pod whose image is there, and before a measure of
        // the pod's memory taken once it runs.
        let first = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut every = tokio::time::interval_at(first, Duration::from_secs(2));
        loop {
            every.tick().await;
            if check.send(Msg::Check).is_err() {
                break;
            }
        }
    });
    let keeper = Keeper::new(generation.control);
    keeper.arm();
    let mut sup = Supervisor::new(
        store,
        node_config,
        node_config_stamp,
        pod,
        records,
        settings,
        scheduling,
        reaper.clone(),
        tx,
        keeper,
    )?;
    sup.keeper_exits = Some(generation.exits);
    if generation.adopt {
        sup.adopt()?;
    } else {
        sup.begin();
    }
    if let Some(exits) = sup.keeper_exits.take() {
        reaper.follow_keeper(exits)?;
    }
    // Whether anything but the periodic check happened since the memory a
    // burst of work leaves was last given back, and whether the last batch
    // began with that check.
    let mut busy = true;
    let mut tick = false;
    let mut checks: u32 = 0;
    loop {
        sup.sync();
        // Before the status that shows a back-off: a supervisor that
        // replaces this one finds the back-off of every wait it reads.
        sup.record_backoffs();
        sup.flush_status();
        sup.expect_status();
        if sup.ready_to_finish() {
            sup.status_writer.settle();
            sup.finish().await;
            break;
        }
        // A decision asked to decide again at once (`WakeAt` now: a pod
        // that ended is torn down once its final phase is written),
        // before any other message is handled.
        if std::mem::take(&mut sup.resync) {
            continue;
        }
        // The first check after a burst (the start, a restart, an attach):
        // what the burst touched and no longer uses goes back, once. And
        // every fifth check (10 s, the eviction manager's period): the
        // node's pressure is looked at then (files read, the node's
        // configuration decoded again when it changed), and the heap pages
        // that dirties would stay resident until the next burst.
        if tick {
            checks = checks.wrapping_add(1);
            if std::mem::take(&mut busy) || checks.is_multiple_of(5) {
                super::memory::give_back();
            }
        }
        let Some(msg) = rx.recv().await else { break };
        tick = matches!(msg, Msg::Check);
        busy |= !tick;
        sup.handle(msg).await;
        while let Ok(msg) = rx.try_recv() {
            sup.handle(msg).await;
        }
    }
    // The supervisor ends: its last status is written first.
    sup.status_writer.settle();
    Ok(())
}

/// A pod that ran before this supervisor (its node restarted: see
/// `store::restarted`) goes on counting: each container keeps its
/// restart count and last state, and its next instance is a new one
/// (a new log file) if the counted one ran.
fn resume_counts(store: &Store, pod: &Pod, slots: &mut [Slot]) {
    let Some(status) = &pod.status else { return };
    let previous = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    let ident = (
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default(),
    );
    for before in previous {
        let Some(slot) = slots.iter_mut().find(|s| s.spec.name == before.name) else {
            continue;
        };
        if before.restart_count == 0 && before.last_state.is_none() {
            continue;
        }
        slot.status.restart_count = before.restart_count;
        slot.status.last_state = before.last_state.clone();
        let instance = before.restart_count.max(0) as u32;
        slot.started_once = store.container_log(ident, &before.name, instance).exists();
    }
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

impl Supervisor {
    // What the launch hands over, each its own thing: a struct of them
    // would only name this argument list.
    #[allow(clippy::too_many_arguments)]
    fn new(
        store: Store,
        node_config: NodeConfig,
        node_config_stamp: Option<SystemTime>,
        pod: Pod,
        records: Records,
        settings: Settings,
        scheduling: Scheduling,
        reaper: Rc<Reaper>,
        tx: mpsc::UnboundedSender<Msg>,
        keeper: Keeper,
    ) -> Result<Supervisor> {
        let spec = pod.spec.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let node = spec
            .node_name
            .clone()
            .unwrap_or_else(|| crate::node::name_in(&node_config));
        let events = Recorder::new(
            PodRef {
                namespace: namespace.clone(),
                name: name.clone(),
                uid: uid.clone(),
                node: node.clone(),
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
        resume_counts(&store, &pod, &mut slots);
        let pressure = pressure::PressureWatch::seeded(node_config_stamp, node_config.clone());
        Ok(Supervisor {
            store,
            node_config,
            spec,
            namespace,
            name,
            uid,
            settings,
            scheduling,
            images,
            events,
            records,
            reaper,
            tx,
            runtime: None,
            netns: None,
            network: None,
            held: BTreeMap::new(),
            pod_ips: Vec::new(),
            sandbox_failed: None,
            sandbox_retry: None,
            pause_pid: None,
            pause_died: false,
            sandbox_announced: false,
            torn_down: false,
            resync: false,
            slots,
            conditions: Conditions::default(),
            start_time: crate::duration::now(),
            host_ip: host_ip(),
            stage: Stage::new(has_init),
            last_status: None,
            status_due: false,
            status_writer: StatusWriter::default(),
            expecting: false,
            processes: BTreeMap::new(),
            rejected: None,
            pressure,
            evicted: None,
            node_name: node,
            taint_watch: evict::TaintWatch::default(),
            keeper: Rc::new(keeper),
            keeper_exits: None,
            ttys: BTreeMap::new(),
            clock: super::backoff::Clock::now(),
            backoffs_written: BTreeMap::new(),
            pod,
        })
    }

    fn pod_label(&self) -> String {
        format!("{}_{}({})", self.name, self.namespace, self.uid)
    }

    fn wake_at(&self, at: Instant) {
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep_until(at.into()).await;
            let _ = tx.send(Msg::Wake);
        });
    }

    // ----- messages -----

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Pulled { slot, result, took } => self.pulled(slot, *result, took),
            Msg::Exited { slot, pid, exit } => self.exited(slot, pid, exit),
            Msg::Created { slot, pid, result } => self.created(slot, pid, result),
            Msg::PostStart { slot, pid, result } => {
                if self.slots[slot].live_pid(pid).is_none() {
                    return;
                }
                match result {
                    Ok(()) if matches!(self.slots[slot].phase(), Phase::Starting(_)) => {
                        self.became_running(slot)
                    }
                    Ok(()) => {}
                    Err(message) => {
                        self.event(Some(slot), Type::Warning, "FailedPostStartHook", &message);
                        // The decision stops it (`decide::Why::FailedPostStartHook`).
                        if let Some(live) = self.slots[slot].live_mut() {
                            live.hook_failed = true;
                        }
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
                // The decision kills it next (`decide::Action::Stop`).
                if let Some(live) = self.slots[slot].live_mut().filter(|l| l.pid == pid) {
                    live.pre_stop_done = Some((grace, since));
                }
            }
            Msg::ProbeFailed {
                slot,
                pid,
                kind,
                message,
            } => {
                let live = self.slots[slot].live_pid(pid);
                if live.is_some_and(|l| !l.stopping) {
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
                if let Some(live) = self.slots[slot].live_pid(pid) {
                    live.kill(libc::SIGKILL);
                }
            }
            // A back-off ended: the sync after this batch decides.
            Msg::Wake => self.evict_if_due(),
            Msg::Network { result } => self.network_done(result),
            Msg::PauseExited { pid } => {
                if self.pause_pid == Some(pid) {
                    self.pause_gone();
                }
            }
            Msg::Check => {
                self.watch_taints();
                self.watch_pressure();
                if self.stage.stopping().is_none() {
                    match self.stored_images() {
                        Some(images) => self.take_images(images),
                        None => {
                            // Deleted behind our back (its state directory
                            // removed): nothing is left to report to; stop
                            // everything now.
                            eprintln!("pod-supervisor: the pod record is gone; stopping the pod");
                            self.begin_stopping(Duration::ZERO, true, true, None);
                        }
                    }
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
                    .find_map(|s| s.live().filter(|l| !l.stopping));
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
                self.begin_stopping(grace, force && grace.is_zero(), force, Some(client));
            }
        }
    }
}
