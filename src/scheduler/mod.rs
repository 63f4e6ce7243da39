//! The scheduler's part, for the one node: whether a pod fits it
//! (kube-scheduler's default profile, `fit`), and the scheduling queue
//! over the state directory (`queue`): binding a pod that fits, keeping
//! one that does not Pending with the scheduler's condition and events,
//! and trying the waiting pods again when the node or its pods change.

pub mod admission;
mod affinity;
pub mod fit;
mod ports;
pub mod queue;
pub mod resources;
pub mod taints;

#[cfg(test)]
mod tests;
