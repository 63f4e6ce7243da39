//! The processes and streams a dead supervisor left, found again: by pid
//! and start time, held by pidfds, through the keeper's slots and /proc;
//! and the execs it had running, killed.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::supervisor::reaper::Exit;
use crate::supervisor::stdio::{Kept, Output};

use super::Supervisor;

/// Field 22 of /proc/<pid>/stat, zombies included (an adopted process
/// that ended is the keeper's to reap, and its exit still to come).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.iter().rposition(|&b| b == b')')? + 2;
    let field = stat.get(after..)?.split(|&b| b == b' ').nth(19)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// A pidfd of the process `pid` started at `start`, if that process
/// still exists (a zombie does).
pub(super) fn pidfd_of(pid: i32, start: u64) -> Option<OwnedFd> {
    if pid <= 0 || start_time(pid)? != start {
        return None;
    }
    let pidfd = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())?;
    // Checked again with the pidfd held: the pid named the same process
    // when it was opened.
    (start_time(pid)? == start).then_some(pidfd)
}

/// The descriptor a supervisor inherited from its keeper in `slot`.
pub(super) fn take_slot(slot: Option<i32>) -> Option<OwnedFd> {
    let slot = slot?;
    // SAFETY: fcntl on a number; a valid descriptor there is the keeper's
    // slot, inherited by this process and used by nothing else in it.
    unsafe { (libc::fcntl(slot, libc::F_GETFD) >= 0).then(|| OwnedFd::from_raw_fd(slot)) }
}

/// The parent of `pid` (field 4 of /proc/<pid>/stat).
pub(super) fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.iter().rposition(|&b| b == b')')? + 2;
    let field = stat.get(after..)?.split(|&b| b == b' ').nth(1)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// The pid of this supervisor's keeper (`keeper`: it forks every
/// supervisor of the pod).
pub(super) fn keeper_pid() -> i32 {
    // SAFETY: getppid(2) takes nothing and cannot fail.
    unsafe { libc::getppid() }
}

/// How `pidfd`'s process ends when it is nobody's here to wait for: the
/// pidfd turns readable when it has ended; how is lost.
pub(super) async fn ended_unseen(pidfd: OwnedFd) -> Exit {
    use tokio::io::unix::AsyncFd;
    // SAFETY: an OwnedFd, moved in: open, and the same, while registered.
    match unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) } {
        Ok(fd) => {
            let _ = fd.readable().await;
        }
        // Not pollable (kernels before 5.3 have no pidfd at all): looked
        // at once a second instead.
        Err(e) => {
            let (pidfd, _) = e.into_parts();
            loop {
                use std::os::fd::AsRawFd;
                let mut fd = libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: poll on one local entry, without waiting.
                if unsafe { libc::poll(&mut fd, 1, 0) } > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    Exit::Unknown
}

/// Whether `fd` is an anonymous pipe (on pipefs, as the pipes the
/// supervisor makes for a container's streams are), not a named pipe a
/// container placed there.
fn anonymous_pipe(fd: &OwnedFd) -> bool {
    let Ok(stat) = rustix::fs::fstat(fd) else {
        return false;
    };
    let Ok((probe, _w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return false;
    };
    rustix::fs::fstat(&probe).is_ok_and(|pipe| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Fifo
            && stat.st_dev == pipe.st_dev
    })
}

/// Descriptor `fd` of process `pid`, opened again through /proc for
/// reading or writing when it is an anonymous pipe (opening a pipe's
/// /proc link opens that pipe, as a named pipe is opened).
fn reopen_pipe(pid: i32, fd: i32, write: bool) -> Option<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let access = if write {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    };
    // Never blocks the loop: the container holds the other end, and a
    // named pipe without it is refused below anyway.
    let flags = access | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    let opened = rustix::fs::open(format!("/proc/{pid}/fd/{fd}"), flags, Mode::empty()).ok()?;
    // Checked once open: the link may have changed between its reading
    // and the open.
    anonymous_pipe(&opened).then_some(opened)
}

/// The streams of container process `pid` whose supervisor and keeper
/// both died, so that nothing held them (see the module documentation):
/// its stdout and stderr pipes for the log, its stdin pipe for attach.
/// Nothing when its output is not two pipes (a tty container's pty
/// master is gone; a container that put something else at its
/// descriptors 1 and 2 is logged no more).
pub(super) fn reopen_streams(pid: i32) -> (Option<Output>, Kept) {
    let output = match (reopen_pipe(pid, 1, false), reopen_pipe(pid, 2, false)) {
        (Some(stdout), Some(stderr)) => Some(Output::Pipes { stdout, stderr }),
        _ => None,
    };
    let kept = Kept {
        stdin: reopen_pipe(pid, 0, true),
        tty: None,
    };
    (output, kept)
}

impl Supervisor {
    /// Kills what the dead supervisor had started in container `name`
    /// besides its process `main`: the exec hooks and exec probes it was
    /// waiting for, orphans the keeper took in as its subreaper. Nobody
    /// waits for them any more, and containerd likewise kills an exec
    /// whose caller (the kubelet's ExecSync) went away; a postStart hook
    /// among them runs again (`adopt_live`).
    ///
    /// Only in a pod with its own PID namespace: there an orphan of the
    /// container's own processes goes to the namespace's init, so the
    /// keeper's children in the container's cgroup are what a supervisor
    /// started. With hostPID they may be the container's own daemons.
    pub(super) fn kill_orphaned_execs(&self, name: &str, main: i32) {
        if self.spec.host_pid == Some(true) {
            return;
        }
        let rt = self.runtime.clone().expect("resumed");
        let keeper = keeper_pid();
        let found: Vec<(i32, i32, u64)> = rt
            .borrow()
            .container_pids(name)
            .into_iter()
            .filter_map(|pid| Some((pid, parent_of(pid)?, start_time(pid)?)))
            .collect();
        let orphan = |pid: i32| {
            pid != main
                && found
                    .iter()
                    .any(|&(p, parent, _)| p == pid && parent == keeper)
        };
        // The orphans and what they started (their children would go to
        // the container's init once they are killed).
        let doomed = |pid: i32| {
            let mut at = pid;
            for _ in 0..64 {
                if orphan(at) {
                    return true;
                }
                match found.iter().find(|&&(p, _, _)| p == at) {
                    Some(&(_, parent, _)) => at = parent,
                    None => return false,
                }
            }
            false
        };
        for &(pid, _, start) in found.iter().filter(|&&(pid, _, _)| doomed(pid)) {
            // By a pidfd of the process found: a pid reused since is not
            // signalled.
            if let Some(fd) = pidfd_of(pid, start) {
                eprintln!(
                    "pod-supervisor: killing process {pid}, which the dead supervisor ran in container {name}"
                );
                let _ = crate::process::kill_pidfd(fd.as_fd(), libc::SIGKILL);
            }
        }
    }
}
