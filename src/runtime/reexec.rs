//! Hidden re-executions of the `pod` binary (the container init, exec
//! into a container), recognised before clap parses argv. The pause
//! process is not one: it runs a program of its own (see [`super::pause`]).

use std::process::ExitCode;

use super::init;

/// argv[0] of the pause process, as `ps` shows it in a pod.
pub const PAUSE_ARGV0: &str = "/pause";
/// Hidden first argument of the container init (`runc init`-like).
pub const INIT_ARG: &str = "__pod-container-init";
/// Hidden first argument of a process exec'd into a running container.
pub const EXEC_ARG: &str = "__pod-container-exec";

/// Runs a hidden entry point if argv asks for one.
pub fn dispatch() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    match args.next()?.to_str()? {
        INIT_ARG => Some(init::main(init::Mode::Container)),
        EXEC_ARG => Some(init::main(init::Mode::Exec)),
        _ => None,
    }
}
