//! User namespaces for `hostUsers: false` pods: the allocation of each
//! pod's 65536-id range from the node's range, and the creation of the
//! namespace that maps it.
//!
//! As the kubelet does, the node's range comes from the `kubelet` entry of
//! /etc/subuid (and /etc/subgid), `kubelet:<first>:<count>`, with `first`
//! a multiple of 65536 and `count` at least 65536. Without one, the range
//! is [`DEFAULT_FIRST`] for [`DEFAULT_COUNT`] ids: far above the ranges
//! `useradd` hands to users (100000 up, 65536 each) and below 2^31, which
//! some tools still read as a signed number. Each pod gets one aligned
//! 65536-id slot, recorded as a file `<state root>/userns/<slot>` holding
//! the pod's uid; the file goes when the pod is torn down.
//!
//! Every state root on the machine draws from the same node range, so a
//! record per root alone could give one slot to pods of two roots (root in
//! one would be root in the other). As the built-in network does for its
//! addresses (`network::bridge::ipam`), the slot is taken in the node's
//! index ([`crate::store::node_index`]) under one lock:
//! `/run/pod-userns/<slot>`, a symbolic link to the root's record. An entry whose record is gone (released, or its whole
//! root removed) is free. The index is in /run: after a reboot a pod whose
//! record survived takes its entry again when it is prepared, and a slot
//! recorded in a root stays taken for that root until its pod goes.
//!
//! The namespace maps the pod's ids 0..65536 to the slot's host ids, for
//! users and groups alike, and is made by a short-lived child of the
//! caller: the pause process joins it first (see [`super::sandbox`]), so
//! the pod's network, IPC and UTS namespaces are owned by it.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::store::node_index::NodeIndex;

/// The ids each pod gets.
pub const SIZE: u32 = 65536;
/// The node's first id without a `kubelet` entry in /etc/subuid (1024 ×
/// 65536).
pub const DEFAULT_FIRST: u32 = 1024 * SIZE;
/// How many ids the node's range holds without one: 1024 pods.
pub const DEFAULT_COUNT: u32 = 1024 * SIZE;

/// One pod's ids: its 0..65536 are the host's `first..first+65536`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: u32,
}

impl Range {
    /// The host id of the pod's `id`.
    pub fn host_id(self, id: u32) -> u32 {
        self.first + id
    }

    /// The line of `uid_map` and `gid_map`.
    fn map_line(self) -> String {
        format!("0 {} {}\n", self.first, SIZE)
    }
}

/// The node's range, as (first, count): the `kubelet` entry of `subuid`
/// text, else the default. An entry that is not aligned or too small is
/// refused, as the kubelet refuses it.
pub fn node_range(subuid: &str) -> Result<(u32, u32)> {
    for line in subuid.lines() {
        let mut fields = line.trim().split(':');
        if fields.next() != Some("kubelet") {
            continue;
        }
        let (Some(first), Some(count)) = (fields.next(), fields.next()) else {
            bail!("/etc/subuid: the kubelet entry is not kubelet:<first>:<count>");
        };
        let first: u32 = first
            .parse()
            .map_err(|_| anyhow!("/etc/subuid: kubelet's first id {first:?} is not a number"))?;
        let count: u32 = count
            .parse()
            .map_err(|_| anyhow!("/etc/subuid: kubelet's count {count:?} is not a number"))?;
        if !first.is_multiple_of(SIZE) || count < SIZE || !count.is_multiple_of(SIZE) {
            bail!(
                "/etc/subuid: kubelet's range {first}:{count} must start at a multiple of {SIZE} and hold a multiple of {SIZE} ids"
            );
        }
        if first.checked_add(count - 1).is_none() {
            bail!("/etc/subuid: kubelet's range {first}:{count} goes past the last id");
        }
        return Ok((first, count));
    }
    Ok((DEFAULT_FIRST, DEFAULT_COUNT))
}

/// The node-wide index of slots taken by every state root.
const NODE: &str = "/run/pod-userns";

/// Where a state root's allocations are recorded.
fn dir(state_root: &Path) -> PathBuf {
    state_root.join("userns")
}

/// The node's index of slots: `<node>/<slot>` → the record, under
/// `<node>/lock`.
fn index(node: &Path) -> NodeIndex {
    NodeIndex {
        entries: node.to_path_buf(),
        lock: node.join("lock"),
    }
}

/// The slots recorded in a root, with the pod uid each belongs to.
fn slots(state_root: &Path) -> Result<Vec<(u32, String)>> {
    let dir = dir(state_root);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let Some(slot) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let mut owner = String::new();
        File::open(entry.path())
            .and_then(|f| f.take(256).read_to_string(&mut owner))
            .with_context(|| format!("reading {}", entry.path().display()))?;
        out.push((slot, owner));
    }
    Ok(out)
}

