//! The node: what the kubelet is told about the machine it runs on, and
//! the kubelet's admission of a pod onto it.

pub mod admission;
pub mod config;
mod facts;

pub use facts::{cpus, host_ip, memory_bytes, name};
