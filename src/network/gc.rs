//! What the pod network leaves when a DEL fails, and getting it back.
//!
//! A DEL that fails (a plugin's error, its time limit) keeps the
//! attachment cached, as libcni does, and leaves a note in
//! `<root>/cni/retry/` (one file per attachment, named as its cache file,
//! with the failure count and the last error). Every supervisor, at its
//! pod's end and after it answered the `delete` that asked for it,
//! retries the notes that are due (1 s after the first failure, doubling
//! to 5 min) of pods that are gone, so the address is freed once the
//! plugin works again; a broken plugin costs each supervisor's end at
//! most one time limit per back-off period, and `delete` never waits for
//! more than its own DEL.
//!
//! GC is libcni's `GCNetworkList`: a DEL for every cached attachment no
//! live pod holds (a pod is live while its record, with the attachment's
//! uid, exists and has not finished), then, for a network of spec 1.1.0
//! on, the plugins' own GC with the attachments still valid. It runs once
//! per boot, at the node's start (as containerd and podman collect at
//! start-up): from `pod up`, or else at the node's first network set-up,
//! before that pod's ADD. The plugins' GC and ADDs
//! exclude each other through `<root>/cni/gc.lock` (ADDs share it), so
//! that an address being handed out is never collected.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use super::cni::{self, Attachment, Cancel, Valid};
use super::{DEFAULT_BRIDGE, DEFAULT_NETWORK, IFNAME, bridge, cache_dir, detach_uid, network};
use crate::api::{Kind, Object};
use crate::node::config::Network;
use crate::store::{Detail, Store};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(300);

/// Where failed DELs are noted.
pub fn retry_dir(root: &Path) -> PathBuf {
    root.join("cni").join("retry")
}

fn lock_path(root: &Path) -> PathBuf {
    root.join("cni").join("gc.lock")
}

/// A failed DEL's note.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Note {
    failures: u32,
    error: String,
    /// The pod, for a DEL of the built-in network (whose record is not a
    /// CNI attachment, and may be missing: a crash during ADD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
}

/// Notes a failed DEL of `attachment`.
pub(super) fn del_failed(root: &Path, attachment: &Attachment, error: &cni::Error) {
    note_failure(root, &attachment.file_name(), None, &error.to_string());
}

/// The note's name for the built-in network's part of the pod `uid` (its
/// record's name).
fn builtin_note(uid: &str) -> String {
    format!("{DEFAULT_NETWORK}-{uid}-{IFNAME}")
}

/// Notes a failed DEL of the built-in network's part of the pod `uid`.
pub(super) fn builtin_del_failed(root: &Path, uid: &str, error: &anyhow::Error) {
    note_failure(root, &builtin_note(uid), Some(uid), &format!("{error:#}"));
}

/// Forgets the note of the built-in network's part of `uid`.
pub(super) fn builtin_del_done(root: &Path, uid: &str) {
    let _ = std::fs::remove_file(retry_dir(root).join(builtin_note(uid)));
}

fn note_failure(root: &Path, name: &str, uid: Option<&str>, error: &str) {
    let path = retry_dir(root).join(name);
    let mut note: Note = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    note.failures = note.failures.saturating_add(1);
    note.error = error.to_string();
    note.uid = uid.map(str::to_string);
    let written = std::fs::create_dir_all(retry_dir(root)).and_then(|()| {
        let bytes = serde_json::to_vec(&note).map_err(std::io::Error::other)?;
        crate::store::write_atomic(&path, &bytes)
    });
    if let Err(e) = written {
        eprintln!("Warning: noting the failed DEL in {}: {e}", path.display());
    }
}

/// Forgets the note of `attachment`, whose DEL succeeded.
pub(super) fn del_done(root: &Path, attachment: &Attachment) {
    let _ = std::fs::remove_file(retry_dir(root).join(attachment.file_name()));
}

/// When a note with `failures` written at `at` is due.
fn due_at(at: SystemTime, failures: u32) -> SystemTime {
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    at + doubled.min(LAST_RETRY)
}

