//! Pods through the scheduler's queue (`scheduler::queue`) on their way
//! to a supervisor: a pod is started only once bound to this node, and
//! pods left waiting are tried again, and started, when the node or its
//! pods change (a label, a taint removed, a pod deleted or finished).

use std::time::{Duration, SystemTime};

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;

use crate::scheduler::queue::Queue;
use crate::store::Store;

/// The queue with the node as it is now, locked.
pub fn queue(store: &Store) -> Result<Queue<'_>> {
    Queue::open(store, crate::node::for_scheduling(store)?)
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

/// The scheduler's periodic flush of its unschedulable pods
/// (`podMaxInUnschedulablePodsDuration`, 5 minutes by default): a pod can
/// come to fit through a change nothing announces (the node's pressure
/// ending, say), so every `interval` the waiting pods are tried again.
/// No scheduler runs between commands here: the supervisors look every
/// 10 s, and pod commands as they start, and the first to find the
/// flush due does it. The time of the last one is the modification time
/// of `<root>/nodes/unschedulable-flush`; the first look starts the clock.
pub fn flush_if_due(store: &Store, interval: Duration) {
    let nodes = store.root().join("nodes");
    if !nodes.is_dir() {
        return;
    }
    let stamp = nodes.join("unschedulable-flush");
    let age = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| SystemTime::now().duration_since(t).unwrap_or_default());
    let touch = || {
        if let Err(e) = crate::store::write_atomic(&stamp, b"") {
            eprintln!("Warning: writing {}: {e}", stamp.display());
        }
    };
    match age {
        None => touch(),
        Some(age) if age < interval => {}
        Some(_) => {
            touch();
            retry_quietly(store);
        }
    }
}
