//! The kubelet's eviction signals against its default hard thresholds,
//! and the node conditions they make, with the kubelet's reasons and
//! messages (pkg/kubelet/nodestatus setters.go).
//!
//! Defaults (pkg/kubelet/apis/config/v1beta1 `DefaultEvictionHard`, Linux):
//! memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%,
//! imagefs.available<15%, imagefs.inodesFree<5%. Images live under the
//! state root, on the same filesystem as everything else, so the imagefs
//! signals read that one filesystem too (as cadvisor reports a node
//! without a dedicated image filesystem). No PID threshold is set by
//! default, so PIDPressure is False unless every pid is taken.

use super::measure::{Filesystem, Memory, Pids};

/// The taints the node lifecycle controller puts on a node whose pressure
/// condition is True (TaintNodesByCondition), NoSchedule: memory-pressure.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";

/// memory.available < 100Mi.
pub const MEMORY_AVAILABLE_BYTES: u64 = 100 << 20;
/// nodefs.available < 10%.
pub const NODEFS_AVAILABLE_PERCENT: u64 = 10;
/// nodefs.inodesFree < 5%.
pub const NODEFS_INODES_FREE_PERCENT: u64 = 5;
/// imagefs.available < 15%.
pub const IMAGEFS_AVAILABLE_PERCENT: u64 = 15;
/// imagefs.inodesFree < 5%.
pub const IMAGEFS_INODES_FREE_PERCENT: u64 = 5;

/// What the eviction manager observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub memory: Memory,
    pub fs: Filesystem,
    pub pids: Pids,
}

/// One node condition: type, whether it holds, reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: &'static str,
}

/// `value < percent% of total`.
fn below_percent(value: u64, total: u64, percent: u64) -> bool {
    u128::from(value) * 100 < u128::from(total) * u128::from(percent)
}

pub fn memory_pressure(m: &Memory) -> bool {
    m.available < MEMORY_AVAILABLE_BYTES
}

pub fn disk_pressure(fs: &Filesystem) -> bool {
    below_percent(fs.available, fs.capacity, NODEFS_AVAILABLE_PERCENT)
        || below_percent(fs.available, fs.capacity, IMAGEFS_AVAILABLE_PERCENT)
        || (fs.inodes > 0
            && (below_percent(fs.inodes_free, fs.inodes, NODEFS_INODES_FREE_PERCENT)
                || below_percent(fs.inodes_free, fs.inodes, IMAGEFS_INODES_FREE_PERCENT)))
}

/// With no pid.available threshold configured, only a node out of pids.
pub fn pid_pressure(p: &Pids) -> bool {
    p.available() == 0
}

/// The four conditions in the order the kubelet sets them.
pub fn conditions(o: &Observed) -> Vec<Condition> {
    let memory = memory_pressure(&o.memory);
    let disk = disk_pressure(&o.fs);
    let pid = pid_pressure(&o.pids);
    vec![
        if memory {
            Condition {
                type_: "MemoryPressure",
                status: true,
                reason: "KubeletHasInsufficientMemory",
                message: "kubelet has insufficient memory available",
            }
        } else {
            Condition {
                type_: "MemoryPressure",
                status: false,
                reason: "KubeletHasSufficientMemory",
                message: "kubelet has sufficient memory available",
            }
        },
        if disk {
            Condition {
                type_: "DiskPressure",
                status: true,
                reason: "KubeletHasDiskPressure",
                message: "kubelet has disk pressure",
            }
        } else {
            Condition {
                type_: "DiskPressure",
                status: false,
                reason: "KubeletHasNoDiskPressure",
                message: "kubelet has no disk pressure",
            }
        },
        if pid {
            Condition {
                type_: "PIDPressure",
                status: true,
                reason: "KubeletHasInsufficientPID",
                message: "kubelet has insufficient PID available",
            }
        } else {
            Condition {
                type_: "PIDPressure",
                status: false,
                reason: "KubeletHasSufficientPID",
                message: "kubelet has sufficient PID available",
            }
        },
        // The kubelet is this process: the runtime is in it, so it is
        // ready whenever it answers.
        Condition {
            type_: "Ready",
            status: true,
            reason: "KubeletReady",
            message: "kubelet is posting ready status",
        },
    ]
}

/// The hard eviction reservation subtracted from capacity to make
/// allocatable (`hardEvictionReservation`): 100Mi of memory, 10% of the
/// node filesystem's capacity.
pub fn reserved_memory() -> u64 {
    MEMORY_AVAILABLE_BYTES
}

pub fn reserved_ephemeral_storage(capacity: u64) -> u64 {
    // float64(capacity) * 0.1 truncated, as the kubelet multiplies.
    (capacity as f64 * (NODEFS_AVAILABLE_PERCENT as f64 / 100.0)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const GI: u64 = 1 << 30;

    fn healthy() -> Observed {
        Observed {
            memory: Memory {
                total: 8 * GI,
                available: 4 * GI,
            },
            fs: Filesystem {
                capacity: 100 * GI,
                available: 50 * GI,
                inodes: 1000,
                inodes_free: 900,
            },
            pids: Pids {
                max: 32768,
                running: 300,
            },
        }
    }

    fn status(o: &Observed) -> Vec<(&'static str, bool, &'static str)> {
        conditions(o)
            .into_iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect()
    }

    #[test]
    fn a_healthy_node_has_no_pressure_and_is_ready() {
        assert_eq!(
            status(&healthy()),
            [
                ("MemoryPressure", false, "KubeletHasSufficientMemory"),
                ("DiskPressure", false, "KubeletHasNoDiskPressure"),
                ("PIDPressure", false, "KubeletHasSufficientPID"),
                ("Ready", true, "KubeletReady"),
            ]
        );
    }

    #[test]
    fn thresholds_are_the_kubelets_defaults() {
        let mut o = healthy();
        o.memory.available = 100 * (1 << 20);
        assert!(
            !memory_pressure(&o.memory),
            "at the threshold is not below it"
        );
        o.memory.available -= 1;
        assert_eq!(
            conditions(&o)[0],
            Condition {
                type_: "MemoryPressure",
                status: true,
                reason: "KubeletHasInsufficientMemory",
                message: "kubelet has insufficient memory available",
            }
        );

        // imagefs.available<15% is the binding one on a shared filesystem.
        let mut o = healthy();
        o.fs.available = 15 * GI;
        assert!(!disk_pressure(&o.fs));
        o.fs.available = 15 * GI - 1;
        assert_eq!(
            status(&o)[1],
            ("DiskPressure", true, "KubeletHasDiskPressure")
        );

        let mut o = healthy();
        o.fs.inodes_free = 49;
        assert!(disk_pressure(&o.fs), "under 5% of inodes free");

        let mut o = healthy();
        o.pids.running = o.pids.max;
        assert_eq!(
            status(&o)[2],
            ("PIDPressure", true, "KubeletHasInsufficientPID")
        );
    }

    #[test]
    fn reservations_are_the_hard_eviction_thresholds() {
        assert_eq!(reserved_memory(), 104_857_600);
        assert_eq!(reserved_ephemeral_storage(1000), 100);
        assert_eq!(reserved_ephemeral_storage(105_088_806_912), 10_508_880_691);
    }
}
