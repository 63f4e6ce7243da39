//! `describe node` in kubectl's layout (pkg/describe `describeNode`,
//! `describeNodeResource`): identity, taints, the lease, the conditions
//! table, addresses, capacity and allocatable, system info, the pods
//! running on the node with their requests and limits as shares of
//! allocatable, the totals, and events.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Node, Pod, Taint};

use super::Describer;
use crate::api::quantity::Quantity;
use crate::duration;
use crate::print::node_status;
use crate::scheduler::resources::{self, Side};

type List = BTreeMap<String, Quantity>;

impl Describer {
    pub(super) fn node(&mut self, node: &Node, pods: &[Pod], events: &[Event]) {
        let meta = &node.metadata;
        let name = meta.name.as_deref().unwrap_or("");
        let spec = node.spec.clone().unwrap_or_default();
        let status = node.status.clone().unwrap_or_default();
        self.w(0, &format!("Name:\t{name}\n"));
        self.w(0, &format!("Roles:\t{}\n", node_status::roles(node)));
        self.labels("Labels", meta.labels.as_ref());
        self.annotations(meta.annotations.as_ref());
        let created = self.time(meta.creation_timestamp.as_ref());
        self.w(0, &format!("CreationTimestamp:\t{created}\n"));
        self.taints(spec.taints.as_deref().unwrap_or_default());
        self.w(
            0,
            &format!("Unschedulable:\t{}\n", spec.unschedulable.unwrap_or(false)),
        );
        // The kubelet renews its lease every 10 s; here the kubelet is the
        // process answering, so the lease is renewed as it is read.
        self.w(0, "Lease:\n");
        self.w(1, &format!("HolderIdentity:\t{name}\n"));
        self.w(1, "AcquireTime:\t<unset>\n");
        let renewed = self.rfc1123(self.now);
        self.w(1, &format!("RenewTime:\t{renewed}\n"));
        let conditions = status.conditions.unwrap_or_default();
        if !conditions.is_empty() {
            self.w(
                0,
                "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
            );
            self.w(
                1,
                "----\t------\t-----------------\t------------------\t------\t-------\n",
            );
            for c in &conditions {
                let line = format!(
                    "{} \t{} \t{} \t{} \t{} \t{}\n",
                    c.type_,
                    c.status,
                    self.time(c.last_heartbeat_time.as_ref()),
                    self.time(c.last_transition_time.as_ref()),
                    c.reason.as_deref().unwrap_or(""),
                    c.message.as_deref().unwrap_or(""),
                );
                self.w(1, &line);
            }
        }
        self.w(0, "Addresses:\n");
        for a in status.addresses.iter().flatten() {
            self.w(1, &format!("{}:\t{}\n", a.type_, a.address));
        }
        let capacity = parse(status.capacity.as_ref());
        let allocatable = parse(status.allocatable.as_ref());
        for (title, list) in [("Capacity", &capacity), ("Allocatable", &allocatable)] {
            if list.is_empty() {
                continue;
            }
            self.w(0, &format!("{title}:\n"));
            for (resource, value) in list {
                self.w(0, &format!("  {resource}:\t{}\n", value.canonical()));
            }
        }
        let info = status.node_info.unwrap_or_default();
        self.w(0, "System Info:\n");
        for (label, value) in [
            ("Machine ID", &info.machine_id),
            ("System UUID", &info.system_uuid),
            ("Boot ID", &info.boot_id),
            ("Kernel Version", &info.kernel_version),
            ("OS Image", &info.os_image),
            ("Operating System", &info.operating_system),
            ("Architecture", &info.architecture),
            ("Container Runtime Version", &info.container_runtime_version),
            ("Kubelet Version", &info.kubelet_version),
        ] {
            self.w(0, &format!("  {label}:\t{value}\n"));
        }
        if let Some(cidr) = spec.pod_cidr.as_deref().filter(|c| !c.is_empty()) {
            self.w(0, &format!("PodCIDR:\t{cidr}\n"));
        }
        if let Some(cidrs) = spec.pod_cidrs.as_ref().filter(|c| !c.is_empty()) {
            self.w(0, &format!("PodCIDRs:\t{}\n", cidrs.join(",")));
        }
        let allocatable = if allocatable.is_empty() {
            capacity
        } else {
            allocatable
        };
        self.node_pods(pods, &allocatable);
        self.events(events);
    }

