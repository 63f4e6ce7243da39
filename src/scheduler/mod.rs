//! The scheduler's part, for the one node: whether a pod fits it
//! (kube-scheduler's default profile, `fit`).

mod affinity;
pub mod fit;
mod ports;
mod resources;
pub mod taints;

#[cfg(test)]
mod tests;