/// Retries the failed DELs that are due, of pods that are gone. Errors
/// stay in the notes.
pub(super) fn retry_failed(store: &Store) {
    let dir = retry_dir(store.root());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let cache = cache_dir(store.root());
    let now = SystemTime::now();
    let mut gone = BTreeSet::new();
    // The live pods' uids, read once if a note of the built-in network
    // is due (None: unknown).
    let mut live_pods: Option<Option<BTreeSet<String>>> = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let note: Note = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let written = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let due = due_at(written, note.failures) <= now;
        if let Some(uid) = note.uid {
            // The built-in network: its DEL works from the leases alone,
            // and a DEL that finds nothing forgets the note.
            let live = live_pods.get_or_insert_with(|| live_uids(store));
            if due && live.as_ref().is_some_and(|l| !l.contains(&uid)) {
                gone.insert(uid);
            }
            continue;
        }
        let Some(attachment) = std::fs::read(cache.join(entry.file_name()))
            .ok()
            .and_then(|b| serde_json::from_slice::<Attachment>(&b).ok())
        else {
            // Its attachment is gone (a DEL elsewhere succeeded).
            let _ = std::fs::remove_file(&path);
            continue;
        };
        if due && !live(store, &attachment) {
            gone.insert(attachment.container_id);
        }
    }
    for uid in gone {
        // A failure is noted again by the DEL itself.
        let _ = detach_uid(store, &uid);
    }
}

