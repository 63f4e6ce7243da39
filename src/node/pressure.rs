//! The kubelet's eviction signals against its hard thresholds (the node
//! configuration's `evictionHard`, else the kubelet's defaults), the node
//! conditions they make, with the kubelet's reasons and messages
//! (pkg/kubelet/nodestatus setters.go), and the taints those conditions
//! put on the node.
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
/// condition is True (TaintNodesByCondition), NoSchedule.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";

/// One eviction signal (pkg/kubelet/eviction/api): what is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    MemoryAvailable,
    NodefsAvailable,
    NodefsInodesFree,
    ImagefsAvailable,
    ImagefsInodesFree,
    PidAvailable,
}

impl Signal {
    pub const ALL: [Signal; 6] = [
        Signal::MemoryAvailable,
        Signal::NodefsAvailable,
        Signal::NodefsInodesFree,
        Signal::ImagefsAvailable,
        Signal::ImagefsInodesFree,
        Signal::PidAvailable,
    ];

    /// The signal's name in `evictionHard`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::MemoryAvailable => "memory.available",
            Signal::NodefsAvailable => "nodefs.available",
            Signal::NodefsInodesFree => "nodefs.inodesFree",
            Signal::ImagefsAvailable => "imagefs.available",
            Signal::ImagefsInodesFree => "imagefs.inodesFree",
            Signal::PidAvailable => "pid.available",
        }
    }

    /// The node condition a crossed threshold of this signal makes True.
    pub fn condition(self) -> &'static str {
        match self {
            Signal::MemoryAvailable => "MemoryPressure",
            Signal::PidAvailable => "PIDPressure",
            _ => "DiskPressure",
        }
    }

    /// What is left and what there is, as observed. Images live under the
    /// state root, on the same filesystem, so imagefs is nodefs (as
    /// cadvisor reports a node without a dedicated image filesystem).
    pub fn observe(self, o: &Observed) -> (u64, u64) {
        match self {
            Signal::MemoryAvailable => (o.memory.available, o.memory.total),
            Signal::NodefsAvailable | Signal::ImagefsAvailable => (o.fs.available, o.fs.capacity),
            Signal::NodefsInodesFree | Signal::ImagefsInodesFree => (o.fs.inodes_free, o.fs.inodes),
            Signal::PidAvailable => (o.pids.available(), o.pids.max),
        }
    }
}

/// A threshold's value: a quantity, or a share of the capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Quantity(u64),
    /// A fraction (0.1 for 10%).
    Percentage(f64),
}

/// One hard eviction threshold: the signal is crossed when what is left
/// is less than the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub signal: Signal,
    pub value: Value,
}

impl Threshold {
    /// The value as an amount of a resource of `capacity`
    /// (`GetThresholdQuantity`: a percentage of the capacity, truncated).
    pub fn quantity(&self, capacity: u64) -> u64 {
        match self.value {
            Value::Quantity(q) => q,
            Value::Percentage(p) => (capacity as f64 * p) as u64,
        }
    }

    /// Whether the observation crosses it.
    pub fn crossed(&self, o: &Observed) -> bool {
        let (available, capacity) = self.signal.observe(o);
        // A filesystem that reports no inodes has no inode signal.
        let unmeasured = matches!(
            self.signal,
            Signal::NodefsInodesFree | Signal::ImagefsInodesFree
        ) && capacity == 0;
        !unmeasured && available < self.quantity(capacity)
    }
}

/// The node's hard eviction thresholds (`evictionHard`).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds(pub Vec<Threshold>);

impl Default for Thresholds {
    /// The kubelet's `DefaultEvictionHard` on Linux: memory.available<100Mi,
    /// nodefs.available<10%, nodefs.inodesFree<5%, imagefs.available<15%,
    /// imagefs.inodesFree<5%. No PID threshold.
    fn default() -> Thresholds {
        let t = |signal, value| Threshold { signal, value };
        Thresholds(vec![
            t(Signal::MemoryAvailable, Value::Quantity(100 << 20)),
            t(Signal::NodefsAvailable, Value::Percentage(0.1)),
            t(Signal::NodefsInodesFree, Value::Percentage(0.05)),
            t(Signal::ImagefsAvailable, Value::Percentage(0.15)),
            t(Signal::ImagefsInodesFree, Value::Percentage(0.05)),
        ])
    }
}

