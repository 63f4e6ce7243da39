//! The scheduler's part, for the one node: whether a pod fits it
//! (kube-scheduler's default profile, `fit`), and the scheduling queue
//! over the state directory (`queue`): binding a pod that fits, keeping
//! one that does not Pending with the scheduler's condition and events,
//! and trying the waiting pods again when the node or its pods change.

mod affinity;
pub mod fit;
mod ports;
pub mod queue;
mod resources;
pub mod taints;

#[cfg(test)]
mod tests;

use crate::api::Object;

/// What `create` says of a pod asking for a priority class: the one node
/// schedules every pod with the same priority and never preempts.
pub fn priority_warning(object: &Object) -> Option<String> {
    let Object::Pod(pod) = object else {
        return None;
    };
    let class = pod.spec.as_ref()?.priority_class_name.as_deref()?;
    Some(format!(
        "spec.priorityClassName: {class:?} is not supported: pod schedules every pod with the same priority and never preempts one"
    ))
}