/// Whether the pod that made `attachment` still holds it: its record
/// exists with the attachment's uid and has not finished. What cannot be
/// read counts as live: a DEL is never run on a guess.
fn live(store: &Store, attachment: &Attachment) -> bool {
    let arg = |key: &str| {
        attachment
            .cni_args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let (Some(namespace), Some(name)) = (arg("K8S_POD_NAMESPACE"), arg("K8S_POD_NAME")) else {
        return true;
    };
    match store.get_as(Kind::Pod, namespace, name, Detail::Manifest) {
        Ok(Some(Object::Pod(pod)))
            if pod.metadata.uid.as_deref() == Some(&attachment.container_id) => {}
        Ok(_) => return false,
        Err(_) => return true,
    }
    match store.read_pod_status(namespace, name) {
        Ok(Some(status)) => !matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")),
        _ => true,
    }
}

/// The uids of the pods that hold their network: every stored pod that
/// has not finished. None if a pod's record cannot be read (whose uid
/// it is cannot be known, and a DEL is never run on a guess).
fn live_uids(store: &Store) -> Option<BTreeSet<String>> {
    let mut uids = BTreeSet::new();
    for read in store.list_each(Kind::Pod, None, Detail::Manifest).ok()? {
        let Ok(Object::Pod(pod)) = read else {
            return None;
        };
        let meta = &pod.metadata;
        let (Some(uid), Some(namespace), Some(name)) = (&meta.uid, &meta.namespace, &meta.name)
        else {
            return None;
        };
        let finished = match store.read_pod_status(namespace, name) {
            Ok(Some(status)) => matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")),
            _ => false,
        };
        if !finished {
            uids.insert(uid.clone());
        }
    }
    Some(uids)
}

/// A hold on the GC lock: shared by ADDs, exclusive for the plugins' GC.
pub(super) struct Hold(#[allow(dead_code)] File);

fn open_lock(root: &Path) -> Result<File> {
    let path = lock_path(root);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The ADD's share of the lock; waits while a GC runs, unless cancelled.
pub(super) fn adding(root: &Path, cancel: &Cancel) -> Result<Hold> {
    use rustix::fs::{FlockOperation, flock};
    let file = open_lock(root)?;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => return Ok(Hold(file)),
            Err(rustix::io::Errno::WOULDBLOCK | rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).context("locking the network's GC lock"),
        }
        if cancel.is_cancelled() {
            return Err(anyhow!("plugin execution was cancelled"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lock for the plugins' GC, if no ADD runs now.
fn collecting(root: &Path) -> Result<Option<Hold>> {
    use rustix::fs::{FlockOperation, flock};
    let file = open_lock(root)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(Hold(file))),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e).context("locking the network's GC lock"),
    }
}

/// What a GC did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// The pods (uids) whose cached attachments, or whose part of the
    /// built-in network, got a DEL that succeeded.
    pub deleted: Vec<String>,
    /// Whether the network's plugins ran their own GC.
    pub plugins: bool,
    /// What went of the built-in network's node-wide part.
    pub node: bridge::NodeCollected,
}

/// libcni's `GCNetworkList` for the node's network (see the module).
/// The stale attachments of any network are deleted, each with the list
/// it was made with (libcni only looks at the given network's; a network
/// no longer configured must not keep its addresses for ever).
pub fn gc(store: &Store, config: &Network) -> Result<Collected> {
    let root = store.root();
    let cache = cache_dir(root);
    let mut collected = Collected::default();
    // The cache is read before the pods: an attachment made after this
    // read is not looked at, and one read here belongs to a pod whose
    // record was written before it.
    let mut stale: BTreeSet<String> = Attachment::all(&cache)
        .into_iter()
        .filter(|a| !live(store, a))
        .map(|a| a.container_id)
        .collect();
    // The built-in network's records and leases, read before the pods
    // for the same reason, of pods that are gone.
    let held = bridge::held_uids(root, &cache, DEFAULT_NETWORK);
    if !held.is_empty() {
        match live_uids(store) {
            Some(live) => stale.extend(held.into_iter().filter(|uid| !live.contains(uid))),
            None => eprintln!(
                "Warning: the network's garbage collection: a pod's record cannot be read; the default network's leases are kept"
            ),
        }
    }
    let mut failed = None;
    for uid in stale {
        match detach_uid(store, &uid) {
            Ok(()) => collected.deleted.push(uid),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    // Then what no state root's pod holds on the node: veths, rules.
    let subnet = bridge::ipam::Subnet::parse(&config.pod_cidr).ok();
    match bridge::collect_node(DEFAULT_BRIDGE, subnet.as_ref()) {
        Ok(node) => collected.node = node,
        Err(e) => {
            failed.get_or_insert(e);
        }
    }
    let list = network(config, root).map_err(|e| anyhow!(e))?;
    // With an ADD running, the plugins' GC waits for the next time.
    if let Some(_hold) = collecting(root)? {
        let valid: Vec<Valid> = Attachment::all(&cache)
            .iter()
            .filter(|a| a.network_name == list.name && live(store, a))
            .map(Valid::of)
            .collect();
        collected.plugins = cni::gc(&list, &valid, &config.bin_dirs, config.plugin_timeout)?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(collected),
    }
}

/// GC, once per boot (`<run-root>/cni-gc` marks it done; the run root
/// does not outlive a reboot). Its errors are reported, not returned: the
/// pod whose set-up runs it goes on.
pub(super) fn once_per_boot(store: &Store, config: &Network) {
    let first = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(boot_marker(store))
        .is_ok();
    if first && let Err(e) = gc(store, config) {
        eprintln!("Warning: the network's garbage collection: {e:#}");
    }
}

fn boot_marker(store: &Store) -> PathBuf {
    store.run_root().join("cni-gc")
}

/// GC now (`pod up` asks for it), marked as this boot's.
pub(super) fn now(store: &Store, config: &Network) -> Result<Collected> {
    let _ = std::fs::File::create(boot_marker(store));
    gc(store, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_one_second_to_five_minutes() {
        let t = SystemTime::UNIX_EPOCH;
        let after = |n| due_at(t, n).duration_since(t).unwrap();
        assert_eq!(after(1), Duration::from_secs(1));
        assert_eq!(after(2), Duration::from_secs(2));
        assert_eq!(after(5), Duration::from_secs(16));
        assert_eq!(after(9), Duration::from_secs(256));
        assert_eq!(after(10), LAST_RETRY);
        assert_eq!(after(u32::MAX), LAST_RETRY);
    }
}