/// The range of pod `uid`: the one it already has (a supervisor started
/// again on the same pod), else the lowest slot of the node's range free
/// in every state root.
pub fn allocate(state_root: &Path, uid: &str) -> Result<Range> {
    allocate_in(Path::new(NODE), state_root, uid)
}

fn allocate_in(node: &Path, state_root: &Path, uid: &str) -> Result<Range> {
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let (first, count) = node_range(&subuid)?;
    let lock = index(node).lock()?;
    let dir = dir(state_root);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let taken = slots(state_root)?;
    if let Some((slot, _)) = taken.iter().find(|(_, owner)| owner == uid) {
        // Its entry again, if /run was emptied by a reboot since.
        if !lock.claim(&slot.to_string(), &dir.join(slot.to_string()))? {
            bail!(
                "the user namespace range {} of this pod is held by another state root (see {})",
                first + slot * SIZE,
                node.join(slot.to_string()).display()
            );
        }
        return Ok(Range {
            first: first + slot * SIZE,
        });
    }
    for slot in 0..count / SIZE {
        // A record of this root without an entry (a reboot since) stays
        // taken until its pod goes: `take` refuses a slot whose record
        // exists.
        if lock.take(
            &slot.to_string(),
            &dir.join(slot.to_string()),
            uid.as_bytes(),
        )? {
            return Ok(Range {
                first: first + slot * SIZE,
            });
        }
    }
    bail!(
        "no user namespace range is free: all {} are in use",
        count / SIZE
    )
}

/// The range pod `uid` holds, if any.
pub fn find(state_root: &Path, uid: &str) -> Option<Range> {
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let (first, _) = node_range(&subuid).ok()?;
    let (slot, _) = slots(state_root)
        .ok()?
        .into_iter()
        .find(|(_, owner)| owner == uid)?;
    Some(Range {
        first: first + slot * SIZE,
    })
}

/// Gives pod `uid`'s range back: its record, and the node's entry if it
/// points to that record. Idempotent.
pub fn release(state_root: &Path, uid: &str) -> Result<()> {
    release_in(Path::new(NODE), state_root, uid)
}

fn release_in(node: &Path, state_root: &Path, uid: &str) -> Result<()> {
    if !dir(state_root).exists() {
        return Ok(());
    }
    let lock = index(node).lock()?;
    for (slot, owner) in slots(state_root)? {
        if owner == uid {
            let record = dir(state_root).join(slot.to_string());
            lock.release(&slot.to_string(), &record, uid)?;
        }
    }
    Ok(())
}

/// A new user namespace mapping `range`, open. A child forks, unshares a
/// user namespace and waits; the caller (root on the host) writes its maps,
/// opens `/proc/<child>/ns/user` and lets it exit. The namespace lives as
/// long as the descriptor or a process in it.
pub fn create(range: Range) -> Result<OwnedFd> {
    let (ready_read, ready_write) = pipe()?;
    let (go_read, go_write) = pipe()?;
    // SAFETY: the child makes raw system calls only (no allocation, no
    // lock), which is what a fork of a multi-threaded process allows.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error()).context("forking");
    }
    if child == 0 {
        use std::os::fd::AsRawFd;
        // SAFETY: raw system calls on descriptors this process owns.
        unsafe {
            libc::close(ready_read.as_raw_fd());
            libc::close(go_write.as_raw_fd());
            let code = if libc::unshare(libc::CLONE_NEWUSER) == 0
                && libc::write(ready_write.as_raw_fd(), b"u".as_ptr().cast(), 1) == 1
            {
                // Returns at EOF, when the parent is done.
                let mut byte = 0u8;
                libc::read(go_read.as_raw_fd(), (&raw mut byte).cast(), 1);
                0
            } else {
                1
            };
            libc::_exit(code);
        }
    }
    drop(ready_write);
    drop(go_read);
    let result = map_child(child, range, ready_read);
    drop(go_write);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
    result
}

