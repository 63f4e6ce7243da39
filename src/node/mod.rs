//! The node: what the kubelet is told about the machine it runs on, the
//! Node object it registers, and the kubelet's admission of a pod onto it.

pub mod admission;
pub mod config;
mod facts;
pub mod measure;
// Unused until `get nodes` and the scheduler read the Node (landing next).
#[allow(dead_code)]
mod object;
pub mod pressure;

#[allow(unused_imports)]
pub use facts::{check_name, cpus, host_ip, memory_bytes, name, name_in};
#[allow(unused_imports)]
pub use object::{Machine, build, current, go_arch, save};
