//! The pause process: the pod's infra process, argv[0] `/pause`.
//!
//! It holds the pod's network, IPC and UTS namespaces (set up by
//! [`super::sandbox`] before it executes) and, with
//! `shareProcessNamespace: true`, is PID 1 of the pod's PID namespace. As
//! PID 1 it reaps the zombies that orphaned container processes leave; it
//! exits 0 on SIGTERM or SIGINT, like the kubelet's pause.

use std::process::ExitCode;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

pub fn main() -> ExitCode {
    // The command name would be "exe" (from /proc/self/exe); `ps` shows
    // `{exe} /pause` unless it matches argv[0].
    // SAFETY: PR_SET_NAME with a NUL-terminated string of < 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"pause".as_ptr(), 0, 0, 0);
    }
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD] {
        signals.add(signal);
    }
    // Blocked signals are queued even for a PID 1 without handlers, so
    // sigwait sees SIGTERM sent from the host.
    if signals.thread_block().is_err() {
        return ExitCode::FAILURE;
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGCHLD) => reap_all(),
            Ok(_) => {
                eprintln!("Shutting down, got signal");
                return ExitCode::SUCCESS;
            }
            Err(_) => continue,
        }
    }
}

fn reap_all() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}