    /// `printNodeTaintsMultiline`: sorted by effect then key.
    fn taints(&mut self, taints: &[Taint]) {
        self.w(0, "Taints:\t");
        if taints.is_empty() {
            self.w(0, "<none>\n");
            return;
        }
        let mut sorted: Vec<&Taint> = taints.iter().collect();
        sorted.sort_by_key(|t| format!("{},{}", t.effect, t.key));
        for (i, t) in sorted.into_iter().enumerate() {
            if i > 0 {
                self.w(0, "\t");
            }
            self.w(0, &format!("{}\n", taint_string(t)));
        }
    }

    /// `describeNodeResource`.
    fn node_pods(&mut self, pods: &[Pod], allocatable: &List) {
        self.w(
            0,
            &format!("Non-terminated Pods:\t({} in total)\n", pods.len()),
        );
        self.w(
            1,
            "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n",
        );
        self.w(
            1,
            "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n",
        );
        let zero = Quantity::zero();
        let get = |list: &List, name: &str| list.get(name).copied().unwrap_or(zero);
        let cpu_alloc = get(allocatable, "cpu").as_millis_ceil();
        let memory_alloc = get(allocatable, "memory").as_bytes_ceil();
        for pod in pods {
            let (requests, limits) = (pod_requests(pod), pod_limits(pod));
            let cell = |list: &List, name: &str| {
                let q = get(list, name);
                let share = if name == "cpu" {
                    percent(q.as_millis_ceil(), cpu_alloc)
                } else {
                    percent(q.as_bytes_ceil(), memory_alloc)
                };
                format!("{} ({share}%)", q.canonical())
            };
            let line = format!(
                "{}\t{}\t\t{}\t{}\t{}\t{}\t{}\n",
                pod.metadata.namespace.as_deref().unwrap_or(""),
                pod.metadata.name.as_deref().unwrap_or(""),
                cell(&requests, "cpu"),
                cell(&limits, "cpu"),
                cell(&requests, "memory"),
                cell(&limits, "memory"),
                duration::age(pod.metadata.creation_timestamp.as_ref(), self.now),
            );
            self.w(1, &line);
        }
        self.w(
            0,
            "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n",
        );
        self.w(1, "Resource\tRequests\tLimits\n");
        self.w(1, "--------\t--------\t------\n");
        let mut requests = List::new();
        let mut limits = List::new();
        for pod in pods {
            add(&mut requests, &pod_requests(pod));
            add(&mut limits, &pod_limits(pod));
        }
        let mut rows: Vec<&str> = vec!["cpu", "memory", "ephemeral-storage"];
        rows.extend(
            allocatable
                .keys()
                .filter(|k| k.starts_with("hugepages-"))
                .map(String::as_str),
        );
        for resource in rows {
            let alloc = get(allocatable, resource);
            let share = |q: Quantity| {
                if resource == "cpu" {
                    percent(q.as_millis_ceil(), alloc.as_millis_ceil())
                } else {
                    percent(q.as_bytes_ceil(), alloc.as_bytes_ceil())
                }
            };
            let (r, l) = (get(&requests, resource), get(&limits, resource));
            self.w(
                1,
                &format!(
                    "{resource}\t{} ({}%)\t{} ({}%)\n",
                    r.canonical(),
                    share(r),
                    l.canonical(),
                    share(l)
                ),
            );
        }
        // Extended resources (neither standard nor hugepages nor pods).
        for resource in allocatable.keys().filter(|k| {
            !matches!(k.as_str(), "cpu" | "memory" | "ephemeral-storage" | "pods")
                && !k.starts_with("hugepages-")
        }) {
            let (r, l) = (get(&requests, resource), get(&limits, resource));
            self.w(
                1,
                &format!("{resource}\t{}\t{}\n", r.canonical(), l.canonical()),
            );
        }
    }
}

