//! A supervisor that replaces a dead one (`keeper`) adopts its pod, as a
//! restarted kubelet adopts the containers its runtime kept running:
//!
//! - the conditions, start time, addresses and container statuses (restart
//!   counts, last states, ready and started) from the status record the
//!   dead one wrote last;
//! - the pause process and each container instance from the runtime's
//!   records, each checked by pid and start time and held by a pidfd
//!   (the keeper reaps them now: their exits come through its pipe);
//! - their output: the stream ends the keeper kept in the container's
//!   slots, pumped again into the same log file (appended);
//! - attach: the kept stdin and pty ends, for new clients;
//! - probes, begun again from the container's recorded started and ready
//!   state (a liveness failure counts from the first probe after);
//! - a container that ended while no supervisor ran: its exit, reported
//!   by the keeper, is handled as any exit (restart per the policy); one
//!   that ended unseen (the keeper was gone too) is the kubelet's
//!   ContainerStatusUnknown, exit code 137.
//!
//! A pod whose supervisor died with its keeper is recovered the same way
//! by a first supervisor started to adopt it (`pod up`, `pods::boot`).
//! Its processes are then the host init's orphans, not the keeper's
//! children, and nothing holds their streams: each is watched through its
//! pidfd, whose end says that it ended but not how (the kubelet's
//! ContainerStatusUnknown, exit code 137, unless its cgroup counted an
//! OOM kill), and the pipes of its stdout, stderr and stdin are opened
//! again through /proc (`reopen_streams`), so that its output goes on
//! into its log and attach works again; a tty container's pty master,
//! which nothing can open again, is the one its pause process kept
//! (`runtime::kept_ttys`). A process cannot be given a new parent: its
//! later orphans go to the container's own init (or, with hostPID, the
//! host's).
//!
//! What the dead supervisor was in the middle of is begun again or goes
//! on: a container being created or pulled starts again (what its
//! half-made instance left is cleaned up first); a postStart hook that had
//! not ended runs again (`adopt_live` says why), and the hooks and exec
//! probes the dead one had running in a container are killed; a
//! crash-loop back-off goes on from the `backoff.json` the dead one kept
//! (its delay, and when a waiting container starts again); a deletion
//! marked on the record goes on with what is left of its grace period.

mod processes;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::runtime::PodRuntime;
use crate::runtime::netns::NetNs;
use crate::store::crilog::LogFile;
use crate::store::record::{BackOffRecord, PAUSE_PROCESS, Process};
use crate::supervisor::attach;
use crate::supervisor::keeper::{self, Stream};
use crate::supervisor::reaper::Exit;
use crate::supervisor::stdio::{self, Kept, Output};

use super::probes;
use super::slot::{Live, Phase, ProbeKind, Role};
use super::{Msg, Supervisor};
use processes::{ended_unseen, keeper_pid, parent_of, pidfd_of, reopen_streams, take_slot};

const STREAMS: [Stream; 4] = [Stream::Stdout, Stream::Stderr, Stream::Stdin, Stream::Tty];

fn status_of<'a>(status: &'a Option<PodStatus>, name: &str) -> Option<&'a ContainerStatus> {
    let status = status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find(|c| c.name == name)
}

fn terminated(state: &Option<ContainerState>) -> Option<&ContainerStateTerminated> {
    state.as_ref()?.terminated.as_ref()
}

impl Supervisor {
    /// The keeper keeps duplicates of container `i`'s stream ends, and
    /// the pause process its pty master.
    pub(super) fn keep_streams(&mut self, i: usize, kept: &Kept, output: &Output) {
        let keep = |stream, fd: Option<std::os::fd::BorrowedFd>| {
            if let (Some(slot), Some(fd)) = (keeper::slot(i, stream), fd) {
                self.keeper.keep(slot, fd);
            }
        };
        if let Output::Pipes { stdout, stderr } = output {
            keep(Stream::Stdout, Some(stdout.as_fd()));
            keep(Stream::Stderr, Some(stderr.as_fd()));
        }
        keep(Stream::Stdin, kept.stdin.as_ref().map(|f| f.as_fd()));
        keep(Stream::Tty, kept.tty.as_ref().map(|f| f.as_fd()));
        self.keep_tty(i, kept);
    }

