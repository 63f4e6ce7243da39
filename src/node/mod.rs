//! The node: what the kubelet is told about the machine it runs on, the
//! Node object it registers, and the kubelet's admission of a pod onto it.

pub mod admission;
pub mod config;
pub mod eviction;
mod facts;
pub mod measure;
mod object;
pub mod pressure;

pub use facts::{cpus, host_ip, memory_bytes, name_in, name_of};
pub use object::{current, events, for_scheduling, record_file, save, taints};
