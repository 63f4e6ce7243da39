//! The sandbox: the pod bound to this node, the pause process and the
//! network namespace the containers join, on the pod network.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::network::cni::Cancel;
use crate::runtime::PodRuntime;
use crate::runtime::netns::NetNs;
use crate::store::events::Type;
use crate::store::record::{PAUSE_PROCESS, Process};

use super::{Msg, Supervisor};

impl Supervisor {
    /// The pod starts bound to this node (the scheduler's queue bound
    /// it, or its manifest named the node): PodScheduled, then the
    /// kubelet's admission.
    pub(super) fn begin(&mut self) {
        let now = crate::duration::now();
        self.conditions.set("PodScheduled", true, None, None, now);
        self.admit();
    }

    // ----- the sandbox -----

    /// Whether the sandbox is ready: the pause process runs and the pod
    /// is on the network. The network's ADD runs on a thread (a plugin may
    /// take up to its time limit): until it reports, this says no, and
    /// the loop goes on answering `delete`.
    pub(super) fn ensure_sandbox(&mut self) -> bool {
        if self.netns.is_some() {
            return true;
        }
        if self.network.is_some() {
            return false;
        }
        match self.start_sandbox() {
            Ok(true) => {
                self.sandbox_ready();
                true
            }
            Ok(false) => {
                // While the ADD runs (see `prepare`).
                self.hold_first_starts();
                false
            }
            Err(e) => {
                self.sandbox_creation_failed(&format!("{e:#}"));
                true
            }
        }
    }

    fn sandbox_ready(&mut self) {
        self.ready_to_start_containers(true);
    }

    /// PodReadyToStartContainers: the sandbox is up and on the network,
    /// or not (not yet, failed, torn down). The one place it is set.
    pub(super) fn ready_to_start_containers(&mut self, ready: bool) {
        let now = crate::duration::now();
        self.conditions
            .set("PodReadyToStartContainers", ready, None, None, now);
    }

    /// The kubelet's FailedCreatePodSandBox; the decision retries it at
    /// the pod worker's requeue.
    fn sandbox_creation_failed(&mut self, error: &str) {
        let message = format!("Failed to create pod sandbox: {error}");
        self.event(None, Type::Warning, "FailedCreatePodSandBox", &message);
        self.ready_to_start_containers(false);
        self.sandbox_failed = Some(Instant::now());
    }

    /// Starts the pause process (unless one from an earlier try runs) and
    /// then the network's ADD; true when the sandbox is ready at once
    /// (host network), false when ADD reports later (`network_done`).
    pub(super) fn start_sandbox(&mut self) -> Result<bool> {
        // A runtime new to this supervisor has its files made (beside the
        // pause process's start, if it starts one); it is kept once they
        // are.
        let (rt, files) = match self.runtime.clone() {
            Some(rt) => (rt, false),
            None => {
                let rt =
                    PodRuntime::prepare(&self.store, &self.pod, &self.node_config, &self.host_ip)?;
                (Rc::new(RefCell::new(rt)), true)
            }
        };
        let running = rt.borrow().sandbox_pid();
        let mut readied = Vec::new();
        let mut started = None;
        match running {
            Some(_) if files => rt.borrow_mut().prepare_files()?,
            Some(_) => {}
            None => {
                let (pause, made) = self.start_pause(&mut rt.borrow_mut(), files)?;
                started = Some(pause);
                readied = made;
            }
        }
        if files {
            let warnings = rt.borrow_mut().take_dns_warnings();
            for warning in warnings {
                self.event(None, Type::Warning, warning.reason, &warning.message);
            }
            self.runtime = Some(rt.clone());
        }
        let pause = match (running, started) {
            (Some(pid), _) => pid,
            (None, started) => {
                let started = started.expect("started when none ran");
                let started = rt.borrow_mut().place_sandbox(started)?;
                if let Some(p) = Process::of(started.pid) {
                    self.processes.insert(PAUSE_PROCESS.into(), p);
                    self.write_processes();
                }
                // The pause process lives as long as the pod; its exit is
                // reaped here so it never lingers as a zombie, and its
                // death before the pod's end is the sandbox's.
                let exited = self.reaper.wait(started.pid);
                let (tx, pid) = (self.tx.clone(), started.pid);
                tokio::task::spawn_local(async move {
                    if exited.await.is_ok() {
                        let _ = tx.send(Msg::PauseExited { pid });
                    }
                });
                self.pause_pid = Some(pid);
                pid
            }
        };
        if self.spec.host_network == Some(true) {
            // The host's namespace: no CNI call.
            self.netns = Some(NetNs::start(None)?);
            self.hold_readied(&rt, readied);
            return Ok(true);
        }
        let network = self.node_config.network.clone();
        let cancel = Cancel::default();
        let (store, pod, tx) = (self.store.clone(), self.pod.clone(), self.tx.clone());
        let stop = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("pod-network".into())
            .spawn(move || {
                let result = crate::network::attach(&store, &network, &pod, pause, &stop)
                    .map_err(|e| format!("rpc error: code = Unknown desc = {e:#}"));
                let _ = tx.send(Msg::Network { result });
            })
            .context("starting the network thread")?;
        self.network = Some(PendingNetwork { cancel, thread });
        // Forked once the ADD runs: they set themselves up beside it.
        self.hold_readied(&rt, readied);
        Ok(false)
    }