    /// The pause process keeps container `i`'s pty master, if it has one,
    /// with those of the other running containers.
    fn keep_tty(&mut self, i: usize, kept: &Kept) {
        if let Some(master) = kept.tty.as_ref().and_then(|m| m.try_clone().ok()) {
            self.ttys.insert(i, master);
            self.keep_ttys();
        }
    }

    /// The pause process keeps the running containers' pty masters (in
    /// place of those it kept).
    fn keep_ttys(&self) {
        let Some(rt) = &self.runtime else {
            return;
        };
        let masters: Vec<(u32, std::os::fd::BorrowedFd)> = self
            .ttys
            .iter()
            .map(|(&i, fd)| (i as u32, fd.as_fd()))
            .collect();
        if let Err(e) = rt.borrow_mut().keep_ttys(&masters) {
            eprintln!("pod-supervisor: {e:#}");
        }
    }

    /// What closes the keeper's duplicate of container `i`'s stdin, once
    /// the supervisor closed its own (stdinOnce): the container sees the
    /// end of its input only when both are gone.
    pub(super) fn stdin_closed(&self, i: usize) -> Box<dyn FnOnce()> {
        let keeper = self.keeper.clone();
        Box::new(move || {
            if let Some(slot) = keeper::slot(i, Stream::Stdin) {
                keeper.release(slot);
            }
        })
    }

    /// Container `i`'s instance ended: the keeper lets its streams go, and
    /// the pause process its pty master.
    pub(super) fn release_streams(&mut self, i: usize) {
        for stream in STREAMS {
            if let Some(slot) = keeper::slot(i, stream) {
                self.keeper.release(slot);
            }
        }
        if self.ttys.remove(&i).is_some() {
            self.keep_ttys();
        }
    }