fn map_child(child: i32, range: Range, ready: OwnedFd) -> Result<OwnedFd> {
    let mut byte = [0u8; 1];
    if File::from(ready).read(&mut byte)? != 1 {
        bail!("creating a user namespace: unshare failed in the child");
    }
    for map in ["uid_map", "gid_map"] {
        let path = format!("/proc/{child}/{map}");
        std::fs::write(&path, range.map_line())
            .with_context(|| format!("writing {path} for the pod's user namespace"))?;
    }
    let ns =
        File::open(format!("/proc/{child}/ns/user")).context("opening the pod's user namespace")?;
    Ok(OwnedFd::from(ns))
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_range_is_the_kubelet_entry_or_the_default() {
        assert_eq!(
            node_range("alice:100000:65536\n").unwrap(),
            (DEFAULT_FIRST, DEFAULT_COUNT)
        );
        assert_eq!(
            node_range("alice:100000:65536\nkubelet:65536:655360\n").unwrap(),
            (65536, 655360)
        );
        let err = node_range("kubelet:100000:65536").unwrap_err().to_string();
        assert!(err.contains("multiple of 65536"), "{err}");
        assert!(node_range("kubelet:x:65536").is_err());
        assert!(node_range("kubelet:65536").is_err());
        assert!(node_range("kubelet:4294901760:131072").is_err());
    }

    /// A temporary directory of its own, gone at the end of the test.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Temp {
            let path =
                std::env::temp_dir().join(format!("pod-userns-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Temp(path)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn each_pod_gets_its_own_slot_and_gives_it_back() {
        let tmp = Temp::new("one");
        let (node, root) = (tmp.0.join("node"), tmp.0.join("root"));
        let a = allocate_in(&node, &root, "a").unwrap();
        let b = allocate_in(&node, &root, "b").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir(&root)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let mode = std::fs::metadata(&node).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_ne!(a, b);
        assert_eq!(a.first % SIZE, 0);
        assert_eq!(b.first.abs_diff(a.first), SIZE);
        // Asked again, a pod keeps its range.
        assert_eq!(allocate_in(&node, &root, "a").unwrap(), a);
        assert_eq!(find(&root, "b"), Some(b));
        release_in(&node, &root, "a").unwrap();
        release_in(&node, &root, "a").unwrap();
        assert_eq!(find(&root, "a"), None);
        // The freed slot is the next one given.
        assert_eq!(allocate_in(&node, &root, "c").unwrap(), a);
    }

    #[test]
    fn two_roots_on_one_node_never_share_a_slot() {
        let tmp = Temp::new("two");
        let node = tmp.0.join("node");
        let (one, two) = (tmp.0.join("one"), tmp.0.join("two"));
        let a = allocate_in(&node, &one, "a").unwrap();
        let b = allocate_in(&node, &two, "b").unwrap();
        assert_ne!(a, b);
        let c = allocate_in(&node, &two, "c").unwrap();
        let d = allocate_in(&node, &one, "d").unwrap();
        let mut all = vec![a.first, b.first, c.first, d.first];
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 4, "{all:?}");
        // Each pod's record stays in its own root.
        for (root, uid, range) in [
            (&one, "a", a),
            (&two, "b", b),
            (&two, "c", c),
            (&one, "d", d),
        ] {
            assert_eq!(find(root, uid), Some(range));
        }
        // A root's release frees its slot for the other root, and leaves
        // the other root's entries alone.
        release_in(&node, &one, "a").unwrap();
        release_in(&node, &one, "b").unwrap();
        assert_eq!(find(&two, "b"), Some(b));
        assert_eq!(allocate_in(&node, &two, "e").unwrap(), a);
        assert_ne!(allocate_in(&node, &one, "f").unwrap(), b);
    }

    #[test]
    fn a_removed_root_frees_its_slots_and_after_a_reboot_a_pod_keeps_its_own() {
        let tmp = Temp::new("gone");
        let node = tmp.0.join("node");
        let (one, two) = (tmp.0.join("one"), tmp.0.join("two"));
        let a = allocate_in(&node, &one, "a").unwrap();
        let b = allocate_in(&node, &one, "b").unwrap();
        std::fs::remove_dir_all(&one).unwrap();
        // Its entries dangle: free.
        assert_eq!(allocate_in(&node, &two, "c").unwrap(), a);
        assert_eq!(allocate_in(&node, &two, "d").unwrap(), b);

        // A reboot empties /run: the pods' records stay in their root.
        std::fs::remove_dir_all(&node).unwrap();
        // A record without an entry stays its root's...
        let e = allocate_in(&node, &two, "e").unwrap();
        assert!(e != a && e != b);
        // ...and its pod, prepared again, takes its entry back.
        assert_eq!(allocate_in(&node, &two, "c").unwrap(), a);
        // A root that never knew d's record can take d's slot while d is
        // down; d, prepared again, is then refused, not given a shared
        // range.
        assert_eq!(allocate_in(&node, &one, "f").unwrap(), b);
        let err = allocate_in(&node, &two, "d").unwrap_err().to_string();
        assert!(err.contains("held by another state root"), "{err}");
    }
}
