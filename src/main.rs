//! `pod`: a single-node kubectl and kubelet in one binary.
//!
//! The user-facing subcommands live in `cli/`; hidden re-executions of this
//! same binary (the per-pod supervisor, the pause process, the container
//! init) are dispatched before clap sees the arguments, the way `runc init`
//! is.

mod api;
mod cli;
mod duration;
mod error;
mod image;
mod pods;
mod print;
mod repl;
mod runtime;
mod store;
mod supervisor;
mod terminal;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The pause process (argv[0] "/pause", so that `ps` inside a pod shows
    // it as Kubernetes does) and a container's init are recognised before
    // anything else: they run for every container of every pod, so they
    // set up nothing they do not use.
    if let Some(code) = runtime::reexec::dispatch() {
        return code;
    }
    // Registry pulls use rustls with the ring provider (the brief's choice:
    // it builds in a fraction of aws-lc's time); reqwest needs it installed
    // process-wide before any client is built, in the CLI and in the
    // supervisor, which pulls a pod's images.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(code) = supervisor::dispatch() {
        return code;
    }
    match cli::run() {
        Ok(code) => code,
        Err(err) => error::report(&err),
    }
}
