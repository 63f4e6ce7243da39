//! The Node object of this machine, as the kubelet registers and updates
//! it: built afresh from measurements on every read, with what users set
//! on it (labels, annotations, taints) and what must outlive one read
//! (uid, creation time, when each condition last changed) kept in
//! `<root>/nodes/<name>.json`, a Node of those fields only, 0600, written
//! atomically under `<root>/locks/node`.
//!
//! The kubelet's own labels (`kubernetes.io/hostname`, `kubernetes.io/os`,
//! `kubernetes.io/arch` and their `beta.` forms) are set again on every
//! read, as the kubelet reconciles them when it registers: a user may not
//! take them away. `node.kubernetes.io/instance-type` is a cloud
//! provider's and is absent.
//!
//! Capacity: cpu (the CPUs pod may use), memory (MemTotal), pods (the
//! configuration's `maxPods`, 110 by default),
//! ephemeral-storage (the filesystem of the state root) and one
//! `hugepages-<size>` per size the kernel has. Allocatable is capacity
//! less the kubelet's defaults: nothing reserved for the system or
//! kube, less the hard eviction thresholds (memory 100Mi, 10% of the
//! filesystem); see `pressure`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Wire;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::measure::{self, HugePages, System};
use super::pressure::{self, Observed, Thresholds};
use crate::api::quantity::Quantity;
use crate::store::events::{Recorder, Source, Type};
use crate::store::{Lock, Store, write_atomic};

/// The kubelet's default `maxPods`.
pub const MAX_PODS: i64 = 110;

/// `kubernetes.io/hostname` and the other labels the kubelet sets.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_OS: &str = "kubernetes.io/os";
pub const LABEL_ARCH: &str = "kubernetes.io/arch";
pub const LABEL_OS_BETA: &str = "beta.kubernetes.io/os";
pub const LABEL_ARCH_BETA: &str = "beta.kubernetes.io/arch";

/// The node as it is now. Registers it (uid, creation time) on first use.
pub fn current(store: &Store) -> Result<Node> {
    read(store, Reading::Whole)
}

/// The node as the scheduler and the kubelet's admission see it: as
/// [`current`], without what no placement reads and every read measures
/// anew, the system's identity (five files) and the node's address (a
/// socket). Read for every pod placed, on the path of each `create`
/// before its supervisor starts; its `nodeInfo` is empty and its
/// address is none.
pub fn for_scheduling(store: &Store) -> Result<Node> {
    read(store, Reading::ForScheduling)
}

fn read(store: &Store, reading: Reading) -> Result<Node> {
    let config = crate::node::config::NodeConfig::of(store)?;
    current_in(
        store.root(),
        &super::facts::name_in(&config),
        &config.eviction_hard,
        config.max_pods,
        reading,
    )
}

/// How much of the machine a read of the node measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Everything the Node shows.
    Whole,
    /// What scheduling reads: capacity, pressure, labels and taints.
    ForScheduling,
}

/// The node named `name` whose state lives under `root`, taking up to
/// `max_pods` pods.
fn current_in(
    root: &Path,
    name: &str,
    thresholds: &Thresholds,
    max_pods: i64,
    reading: Reading,
) -> Result<Node> {
    let machine = Machine::measure(root, thresholds, max_pods, reading)?;
    let now = second(crate::duration::now());
    let _lock = lock(root)?;
    let path = record_path(root, name);
    let mut events = Vec::new();
    let mut record = match read_record(&path)? {
        Some(record) => record,
        None => {
            let record = register(name, now);
            write_record(&path, &record)?;
            // The kubelet's first words about its node.
            events.push(("Starting", "Starting kubelet.".to_string()));
            events.push((
                "NodeAllocatableEnforced",
                "Updated Node Allocatable limit across pods".to_string(),
            ));
            record
        }
    };
    let node = build(name, &record, &machine, now);
    // A condition that changed status is recorded with its transition
    // time, so the next read keeps it, and said as the kubelet's
    // `recordNodeStatusEvent` says it.
    if transitions_differ(&record, &node) {
        let before = recorded_conditions(&record).unwrap_or_default();
        for c in node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
        {
            let was = before.iter().find(|b| b.type_ == c.type_);
            if was.is_none_or(|b| b.status != c.status)
                && let Some(event) = status_event(&c.type_, c.status == "True")
            {
                events.push((event, format!("Node {name} status is now: {event}")));
            }
        }
        record.status = Some(NodeStatus {
            conditions: node
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .map(|cs| {
                    cs.into_iter()
                        .map(|c| NodeCondition {
                            last_heartbeat_time: None,
                            ..c
                        })
                        .collect()
                }),
            ..Default::default()
        });
        write_record(&path, &record)?;
    }
    if !events.is_empty() {
        let mut recorder = Recorder::for_node(name, &events_path(root, name));
        for (reason, message) in events {
            if let Err(e) = recorder.record(None, Type::Normal, Source::Kubelet, reason, &message) {
                eprintln!("pod: recording the node's {reason} event: {e}");
            }
        }
    }
    Ok(node)
}

