//! A process started inside a running container ([`PodRuntime::exec`]):
//! exec probes, hooks and `pod exec`.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

use super::config::{ExecConfig, NamespacePath};
use super::spawn::{self, Outcome, PidNamespace, Program, Reexec};
use super::{ExecFailed, PodRuntime, Started, Stdio, Terminal, console, reexec, state};

impl PodRuntime {
    /// Starts `argv` in the running container `container` with the
    /// container's environment, working directory and identity. Errors
    /// before the exec are returned (`exec: "x": executable file not found
    /// in $PATH`).
    pub fn exec(&self, container: &str, argv: &[String], stdio: Stdio) -> Result<Started> {
        let record = state::ContainerRecord::load(&self.run_dir, container)?
            .filter(|r| r.is_alive())
            .ok_or_else(|| anyhow!("container {container:?} is not running"))?;
        let mut process = record.process.clone();
        process.args = argv.to_vec();
        process.tty = matches!(stdio, Stdio::Tty { .. });
        let console_size = match &stdio {
            Stdio::Tty { size: Some(size) } => Some([size.ws_row, size.ws_col]),
            _ => None,
        };
        let target = record.pid;
        let mut join: Vec<NamespacePath> = Vec::new();
        // The user namespace after the others (see `init::join_namespaces`).
        for kind in ["ipc", "uts", "net", "cgroup", "mnt", "user"] {
            let path = PathBuf::from(format!("/proc/{target}/ns/{kind}"));
            let own = PathBuf::from(format!("/proc/self/ns/{kind}"));
            // Joining one's own namespace is harmless but pointless.
            if std::fs::read_link(&path).ok() != std::fs::read_link(&own).ok() {
                join.push(NamespacePath {
                    kind: kind.to_string(),
                    path,
                });
            }
        }
        let entry = self.cgroup.child(container).entry();
        let config = ExecConfig {
            join,
            cgroup_procs: entry.procs_files,
            process,
            console_size,
        };
        let pid_namespace = if self.host_pid() {
            PidNamespace::Inherit
        } else {
            PidNamespace::Join(format!("/proc/{target}/ns/pid").into())
        };
        let terminal = Terminal::new(stdio)?;
        let outcome = spawn::spawn(Reexec {
            program: Program::Pod,
            argv0: "pod-exec",
            args: &[reexec::EXEC_ARG],
            pid_namespace,
            born_in: entry.thread_files,
            config: Some(serde_json::to_vec(&config)?),
            stdio: terminal.stdio,
            pre_exec: terminal.pre_exec,
        })?;
        drop(terminal.child_end);
        match outcome {
            Outcome::Executed(pid) => match terminal.receiver.map(console::Receiver::receive) {
                Some(Err(e)) => {
                    // Not left running without the terminal it was meant
                    // to have.
                    let _ = crate::process::kill(pid, libc::SIGKILL);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    Err(e)
                }
                received => Ok(Started {
                    pid,
                    console: received.transpose()?,
                }),
            },
            Outcome::Failed(message) => Err(ExecFailed(message).into()),
        }
    }
}
