//! Collects every child's exit status (the supervisor is a subreaper, so
//! that includes orphaned descendants) and hands each to whoever waits for
//! that pid.
//!
//! A process is registered right after it is started, in the same
//! synchronous stretch of the single-threaded loop, so its exit can never
//! be reaped before someone waits for it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::process::signal_pipe::SignalPipe;
use tokio::sync::oneshot;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// It ended while neither the supervisor nor its keeper was its
    /// parent (both had died, and the host's init reaped it): how is
    /// lost, as for the kubelet a container its runtime no longer knows.
    Unknown,
}

impl Exit {
    /// The exit code as a shell (and the CRI) reports it: 128 + signal;
    /// 137 when unknown, as the kubelet reports a lost container.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
            Exit::Unknown => 137,
        }
    }
}

impl Exit {
    /// From a raw wait status.
    pub fn from_raw(status: i32) -> Exit {
        if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        }
    }
}

#[derive(Debug, Default)]
pub struct Reaper {
    waiters: RefCell<HashMap<i32, oneshot::Sender<Exit>>>,
    /// Waiters for processes the keeper reaps (adopted from a dead
    /// supervisor: its children became the keeper's).
    adopted: RefCell<HashMap<i32, oneshot::Sender<Exit>>>,
    /// Exits the keeper reported before anyone waited for them.
    reported: RefCell<HashMap<i32, Exit>>,
}

impl Reaper {
    /// Starts reaping on SIGCHLD; call inside the LocalSet, before any child
    /// is started.
    pub fn start() -> std::io::Result<Rc<Reaper>> {
        let reaper = Rc::new(Reaper::default());
        crate::process::exits::reaper_started();
        let mut sigchld = SignalPipe::new(libc::SIGCHLD)?;
        let me = reaper.clone();
        tokio::task::spawn_local(async move {
            loop {
                me.reap();
                if sigchld.recv().await.is_err() {
                    break;
                }
            }
        });
        Ok(reaper)
    }

    /// The exit of `pid`, which must be a child started just now.
    pub fn wait(&self, pid: i32) -> oneshot::Receiver<Exit> {
        let (tx, rx) = oneshot::channel();
        self.waiters.borrow_mut().insert(pid, tx);
        // It may have exited before we were told to wait for it.
        self.reap();
        rx
    }

    /// Takes the exits already in the keeper's exit pipe, without
    /// waiting: call before adopting processes, whose exits may be there.
    pub fn take_reported(&self, exits: &OwnedFd) {
        let _ = rustix::io::ioctl_fionbio(exits, true);
        let mut record = [0u8; 8];
        while let Ok(8) = rustix::io::read(exits, &mut record) {
            let (pid, status) = decode(record);
            self.reported
                .borrow_mut()
                .insert(pid, Exit::from_raw(status));
        }
    }

    /// The exit of `pid`, a process of the pod that the keeper reaps; None
    /// when it already ended and the keeper did not report it.
    pub fn adopt(&self, pid: i32) -> oneshot::Receiver<Exit> {
        let (tx, rx) = oneshot::channel();
        match self.reported.borrow_mut().remove(&pid) {
            Some(exit) => {
                let _ = tx.send(exit);
            }
            None => {
                self.adopted.borrow_mut().insert(pid, tx);
            }
        }
        rx
    }

    /// Whether the keeper reported `pid`'s exit (not waited for yet).
    pub fn was_reported(&self, pid: i32) -> bool {
        self.reported.borrow().contains_key(&pid)
    }

    /// Hands on the exits the keeper reports from now on; call inside the
    /// LocalSet.
    pub fn follow_keeper(self: &Rc<Reaper>, exits: OwnedFd) -> std::io::Result<()> {
        let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(exits)?;
        let me = self.clone();
        tokio::task::spawn_local(async move {
            use tokio::io::AsyncReadExt;
            let mut record = [0u8; 8];
            while pipe.read_exact(&mut record).await.is_ok() {
                let (pid, status) = decode(record);
                if let Some(tx) = me.adopted.borrow_mut().remove(&pid) {
                    let _ = tx.send(Exit::from_raw(status));
                }
            }
        });
        Ok(())
    }

    fn reap(&self) {
        loop {
            let (pid, exit, raw) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code), (code & 0xff) << 8),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    (pid, Exit::Signal(sig as i32), sig as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            // A child another thread started and waits for (a CNI plugin).
            if crate::process::exits::offer(pid.as_raw(), raw) {
                continue;
            }
            if let Some(tx) = self.waiters.borrow_mut().remove(&pid.as_raw()) {
                let _ = tx.send(exit);
            }
        }
    }
}

fn decode(record: [u8; 8]) -> (i32, i32) {
    let pid = i32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
    let status = i32::from_ne_bytes([record[4], record[5], record[6], record[7]]);
    (pid, status)
}
