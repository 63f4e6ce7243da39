//! Signals to one process, by pid.
//!
//! kill(2) with a pid of 0 or below signals a whole process group, or
//! every process the caller may signal: a pid read as 0 from a damaged
//! record must never get that far. Whether a positive pid is still the
//! process meant (not reaped and reused) is the caller's to know: its own
//! unreaped child, or a pid checked against its start time
//! (`store::record::Process`).

use std::io;

pub mod after_exit;
pub mod signal_pipe;

/// Sends `signal` to the process `pid`; a pid of 0 or below is refused.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal pid {pid}: not one process"),
        ));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to the process a pidfd refers to: safe from pid reuse
/// for a process the caller does not reap (an adopted container).
pub fn kill_pidfd(pidfd: std::os::fd::BorrowedFd, signal: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal(2) with a valid descriptor, no siginfo.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to every process of the group `group` (kill(2) of
/// `-group`); groups 0 and 1 (the caller's own, init's) are refused, as a
/// damaged value must not reach them.
pub fn kill_group(group: i32, signal: i32) -> io::Result<()> {
    if group <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal process group {group}"),
        ));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(-group, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the process `pid` runs and is not on its way out: not a
/// zombie, and without the kernel's PF_EXITING flag (field 9 of
/// /proc/<pid>/stat), which an exiting process has while it still waits,
/// as a PID namespace's init does, for the namespace's other processes to
/// die. Meant for the caller's own unreaped child, whose pid is not reused.
pub fn running(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name may hold spaces and parentheses: fields start after
    // the last ')': state, ppid, pgrp, session, tty_nr, tpgid, flags.
    let Some(after) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    let mut fields = stat[after + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    if matches!(fields.next(), Some(b"Z" | b"X") | None) {
        return false;
    }
    let flags = fields
        .nth(5)
        .and_then(|f| std::str::from_utf8(f).ok()?.parse::<u64>().ok());
    flags.is_some_and(|f| f & PF_EXITING == 0)
}

/// Exit statuses of children that a thread other than the process's
/// reaper waits for.
///
/// The supervisor reaps every child with `waitpid(-1)` (it is a
/// subreaper: orphans of the pod are its children too), so a thread that
/// starts a short-lived child of its own (a CNI plugin) cannot `waitpid`
/// it: the reaper may get it first. Such a child is started through
/// [`exits::spawn`], which registers it under the lock the reaper takes
/// before it hands an exit on ([`exits::offer`]), so the exit always finds
/// its waiter; the thread also waits for it itself, whichever comes first
/// (see [`exits::wait`]).
pub mod exits {
    use std::collections::HashMap;
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Condvar, Mutex, MutexGuard};

    static REAPER: AtomicBool = AtomicBool::new(false);
    /// Registered pids, with their raw wait status once reaped.
    static EXITS: Mutex<Option<HashMap<i32, Option<i32>>>> = Mutex::new(None);
    static REAPED: Condvar = Condvar::new();

    fn lock() -> MutexGuard<'static, Option<HashMap<i32, Option<i32>>>> {
        EXITS.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This process reaps every child from now on.
    pub fn reaper_started() {
        REAPER.store(true, Ordering::SeqCst);
    }

    /// Starts a child with `start` (which returns its pid and whatever
    /// else it made) and registers it before any reaper can hand its exit
    /// on.
    pub fn spawn<T>(start: impl FnOnce() -> io::Result<(i32, T)>) -> io::Result<(i32, T)> {
        let mut exits = lock();
        let (pid, made) = start()?;
        exits.get_or_insert_with(HashMap::new).insert(pid, None);
        Ok((pid, made))
    }

    /// The reaper's side: keeps the raw wait status of `pid` if a thread
    /// registered it; whether it did.
    pub fn offer(pid: i32, status: i32) -> bool {
        let mut exits = lock();
        match exits.as_mut().and_then(|m| m.get_mut(&pid)) {
            Some(slot) => {
                *slot = Some(status);
                REAPED.notify_all();
                true
            }
            None => false,
        }
    }

    /// Waits for the registered child `pid`; its raw wait status. It
    /// waits for the child itself (the reaper's thread may be the one
    /// blocked on this one); when the reaper got the exit first,
    /// `waitpid` says ECHILD and the exit comes through [`offer`].
    pub fn wait(pid: i32) -> io::Result<i32> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child.
            if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
                forget(pid);
                return Ok(status);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) if REAPER.load(Ordering::SeqCst) => break,
                _ => {
                    forget(pid);
                    return Err(err);
                }
            }
        }
        let mut exits = lock();
        loop {
            match exits.as_ref().and_then(|m| m.get(&pid)) {
                Some(Some(status)) => {
                    let status = *status;
                    exits.as_mut().map(|m| m.remove(&pid));
                    return Ok(status);
                }
                Some(None) => {
                    exits = REAPED.wait(exits).unwrap_or_else(|e| e.into_inner());
                }
                None => return Err(io::Error::other(format!("pid {pid} is not registered"))),
            }
        }
    }

    fn forget(pid: i32) {
        lock().as_mut().map(|m| m.remove(&pid));
    }
}

#[cfg(test)]
mod tests {
    use super::{kill, kill_group, running};

    #[test]
    fn a_group_is_signalled_whole_but_never_0_or_1() {
        for group in [1, 0, -7] {
            let err = kill_group(group, libc::SIGKILL).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
        use std::os::unix::process::CommandExt;
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let member: i32 = line.trim().parse().unwrap();
        kill_group(leader.id() as i32, libc::SIGKILL).unwrap();
        let status = leader.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        // The member, reparented, dies too (a zombie at most until reaped).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while running(member) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!running(member));
    }

    #[test]
    fn a_child_runs_until_it_is_a_zombie() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(running(pid));
        kill(pid, libc::SIGKILL).unwrap();
        // Not reaped yet: a zombie, which does not run.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while running(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!running(pid));
        child.wait().unwrap();
        assert!(!running(pid));
    }

    #[test]
    fn only_one_process_is_signalled() {
        for pid in [0, -1, -12345] {
            let err = kill(pid, libc::SIGKILL).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        kill(child.id() as i32, libc::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
