//! Pods through the scheduler's queue (`scheduler::queue`) on their way
//! to a supervisor: a pod is started only once bound to this node, and
//! pods left waiting are tried again, and started, when the node or its
//! pods change (a label, a taint removed, a pod deleted or finished).

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;

use crate::scheduler::queue::Queue;
use crate::store::Store;

/// The queue with the node as it is now, locked.
pub fn queue(store: &Store) -> Result<Queue<'_>> {
    Queue::open(store, crate::node::current(store)?)
}

/// Tries the waiting pods again in creation order and starts those that
/// fit now. A supervisor that does not start is reported on stderr (and
/// its pod removed, as at create); the others start regardless.
pub fn retry(store: &Store) -> Result<()> {
    // The lock is let go before the supervisors start: bound pods count
    // as the node's for anyone scheduling meanwhile.
    let bound: Vec<Pod> = queue(store)?.retry()?;
    let starting: Vec<_> = bound
        .iter()
        .map(|pod| (pod, super::start(store, pod)))
        .collect();
    for (pod, started) in starting {
        if let Err(e) = started.and_then(|s| s.wait(store)) {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            eprintln!("Warning: pod {name:?} fits the node now, but did not start: {e:#}");
        }
    }
    Ok(())
}

/// [`retry`] where nobody waits for its outcome (after a deletion or a
/// pod's end): a failure is only reported.
pub fn retry_quietly(store: &Store) {
    if let Err(e) = retry(store) {
        eprintln!("Warning: scheduling the waiting pods: {e:#}");
    }
}
