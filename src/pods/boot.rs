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
//! keeper died too (`kill -9` of both, the OOM killer), `up` takes it
//! back as any read does (`pods::revive`): a new supervisor adopts what
//! runs of it, as a kubelet restarted by systemd adopts the containers
//! its runtime kept (`supervisor::lifecycle::adopt`). One being deleted
//! is taken back too: the new supervisor goes on with its deletion
//! (preStop hooks, what is left of the grace period) and removes it, as
//! `delete` itself does. One whose runtime record this build cannot read
//! is an error, left to `delete`. Pods waiting for the node are then
//! scheduled as after any change. Run it at boot (the systemd unit
//! `pod.service`), or by hand: a second run finds every pod supervised
//! and does nothing.

use anyhow::{Context, Result};
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
    /// The same, while it was being deleted: the new supervisor goes on
    /// with the deletion.
    AdoptedTerminating,
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
    // Taken back at once, after the others' supervisors are started.
    let mut lost = Vec::new();
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
            let orphaned = match records.settled_supervisor_state(super::revive::DYING_PATIENCE) {
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
            if orphaned {
                // What runs of it cannot be adopted (`pods::revive`).
                crate::runtime::PodRuntime::open(store, &pod).with_context(|| {
                    let place = match namespace.as_str() {
                        "default" => String::new(),
                        other => format!(" -n {other}"),
                    };
                    format!(
                        "its supervisor and keeper died and its runtime cannot be resumed; \
                         left as it is (`pod delete pod {name}{place}` kills what its records name)"
                    )
                })?;
                lost.push(pod.clone());
                return Ok(None);
            }
            // Nothing of it runs since the node restarted.
            if pod.metadata.deletion_timestamp.is_some() {
                super::delete(store, &pod, Termination::Immediate, true)?;
                return Ok(Some(Outcome::Deleted));
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
    let revived = super::revive(store, &lost.iter().collect::<Vec<_>>());
    for (pod, revived) in lost.into_iter().zip(revived) {
        match adopted(store, &pod, revived) {
            Ok(Some(outcome)) => done.push((pod, outcome)),
            Ok(None) => {}
            Err(e) => errors.push(e),
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

/// What became of a pod whose supervisor and keeper had died, given
/// whether `revive` took it back. It did not when another command did
/// first (the pod is supervised again: not this run's to report), when
/// the pod ended or went meanwhile, or when the new supervisor did not
/// start, which is an error.
fn adopted(store: &Store, pod: &Pod, revived: bool) -> Result<Option<Outcome>> {
    let terminating = pod.metadata.deletion_timestamp.is_some();
    if revived {
        return Ok(Some(match terminating {
            true => Outcome::AdoptedTerminating,
            false => Outcome::Adopted,
        }));
    }
    let uid = pod_uid(pod)?;
    let records = Records::new(&store.pod_run_dir(uid));
    let still_lost =
        records.supervisor_state() == SupervisorState::Gone && records.live_keeper().is_none();
    if !still_lost {
        return Ok(None);
    }
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    anyhow::bail!(
        "pod {name:?}: its supervisor and keeper died and a new supervisor did not take it back \
         (see {})",
        records.dir().join(crate::store::record::LOG_FILE).display()
    )
}
