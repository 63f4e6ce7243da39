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
//! the pod's uid, created under a lock so two pods never share one; the
//! file goes when the pod is torn down.
//!
//! The namespace maps the pod's ids 0..65536 to the slot's host ids, for
//! users and groups alike, and is made by a short-lived child of the
//! caller: the pause process joins it first (see [`super::sandbox`]), so
//! the pod's network, IPC and UTS namespaces are owned by it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

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

/// Where the allocations are recorded.
fn dir(state_root: &Path) -> PathBuf {
    state_root.join("userns")
}

/// Holds the allocation lock while alive.
struct Lock(#[allow(dead_code)] File);

fn lock(state_root: &Path) -> Result<Lock> {
    let dir = dir(state_root);
    // Root's alone, as every directory of the state root.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(Lock(file))
}

/// The slots recorded, with the pod uid each belongs to.
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
/// again on the same pod), else the lowest free slot of the node's range.
pub fn allocate(state_root: &Path, uid: &str) -> Result<Range> {
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let (first, count) = node_range(&subuid)?;
    let _lock = lock(state_root)?;
    let taken = slots(state_root)?;
    if let Some((slot, _)) = taken.iter().find(|(_, owner)| owner == uid) {
        return Ok(Range {
            first: first + slot * SIZE,
        });
    }
    let slot = (0..count / SIZE)
        .find(|s| !taken.iter().any(|(t, _)| t == s))
        .ok_or_else(|| {
            anyhow!(
                "no user namespace range is free: all {} are in use",
                count / SIZE
            )
        })?;
    let path = dir(state_root).join(slot.to_string());
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(uid.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Range {
        first: first + slot * SIZE,
    })
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

/// Gives pod `uid`'s range back. Idempotent.
pub fn release(state_root: &Path, uid: &str) -> Result<()> {
    if !dir(state_root).exists() {
        return Ok(());
    }
    let _lock = lock(state_root)?;
    for (slot, owner) in slots(state_root)? {
        if owner == uid {
            let path = dir(state_root).join(slot.to_string());
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
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

    #[test]
    fn each_pod_gets_its_own_slot_and_gives_it_back() {
        let root = std::env::temp_dir().join(format!("pod-userns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let a = allocate(&root, "a").unwrap();
        let b = allocate(&root, "b").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir(&root)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_ne!(a, b);
        assert_eq!(a.first % SIZE, 0);
        assert_eq!(b.first.abs_diff(a.first), SIZE);
        // Asked again, a pod keeps its range.
        assert_eq!(allocate(&root, "a").unwrap(), a);
        assert_eq!(find(&root, "b"), Some(b));
        release(&root, "a").unwrap();
        release(&root, "a").unwrap();
        assert_eq!(find(&root, "a"), None);
        // The freed slot is the next one given.
        assert_eq!(allocate(&root, "c").unwrap(), a);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
