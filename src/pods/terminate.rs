//! `pod delete` for one pod: mark it Terminating, ask its supervisor to
//! stop it and wait for the end. A pod whose supervisor and keeper both
//! died gets a new supervisor first (`pods::revive`), which stops it as
//! any other: preStop hooks, then the grace period. When no supervisor
//! answers, its work is done here from the records it left (kill the
//! pod's processes, tear the runtime state down, remove the files).

use std::fs;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::SignedDuration;

use super::Termination;
use super::client::Client;
use crate::api::{Kind, Object};
use crate::store::record::Records;
use crate::store::{Detail, Store, pod_uid};
use crate::supervisor::socket::{Reply, Request};

/// Stops a pod and removes everything it left.
pub fn delete(store: &Store, pod: &Pod, how: Termination, wait: bool) -> Result<()> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod_uid(pod)?.to_string();
    let grace = match how {
        Termination::PodDefault => pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64,
        Termination::Grace(n) => n,
        Termination::Immediate => 0,
    };
    let force = how == Termination::Immediate;
    // Before the mark, so the new supervisor stops the pod for this
    // delete's request, with its grace period whole. Killed at once
    // anyway, a forced deletion needs none.
    let records = Records::new(&store.pod_run_dir(&uid));
    if !force && let Err(e) = super::revive_to_delete(store, pod) {
        records.note(&format!("delete: no new supervisor: {e:#}"));
    }
    match mark_terminating(store, &namespace, &name, &uid, grace) {
        // On a full disk the mark cannot be written; the deletion, which
        // frees space, goes on without it.
        Err(e) if disk_full(&e) => {}
        other => other?,
    }
    crate::fault::point("delete-marked");
    // The socket is asked even when the pid file does not name a live
    // supervisor (a corrupt record): a supervisor that answers stops the
    // pod itself, and a dead one's socket refuses at once.
    if let Some(outcome) = ask_supervisor(
        store,
        (&namespace, &name, &uid),
        &records,
        grace,
        force,
        wait,
    )? && (outcome == Outcome::Deleted || !wait)
    {
        return Ok(());
    }
    // No supervisor (or it died on the way): its work is done here.
    records.note("delete: no supervisor answered; what the records name is killed");
    clean_up(store, pod, &records)?;
    Ok(())
}

/// Deletes a pod whose stored manifest cannot be read (`record` names
/// the file; `why` is the store's error): its uid, which names everything
/// else the pod holds, is found from its log directories
/// (`logs/<ns>_<name>_<uid>`, the kubelet's layout, unambiguous since
/// names have no `_`). A supervisor still running is asked to stop its
/// pod (it knows the spec; the grace period is the one asked for, or
/// Kubernetes' default of 30 seconds); then what any of those uids left
/// is torn down as for a dead supervisor, and the record is removed.
/// Says on stderr which file was damaged.
pub fn delete_damaged(
    store: &Store,
    (namespace, name): (&str, &str),
    why: crate::store::StoreError,
    how: Termination,
) -> Result<()> {
    let grace = match how {
        Termination::PodDefault => 30,
        Termination::Grace(n) => n,
        Termination::Immediate => 0,
    };
    eprintln!(
        "Warning: {:#}; deleting pod {name:?} by what its uid left",
        anyhow::Error::new(why)
    );
    for uid in store.pod_uids_in_logs(namespace, name) {
        let records = Records::new(&store.pod_run_dir(&uid));
        // A supervisor that stops its pod itself runs the preStop hooks
        // and honours the grace period; it cannot remove the damaged
        // record, which is done below. It is waited for (whatever
        // --wait says): what it leaves is torn down next.
        let _ = ask_supervisor(store, (namespace, name, &uid), &records, grace, false, true);
        let pod = Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                uid: Some(uid.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        tear_down(store, &pod, &records)?;
    }
    let _lock = store.lock(Kind::Pod, namespace, name)?;
    // Only if it is still the damaged record (not a pod created since).
    if store
        .get_as(Kind::Pod, namespace, name, Detail::Manifest)
        .is_err()
    {
        store.remove(Kind::Pod, namespace, name)?;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Deleted,
}

/// Sends the delete request; None when the supervisor does not answer.
fn ask_supervisor(
    store: &Store,
    (namespace, name, uid): (&str, &str, &str),
    records: &Records,
    grace: u64,
    force: bool,
    wait: bool,
) -> Result<Option<Outcome>> {
    let Ok(mut client) = Client::connect(&records.socket()) else {
        return Ok(None);
    };
    client.send(&Request::Delete {
        grace_period_seconds: grace,
        force,
    })?;
    match client.reply() {
        Ok(Some(Reply::Accepted)) if force => {
            // Force deletion: the pod is gone from the API at once; the
            // supervisor (which now writes nothing) still kills it.
            remove_record(store, namespace, name, uid)?;
        }
        Ok(Some(Reply::Accepted)) => crate::fault::point("delete-accepted"),
        Ok(Some(Reply::Error { message })) => anyhow::bail!("{message}"),
        _ => return Ok(None),
    }
    if !wait {
        return Ok(Some(Outcome::Accepted));
    }
    loop {
        match client.reply() {
            Ok(Some(Reply::Deleted)) => return Ok(Some(Outcome::Deleted)),
            Ok(Some(_)) => continue,
            // The supervisor died before finishing.
            Ok(None) | Err(_) => return Ok(Some(Outcome::Accepted)),
        }
    }
}

/// Sets metadata.deletionTimestamp (now + grace, as the API server does)
/// and deletionGracePeriodSeconds, so that `get` shows Terminating.
fn mark_terminating(
    store: &Store,
    namespace: &str,
    name: &str,
    uid: &str,
    grace: u64,
) -> Result<()> {
    let _lock = store.lock(Kind::Pod, namespace, name)?;
    let Some(Object::Pod(mut pod)) = store.get_as(Kind::Pod, namespace, name, Detail::Manifest)?
    else {
        return Ok(());
    };
    if pod.metadata.uid.as_deref() != Some(uid) {
        return Ok(());
    }
    let grace = grace as i64;
    // A second delete may shorten the grace period, never lengthen it.
    if pod
        .metadata
        .deletion_grace_period_seconds
        .is_some_and(|g| g <= grace)
    {
        return Ok(());
    }
    let at = crate::duration::now() + SignedDuration::from_secs(grace);
    pod.metadata.deletion_timestamp = Some(Time(at));
    pod.metadata.deletion_grace_period_seconds = Some(grace);
    store.replace(&Object::Pod(pod))?;
    Ok(())
}

/// Whether `e` is a write refused for want of space.
fn disk_full(e: &anyhow::Error) -> bool {
    let full = |io: &std::io::Error| {
        matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    };
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(full)
            || matches!(
                cause.downcast_ref::<crate::store::StoreError>(),
                Some(crate::store::StoreError::Io { error, .. }) if full(error)
            )
    })
}

