//! The sandbox: the pod bound to this node, the pause process and the
//! network namespace the containers join.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::runtime::PodRuntime;
use crate::runtime::netns::NetNs;
use crate::store::record::Process;
use crate::supervisor::events::{Source, Type};

use super::Supervisor;

impl Supervisor {
    /// The scheduler's part: the pod is bound to this node at once.
    pub(super) fn begin(&mut self) {
        let node = crate::node::name();
        let message = format!(
            "Successfully assigned {}/{} to {node}",
            self.namespace, self.name
        );
        let _ = self
            .events
            .record(None, Type::Normal, Source::Scheduler, "Scheduled", &message);
        let now = crate::duration::now();
        self.conditions.set("PodScheduled", true, None, None, now);
        if self.spec.node_name.is_none()
            && let Err(e) = self.bind(&node)
        {
            eprintln!("pod-supervisor: recording spec.nodeName: {e:#}");
        }
        self.admit();
    }

    pub(super) fn bind(&mut self, node: &str) -> Result<()> {
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

    // ----- the sandbox -----

    /// Creates the sandbox (`decide::Action::CreateSandbox`); a failure is
    /// counted in its back-off, and the decision says when to retry.
    /// Always decided again at once.
    pub(super) fn ensure_sandbox(&mut self) -> bool {
        if self.netns.is_some() {
            return true;
        }
        match self.start_sandbox() {
            Ok(()) => {
                self.conditions.set(
                    "PodReadyToStartContainers",
                    true,
                    None,
                    None,
                    crate::duration::now(),
                );
                true
            }
            Err(e) => {
                let message = format!("Failed to create pod sandbox: {e:#}");
                self.event(None, Type::Warning, "FailedCreatePodSandBox", &message);
                self.conditions.set(
                    "PodReadyToStartContainers",
                    false,
                    None,
                    None,
                    crate::duration::now(),
                );
                let now = Instant::now();
                self.sandbox_backoff.restarted(now);
                self.sandbox_failed = Some(now);
                true
            }
        }
    }

    pub(super) fn start_sandbox(&mut self) -> Result<()> {
        if self.runtime.is_none() {
            let mut rt = PodRuntime::prepare(&self.store, &self.pod)?;
            for warning in rt.take_dns_warnings() {
                self.event(None, Type::Warning, warning.reason, &warning.message);
            }
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
}