/// The event the kubelet records when a condition turns (setters.go).
fn status_event(condition: &str, status: bool) -> Option<&'static str> {
    Some(match (condition, status) {
        ("MemoryPressure", true) => "NodeHasInsufficientMemory",
        ("MemoryPressure", false) => "NodeHasSufficientMemory",
        ("DiskPressure", true) => "NodeHasDiskPressure",
        ("DiskPressure", false) => "NodeHasNoDiskPressure",
        ("PIDPressure", true) => "NodeHasInsufficientPID",
        ("PIDPressure", false) => "NodeHasSufficientPID",
        ("Ready", true) => "NodeReady",
        ("Ready", false) => "NodeNotReady",
        _ => return None,
    })
}

/// The kubelet's events about the node `name`, oldest first.
pub fn events(store: &Store, name: &str) -> Result<Vec<k8s_openapi::api::core::v1::Event>> {
    let path = events_path(store.root(), name);
    crate::store::events::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn events_path(root: &Path, name: &str) -> PathBuf {
    root.join("nodes").join(format!("{name}.events.jsonl"))
}

/// Writes what a user may change of the node (labels, annotations,
/// taints) from `node`, for label, annotate and taint. Anything else in
/// `node` is the kubelet's and is not kept.
pub fn save(store: &Store, node: &Node) -> Result<()> {
    save_in(store.root(), node)
}

fn save_in(root: &Path, node: &Node) -> Result<()> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let _lock = lock(root)?;
    let path = record_path(root, &name);
    let mut record = read_record(&path)?.ok_or_else(|| crate::api::ApiError::NotFound {
        resource: "nodes".into(),
        name: name.clone(),
    })?;
    record.metadata.labels = node.metadata.labels.clone().filter(|m| !m.is_empty());
    record.metadata.annotations = node.metadata.annotations.clone().filter(|m| !m.is_empty());
    // The pressure taints are the node controller's, put back on every
    // read while their condition holds: not the user's to keep.
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .map(|ts| {
            ts.into_iter()
                .filter(|t| !is_condition_taint(t))
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty());
    record.spec = taints.map(|taints| NodeSpec {
        taints: Some(taints),
        ..Default::default()
    });
    write_record(&path, &record)
}

/// What was measured of the machine for one read.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpus: i64,
    pub observed: Observed,
    /// The hard eviction thresholds the observation is held against.
    pub thresholds: Thresholds,
    /// The pods the node takes (`maxPods`).
    pub max_pods: i64,
    pub huge_pages: Vec<HugePages>,
    pub system: System,
    pub host_ip: String,
}

