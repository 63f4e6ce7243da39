//! What an environment's drop tears down itself when `pod delete` could
//! not: a pod whose records this build cannot read (a test that plants a
//! record of a newer format and fails before it puts this build's back)
//! is left with its processes, mounts and cgroups, which nothing would
//! name once the environment's directory is gone. Each is found by what
//! only this environment's pods have: their uids (from the run, writable
//! and log directories) and the environment's directory.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Kills the processes of the pods of the environment at `dir`, undoes
/// every mount under `dir`, removes the pods' cgroups, run and writable
/// directories, and the node-wide address entries that point into `dir`.
pub fn tear_down(dir: &Path, root: &Path, run_root: &Path) {
    let uids = uids(root, run_root);
    if !uids.is_empty() {
        kill_processes(dir, &uids);
    }
    unmount_under(dir);
    for uid in &uids {
        remove_cgroups(uid);
        for pod_dir in [
            run_root.join("pods").join(uid),
            root.join("writable").join(uid),
        ] {
            let _ = std::fs::remove_dir_all(pod_dir);
        }
    }
    for (entry, _) in super::pods::index_entries_under(dir) {
        let _ = std::fs::remove_file(entry);
    }
}

/// The uids of the environment's pods: its run and writable directories'
/// names, and the last part of its log directories' (`<ns>_<name>_<uid>`).
fn uids(root: &Path, run_root: &Path) -> Vec<String> {
    let names = |dir: PathBuf| -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let mut uids: Vec<String> = names(run_root.join("pods"))
        .into_iter()
        .chain(names(root.join("writable")))
        .chain(
            names(root.join("logs"))
                .into_iter()
                .filter_map(|n| n.rsplit('_').next().map(str::to_string)),
        )
        // A uid is 36 characters of hex digits and dashes: nothing
        // shorter matches another pod's cgroup by chance.
        .filter(|u| u.len() == 36 && u.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        .collect();
    uids.sort();
    uids.dedup();
    uids
}

/// Whether process `pid` is one of the environment's pods': in a cgroup
/// named by one of `uids` (pause, containers, exec'd processes), or
/// started with the environment's directory on its command line
/// (supervisors and keepers).
fn ours(pid: &str, dir: &Path, uids: &[String]) -> bool {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    // With its separator: not another environment's directory that
    // begins with this one's name.
    let mut dir = dir.as_os_str().as_encoded_bytes().to_vec();
    dir.push(b'/');
    uids.iter().any(|uid| cgroup.contains(uid.as_str()))
        || cmdline.windows(dir.len()).any(|w| w == dir)
}

/// SIGKILLs every process of the environment's pods, until none is left
/// (a supervisor may fork while it dies), for at most 10 s. Each is held
/// by a pidfd before it is checked, so a pid reused meanwhile is never
/// signalled.
fn kill_processes(dir: &Path, uids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut found = false;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            let Ok(number) = pid.parse::<libc::pid_t>() else {
                continue;
            };
            // SAFETY: pidfd_open(2) with a pid and no flags.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, number, 0) };
            if fd < 0 {
                continue;
            }
            // SAFETY: the descriptor pidfd_open just returned.
            let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            if !ours(&pid, dir, uids) || zombie(&pid) {
                continue;
            }
            found = true;
            // SAFETY: pidfd_send_signal(2) on the descriptor held above.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
        if !found || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_or(true, |stat| stat.contains(") Z ") || stat.contains(") X "))
}

/// Detaches every mount at or under `dir`, deepest first: the pods'
/// (`shm`, the pinned network namespace) and any a test left, which the
/// removal of the directory would otherwise descend into.
fn unmount_under(dir: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    for point in points {
        let _ = nix::mount::umount2(&point, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A mountinfo path with its octal escapes (`\040` for a space) decoded.
fn unescape(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        match digits {
            Some(d) if bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)) => {
                out.push(d.iter().fold(0u8, |v, b| v.wrapping_mul(8) + (b - b'0')));
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes pod `uid`'s cgroups in every hierarchy, children first; a
/// cgroup whose last processes are still leaving is tried again for a
/// moment.
fn remove_cgroups(uid: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for top in [
            hierarchy.path().join("pod").join(uid),
            hierarchy.path().join(uid),
        ] {
            if !top.is_dir() {
                continue;
            }
            let mut dirs = Vec::new();
            collect_dirs(&top, &mut dirs);
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for dir in dirs {
                while std::fs::remove_dir(&dir).is_err()
                    && dir.exists()
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn collect_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
    found.push(dir.to_path_buf());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&entry.path(), found);
        }
    }
}