    /// Takes the pod over from a dead supervisor (see the module
    /// documentation). Fails when the pod's runtime cannot be resumed
    /// (its record of a newer format, say): what runs of the pod cannot
    /// be adopted then, and starting it anew would run a second sandbox
    /// and second containers beside the ones that run. The supervisor
    /// exits instead (and its keeper with it), the pod reads Unknown, and
    /// `delete` kills what the records name.
    pub(super) fn adopt(&mut self) -> anyhow::Result<()> {
        let status = match self.store.read_pod_status(&self.namespace, &self.name) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("pod-supervisor: adopting: {e:#}");
                None
            }
        };
        let rt = PodRuntime::resume(&self.store, &self.pod, &self.node_config).context(
            "adopting the pod: its runtime cannot be resumed; \
             not starting it again beside what runs of it (`pod delete` kills that)",
        )?;
        eprintln!("pod-supervisor: adopting the pod from a supervisor that died");
        if let Some(s) = &status {
            self.conditions
                .restore(s.conditions.clone().unwrap_or_default());
            if let Some(t) = &s.start_time {
                self.start_time = t.0;
            }
        }
        self.runtime = Some(Rc::new(RefCell::new(rt)));
        let backoffs = self.records.backoffs().unwrap_or_else(|e| {
            eprintln!("pod-supervisor: adopting: {e}");
            Default::default()
        });
        // The pty masters the pause process kept: the only ones left when
        // the keeper died too.
        let mut kept_ttys: BTreeMap<usize, OwnedFd> = self
            .runtime
            .as_ref()
            .expect("resumed")
            .borrow_mut()
            .take_kept_ttys()
            .into_iter()
            .map(|(i, fd)| (i as usize, fd))
            .collect();
        let mut probes = Vec::new();
        for i in 0..self.slots.len() {
            let backoff = backoffs.get(&self.slots[i].spec.name);
            let tty = kept_ttys.remove(&i);
            if let Some(kinds) = self.adopt_container(i, &status, backoff, tty) {
                probes.push((i, kinds));
            }
        }
        // Kept again: those of the containers adopted running.
        self.keep_ttys();
        self.adopt_sandbox(&status, !probes.is_empty());
        // Probes reach the container through the sandbox.
        if self.netns.is_some() && !self.pause_died {
            for (i, kinds) in probes {
                for kind in kinds {
                    self.spawn_probe(i, kind);
                }
            }
        }
        if !self.stage.initialized() && self.initialized_before(&status) {
            let _ = self.stage.initialize();
        }
        self.write_processes();
        self.status_due = true;
        // A deletion marked on the record whose supervisor died before
        // its end goes on (a `delete` still waiting does it itself).
        if let Some(at) = self.pod.metadata.deletion_timestamp.as_ref() {
            let left = at.0.duration_since(crate::duration::now());
            let grace = Duration::try_from(left).unwrap_or(Duration::ZERO);
            self.begin_stopping(grace, false, false, None);
        }
        Ok(())
    }

    fn initialized_before(&self, status: &Option<PodStatus>) -> bool {
        let has_init = self.slots.iter().any(|s| s.role != Role::App);
        !has_init
            || status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Initialized" && c.status == "True")
                })
    }

    fn adopt_sandbox(&mut self, status: &Option<PodStatus>, containers: bool) {
        let rt = self.runtime.clone().expect("resumed");
        let pause = rt.borrow().sandbox_pid();
        let host_network = self.spec.host_network == Some(true);
        let pod_ips: Vec<String> = status
            .iter()
            .flat_map(|s| s.pod_ips.iter().flatten())
            .map(|ip| ip.ip.clone())
            .collect();
        let netns = if host_network {
            NetNs::start(None).ok()
        } else if pod_ips.is_empty() {
            // Its network's ADD had not ended: the sandbox is made again.
            None
        } else {
            let pinned = crate::network::netns_path(&self.store.pod_run_dir(&self.uid));
            std::fs::File::open(&pinned)
                .ok()
                .and_then(|f| NetNs::start(Some(f.into())).ok())
        };
        match (pause, netns) {
            (Some(pid), Some(netns)) => {
                let pidfd = Process::of(pid).and_then(|p| pidfd_of(pid, p.start));
                let exited = self.adopted_exit(pid, pidfd);
                let tx = self.tx.clone();
                tokio::task::spawn_local(async move {
                    if exited.await.is_some() {
                        let _ = tx.send(Msg::PauseExited { pid });
                    }
                });
                if let Some(p) = Process::of(pid) {
                    self.processes.insert(PAUSE_PROCESS.into(), p);
                }
                self.pause_pid = Some(pid);
                self.netns = Some(netns);
                self.pod_ips = pod_ips;
            }
            // A sandbox that is not whole while containers run in it is
            // a dead sandbox: they are killed and it is made again.
            (pause, netns) if containers => {
                eprintln!(
                    "pod-supervisor: adopting: the sandbox is not whole (pause process: {}, network namespace: {}, pod IPs: {}); its containers are killed and it is made again",
                    pause.map_or("gone".to_string(), |p| p.to_string()),
                    if netns.is_some() { "held" } else { "lost" },
                    pod_ips.len()
                );
                self.netns = netns.or_else(|| NetNs::start(None).ok());
                self.pause_died = true;
                self.ready_to_start_containers(false);
            }
            _ => {
                if let Err(e) = rt.borrow_mut().forget_sandbox() {
                    eprintln!("pod-supervisor: removing the old sandbox: {e:#}");
                }
                self.ready_to_start_containers(false);
            }
        }
    }

    /// Adopts container `i`'s running instance (the probes to begin for
    /// it), or sets it where the status record left it (None).
    fn adopt_container(
        &mut self,
        i: usize,
        status: &Option<PodStatus>,
        backoff: Option<&BackOffRecord>,
        kept_tty: Option<OwnedFd>,
    ) -> Option<Vec<ProbeKind>> {
        let name = self.slots[i].spec.name.clone();
        let before = status_of(status, &name).cloned();
        let rt = self.runtime.clone().expect("resumed");
        let recorded = rt.borrow().recorded_container(&name);
        let reference = self.slots[i].spec.image.clone().unwrap_or_default();
        self.slots[i].image = self.images.resolve(&reference).ok().flatten();
        if let Some(b) = &before {
            self.slots[i].status = b.clone();
            // An instance of it ran (or a back-off was raised for it, which
            // only a restart does): its next start is a restart, counted,
            // with a new instance (and log), not that instance again.
            let ran = b.restart_count > 0
                || terminated(&b.state).is_some()
                || terminated(&b.last_state).is_some();
            self.slots[i].started_once |= ran || backoff.is_some();
        }
        // The crash-loop back-off goes on from where the dead one left it.
        if let Some(b) = backoff {
            let raised = self.clock.instant(b.raised_at);
            self.slots[i]
                .backoff
                .restore(Duration::from_millis(b.delay_ms), raised);
        }
        let mut inherited: Vec<(Stream, Option<OwnedFd>)> = STREAMS
            .iter()
            .map(|&s| (s, take_slot(keeper::slot(i, s))))
            .collect();
        if let Some((pid, start, instance)) = recorded {
            let pidfd = pidfd_of(pid, start);
            let reported = pidfd.is_none() && self.exit_reported(pid);
            if pidfd.is_some() || reported {
                let mut take = |stream| {
                    inherited
                        .iter_mut()
                        .find(|(s, _)| *s == stream)
                        .and_then(|(_, fd)| fd.take())
                };
                let output = match (
                    take(Stream::Stdout),
                    take(Stream::Stderr),
                    take(Stream::Tty),
                ) {
                    (Some(stdout), Some(stderr), _) => Some(Output::Pipes { stdout, stderr }),
                    (_, _, Some(master)) => master.try_clone().ok().map(Output::Tty),
                    _ => None,
                };
                let kept = Kept {
                    stdin: take(Stream::Stdin),
                    tty: take(Stream::Tty),
                };
                let kept = match (&output, kept.tty.is_none()) {
                    // The pty master: taken above for the output, kept
                    // again for attach.
                    (Some(Output::Tty(reader)), true) => Kept {
                        stdin: kept.stdin,
                        tty: reader.try_clone().ok(),
                    },
                    _ => kept,
                };
                // Its keeper died with the supervisor: nothing kept its
                // streams. They are opened again, and this keeper keeps
                // them, for the supervisor after this one.
                let orphan = pidfd.is_some() && parent_of(pid) != Some(keeper_pid());
                let nothing = output.is_none() && kept.stdin.is_none() && kept.tty.is_none();
                // Its terminal, which the pause process kept.
                let (output, kept) = match kept_tty.filter(|_| orphan && nothing) {
                    Some(master) => match master.try_clone() {
                        Ok(reader) => {
                            let output = Output::Tty(reader);
                            let kept = Kept {
                                stdin: None,
                                tty: Some(master),
                            };
                            self.keep_streams(i, &kept, &output);
                            (Some(output), kept)
                        }
                        Err(_) => (output, kept),
                    },
                    None => (output, kept),
                };
                let (output, kept) = match (output, kept) {
                    (
                        None,
                        Kept {
                            stdin: None,
                            tty: None,
                        },
                    ) if orphan => {
                        let (output, kept) = reopen_streams(pid);
                        if let Some(output) = &output {
                            self.keep_streams(i, &kept, output);
                        } else if let Some(stdin) = &kept.stdin
                            && let Some(slot) = keeper::slot(i, Stream::Stdin)
                        {
                            self.keeper.keep(slot, stdin.as_fd());
                        }
                        (output, kept)
                    }
                    taken => {
                        // Kept by the keeper: the pause process keeps it
                        // again too (`adopt` sends them all at once).
                        if let Some(master) = taken.1.tty.as_ref().and_then(|m| m.try_clone().ok())
                        {
                            self.ttys.insert(i, master);
                        }
                        taken
                    }
                };
                let probes = self.adopt_live(
                    i,
                    pid,
                    start,
                    instance,
                    pidfd,
                    kept,
                    output,
                    before.as_ref(),
                );
                return Some(probes);
            }
        }
        // Its slots held nothing running: the keeper lets them go.
        drop(inherited);
        self.release_streams(i);
        let slot = &mut self.slots[i];
        let role = slot.role;
        let done_ok = terminated(&slot.status.state).map(|t| t.exit_code);
        let running_before = slot
            .status
            .state
            .as_ref()
            .is_some_and(|s| s.running.is_some());
        match done_ok {
            Some(0) if role == Role::Init => {
                let _ = slot.retire();
            }
            Some(_) => {
                let _ = slot.exited(Instant::now());
            }
            None if running_before || recorded.is_some() => {
                // It ran and ended unseen: the kubelet's
                // ContainerStatusUnknown.
                let now = crate::duration::now();
                let started_at = slot
                    .status
                    .state
                    .as_ref()
                    .and_then(|s| s.running.as_ref())
                    .and_then(|r| r.started_at.clone());
                slot.status.state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 137,
                        reason: Some("ContainerStatusUnknown".into()),
                        message: Some(
                            "The container could not be located when the pod was terminated".into(),
                        ),
                        started_at,
                        finished_at: Some(Time(now)),
                        container_id: slot.status.container_id.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                slot.status.ready = false;
                slot.status.started = Some(false);
                slot.started_once = true;
                let _ = slot.exited(Instant::now());
            }
            None => {}
        }
        // A restart the dead one was waiting for (the end of a back-off,
        // which its status shows) stays when it was due. One that exited
        // unseen, or whose restart was not written down, is decided anew
        // with the back-off in force, from now.
        if let Some(at) = backoff.and_then(|b| b.restart_at) {
            let at = self.clock.instant(at);
            let slot = &mut self.slots[i];
            if matches!(slot.phase(), Phase::Idle) && slot.wait_until(at).is_ok() {
                self.wake_at(at);
            }
        }
        // What an instance being made or left behind holds is cleaned up
        // before it starts again.
        let count = self.slots[i].status.restart_count.max(0) as u32;
        let mut rt = rt.borrow_mut();
        for instance in [count, count + 1] {
            if let Err(e) = rt.cleanup_container(&name, instance) {
                eprintln!("pod-supervisor: cleaning up {name}: {e:#}");
            }
        }
        None
    }

    /// How adopted process `pid` (held by `pidfd`) ends: as the keeper
    /// reports it when it is the keeper's child (the dead supervisor's
    /// children became its keeper's) or the keeper reported its end; else
    /// it is an orphan of the host's init (its keeper died too): its
    /// pidfd says when, not how (`Exit::Unknown`). None when it ended and
    /// nobody will say so.
    fn adopted_exit(
        &self,
        pid: i32,
        pidfd: Option<OwnedFd>,
    ) -> Pin<Box<dyn Future<Output = Option<Exit>>>> {
        let keepers = match parent_of(pid) {
            Some(parent) => parent == keeper_pid(),
            // Gone since its pidfd was opened: reaped by the keeper, which
            // reports it, or by the host's init.
            None => self.exit_reported(pid),
        };
        match pidfd {
            Some(pidfd) if !keepers => Box::pin(async move { Some(ended_unseen(pidfd).await) }),
            _ => {
                let exited = self.reaper.adopt(pid);
                Box::pin(async move { exited.await.ok() })
            }
        }
    }

    /// Whether the keeper reported `pid`'s exit: looked for again for a
    /// moment, as the keeper reaps a process before it writes its exit.
    fn exit_reported(&self, pid: i32) -> bool {
        for _ in 0..5 {
            if let Some(exits) = &self.keeper_exits {
                self.reaper.take_reported(exits);
            }
            if self.reaper.was_reported(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn adopt_live(
        &mut self,
        i: usize,
        pid: i32,
        start: u64,
        instance: u32,
        pidfd: Option<OwnedFd>,
        kept: Kept,
        output: Option<Output>,
        before: Option<&ContainerStatus>,
    ) -> Vec<ProbeKind> {
        let name = self.slots[i].spec.name.clone();
        self.kill_orphaned_execs(&name, pid);
        // A postStart hook the dead supervisor had not seen end (its
        // record does not say Running) runs again. The kubelet's contract
        // is at-least-once delivery ("if a kubelet restarts in the middle
        // of sending a hook, the hook might be resent after the kubelet
        // comes back up", Container Lifecycle Hooks); its code takes such
        // a container as started and never runs the hook (issues 60053,
        // 122803). Failing the container instead would punish it for the
        // supervisor's death; taking the hook as done would start its
        // probes and count it Running on a hook that may never have run.
        let hook_again = self.slots[i].has_post_start()
            && before.is_none_or(|b| b.state.as_ref().is_none_or(|s| s.running.is_none()));
        let exited = self.adopted_exit(pid, pidfd.as_ref().and_then(|fd| fd.try_clone().ok()));
        let tap = attach::tap();
        let log_path =
            self.store
                .container_log((&self.namespace, &self.name, &self.uid), &name, instance);
        let logs = output.and_then(|output| {
            LogFile::create(&log_path, self.settings.rotation)
                .and_then(|log| stdio::pump(output, log, tap.clone()))
                .inspect_err(|e| eprintln!("pod-supervisor: logging {}: {e}", log_path.display()))
                .ok()
        });
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let exit = exited.await.unwrap_or(Exit::Signal(libc::SIGKILL));
            if let Some(logs) = logs {
                let _ = tokio::time::timeout(Duration::from_millis(500), logs).await;
            }
            let _ = tx.send(Msg::Exited { slot: i, pid, exit });
        });
        self.processes.insert(name.clone(), Process { pid, start });
        let slot = &mut self.slots[i];
        slot.started_once = true;
        let started_at = slot
            .status
            .state
            .as_ref()
            .and_then(|s| s.running.as_ref())
            .and_then(|r| r.started_at.as_ref())
            .map_or_else(crate::duration::now, |t| t.0);
        let closed = self.stdin_closed(i);
        let slot = &mut self.slots[i];
        let live = Live {
            pid,
            instance,
            started_at,
            container_id: slot.status.container_id.clone().unwrap_or_default(),
            probes: Vec::new(),
            attach: attach::Streams::new(
                kept,
                tap,
                slot.spec.stdin_once == Some(true),
                Some(closed),
            )
            .inspect_err(|e| eprintln!("pod-supervisor: streams for attach: {e}"))
            .ok(),
            stopping: false,
            hook_begun: !hook_again,
            hook_failed: false,
            killed: false,
            unhealthy: None,
            pre_stop_done: None,
            pidfd,
        };
        if let Err(e) = slot.adopted(live, hook_again) {
            eprintln!("pod-supervisor: {e}");
            return Vec::new();
        }
        if hook_again {
            eprintln!(
                "pod-supervisor: the postStart hook of container {name} had not ended: running it again"
            );
            // Waiting as recorded until the hook ends; probes begin then,
            // as after any start (`became_running`).
            slot.status.started = Some(false);
            slot.status.ready = false;
            return Vec::new();
        }
        let started = before.is_some_and(|b| b.started == Some(true));
        let ready = before.is_some_and(|b| b.ready);
        let p = probes::Probes::of(&slot.spec);
        let mut gate = if started {
            probes::on_started(p)
        } else {
            probes::on_running(p)
        };
        // Readiness as it was, until the next verdict says otherwise.
        if p.readiness && started {
            gate.ready = ready;
        }
        slot.status.started = Some(gate.started);
        slot.status.ready = gate.ready;
        if slot
            .status
            .state
            .as_ref()
            .is_none_or(|s| s.running.is_none())
        {
            slot.status.state = Some(ContainerState {
                running: Some(k8s_openapi::api::core::v1::ContainerStateRunning {
                    started_at: Some(Time(started_at)),
                }),
                ..Default::default()
            });
        }
        gate.start
    }
}