impl Machine {
    /// Measures this machine, as much as `reading` asks (the identity and
    /// the address left empty for scheduling); the filesystem is the one
    /// holding `root`.
    fn measure(
        root: &Path,
        thresholds: &Thresholds,
        max_pods: i64,
        reading: Reading,
    ) -> Result<Machine> {
        let whole = reading == Reading::Whole;
        Ok(Machine {
            cpus: super::facts::cpus(),
            thresholds: thresholds.clone(),
            max_pods,
            observed: Observed {
                memory: measure::memory().context("reading /proc/meminfo")?,
                fs: measure::filesystem(root)
                    .with_context(|| format!("statfs {}", root.display()))?,
                pids: measure::pids().context("counting process ids")?,
            },
            huge_pages: measure::huge_pages(),
            system: if whole {
                measure::system()
            } else {
                System::default()
            },
            host_ip: if whole {
                super::facts::host_ip()
            } else {
                String::new()
            },
        })
    }
}

/// The Node from its record and the measurements, at `now`.
pub fn build(name: &str, record: &Node, machine: &Machine, now: Timestamp) -> Node {
    let mut labels = record.metadata.labels.clone().unwrap_or_default();
    let arch = go_arch();
    for (key, value) in [
        (LABEL_ARCH_BETA, arch),
        (LABEL_OS_BETA, "linux"),
        (LABEL_ARCH, arch),
        (LABEL_HOSTNAME, name),
        (LABEL_OS, "linux"),
    ] {
        labels.insert(key.to_string(), value.to_string());
    }
    let (capacity, allocatable) = resources(machine);
    let conditions = conditions(record, machine, now);
    // TaintNodesByCondition: a True pressure condition taints the node
    // NoSchedule, so the scheduler keeps new pods away.
    let mut taints = record
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    for c in conditions.iter().filter(|c| c.status == "True") {
        if let Some(key) = pressure::taint_of(&c.type_)
            && !taints
                .iter()
                .any(|t| t.key == key && t.effect == "NoSchedule")
        {
            taints.push(Taint {
                key: key.into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            });
        }
    }
    let version = env!("CARGO_PKG_VERSION");
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            uid: record.metadata.uid.clone(),
            creation_timestamp: record.metadata.creation_timestamp.clone(),
            labels: Some(labels),
            annotations: record.metadata.annotations.clone(),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then_some(taints),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(capacity),
            allocatable: Some(allocatable),
            conditions: Some(conditions.clone()),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: machine.host_ip.clone(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.to_string(),
                },
            ]),
            node_info: Some(NodeSystemInfo {
                machine_id: machine.system.machine_id.clone(),
                system_uuid: machine.system.system_uuid.clone(),
                boot_id: machine.system.boot_id.clone(),
                kernel_version: machine.system.kernel_version.clone(),
                os_image: machine.system.os_image.clone(),
                container_runtime_version: format!("pod://{version}"),
                kubelet_version: format!("v{version}"),
                kube_proxy_version: String::new(),
                operating_system: "linux".into(),
                architecture: arch.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// Capacity and allocatable, by resource name.
fn resources(machine: &Machine) -> (BTreeMap<String, Wire>, BTreeMap<String, Wire>) {
    let wire = |q: Quantity| Wire(q.canonical());
    let memory = machine.observed.memory.total as i64;
    let storage = machine.observed.fs.capacity as i64;
    let mut capacity = BTreeMap::new();
    let mut allocatable = BTreeMap::new();
    for (key, cap, alloc) in [
        (
            "cpu",
            Quantity::decimal(machine.cpus),
            Quantity::decimal(machine.cpus),
        ),
        (
            "memory",
            Quantity::binary(memory),
            Quantity::binary(
                (memory - machine.thresholds.reserved_memory(memory as u64) as i64).max(0),
            ),
        ),
        (
            "ephemeral-storage",
            Quantity::binary(storage),
            Quantity::binary(
                (storage
                    - machine
                        .thresholds
                        .reserved_ephemeral_storage(storage as u64) as i64)
                    .max(0),
            ),
        ),
        (
            "pods",
            Quantity::decimal(machine.max_pods),
            Quantity::decimal(machine.max_pods),
        ),
    ] {
        capacity.insert(key.to_string(), wire(cap));
        allocatable.insert(key.to_string(), wire(alloc));
    }
    for h in &machine.huge_pages {
        let key = measure::huge_page_resource(h.page_size);
        capacity.insert(key.clone(), wire(Quantity::binary(h.total as i64)));
        allocatable.insert(key, wire(Quantity::binary(h.total as i64)));
    }
    (capacity, allocatable)
}

/// The conditions now, each keeping its recorded transition time while
/// its status is unchanged (the creation time before any was recorded).
fn conditions(record: &Node, machine: &Machine, now: Timestamp) -> Vec<NodeCondition> {
    let recorded = recorded_conditions(record).unwrap_or_default();
    let created = record
        .metadata
        .creation_timestamp
        .clone()
        .unwrap_or(Time(now));
    pressure::conditions(&machine.observed, &machine.thresholds)
        .into_iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" };
            let transition = match recorded.iter().find(|r| r.type_ == c.type_) {
                Some(r) if r.status == status => r.last_transition_time.clone(),
                Some(_) => Some(Time(now)),
                None => Some(created.clone()),
            };
            NodeCondition {
                type_: c.type_.into(),
                status: status.into(),
                last_heartbeat_time: Some(Time(now)),
                last_transition_time: transition,
                reason: Some(c.reason.into()),
                message: Some(c.message.into()),
            }
        })
        .collect()
}