/// `Taint.ToString()`: `key=value:effect`, `key:effect`, `key`.
pub fn taint_string(t: &Taint) -> String {
    let value = t.value.as_deref().unwrap_or("");
    match (t.effect.is_empty(), value.is_empty()) {
        (true, true) => t.key.clone(),
        (true, false) => format!("{}={value}:", t.key),
        (false, true) => format!("{}:{}", t.key, t.effect),
        (false, false) => format!("{}={value}:{}", t.key, t.effect),
    }
}

/// `int64(float64(part) / float64(whole) * 100)`, 0 when nothing is
/// allocatable.
fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        return 0;
    }
    (part as f64 / whole as f64 * 100.0) as i64
}

fn parse(
    list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> List {
    list.into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(&v.0).ok()?)))
        .collect()
}

fn add(into: &mut List, other: &List) {
    for (name, q) in other {
        let sum = match into.get(name) {
            Some(before) => before.checked_add(q).unwrap_or(*before),
            None => *q,
        };
        into.insert(name.clone(), sum);
    }
}

/// The scheduler's `PodRequests` (`scheduler::resources::pod_list`).
pub fn pod_requests(pod: &Pod) -> List {
    resources::pod_list(&pod.spec.clone().unwrap_or_default(), Side::Requests)
}

/// The scheduler's `PodLimits`.
pub fn pod_limits(pod: &Pod) -> List {
    resources::pod_list(&pod.spec.clone().unwrap_or_default(), Side::Limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use crate::print::{OutputFormat, TableOptions, render_at};
    use jiff::Timestamp;
    use jiff::tz::TimeZone;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().unwrap()
    }

    pub(crate) fn node() -> Node {
        serde_json::from_value(json!({
            "metadata": {
                "name": "box",
                "uid": "c4b809ac-c637-45aa-adda-bda3f137b23d",
                "creationTimestamp": "2025-12-30T01:00:00Z",
                "labels": {
                    "beta.kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "disktype": "ssd",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": "box",
                    "kubernetes.io/os": "linux",
                    "node-role.kubernetes.io/worker": "",
                },
                "annotations": {"note": "rack 4"},
            },
            "spec": {"taints": [
                {"key": "gpu", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
                {"key": "evict", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"},
            ]},
            "status": {
                "capacity": {"cpu": "4", "ephemeral-storage": "102625788Ki", "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0", "memory": "16318520Ki", "pods": "110"},
                "allocatable": {"cpu": "4", "ephemeral-storage": "94579926221", "hugepages-1Gi": "0",
                    "hugepages-2Mi": "0", "memory": "16216120Ki", "pods": "110"},
                "conditions": [
                    {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "2026-01-01T01:00:00Z",
                     "lastTransitionTime": "2025-12-30T01:00:00Z", "reason": "KubeletHasSufficientMemory",
                     "message": "kubelet has sufficient memory available"},
                    {"type": "DiskPressure", "status": "True", "lastHeartbeatTime": "2026-01-01T01:00:00Z",
                     "lastTransitionTime": "2025-12-31T01:00:00Z", "reason": "KubeletHasDiskPressure",
                     "message": "kubelet has disk pressure"},
                    {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": "2026-01-01T01:00:00Z",
                     "lastTransitionTime": "2025-12-30T01:00:00Z", "reason": "KubeletHasSufficientPID",
                     "message": "kubelet has sufficient PID available"},
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T01:00:00Z",
                     "lastTransitionTime": "2025-12-30T01:00:00Z", "reason": "KubeletReady",
                     "message": "kubelet is posting ready status"},
                ],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "box"}],
                "nodeInfo": {"machineID": "3d1219c7c4c5404aaa1f6d2a48adfda4", "systemUUID": "",
                    "bootID": "8ace9030-cddb-46d0-a27f-affb56007ee9", "kernelVersion": "6.1.0-13-amd64",
                    "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "pod://0.1.0",
                    "kubeletVersion": "v0.1.0", "kubeProxyVersion": "", "operatingSystem": "linux",
                    "architecture": "amd64"},
            },
        }))
        .unwrap()
    }

    fn pod(name: &str, spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:50:00Z"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn pods() -> Vec<Pod> {
        vec![
            pod(
                "web",
                json!({"nodeName": "box", "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"}}},
                    {"name": "b", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                ]}),
            ),
            pod(
                "batch",
                json!({"nodeName": "box",
                    "initContainers": [
                        {"name": "sidecar", "restartPolicy": "Always",
                         "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}}},
                        {"name": "setup", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                    ],
                    "containers": [{"name": "main", "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"memory": "2Gi", "ephemeral-storage": "1Gi"}}}],
                    "overhead": {"cpu": "10m"},
                }),
            ),
        ]
    }

    #[test]
    fn requests_and_limits_count_as_the_scheduler_does() {
        let show = |l: List| -> Vec<String> {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.canonical()))
                .collect()
        };
        let p = pods();
        assert_eq!(show(pod_requests(&p[0])), ["cpu=500m", "memory=128Mi"]);
        assert_eq!(show(pod_limits(&p[0])), ["cpu=500m", "memory=128Mi"]);
        // The init container "setup" runs beside the sidecar: 2.1 cpus
        // beat the 1.1 of main and sidecar; the overhead on top.
        assert_eq!(show(pod_requests(&p[1])), ["cpu=2110m", "memory=1Gi"]);
        assert_eq!(
            show(pod_limits(&p[1])),
            ["cpu=110m", "ephemeral-storage=1Gi", "memory=2Gi"]
        );
        // Pod-level resources stand for the containers' cpu, memory and
        // huge pages, as the scheduler counts them.
        let level = pod(
            "level",
            json!({"resources": {"requests": {"cpu": "1", "hugepages-2Mi": "4Mi"},
                    "limits": {"cpu": "2", "hugepages-2Mi": "4Mi"}},
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "8Mi"}}}]}),
        );
        assert_eq!(
            show(pod_requests(&level)),
            ["cpu=1", "hugepages-2Mi=4Mi", "memory=8Mi"]
        );
        assert_eq!(show(pod_limits(&level)), ["cpu=2", "hugepages-2Mi=4Mi"]);
        let scheduler = resources::pod_requests(level.spec.as_ref().unwrap());
        assert_eq!(
            (
                scheduler.milli_cpu,
                scheduler.memory,
                scheduler.scalar["hugepages-2Mi"]
            ),
            (1000, 8 << 20, 4 << 20)
        );
    }

    #[test]
    fn get_nodes_tables() {
        let objects = [Object::Node(Box::new(node()))];
        let plain = render_at(
            &objects,
            &OutputFormat::Table,
            &TableOptions::default(),
            now(),
        );
        insta::assert_snapshot!(plain.unwrap(), @r"
        NAME   STATUS   ROLES    AGE   VERSION
        box    Ready    worker   2d    v0.1.0
        ");
        let options = TableOptions {
            show_labels: true,
            with_namespace: true,
            ..Default::default()
        };
        let wide = render_at(&objects, &OutputFormat::Wide, &options, now());
        insta::assert_snapshot!(wide.unwrap(), @r"
        NAME   STATUS   ROLES    AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME   LABELS
        box    Ready    worker   2d    v0.1.0    10.0.0.5      <none>        Debian GNU/Linux 12 (bookworm)   6.1.0-13-amd64   pod://0.1.0         beta.kubernetes.io/arch=amd64,beta.kubernetes.io/os=linux,disktype=ssd,kubernetes.io/arch=amd64,kubernetes.io/hostname=box,kubernetes.io/os=linux,node-role.kubernetes.io/worker=
        ");
        let mut cordoned = node();
        cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
        cordoned
            .status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()[3]
            .status = "False".into();
        let row = crate::print::node_status::status(&cordoned);
        assert_eq!(row, "NotReady,SchedulingDisabled");
    }

    #[test]
    fn describe_node_in_kubectls_layout() {
        let out =
            crate::print::describe::describe_node_at(&node(), &pods(), &[], now(), &TimeZone::UTC);
        insta::assert_snapshot!(out);
    }
}
