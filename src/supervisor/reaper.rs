//! Collects every child's exit status (the supervisor is a subreaper, so
//! that includes orphaned descendants) and hands each to whoever waits for
//! that pid.
//!
//! A process is registered right after it is started, in the same
//! synchronous stretch of the single-threaded loop, so its exit can never
//! be reaped before someone waits for it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The exit code as a shell (and the CRI) reports it: 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

#[derive(Debug, Default)]
pub struct Reaper {
    waiters: RefCell<HashMap<i32, oneshot::Sender<Exit>>>,
}

impl Reaper {
    /// Starts reaping on SIGCHLD; call inside the LocalSet, before any child
    /// is started.
    pub fn start() -> std::io::Result<Rc<Reaper>> {
        let reaper = Rc::new(Reaper::default());
        crate::process::exits::reaper_started();
        let mut sigchld = signal(SignalKind::child())?;
        let me = reaper.clone();
        tokio::task::spawn_local(async move {
            loop {
                me.reap();
                if sigchld.recv().await.is_none() {
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