fn recorded_conditions(record: &Node) -> Option<Vec<NodeCondition>> {
    record.status.as_ref().and_then(|s| s.conditions.clone())
}

/// Whether the conditions' statuses or transition times differ from the
/// record's.
fn transitions_differ(record: &Node, node: &Node) -> bool {
    let key = |cs: &[NodeCondition]| -> Vec<(String, String, Option<Time>)> {
        cs.iter()
            .map(|c| {
                (
                    c.type_.clone(),
                    c.status.clone(),
                    c.last_transition_time.clone(),
                )
            })
            .collect()
    };
    let now = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    key(&recorded_conditions(record).unwrap_or_default()) != key(now)
}

/// A taint the node controller keeps for a pressure condition.
fn is_condition_taint(t: &Taint) -> bool {
    t.effect == "NoSchedule"
        && t.value.as_deref().unwrap_or_default().is_empty()
        && [
            pressure::TAINT_MEMORY_PRESSURE,
            pressure::TAINT_DISK_PRESSURE,
            pressure::TAINT_PID_PRESSURE,
        ]
        .contains(&t.key.as_str())
}

/// A first record: a new uid, created now.
fn register(name: &str, now: Timestamp) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            uid: Some(crate::api::defaults::new_uid()),
            creation_timestamp: Some(Time(now)),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The file of what is kept of the node `name`: its modification time
/// tells a watcher (the taint eviction in each supervisor) that labels,
/// annotations or taints may have changed.
pub fn record_file(store: &Store, name: &str) -> PathBuf {
    record_path(store.root(), name)
}

/// The taints put on the node `name` (none for a node not registered
/// yet), from its record alone: what the taint eviction in a pod's
/// supervisor reads when the record changed. [`current`] would also
/// measure the machine and take the node's lock, to add the pressure
/// taints, which are NoSchedule ones and never evict a running pod.
pub fn taints(store: &Store, name: &str) -> Result<Vec<Taint>> {
    let record = read_record(&record_path(store.root(), name))?;
    Ok(record
        .and_then(|node| node.spec)
        .and_then(|spec| spec.taints)
        .unwrap_or_default())
}

fn record_path(root: &Path, name: &str) -> PathBuf {
    root.join("nodes").join(format!("{name}.json"))
}

fn lock(root: &Path) -> Result<Lock> {
    let dir = root.join("locks");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Lock::exclusive(&dir.join("node"))
}

fn read_record(path: &Path) -> Result<Option<Node>> {
    match crate::store::read_small_file(path) {
        Ok(bytes) => {
            crate::store::format::check(path, &bytes)?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("corrupt state file {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_record(path: &Path, record: &Node) -> Result<()> {
    write_atomic(path, &crate::store::format::encode(record)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Times in the API have whole seconds.
fn second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// The architecture in Go's words, as `kubernetes.io/arch` has it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests;