/// Removes the pod record if it is still this pod (not a new one of the
/// same name).
fn remove_record(store: &Store, namespace: &str, name: &str, uid: &str) -> Result<()> {
    let _lock = store.lock(Kind::Pod, namespace, name)?;
    remove_record_locked(store, namespace, name, uid)
}

/// [`remove_record`], the pod's lock held by the caller.
fn remove_record_locked(store: &Store, namespace: &str, name: &str, uid: &str) -> Result<()> {
    if let Some(Object::Pod(p)) = store.get_as(Kind::Pod, namespace, name, Detail::Manifest)?
        && p.metadata.uid.as_deref() == Some(uid)
    {
        store.remove(Kind::Pod, namespace, name)?;
    }
    Ok(())
}

/// The supervisor's work, done without it: every recorded process killed,
/// the runtime's state torn down, the files removed.
fn clean_up(store: &Store, pod: &Pod, records: &Records) -> Result<()> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod_uid(pod)?.to_string();
    // Under the pod's lock: a command that reads the pod meanwhile does
    // not start a supervisor to adopt what is torn down here
    // (`pods::revive`); it waits, then finds the pod gone.
    let _lock = store.lock(Kind::Pod, &namespace, &name)?;
    tear_down(store, pod, records)?;
    crate::fault::point("delete-torn-down");
    remove_record_locked(store, &namespace, &name, &uid)
}

/// `clean_up` but for the pod record: processes, runtime state, logs and
/// the run directory.
fn tear_down(store: &Store, pod: &Pod, records: &Records) -> Result<()> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod_uid(pod)?.to_string();
    let _ = fs::remove_dir_all(store.pod_log_dir(&namespace, &name, &uid));
    release(store, pod, records)
}

/// What a pod holds of the node while it runs, let go: its processes
/// killed, its runtime state torn down (cgroups, mounts, network
/// attachment and address, writable layers, user namespace range), its
/// run directory removed. Its record, logs and volumes stay.
pub(super) fn release(store: &Store, pod: &Pod, records: &Records) -> Result<()> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    // The keeper goes first, with every supervisor of its process group
    // (it is their session leader), so that no new supervisor adopts
    // what is killed next; then a supervisor that is alive but does not
    // answer, so that it cannot restart what is killed next.
    if let Some(keeper) = records.live_keeper() {
        // The group of a process checked against its start time.
        let _ = crate::process::kill_group(keeper.pid, libc::SIGKILL);
    }
    if let Some(sup) = records.live_supervisor() {
        // kill(2) on a pid checked against its start time.
        let _ = crate::process::kill(sup.pid, libc::SIGKILL);
    }
    for process in records.processes()?.values() {
        if process.is_alive() {
            // Checked as above.
            let _ = crate::process::kill(process.pid, libc::SIGKILL);
        }
    }
    crate::fault::point("delete-killed");
    let torn_down =
        crate::runtime::PodRuntime::open_to_tear_down(store, pod).and_then(|mut rt| rt.teardown());
    if let Err(e) = torn_down {
        eprintln!("Warning: tearing down pod {name:?}: {e:#}");
    }
    // What a supervisor killed after its pod's deletion was answered
    // left buried (`store::graves`).
    store.empty_graves();
    match fs::remove_dir_all(records.dir()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", records.dir().display())),
    }
}
