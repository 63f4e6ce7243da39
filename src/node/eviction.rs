//! The kubelet's eviction manager, its decision (pkg/kubelet/eviction):
//! with a hard threshold crossed, the active pods are ranked for the
//! starved resource and the first is evicted, one pod per monitoring
//! period (10 s); it ends Failed, reason `Evicted`, with the kubelet's
//! message and event.
//!
//! Ranking (`rankMemoryPressure`, `rankDiskPressureFunc`, `rankPIDPressure`):
//! pods whose usage exceeds their request first, then (priority being one
//! for every pod here) the largest usage above the request. Usage is what
//! the kubelet's stats give: memory is the pod cgroup's working set;
//! ephemeral storage is the containers' writable layers, their logs and
//! the pod's disk emptyDirs; inodes the files in those; pids the
//! processes of the pod cgroup.
//!
//! Which pod is the victim is decided by the supervisors themselves (no
//! daemon runs beside them): each looks at the node every monitoring
//! period and, under a node-wide lock, evicts its own pod if it ranks
//! first and no pod was evicted within the last period. A pod whose
//! supervisor is gone is ranked but cannot evict itself.

use std::path::Path;

use super::pressure::{Signal, Threshold};
use crate::api::quantity::Quantity;

/// The kubelet's eviction monitoring period.
pub const MONITORING_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

/// One pod as ranked for a resource: its usage and its request of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub uid: String,
    pub usage: i64,
    pub request: i64,
}

/// The order in which the kubelet evicts: over their request first, then
/// the largest usage above the request; the name breaks ties so every
/// supervisor ranks alike.
pub fn rank(mut pods: Vec<Candidate>) -> Vec<Candidate> {
    pods.sort_by(|a, b| {
        let over = |c: &Candidate| c.usage > c.request;
        over(b)
            .cmp(&over(a))
            .then_with(|| (b.usage - b.request).cmp(&(a.usage - a.request)))
            .then_with(|| a.uid.cmp(&b.uid))
    });
    pods
}

/// The resource an eviction for this signal reclaims (`signalToResource`).
pub fn resource(signal: Signal) -> &'static str {
    match signal {
        Signal::MemoryAvailable => "memory",
        Signal::NodefsAvailable | Signal::ImagefsAvailable => "ephemeral-storage",
        Signal::NodefsInodesFree | Signal::ImagefsInodesFree => "inodes",
        Signal::PidAvailable => "pids",
    }
}

/// The kubelet's `evictionMessage`: the starved resource, the threshold
/// and what was available, and each container using more than it asked.
/// `containers` is (name, usage, request) for the resource.
pub fn message(
    threshold: &Threshold,
    available: u64,
    capacity: u64,
    containers: &[(String, i64, i64)],
) -> String {
    let resource = resource(threshold.signal);
    let mut message = format!("The node was low on resource: {resource}. ");
    let quantity = threshold.quantity(capacity);
    message.push_str(&format!(
        "Threshold quantity: {}, available: {}. ",
        binary(quantity),
        binary(available)
    ));
    for (name, usage, request) in containers {
        if usage > request {
            message.push_str(&format!(
                "Container {name} was using {}, request is {}, has larger consumption of {resource}. ",
                binary(*usage as u64),
                binary(*request as u64),
            ));
        }
    }
    message
}

/// A quantity as `resource.NewQuantity(n, BinarySI)` prints.
fn binary(n: u64) -> String {
    Quantity::binary(n.min(i64::MAX as u64) as i64).canonical()
}

/// Bytes and inodes used under `dir` (`du`: each file's allocated
/// blocks, hard links once; not following links or leaving the
/// filesystem). A missing directory uses nothing.
pub fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return (0, 0);
    };
    let device = top.dev();
    let mut seen = std::collections::HashSet::new();
    let (mut bytes, mut inodes) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.dev() != device || (meta.nlink() > 1 && !seen.insert(meta.ino())) {
            continue;
        }
        bytes += meta.blocks() * 512;
        inodes += 1;
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.filter_map(Result::ok).map(|e| e.path()));
        }
    }
    (bytes, inodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::pressure::Value;

    fn c(uid: &str, usage: i64, request: i64) -> Candidate {
        Candidate {
            uid: uid.into(),
            usage,
            request,
        }
    }

    fn order(pods: Vec<Candidate>) -> Vec<String> {
        rank(pods).into_iter().map(|c| c.uid).collect()
    }

    #[test]
    fn pods_over_their_request_go_first_then_the_largest_excess() {
        assert_eq!(
            order(vec![
                c("within", 900, 1000),
                c("small", 20, 0),
                c("big", 500, 100),
                c("none", 0, 0),
            ]),
            ["big", "small", "none", "within"]
        );
        // Ties rank by uid, the same in every supervisor.
        assert_eq!(order(vec![c("b", 5, 0), c("a", 5, 0)]), ["a", "b"]);
    }

    #[test]
    fn the_message_is_the_kubelets() {
        let t = Threshold {
            signal: Signal::NodefsAvailable,
            value: Value::Percentage(0.1),
        };
        let text = message(
            &t,
            1 << 20,
            10 << 30,
            &[
                ("writer".into(), 2 << 20, 0),
                ("quiet".into(), 4096, 1 << 20),
            ],
        );
        assert_eq!(
            text,
            "The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 1Mi. Container writer was using 2Mi, request is 0, has larger consumption of ephemeral-storage. "
        );
        let memory = Threshold {
            signal: Signal::MemoryAvailable,
            value: Value::Quantity(100 << 20),
        };
        assert_eq!(
            message(&memory, 50 << 20, 8 << 30, &[]),
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
        );
    }

    #[test]
    fn disk_usage_counts_blocks_and_inodes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), vec![1u8; 64 << 10]).unwrap();
        std::fs::hard_link(dir.path().join("d/f"), dir.path().join("g")).unwrap();
        let (bytes, inodes) = disk_usage(dir.path());
        assert!(
            (64 << 10..(64 << 10) + (64 << 10)).contains(&bytes),
            "{bytes}"
        );
        assert_eq!(inodes, 3, "the top, d, and f once");
        assert_eq!(disk_usage(&dir.path().join("missing")), (0, 0));
    }
}
