//! `pod up`: what the kubelet does when it starts on a node that
//! restarted. The run root (a tmpfs) is empty, so no stored pod has a
//! supervisor and every process of every pod is gone; the pods' records,
//! status, logs and volumes are on disk. Each stored pod bound to this
//! node is taken as the kubelet takes the pods bound to it:
//!
//! - finished (Succeeded, Failed): left as it is;
//! - being deleted when the node went down: its deletion is finished;
//! - restartPolicy Never with a container started: it will not run
//!   again: its status is written as `store::restarted` reads it (Failed,
//!   its containers `ContainerStatusUnknown`) and what it held of the node
//!   is let go;
//! - anything else: what it held is let go (cgroups, network attachment
//!   and address, writable layers) and a new supervisor runs it again,
//!   its containers counting on from their restart counts.
//!
//! A pod whose supervisor runs is left to it; one whose supervisor died
//! while the node ran (its pid file still there) is not a restart: it is
//! left to its keeper, which starts one that adopts it, and when the
//! keeper died too (`kill -9` of both, the OOM killer), `up` starts a
//! supervisor that adopts what runs of it, as a kubelet restarted by
//! systemd adopts the containers its runtime kept (`supervisor::lifecycle::adopt`).
//! Pods waiting for the node are then scheduled as after any change. Run it at boot (the
//! systemd unit `pod.service`), or by hand: a second run finds every pod
//! supervised and does nothing.

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;

use super::Termination;
use crate::api::phase::{FAILED, is_terminal};
use crate::api::{Kind, Object};
use crate::store::record::{Records, SupervisorState};
use crate::store::{Detail, Store, pod_uid};

/// What became of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new supervisor runs it.
    Started,
    /// Its supervisor and keeper had died: a new supervisor adopts it.
    Adopted,
    /// Restart policy Never: Failed, its containers lost with the node.
    Failed,
    /// It was being deleted; its deletion is finished.
    Deleted,
}

/// What `up` did.
pub struct Report {
    /// What became of each pod it acted on, in the order pods are listed.
    pub done: Vec<(Pod, Outcome)>,
    /// Why it could not act on others (each error names its pod).
    pub errors: Vec<anyhow::Error>,
}

/// Brings back every stored pod of this node (see the module
/// documentation); a pod it cannot act on does not stop the others.
pub fn up(store: &Store) -> Result<Report> {
    let node = crate::node::current(store)?
        .metadata
        .name
        .unwrap_or_default();
    // The network's leftovers of pods gone before the restart (failed
    // DELs) are collected at the node's start, as containerd does, and
    // whenever `up` is run by hand.
    crate::network::gc_now(store);
    let mut done = Vec::new();
    let mut errors = Vec::new();
    let mut starting = Vec::new();
    for read in store.list_each(Kind::Pod, None, Detail::Full)? {
        let pod = match read {
            Ok(Object::Pod(pod)) => *pod,
            Ok(_) => continue,
            Err(e) => {
                errors.push(e.into());
                continue;
            }
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let result = (|| -> Result<Option<Outcome>> {
            let uid = pod_uid(&pod)?.to_string();
            let records = Records::new(&store.pod_run_dir(&uid));
            let bound_here =
                pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str());
            let orphaned = match records.supervisor_state() {
                SupervisorState::Never => false,
                SupervisorState::Gone if records.live_keeper().is_none() => true,
                // Supervised, or its keeper starts the next supervisor.
                _ => return Ok(None),
            };
            if !bound_here {
                return Ok(None);
            }
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            // The record as written: a pod that had finished before the
            // node went down stays finished.
            let recorded = store.read_pod_status(&namespace, &name)?;
            if is_terminal(recorded.as_ref().and_then(|s| s.phase.as_deref())) {
                return Ok(None);
            }
            if pod.metadata.deletion_timestamp.is_some() {
                super::delete(store, &pod, Termination::Immediate, true)?;
                return Ok(Some(Outcome::Deleted));
            }
            if orphaned {
                starting.push((pod.clone(), super::recover(store, &pod)?, Outcome::Adopted));
                return Ok(None);
            }
            // The status as read now, the kubelet's view of a pod whose
            // containers the restart took (`store::restarted`), is written
            // down: once the new supervisor holds its lock, its record is
            // what `get` shows, and until its first report that would
            // still be the dead one's last (Running and ready, as before
            // the restart). Read again, the status is the same.
            let now = pod.status.clone().unwrap_or_default();
            if recorded.is_some() {
                store.write_pod_status(&namespace, &name, &now)?;
            }
            if now.phase.as_deref() == Some(FAILED) {
                super::terminate::release(store, &pod, &records)?;
                return Ok(Some(Outcome::Failed));
            }
            super::terminate::release(store, &pod, &records)?;
            starting.push((
                pod.clone(),
                super::start_stored(store, &pod)?,
                Outcome::Started,
            ));
            Ok(None)
        })();
        match result {
            Ok(Some(outcome)) => done.push((pod, outcome)),
            Ok(None) => {}
            Err(e) => errors.push(e.context(format!("pod {name:?}"))),
        }
    }
    for (pod, started, outcome) in starting {
        match started.wait(store) {
            Ok(()) => done.push((pod, outcome)),
            Err(e) => errors.push(e),
        }
    }
    // In the order pods are listed, whatever the order they ended in.
    done.sort_by(|(a, _), (b, _)| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    if let Err(e) = super::schedule::retry(store) {
        errors.push(e.context("scheduling the waiting pods"));
    }
    Ok(Report { done, errors })
}
