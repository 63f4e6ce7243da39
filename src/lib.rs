//! `pod`: a single-node kubectl and kubelet in one binary.
//!
//! The user-facing subcommands live in `cli/`; hidden re-executions of this
//! same binary (the per-pod supervisor, the container init) are dispatched
//! before clap sees the arguments, the way `runc init` is. The pause process
//! runs a tiny program of its own (`runtime/pause.rs`).

mod api;
mod apiserver;
mod cli;
mod duration;
mod error;
mod fault;
mod image;
mod network;
mod node;
mod objects;
mod pods;
mod print;
mod process;
mod runtime;
mod scheduler;
mod store;
mod supervisor;
mod terminal;
mod tls;

pub mod fuzz;
#[doc(hidden)]
pub mod privileged;

use std::process::ExitCode;

/// The whole program: `src/main.rs` only calls this. The library exists so
/// that the fuzz targets (`fuzz/`) can reach the parsers through [`fuzz`],
/// and the tests that need root the parts they test through
/// `privileged`; the modules stay private, so the public surface is this
/// and those.
pub fn main() -> ExitCode {
    // A container's init (and exec) is recognised before anything else: it
    // runs for every container of every pod, so it sets up nothing it does
    // not use. (The pause process runs a program of its own.)
    if let Some(code) = runtime::reexec::dispatch() {
        return code;
    }
    // Registry pulls use rustls with the ring provider (the brief's choice:
    // it builds in a fraction of aws-lc's time); reqwest needs it installed
    // process-wide before any client is built, in the CLI and in the
    // supervisor, which pulls a pod's images.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The supervisor retries the scheduler's waiting pods through `pods`,
    // the layer above it, which is handed to it here.
    let scheduling = supervisor::Scheduling {
        retry: pods::retry_quietly,
        flush_if_due: pods::flush_if_due,
    };
    if let Some(code) = supervisor::dispatch(scheduling) {
        return code;
    }
    match cli::run() {
        Ok(code) => code,
        Err(err) => error::report(&err),
    }
}
