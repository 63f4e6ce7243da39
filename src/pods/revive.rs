//! A pod whose supervisor and keeper both died (`kill -9` of both, the OOM
//! killer) is taken back by the next command that reads it (`get`,
//! `describe`, `wait`, `logs`, `attach`, the API server's reads) or
//! deletes it, as systemd restarts a killed kubelet, which adopts what its
//! runtime kept running: a new supervisor adopts the pod (`pods::recover`,
//! `supervisor::lifecycle::adopt`), and the command reads it again, or
//! asks the new supervisor to stop it.
//!
//! Only a pod that reads Unknown is looked at by a read (its supervisor
//! is gone, `store::observed`), so a command that reads supervised pods
//! pays nothing. It is left alone when its keeper lives (the keeper starts
//! the next supervisor itself, after a back-off if they keep dying), when
//! no supervisor ever ran it here (the node restarted: `pod up` brings it
//! back, `pods::boot`), and when it is finished. A pod being deleted is
//! taken back too: the new supervisor goes on with the deletion, with what
//! is left of its grace period, and removes the pod at its end, as a
//! restarted kubelet finishes the deletions it finds; so a Terminating pod
//! does not stay Terminating and Unknown for good. The check and the start
//! are made under the pod's lock, which `delete` holds while it marks the
//! pod and while it does a dead supervisor's work itself
//! (`pods::terminate`), so a pod is never adopted while that command tears
//! it down.

use k8s_openapi::api::core::v1::Pod;

use crate::api::Kind;
use crate::api::Object;
use crate::api::phase::{UNKNOWN, is_terminal};
use crate::store::record::{Records, SupervisorState};
use crate::store::{Detail, Store, pod_uid};

/// Whether `pod`, as read, may have lost its supervisor and keeper: it
/// reads Unknown (which only a gone supervisor makes it).
pub fn maybe_lost(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(UNKNOWN)
}

/// Starts a supervisor that adopts each of `pods` whose supervisor and
/// keeper both died, all at once, and waits until each listens. Returns,
/// for each pod, whether it was revived (a supervisor that failed to
/// start says why in its log, `supervisor.log` of the run directory, and
/// the pod reads Unknown as before).
pub fn revive(store: &Store, pods: &[&Pod]) -> Vec<bool> {
    adopt(store, pods, maybe_lost)
        .into_iter()
        .map(|revived| revived.unwrap_or(false))
        .collect()
}

/// Starts a supervisor that adopts `pod`, about to be deleted, if its
/// supervisor and keeper both died, and waits until it listens: `delete`
/// then asks it to stop the pod, which runs the preStop hooks and gives
/// the containers their grace period, as the kubelet, restarted by
/// systemd, stops a pod deleted while it was down. Whether it was revived;
/// an error says why a lost pod was not (`delete` then kills what its
/// records name). `pod` may be the manifest alone (no status): its
/// records are looked at instead, without the lock first, so a delete of
/// a supervised pod pays two small reads.
pub fn revive_to_delete(store: &Store, pod: &Pod) -> anyhow::Result<bool> {
    let lost =
        |pod: &Pod| pod_uid(pod).is_ok_and(|uid| orphaned(&Records::new(&store.pod_run_dir(uid))));
    adopt(store, &[pod], lost).remove(0)
}

/// Whether the pod of `records` had a supervisor, and it and its keeper
/// are both gone.
fn orphaned(records: &Records) -> bool {
    records.settled_supervisor_state(DYING_PATIENCE) == SupervisorState::Gone
        && records.live_keeper().is_none()
}

/// How long a supervisor killed a moment ago may take to let go of its
/// pod (`Records::settled_supervisor_state`).
pub(super) const DYING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// [`revive`] of the pods that `lost` picks: for each, whether it was
/// revived, or why a lost one could not be.
fn adopt(store: &Store, pods: &[&Pod], lost: impl Fn(&Pod) -> bool) -> Vec<anyhow::Result<bool>> {
    let mut revived: Vec<anyhow::Result<bool>> = pods.iter().map(|_| Ok(false)).collect();
    let mut starting = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        if !lost(pod) {
            continue;
        }
        match claim(store, pod) {
            Ok(Some((lock, pod))) => match super::recover(store, &pod) {
                Ok(started) => starting.push((i, lock, started)),
                Err(e) => revived[i] = Err(e),
            },
            Ok(None) => {}
            Err(e) => revived[i] = Err(e),
        }
    }
    for (i, lock, started) in starting {
        revived[i] = started.wait(store).map(|()| true);
        // The new supervisor holds the pod now (its lock, its socket):
        // a `delete` waiting for the pod's lock asks it.
        drop(lock);
    }
    revived
}

/// The pod as stored, under its lock, if it is still this pod, not
/// finished, and its supervisor and keeper are both gone.
fn claim(store: &Store, pod: &Pod) -> anyhow::Result<Option<(crate::store::Lock, Pod)>> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let uid = pod_uid(pod)?;
    let lock = store.lock(Kind::Pod, namespace, name)?;
    let Some(Object::Pod(stored)) = store.get_as(Kind::Pod, namespace, name, Detail::Manifest)?
    else {
        return Ok(None);
    };
    if stored.metadata.uid.as_deref() != Some(uid) {
        return Ok(None);
    }
    if !orphaned(&Records::new(&store.pod_run_dir(uid))) {
        return Ok(None);
    }
    // One whose runtime record this build cannot read (of a newer
    // format): a new supervisor could not adopt what runs of it and would
    // start it anew beside it; it is left Unknown, and `delete` kills
    // what the records name.
    if crate::runtime::PodRuntime::open(store, &stored).is_err() {
        return Ok(None);
    }
    let recorded = store.read_pod_status(namespace, name)?;
    if is_terminal(recorded.as_ref().and_then(|s| s.phase.as_deref())) {
        return Ok(None);
    }
    Ok(Some((lock, *stored)))
}
