//! What the runtime remembers about a pod between processes, in its run
//! directory: the pause process and each running container (so that exec
//! and teardown work from a CLI process, or after the supervisor died),
//! and the mounts it made there.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::config::Process;
use crate::store::format;

/// The pause process's cgroup, under the pod's (container names are DNS
/// labels, so they never start with a dot).
pub const SANDBOX_CGROUP: &str = ".sandbox";

/// The pause process, identified by pid and start time (so a recycled pid
/// is never mistaken for it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sandbox {
    pub pid: i32,
    pub start_time: u64,
}

impl Sandbox {
    pub fn new(pid: i32) -> Sandbox {
        Sandbox {
            pid,
            start_time: start_time(pid).unwrap_or(0),
        }
    }

    fn path(run_dir: &Path) -> PathBuf {
        run_dir.join("sandbox.json")
    }

    /// The record, if there is a readable one; an error for one of a
    /// newer format.
    pub fn load(run_dir: &Path) -> Result<Option<Sandbox>> {
        load_record(&Sandbox::path(run_dir))
    }

    pub fn save(&self, run_dir: &Path) -> Result<()> {
        crate::store::write_volatile(&Sandbox::path(run_dir), &format::encode(self)?)?;
        Ok(())
    }

    pub fn is_alive(&self) -> bool {
        is_same_process(self.pid, self.start_time)
    }
}

/// A running container instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub pid: i32,
    pub start_time: u64,
    pub instance: u32,
    /// The resolved process (env, user, capabilities) exec reuses.
    pub process: Process,
}

impl ContainerRecord {
    fn path(run_dir: &Path, name: &str) -> PathBuf {
        run_dir.join("containers").join(name).join("state.json")
    }

    /// The record, if there is a readable one; an error for one of a
    /// newer format.
    pub fn load(run_dir: &Path, name: &str) -> Result<Option<ContainerRecord>> {
        load_record(&ContainerRecord::path(run_dir, name))
    }

    pub fn save(&self, run_dir: &Path, name: &str) -> Result<()> {
        // 0600: the record holds the container's env, secrets among it.
        crate::store::write_volatile_private(
            &ContainerRecord::path(run_dir, name),
            &format::encode(self)?,
        )?;
        Ok(())
    }

    pub fn remove(run_dir: &Path, name: &str) {
        let _ = std::fs::remove_file(ContainerRecord::path(run_dir, name));
    }

    pub fn is_alive(&self) -> bool {
        is_same_process(self.pid, self.start_time)
    }
}

/// A run-time record: None when it is missing or torn (what it named is
/// judged gone), an error when a newer build wrote it.
fn load_record<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let Ok(bytes) = crate::store::read_small_file(path) else {
        return Ok(None);
    };
    format::check(path, &bytes)?;
    Ok(serde_json::from_slice(&bytes).ok())
}

/// Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn is_same_process(pid: i32, started: u64) -> bool {
    pid > 0 && start_time(pid).is_some_and(|t| t == started || started == 0)
}

/// Mount points at or under `dir`, deepest first (from mountinfo, with its
/// octal escapes decoded).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

pub fn is_mount_point(dir: &Path) -> bool {
    mounts_under(dir).iter().any(|p| p == dir)
}

/// Detaches every mount at or under `dir`.
pub fn unmount_under(dir: &Path) -> Result<()> {
    for mount in mounts_under(dir) {
        match nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(e).with_context(|| format!("unmounting {}", mount.display())),
        }
    }
    Ok(())
}

fn unescape_mountinfo(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                out.push(
                    digits
                        .iter()
                        .fold(0u8, |v, d| v.wrapping_mul(8) + (d - b'0')),
                );
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_decode() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        assert!(is_same_process(me, start_time(me).unwrap()));
        assert!(!is_same_process(me, start_time(me).unwrap() + 1));
    }
}
