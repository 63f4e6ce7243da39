use super::*;
use crate::node::measure::{Filesystem, Memory, Pids};

const GI: u64 = 1 << 30;

/// The tests' state roots are on the host's disk, whose free space
/// must not decide them: the kubelet's memory threshold only.
fn no_disk_thresholds() -> Thresholds {
    Thresholds(
        Thresholds::default()
            .0
            .into_iter()
            .filter(|t| t.signal == pressure::Signal::MemoryAvailable)
            .collect(),
    )
}

fn machine() -> Machine {
    Machine {
        cpus: 4,
        thresholds: Thresholds::default(),
        max_pods: MAX_PODS,
        observed: Observed {
            memory: Memory {
                total: 16_318_520 * 1024,
                available: 8 * GI,
            },
            fs: Filesystem {
                capacity: 105_088_806_912,
                available: 60 * GI,
                inodes: 6_000_000,
                inodes_free: 5_000_000,
            },
            pids: Pids {
                max: 32768,
                running: 400,
            },
        },
        huge_pages: vec![
            HugePages {
                page_size: 2 << 20,
                total: 0,
            },
            HugePages {
                page_size: 1 << 30,
                total: 0,
            },
        ],
        system: System {
            machine_id: "m".into(),
            system_uuid: String::new(),
            boot_id: "b".into(),
            kernel_version: "6.1.0-13-amd64".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
        },
        host_ip: "10.0.0.5".into(),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

fn resources(node: &Node, which: &str) -> Vec<(String, String)> {
    let status = node.status.as_ref().unwrap();
    let map = if which == "capacity" {
        status.capacity.as_ref()
    } else {
        status.allocatable.as_ref()
    };
    map.unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn capacity_and_allocatable_have_the_kubelets_defaults() {
    let node = build("box", &register("box", at(1000)), &machine(), at(2000));
    assert_eq!(
        resources(&node, "capacity"),
        pairs(&[
            ("cpu", "4"),
            ("ephemeral-storage", "102625788Ki"),
            ("hugepages-1Gi", "0"),
            ("hugepages-2Mi", "0"),
            ("memory", "16318520Ki"),
            ("pods", "110"),
        ])
    );
    // memory less 100Mi; storage less 10%, not a multiple of 1024.
    assert_eq!(
        resources(&node, "allocatable"),
        pairs(&[
            ("cpu", "4"),
            ("ephemeral-storage", "94579926221"),
            ("hugepages-1Gi", "0"),
            ("hugepages-2Mi", "0"),
            ("memory", "16216120Ki"),
            ("pods", "110"),
        ])
    );
}

#[test]
fn the_pods_capacity_is_the_configured_max_pods() {
    let machine = Machine {
        max_pods: 600,
        ..machine()
    };
    let node = build("box", &register("box", at(1000)), &machine, at(2000));
    for side in ["capacity", "allocatable"] {
        let pods = resources(&node, side)
            .into_iter()
            .find(|(k, _)| k == "pods")
            .unwrap();
        assert_eq!(pods.1, "600", "{side}");
    }
}

#[test]
fn the_kubelets_labels_win_over_the_users_and_user_labels_stay() {
    let mut record = register("box", at(1000));
    record.metadata.labels = Some(BTreeMap::from([
        ("disktype".to_string(), "ssd".to_string()),
        (LABEL_OS.to_string(), "windows".to_string()),
    ]));
    let node = build("box", &record, &machine(), at(2000));
    let labels = node.metadata.labels.unwrap();
    let arch = go_arch();
    assert_eq!(
        labels,
        BTreeMap::from(
            [
                ("beta.kubernetes.io/arch", arch),
                ("beta.kubernetes.io/os", "linux"),
                ("disktype", "ssd"),
                ("kubernetes.io/arch", arch),
                ("kubernetes.io/hostname", "box"),
                ("kubernetes.io/os", "linux"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        )
    );
    let status = node.status.unwrap();
    let addresses: Vec<_> = status
        .addresses
        .unwrap()
        .into_iter()
        .map(|a| (a.type_, a.address))
        .collect();
    assert_eq!(
        addresses,
        pairs(&[("InternalIP", "10.0.0.5"), ("Hostname", "box")])
    );
    let info = status.node_info.unwrap();
    assert_eq!(
        info.container_runtime_version,
        format!("pod://{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(info.os_image, "Debian GNU/Linux 12 (bookworm)");
}

#[test]
fn a_condition_keeps_its_transition_time_until_its_status_changes() {
    let record = register("box", at(1000));
    let mut m = machine();
    let node = build("box", &record, &m, at(2000));
    let conditions = node.status.as_ref().unwrap().conditions.clone().unwrap();
    let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        types,
        ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    );
    for c in &conditions {
        assert_eq!(
            c.last_transition_time,
            Some(Time(at(1000))),
            "since registration"
        );
        assert_eq!(c.last_heartbeat_time, Some(Time(at(2000))));
    }
    let mut recorded = record.clone();
    recorded.status = Some(NodeStatus {
        conditions: Some(conditions),
        ..Default::default()
    });
    m.observed.memory.available = 1 << 20;
    let node = build("box", &recorded, &m, at(3000));
    assert!(transitions_differ(&recorded, &node));
    let memory = &node.status.unwrap().conditions.unwrap()[0];
    assert_eq!(
        (
            memory.status.as_str(),
            memory.reason.as_deref(),
            memory.last_transition_time.clone()
        ),
        (
            "True",
            Some("KubeletHasInsufficientMemory"),
            Some(Time(at(3000)))
        )
    );
}

#[test]
fn the_record_keeps_identity_and_user_fields_and_is_roots_alone() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let first = current_in(
        root.path(),
        "box",
        &no_disk_thresholds(),
        MAX_PODS,
        Reading::Whole,
    )
    .unwrap();
    let uid = first.metadata.uid.clone().unwrap();
    let path = record_path(root.path(), "box");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut edited = first.clone();
    edited
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("disktype".into(), "ssd".into());
    edited.metadata.annotations = Some(BTreeMap::from([("note".into(), "x".into())]));
    edited.spec = Some(NodeSpec {
        taints: Some(vec![k8s_openapi::api::core::v1::Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        }]),
        ..Default::default()
    });
    save_in(root.path(), &edited).unwrap();
    let again = current_in(
        root.path(),
        "box",
        &no_disk_thresholds(),
        MAX_PODS,
        Reading::Whole,
    )
    .unwrap();
    assert_eq!(again.metadata.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(
        again.metadata.creation_timestamp,
        first.metadata.creation_timestamp
    );
    assert_eq!(again.metadata.labels.as_ref().unwrap()["disktype"], "ssd");
    assert_eq!(again.metadata.annotations, edited.metadata.annotations);
    assert_eq!(
        again.spec.as_ref().unwrap().taints.as_ref().unwrap().len(),
        1
    );

    // Another name is another node.
    let other = current_in(
        root.path(),
        "other",
        &no_disk_thresholds(),
        MAX_PODS,
        Reading::Whole,
    )
    .unwrap();
    assert_ne!(other.metadata.uid.as_deref(), Some(uid.as_str()));
    let missing = Node {
        metadata: ObjectMeta {
            name: Some("gone".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = save_in(root.path(), &missing).unwrap_err().to_string();
    assert_eq!(err, "nodes \"gone\" not found");
}

#[test]
fn pressure_taints_the_node_and_every_turn_is_an_event() {
    use crate::node::pressure::{Signal, Threshold, Value};
    let root = tempfile::tempdir().unwrap();
    let calm = no_disk_thresholds();
    let node = current_in(root.path(), "box", &calm, MAX_PODS, Reading::Whole).unwrap();
    assert_eq!(node.spec.unwrap().taints, None);
    // A threshold no disk can stay above.
    let crossed = Thresholds(vec![Threshold {
        signal: Signal::NodefsAvailable,
        value: Value::Quantity(1 << 60),
    }]);
    let node = current_in(root.path(), "box", &crossed, MAX_PODS, Reading::Whole).unwrap();
    let taints = node.spec.clone().unwrap().taints.unwrap();
    assert_eq!(
        taints
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect::<Vec<_>>(),
        ["node.kubernetes.io/disk-pressure:NoSchedule"]
    );
    // The controller's taint is not the user's to keep.
    save_in(root.path(), &node).unwrap();
    let record = read_record(&record_path(root.path(), "box"))
        .unwrap()
        .unwrap();
    assert_eq!(record.spec, None);
    let node = current_in(root.path(), "box", &calm, MAX_PODS, Reading::Whole).unwrap();
    assert_eq!(node.spec.unwrap().taints, None);
    let text = std::fs::read_to_string(events_path(root.path(), "box")).unwrap();
    let events = crate::store::events::latest_copies(
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    );
    let shown: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.involved_object.kind.as_deref().unwrap(),
                e.reason.as_deref().unwrap(),
                e.message.as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "Node Starting Starting kubelet.",
            "Node NodeAllocatableEnforced Updated Node Allocatable limit across pods",
            "Node NodeHasSufficientMemory Node box status is now: NodeHasSufficientMemory",
            "Node NodeHasNoDiskPressure Node box status is now: NodeHasNoDiskPressure",
            "Node NodeHasSufficientPID Node box status is now: NodeHasSufficientPID",
            "Node NodeReady Node box status is now: NodeReady",
            "Node NodeHasDiskPressure Node box status is now: NodeHasDiskPressure",
        ]
    );
    // The turn back is a repeat, folded as the event recorder folds.
    assert_eq!(events[3].count, Some(2));
    assert_eq!(events[0].involved_object.uid.as_deref(), Some("box"));
    assert_eq!(events[0].involved_object.namespace, None);
}

/// The scheduler's read of the node is the whole read but the system's
/// identity and the node's address: the same labels, taints, capacity
/// and conditions, so that a placement decides as before.
#[test]
fn the_read_for_scheduling_is_the_whole_read_without_identity() {
    let root = tempfile::tempdir().unwrap();
    let thresholds = no_disk_thresholds();
    let whole = current_in(root.path(), "box", &thresholds, MAX_PODS, Reading::Whole).unwrap();
    let placed = current_in(
        root.path(),
        "box",
        &thresholds,
        MAX_PODS,
        Reading::ForScheduling,
    )
    .unwrap();
    assert_eq!(placed.metadata, whole.metadata);
    assert_eq!(placed.spec, whole.spec);
    let (whole, placed) = (whole.status.unwrap(), placed.status.unwrap());
    assert_eq!(placed.capacity, whole.capacity);
    assert_eq!(placed.allocatable, whole.allocatable);
    let states = |s: &NodeStatus| -> Vec<(String, String)> {
        let conditions = s.conditions.as_deref().unwrap_or_default();
        conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect()
    };
    assert_eq!(states(&placed), states(&whole));
    assert!(!whole.node_info.unwrap().boot_id.is_empty());
    assert!(placed.node_info.unwrap().boot_id.is_empty());
}