    /// The network's ADD reported.
    pub(super) fn network_done(&mut self, result: Result<Vec<IpAddr>, String>) {
        let Some(pending) = self.network.take() else {
            return;
        };
        // It sent its last word: the join is immediate.
        let _ = pending.thread.join();
        let entered = result.and_then(|ips| {
            let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
            let rt = self.runtime.clone().expect("prepared");
            if let Err(e) = rt.borrow().write_hosts(&ips) {
                eprintln!("pod-supervisor: writing /etc/hosts: {e:#}");
            }
            let pinned = crate::network::netns_path(&self.store.pod_run_dir(&self.uid));
            let ns = std::fs::File::open(&pinned)
                .map_err(|e| format!("opening {}: {e}", pinned.display()))?;
            let netns = NetNs::start(Some(ns.into())).map_err(|e| e.to_string())?;
            self.pod_ips = ips;
            Ok(netns)
        });
        match entered {
            Ok(netns) => {
                self.netns = Some(netns);
                self.sandbox_ready();
            }
            Err(message) => {
                // None of the pod's programs runs on a sandbox that failed.
                self.end_held();
                self.sandbox_creation_failed(&message);
            }
        }
    }

    /// The pause process died (or is dying) before the pod's end: the
    /// kubelet's sandbox that is not ready any more. The decision kills
    /// the containers and re-creates the sandbox (`decide::sandbox`).
    pub(super) fn pause_gone(&mut self) {
        let sandbox_up = self.netns.is_some() || self.network.is_some();
        let ending = self.stage.stopping().is_some() || self.stage.terminal();
        if self.pause_died || !sandbox_up || ending {
            return;
        }
        eprintln!("pod-supervisor: the pause process died; the sandbox is re-created");
        self.pause_died = true;
        self.ready_to_start_containers(false);
    }

    /// Whether the pause process is gone or on its way out: with a shared
    /// PID namespace the kernel kills the containers while the pause
    /// exits, so their exits are collected before the pause's own.
    pub(super) fn pause_exiting(&self) -> bool {
        self.pause_pid
            .is_some_and(|pid| !crate::process::running(pid))
    }

    /// Lets the dead sandbox go, so that the next `CreateSandbox` starts a
    /// new pause process and network (the network's ADD runs the old
    /// attachment's DEL first, in the old namespace, still pinned).
    pub(super) fn replace_sandbox(&mut self) {
        self.cancel_network();
        self.netns = None;
        self.pause_pid = None;
        self.pause_died = false;
        self.sandbox_announced = false;
        self.sandbox_failed = None;
        self.sandbox_retry = None;
        self.processes.remove(PAUSE_PROCESS);
        self.write_processes();
        // Made for the dead pause process's namespaces.
        self.end_held();
        if let Some(rt) = &self.runtime
            && let Err(e) = rt.borrow_mut().forget_sandbox()
        {
            eprintln!("pod-supervisor: removing the dead sandbox: {e:#}");
        }
    }

    /// Stops an ADD still running (a deletion came first), before the
    /// teardown runs DEL.
    pub(super) fn cancel_network(&mut self) {
        if let Some(pending) = self.network.take() {
            pending.cancel.cancel();
            let _ = pending.thread.join();
        }
        self.end_held();
    }
}

/// The network's ADD on its thread.
pub(super) struct PendingNetwork {
    cancel: Cancel,
    thread: std::thread::JoinHandle<()>,
}
