//! The per-pod supervisor: the kubelet half of `pod`.
//!
//! `pod create` stores a pod and starts its supervisor (`pods::start`):
//! this binary re-executed as `pod-supervisor`, detached from the
//! terminal, one process per pod; [`dispatch`] is its entry point. The supervisor starts the sandbox and the containers
//! through `runtime`, drives them through the kubelet's lifecycle (init
//! containers, sidecars, restarts with back-off, hooks, probes,
//! termination), writes the pod's status and events to the store and the
//! containers' output to CRI log files, and answers `delete` (and later
//! attach) on a unix socket in the pod's run directory.
//!
//! The CLI and the supervisor share nothing but files and that socket. A
//! supervisor that dies is replaced by its `keeper` with one that adopts
//! the pod (`lifecycle::adopt`); a pod whose supervisor is gone for good
//! (its keeper killed too) reads as Unknown (`store::observed`) and is
//! still cleaned up by `pods::delete`. Everything in this module runs
//! inside the supervisor process, except the protocol definitions of
//! `socket` and `attach`, which the CLI's side (`pods`) uses too.
//!
//! Where this differs from the kubelet, on purpose:
//! - `--force --grace-period=0` sends SIGKILL at once (the kubelet still
//!   grants 2 s), and `delete` waits for the teardown unless
//!   `--wait=false`, so that a test's temporary directory is never removed
//!   under live mounts.
//! - A completed pod's supervisor tears the sandbox down and exits; its
//!   final status stays in the store, and `delete` cleans up from the
//!   records (as for a supervisor that died).
//! - Rotated log files are kept as they are, not gzipped.
//! - httpGet probes use a minimal HTTP/1.1 client (see `handler`).
//! - A gRPC probe that cannot connect retries until its timeout and is
//!   reported as the kubelet's connect timeout; a server that accepts the
//!   connection but does not speak HTTP/2 fails the call instead (grpc-go
//!   would keep redialing until the timeout).

pub mod attach;
pub mod backoff;
mod grpc;
mod handler;
pub mod keeper;
pub mod launch;
mod lifecycle;
mod memory;
mod offload;
mod reaper;
pub mod socket;
pub mod status;
mod status_writer;
mod stdio;
mod tls;

pub use launch::{Scheduling, dispatch};
