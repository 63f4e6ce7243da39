//! `pod exec`: a new process in a running container, started by the CLI
//! itself rather than by the pod's supervisor.
//!
//! Why directly: everything exec needs is on disk (the container's pid and
//! process settings in the runtime's state files under the pod's run
//! directory), and the runtime starts the process as a child of the
//! caller. So the CLI owns the pty or the pipes, waits for the exit status
//! itself, and no byte makes an extra hop through the supervisor's socket;
//! a dead supervisor does not even stop `exec` into a container that still
//! runs. Attach is different: the main process's streams exist once, in
//! the supervisor, and are shared by every attached client.

use std::io::{stderr, stdin, stdout};
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::target::Target;
use crate::error::ExitStatus;
use crate::runtime::{ExecFailed, PodRuntime, Stdio};
use crate::store::Store;
use crate::terminal::relay::{Relay, Target as To};
use crate::terminal::{self, RawMode, WindowChanges};

/// How the caller's streams are wired to the process.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    /// Pass the caller's stdin (`-i`).
    pub stdin: bool,
    /// A pty, with the caller's terminal in raw mode (`-i -t` on a
    /// terminal; see `session::use_tty`).
    pub tty: bool,
}

/// Runs `argv` in the target container and relays its streams until it
/// ends. A non-zero exit becomes kubectl's `command terminated with exit
/// code N` and that exit code.
pub fn run(store: &Store, target: &Target, argv: &[String], streams: Streams) -> Result<()> {
    target.require_running()?;
    let runtime = PodRuntime::open(store, &target.pod)?;
    let name = &target.container.name;
    let (input, output, errors) = (stdin(), stdout(), stderr());
    let pid = if streams.tty {
        // The pty is made inside the container (its own devpts), sized
        // like the caller's terminal; its master comes back here.
        let size = terminal::window_size(&input);
        let (pid, console) = start(&runtime, name, argv, Stdio::Tty { size })?;
        let master = console.context("the container's pty")?;
        // Raw from here on: every key goes to the process's own terminal,
        // Ctrl-C included. Restored when `_raw` drops, before any message.
        let _raw = RawMode::enable(input.as_fd()).context("putting the terminal in raw mode")?;
        let winch = WindowChanges::install()?;
        let master = master.as_fd();
        Relay::new()
            .input(input.as_fd(), To::Shared(master))
            .output(master, To::Caller(output.as_fd()))
            .on_resize(winch.as_fd(), || {
                if let Some(size) = terminal::window_size(&input) {
                    let _ = terminal::set_window_size(master, size);
                }
            })
            .run()?;
        pid
    } else {
        let (stdin_r, stdin_w) = match streams.stdin {
            true => {
                let (r, w) = pipe()?;
                (Some(r), Some(w))
            }
            false => (None, None),
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdio = Stdio::Pipes {
            stdin: stdin_r,
            stdout: out_w,
            stderr: err_w,
        };
        let (started, _) = start(&runtime, name, argv, stdio)?;
        let mut relay = Relay::new()
            .output(out_r.as_fd(), To::Caller(output.as_fd()))
            .output(err_r.as_fd(), To::Caller(errors.as_fd()));
        if let Some(w) = stdin_w {
            relay = relay.input(input.as_fd(), To::Owned(w));
        }
        relay.run()?;
        started
    };
    match wait(pid)? {
        0 => Ok(()),
        code => Err(ExitStatus {
            code,
            message: Some(format!("command terminated with exit code {code}")),
        }
        .into()),
    }
}

/// Starts the process. A failure before the program runs (no such
/// executable, permission denied) is reported as the container runtimes
/// report it through kubectl, with their exit code 126.
/// Returns the pid and the pty master (`Stdio::Tty`).
fn start(
    runtime: &PodRuntime,
    container: &str,
    argv: &[String],
    stdio: Stdio,
) -> Result<(i32, Option<OwnedFd>)> {
    match runtime.exec(container, argv, stdio) {
        Ok(started) => Ok((started.pid, started.console)),
        Err(e) if e.downcast_ref::<ExecFailed>().is_some() => Err(ExitStatus {
            code: 126,
            message: Some(format!(
                "{e:#}: unknown\ncommand terminated with exit code 126"
            )),
        }
        .into()),
        Err(e) => Err(e),
    }
}

/// The process's exit code, or 128 + the signal that killed it (what a
/// shell and kubectl report).
pub fn wait(pid: i32) -> Result<u8> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(u8::try_from(code).unwrap_or(1)),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Ok(u8::try_from(128 + signal as i32).unwrap_or(255));
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("waiting for the exec'd process"),
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}