impl Thresholds {
    /// Parses `evictionHard` as the kubelet's `ParseThresholdConfig` does:
    /// the map replaces the defaults whole; `0%` and `100%` set no
    /// threshold.
    pub fn parse(map: &std::collections::BTreeMap<String, String>) -> Result<Thresholds, String> {
        let mut out = Vec::new();
        for (name, text) in map {
            let signal = Signal::ALL
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| format!("evictionHard: unsupported eviction signal {name}"))?;
            if let Some(percent) = text.strip_suffix('%') {
                if text == "0%" || text == "100%" {
                    continue;
                }
                let value: f64 = percent
                    .parse()
                    .map_err(|_| format!("evictionHard: invalid percentage {text:?} for {name}"))?;
                let fraction = value / 100.0;
                if fraction < 0.0 {
                    return Err(format!(
                        "evictionHard: eviction percentage threshold {name} must be >= 0%: {text}"
                    ));
                }
                if fraction > 1.0 {
                    return Err(format!(
                        "evictionHard: eviction percentage threshold {name} must be <= 100%: {text}"
                    ));
                }
                out.push(Threshold {
                    signal,
                    value: Value::Percentage(fraction),
                });
                continue;
            }
            let quantity = crate::api::quantity::Quantity::parse(text)
                .map_err(|e| format!("evictionHard: {name}: {text:?}: {e}"))?;
            let amount = quantity.as_bytes_ceil();
            if amount <= 0 {
                return Err(format!(
                    "evictionHard: eviction threshold {name} must be positive: {text}"
                ));
            }
            out.push(Threshold {
                signal,
                value: Value::Quantity(amount as u64),
            });
        }
        out.sort_by_key(|t| t.signal);
        Ok(Thresholds(out))
    }

    /// The thresholds the observation crosses.
    pub fn crossed(&self, o: &Observed) -> Vec<Threshold> {
        self.0.iter().filter(|t| t.crossed(o)).copied().collect()
    }

    fn of(&self, signal: Signal) -> Option<&Threshold> {
        self.0.iter().find(|t| t.signal == signal)
    }

    /// The hard eviction reservation subtracted from capacity to make
    /// allocatable (`hardEvictionReservation`): the memory.available
    /// threshold of the memory, the nodefs.available one of the
    /// filesystem.
    pub fn reserved_memory(&self, capacity: u64) -> u64 {
        self.of(Signal::MemoryAvailable)
            .map_or(0, |t| t.quantity(capacity))
    }

    pub fn reserved_ephemeral_storage(&self, capacity: u64) -> u64 {
        self.of(Signal::NodefsAvailable)
            .map_or(0, |t| t.quantity(capacity))
    }
}

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

/// The four conditions in the order the kubelet sets them.
pub fn conditions(o: &Observed, thresholds: &Thresholds) -> Vec<Condition> {
    let crossed = thresholds.crossed(o);
    let under = |condition: &str| crossed.iter().any(|t| t.signal.condition() == condition);
    let memory = under("MemoryPressure");
    let disk = under("DiskPressure");
    // With no pid.available threshold, a node out of pids all the same.
    let pid = under("PIDPressure") || o.pids.available() == 0;
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

/// The taint a True pressure condition puts on the node.
pub fn taint_of(condition: &str) -> Option<&'static str> {
    match condition {
        "MemoryPressure" => Some(TAINT_MEMORY_PRESSURE),
        "DiskPressure" => Some(TAINT_DISK_PRESSURE),
        "PIDPressure" => Some(TAINT_PID_PRESSURE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
        conditions(o, &Thresholds::default())
            .into_iter()
            .map(|c| (c.type_, c.status, c.reason))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<Thresholds, String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Thresholds::parse(&map)
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
        assert!(!status(&o)[0].1, "at the threshold is not below it");
        o.memory.available -= 1;
        assert_eq!(
            conditions(&o, &Thresholds::default())[0],
            Condition {
                type_: "MemoryPressure",
                status: true,
                reason: "KubeletHasInsufficientMemory",
                message: "kubelet has insufficient memory available",
            }
        );

        // imagefs.available<15% is the binding one on a shared filesystem.
        // The percentage is taken of the capacity in floating point and
        // truncated, as the kubelet's GetThresholdQuantity does.
        let mut o = healthy();
        let fifteen = (100.0 * GI as f64 * 0.15) as u64;
        o.fs.available = fifteen;
        assert!(!status(&o)[1].1);
        o.fs.available = fifteen - 1;
        assert_eq!(
            status(&o)[1],
            ("DiskPressure", true, "KubeletHasDiskPressure")
        );

        let mut o = healthy();
        o.fs.inodes_free = 49;
        assert!(status(&o)[1].1, "under 5% of inodes free");

        let mut o = healthy();
        o.pids.running = o.pids.max;
        assert_eq!(
            status(&o)[2],
            ("PIDPressure", true, "KubeletHasInsufficientPID")
        );
    }

    #[test]
    fn eviction_hard_replaces_the_defaults() {
        let t = parse(&[("nodefs.available", "60%"), ("pid.available", "40000")]).unwrap();
        let o = healthy();
        let crossed: Vec<Signal> = t.crossed(&o).iter().map(|t| t.signal).collect();
        assert_eq!(crossed, [Signal::NodefsAvailable, Signal::PidAvailable]);
        let c = conditions(&o, &t);
        assert!(!c[0].status && c[1].status && c[2].status);
        // No memory threshold: nothing reserved; 60% of the disk is.
        assert_eq!(t.reserved_memory(8 * GI), 0);
        assert_eq!(t.reserved_ephemeral_storage(1000), 600);
        // 0% and 100% set no threshold, as the kubelet parses them.
        assert_eq!(
            parse(&[("nodefs.available", "100%"), ("memory.available", "0%")])
                .unwrap()
                .0,
            []
        );
        for (pair, want) in [
            (
                ("memory.free", "1Mi"),
                "evictionHard: unsupported eviction signal memory.free",
            ),
            (
                ("nodefs.available", "101%"),
                "evictionHard: eviction percentage threshold nodefs.available must be <= 100%: 101%",
            ),
            (
                ("memory.available", "0"),
                "evictionHard: eviction threshold memory.available must be positive: 0",
            ),
        ] {
            assert_eq!(parse(&[pair]).unwrap_err(), want);
        }
    }

    #[test]
    fn reservations_are_the_hard_eviction_thresholds() {
        let t = Thresholds::default();
        assert_eq!(t.reserved_memory(8 * GI), 104_857_600);
        assert_eq!(t.reserved_ephemeral_storage(1000), 100);
        assert_eq!(
            t.reserved_ephemeral_storage(105_088_806_912),
            10_508_880_691
        );
    }
}
