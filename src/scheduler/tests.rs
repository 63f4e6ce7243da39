//! Table tests of the fit check: each filter, their order, and the
//! scheduler's message with its preemption part.
//!
//! Kept as one file because the tables share the builders at its top
//! (`node`, `merge`, the pods) and the messages' constants; one table per
//! filter, in the filters' order.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::fit::{Snapshot, schedule};

const HELPLESS: &str =
    " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
const NO_VICTIMS: &str =
    " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";

/// The node `here`: 4 cpus, 8Gi, 110 pods, kubelet labels and `extra`
/// merged into it.
fn node(extra: Value) -> Node {
    let mut base = json!({
        "metadata": {"name": "here", "labels": {
            "kubernetes.io/hostname": "here", "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "disktype": "ssd", "cores": "4"}},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110",
                                   "ephemeral-storage": "100Gi", "hugepages-2Mi": "0"}}
    });
    merge(&mut base, extra);
    serde_json::from_value(base).unwrap()
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// A pod `name` in default with `labels` and `spec` (one container `c`
/// unless the spec names its own).
fn pod(name: &str, labels: Value, spec: Value) -> Pod {
    let mut full = json!({"containers": [{"name": "c", "image": "busybox"}]});
    merge(&mut full, spec);
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": full
    }))
    .unwrap()
}

fn run(p: &Pod, node: &Node, here: &[Pod]) -> Result<(), String> {
    let labels = |ns: &str| {
        [("kubernetes.io/metadata.name".to_string(), ns.to_string())]
            .into_iter()
            .collect()
    };
    schedule(
        p,
        &Snapshot {
            node,
            here,
            namespace_labels: &labels,
        },
    )
}

fn refused(reasons: &str, preemption: &str) -> Result<(), String> {
    Err(format!("0/1 nodes are available: {reasons}.{preemption}"))
}

fn affinity_rule(requirement: Value) -> Value {
    json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}}}})
}

const SELECTOR: &str = "1 node(s) didn't match Pod's node affinity/selector";

#[test]
fn node_name_and_node_selector() {
    let n = node(json!({}));
    let rows = [
        (json!({}), Ok(())),
        (json!({"nodeName": "here"}), Ok(())),
        (
            json!({"nodeName": "there"}),
            refused("1 node(s) didn't match the requested node name", HELPLESS),
        ),
        (json!({"nodeSelector": {"disktype": "ssd"}}), Ok(())),
        (
            json!({"nodeSelector": {"disktype": "ssd", "kubernetes.io/hostname": "here"}}),
            Ok(()),
        ),
        (
            json!({"nodeSelector": {"disktype": "hdd"}}),
            refused(SELECTOR, HELPLESS),
        ),
        (
            json!({"nodeSelector": {"gpu": "true"}}),
            refused(SELECTOR, HELPLESS),
        ),
    ];
    for (i, (spec, want)) in rows.into_iter().enumerate() {
        assert_eq!(run(&pod("p", json!({}), spec), &n, &[]), want, "row {i}");
    }
}

#[test]
fn required_node_affinity_operators() {
    let n = node(json!({}));
    let rows = [
        (
            json!({"key": "disktype", "operator": "In", "values": ["hdd", "ssd"]}),
            true,
        ),
        (
            json!({"key": "disktype", "operator": "In", "values": ["hdd"]}),
            false,
        ),
        (
            json!({"key": "absent", "operator": "In", "values": ["x"]}),
            false,
        ),
        (
            json!({"key": "disktype", "operator": "NotIn", "values": ["hdd"]}),
            true,
        ),
        (
            json!({"key": "disktype", "operator": "NotIn", "values": ["ssd"]}),
            false,
        ),
        (
            json!({"key": "absent", "operator": "NotIn", "values": ["x"]}),
            true,
        ),
        (json!({"key": "disktype", "operator": "Exists"}), true),
        (json!({"key": "absent", "operator": "Exists"}), false),
        (json!({"key": "absent", "operator": "DoesNotExist"}), true),
        (
            json!({"key": "disktype", "operator": "DoesNotExist"}),
            false,
        ),
        (
            json!({"key": "cores", "operator": "Gt", "values": ["3"]}),
            true,
        ),
        (
            json!({"key": "cores", "operator": "Gt", "values": ["4"]}),
            false,
        ),
        (
            json!({"key": "cores", "operator": "Lt", "values": ["5"]}),
            true,
        ),
        (
            json!({"key": "cores", "operator": "Lt", "values": ["4"]}),
            false,
        ),
        // Not integers on the node: no match either way.
        (
            json!({"key": "disktype", "operator": "Gt", "values": ["1"]}),
            false,
        ),
        (
            json!({"key": "disktype", "operator": "Lt", "values": ["1"]}),
            false,
        ),
        (
            json!({"key": "absent", "operator": "Lt", "values": ["1"]}),
            false,
        ),
    ];
    for (i, (requirement, fits)) in rows.into_iter().enumerate() {
        let want = if fits {
            Ok(())
        } else {
            refused(SELECTOR, HELPLESS)
        };
        let p = pod("p", json!({}), affinity_rule(requirement));
        assert_eq!(run(&p, &n, &[]), want, "row {i}");
    }
}

#[test]
fn node_selector_terms_are_ored_and_their_requirements_anded() {
    let n = node(json!({}));
    let terms = |terms: Value| {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": terms}}}})
    };
    let yes = json!({"key": "disktype", "operator": "Exists"});
    let no = json!({"key": "absent", "operator": "Exists"});
    let rows = [
        (json!([{"matchExpressions": [yes, no]}]), false),
        (
            json!([{"matchExpressions": [no]}, {"matchExpressions": [yes]}]),
            true,
        ),
        // An empty term matches no node.
        (json!([{}]), false),
        // The nodeSelector must hold as well as a term.
        (json!([{"matchExpressions": [yes]}]), true),
    ];
    for (i, (t, fits)) in rows.into_iter().enumerate() {
        let want = if fits {
            Ok(())
        } else {
            refused(SELECTOR, HELPLESS)
        };
        assert_eq!(
            run(&pod("p", json!({}), terms(t)), &n, &[]),
            want,
            "row {i}"
        );
    }
    let mut both = terms(json!([{"matchExpressions": [yes]}]));
    both["nodeSelector"] = json!({"disktype": "hdd"});
    assert_eq!(
        run(&pod("p", json!({}), both), &n, &[]),
        refused(SELECTOR, HELPLESS)
    );
}

#[test]
fn match_fields_on_the_node_name() {
    let n = node(json!({}));
    let fields = |fields: Value| {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchFields": fields}]}}}})
    };
    let name = |op: &str, v: &str| json!({"key": "metadata.name", "operator": op, "values": [v]});
    let rows = [
        (fields(json!([name("In", "here")])), Ok(())),
        (fields(json!([name("NotIn", "there")])), Ok(())),
        (
            fields(json!([name("NotIn", "here")])),
            refused(SELECTOR, HELPLESS),
        ),
        // The PreFilter leaves this node out before any filter runs.
        (
            fields(json!([name("In", "there")])),
            refused(
                "1 node(s) didn't satisfy plugin(s) [NodeAffinity]",
                HELPLESS,
            ),
        ),
        // Two names in one term that cannot both hold.
        (
            fields(json!([name("In", "here"), name("In", "there")])),
            Err(format!(
                "0/1 nodes are available: pod affinity terms conflict.{HELPLESS}"
            )),
        ),
    ];
    for (i, (spec, want)) in rows.into_iter().enumerate() {
        assert_eq!(run(&pod("p", json!({}), spec), &n, &[]), want, "row {i}");
    }
}

#[test]
fn taints_against_tolerations() {
    let tainted = |effect: &str| {
        node(json!({"spec": {"taints": [
            {"key": "dedicated", "value": "gpu", "effect": effect}]}}))
    };
    let untolerated = "1 node(s) had untolerated taint {dedicated: gpu}";
    let toleration = |t: Value| json!({"tolerations": [t]});
    let rows = [
        ("NoSchedule", json!({}), refused(untolerated, HELPLESS)),
        ("NoExecute", json!({}), refused(untolerated, HELPLESS)),
        ("PreferNoSchedule", json!({}), Ok(())),
        (
            "NoSchedule",
            toleration(json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})),
            Ok(()),
        ),
        (
            "NoSchedule",
            toleration(json!({"key": "dedicated", "operator": "Exists"})),
            Ok(()),
        ),
        (
            "NoSchedule",
            toleration(json!({"key": "dedicated", "value": "cpu"})),
            refused(untolerated, HELPLESS),
        ),
        (
            "NoExecute",
            toleration(json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"})),
            refused(untolerated, HELPLESS),
        ),
        (
            "NoExecute",
            toleration(
                json!({"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}),
            ),
            Ok(()),
        ),
    ];
    for (i, (effect, spec, want)) in rows.into_iter().enumerate() {
        assert_eq!(
            run(&pod("p", json!({}), spec), &tainted(effect), &[]),
            want,
            "row {i}"
        );
    }
    // A taint without a value prints with an empty one.
    let bare = node(json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]}}));
    assert_eq!(
        run(&pod("p", json!({}), json!({})), &bare, &[]),
        refused("1 node(s) had untolerated taint {maintenance: }", HELPLESS)
    );
}

#[test]
fn a_cordoned_node_takes_only_pods_that_tolerate_it() {
    let n = node(json!({"spec": {"unschedulable": true}}));
    assert_eq!(
        run(&pod("p", json!({}), json!({})), &n, &[]),
        refused("1 node(s) were unschedulable", HELPLESS)
    );
    let tolerant = json!({"tolerations": [
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]});
    assert_eq!(run(&pod("p", json!({}), tolerant), &n, &[]), Ok(()));
}

fn requesting(cpu: &str, memory: &str) -> Value {
    json!({"containers": [{"name": "c", "image": "busybox",
        "resources": {"requests": {"cpu": cpu, "memory": memory}}}]})
}

#[test]
fn requests_against_allocatable_minus_what_pods_here_requested() {
    let n = node(json!({}));
    let big = pod("big", json!({}), requesting("3", "6Gi"));
    let rows: Vec<(Value, Vec<Pod>, Result<(), String>)> = vec![
        (requesting("4", "8Gi"), vec![], Ok(())),
        (
            requesting("5", "1Gi"),
            vec![],
            refused("1 Insufficient cpu", HELPLESS),
        ),
        (
            requesting("4001m", "1Gi"),
            vec![],
            refused("1 Insufficient cpu", HELPLESS),
        ),
        (
            requesting("1", "9Gi"),
            vec![],
            refused("1 Insufficient memory", HELPLESS),
        ),
        (requesting("1", "2Gi"), vec![big.clone()], Ok(())),
        // More than is free, less than the node has: eviction could help,
        // but there is nobody of lower priority to evict.
        (
            requesting("2", "1Gi"),
            vec![big.clone()],
            refused("1 Insufficient cpu", NO_VICTIMS),
        ),
        (
            requesting("2", "3Gi"),
            vec![big.clone()],
            refused("1 Insufficient cpu, 1 Insufficient memory", NO_VICTIMS),
        ),
        // One reason unresolvable makes the node's status unresolvable.
        (
            requesting("5", "3Gi"),
            vec![big.clone()],
            refused("1 Insufficient cpu, 1 Insufficient memory", HELPLESS),
        ),
        (
            json!({"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"ephemeral-storage": "200Gi", "example.com/gpu": "1"}}}]}),
            vec![],
            refused(
                "1 Insufficient ephemeral-storage, 1 Insufficient example.com/gpu",
                HELPLESS,
            ),
        ),
        (
            json!({"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"hugepages-2Mi": "4Mi", "memory": "4Mi"}}}]}),
            vec![],
            refused("1 Insufficient hugepages-2Mi", HELPLESS),
        ),
    ];
    for (i, (spec, here, want)) in rows.into_iter().enumerate() {
        assert_eq!(run(&pod("p", json!({}), spec), &n, &here), want, "row {i}");
    }
}

#[test]
fn init_containers_sidecars_and_overhead_count_as_the_scheduler_counts() {
    // 4 cpus. Apps 1+1; an init container of 3 runs alone: the peak is 3.
    let n = node(json!({}));
    let c = |name: &str, cpu: &str| json!({"name": name, "image": "busybox", "resources": {"requests": {"cpu": cpu}}});
    let sidecar = |name: &str, cpu: &str| {
        let mut s = c(name, cpu);
        s["restartPolicy"] = json!("Always");
        s
    };
    let rows = [
        (
            json!({"initContainers": [c("i", "3")], "containers": [c("a", "1"), c("b", "1")]}),
            true,
        ),
        (
            json!({"initContainers": [c("i", "4500m")], "containers": [c("a", "1")]}),
            false,
        ),
        // A sidecar adds to the apps (2 + 1.5) and to later init containers.
        (
            json!({"initContainers": [sidecar("s", "1500m")], "containers": [c("a", "2")]}),
            true,
        ),
        (
            json!({"initContainers": [sidecar("s", "2500m")], "containers": [c("a", "2")]}),
            false,
        ),
        (
            json!({"initContainers": [sidecar("s", "1"), c("i", "3")], "containers": [c("a", "1")]}),
            true,
        ),
        (
            json!({"initContainers": [sidecar("s", "1"), c("i", "3500m")], "containers": [c("a", "1")]}),
            false,
        ),
        // An init container before the sidecar does not run beside it.
        (
            json!({"initContainers": [c("i", "3500m"), sidecar("s", "1")], "containers": [c("a", "1")]}),
            true,
        ),
        // The overhead on top.
        (
            json!({"containers": [c("a", "3500m")], "overhead": {"cpu": "500m"}}),
            true,
        ),
        (
            json!({"containers": [c("a", "3500m")], "overhead": {"cpu": "501m"}}),
            false,
        ),
        // Pod-level requests stand for the containers'.
        (
            json!({"containers": [c("a", "1")], "resources": {"requests": {"cpu": "4500m"}}}),
            false,
        ),
    ];
    for (i, (spec, fits)) in rows.into_iter().enumerate() {
        let want = if fits {
            Ok(())
        } else {
            refused("1 Insufficient cpu", HELPLESS)
        };
        assert_eq!(run(&pod("p", json!({}), spec), &n, &[]), want, "row {i}");
    }
}

#[test]
fn the_pod_count_comes_first_and_reasons_sort_as_strings() {
    let n = node(json!({"status": {"allocatable": {"pods": "2"}}}));
    let here = [
        pod("a", json!({}), json!({})),
        pod("b", json!({}), requesting("3", "1Gi")),
    ];
    assert_eq!(run(&pod("p", json!({}), json!({})), &n, &here[..1]), Ok(()));
    assert_eq!(
        run(&pod("p", json!({}), json!({})), &n, &here),
        refused("1 Too many pods", NO_VICTIMS)
    );
    assert_eq!(
        run(&pod("p", json!({}), requesting("2", "1Gi")), &n, &here),
        refused("1 Insufficient cpu, 1 Too many pods", NO_VICTIMS)
    );
}

fn with_port(host_port: i64, extra: Value) -> Value {
    let mut port = json!({"containerPort": 80, "hostPort": host_port});
    merge(&mut port, extra);
    json!({"containers": [{"name": "c", "image": "busybox", "ports": [port]}]})
}

#[test]
fn host_ports_taken_by_pods_here() {
    let n = node(json!({}));
    let taken = "1 node(s) didn't have free ports for the requested pod ports";
    let here = [pod("web", json!({}), with_port(8080, json!({})))];
    let rows = [
        (with_port(8080, json!({})), refused(taken, NO_VICTIMS)),
        (with_port(8081, json!({})), Ok(())),
        (with_port(8080, json!({"protocol": "UDP"})), Ok(())),
        // 0.0.0.0 collides with any address.
        (
            with_port(8080, json!({"hostIP": "127.0.0.1"})),
            refused(taken, NO_VICTIMS),
        ),
        (with_port(0, json!({})), Ok(())),
    ];
    for (i, (spec, want)) in rows.into_iter().enumerate() {
        assert_eq!(run(&pod("p", json!({}), spec), &n, &here), want, "row {i}");
    }
    let on_loopback = [pod(
        "web",
        json!({}),
        with_port(8080, json!({"hostIP": "127.0.0.1"})),
    )];
    assert_eq!(
        run(
            &pod(
                "p",
                json!({}),
                with_port(8080, json!({"hostIP": "127.0.0.2"}))
            ),
            &n,
            &on_loopback
        ),
        Ok(())
    );
    assert_eq!(
        run(
            &pod("p", json!({}), with_port(8080, json!({}))),
            &n,
            &on_loopback
        ),
        refused(taken, NO_VICTIMS)
    );
    // A sidecar's host port is taken as well.
    let sidecar = pod(
        "s",
        json!({}),
        json!({"initContainers": [{"name": "s", "image": "busybox", "restartPolicy": "Always",
            "ports": [{"containerPort": 1, "hostPort": 9000}]}]}),
    );
    assert_eq!(
        run(
            &pod("p", json!({}), with_port(9000, json!({}))),
            &n,
            &[sidecar]
        ),
        refused(taken, NO_VICTIMS)
    );
}

fn anti_affinity(kind: &str, labels: Value, topology: &str, extra: Value) -> Value {
    let mut term = json!({"labelSelector": {"matchLabels": labels}, "topologyKey": topology});
    merge(&mut term, extra);
    json!({"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}})
}

#[test]
fn required_pod_anti_affinity_against_pods_here() {
    let n = node(json!({}));
    let hostname = "kubernetes.io/hostname";
    let web = pod("web", json!({"app": "web"}), json!({}));
    let mine = "1 node(s) didn't match pod anti-affinity rules";
    let rows = [
        (
            anti_affinity(
                "podAntiAffinity",
                json!({"app": "web"}),
                hostname,
                json!({}),
            ),
            refused(mine, NO_VICTIMS),
        ),
        (
            anti_affinity("podAntiAffinity", json!({"app": "db"}), hostname, json!({})),
            Ok(()),
        ),
        // A topology key the node does not carry puts it in no domain.
        (
            anti_affinity(
                "podAntiAffinity",
                json!({"app": "web"}),
                "topology.kubernetes.io/zone",
                json!({}),
            ),
            Ok(()),
        ),
        // Only the pod's own namespace, unless the term names others.
        (
            anti_affinity(
                "podAntiAffinity",
                json!({"app": "web"}),
                hostname,
                json!({"namespaces": ["other"]}),
            ),
            Ok(()),
        ),
        (
            anti_affinity(
                "podAntiAffinity",
                json!({"app": "web"}),
                hostname,
                json!({"namespaceSelector": {}}),
            ),
            refused(mine, NO_VICTIMS),
        ),
        (
            anti_affinity(
                "podAntiAffinity",
                json!({"app": "web"}),
                hostname,
                json!({"namespaces": ["other"], "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}),
            ),
            refused(mine, NO_VICTIMS),
        ),
    ];
    for (i, (spec, want)) in rows.into_iter().enumerate() {
        assert_eq!(
            run(&pod("p", json!({}), spec), &n, std::slice::from_ref(&web)),
            want,
            "row {i}"
        );
    }
    // A pod here whose anti-affinity rules out the newcomer.
    let lonely = pod(
        "lonely",
        json!({}),
        anti_affinity(
            "podAntiAffinity",
            json!({"app": "web"}),
            hostname,
            json!({}),
        ),
    );
    assert_eq!(
        run(
            &pod("p", json!({"app": "web"}), json!({})),
            &n,
            std::slice::from_ref(&lonely)
        ),
        refused(
            "1 node(s) didn't satisfy existing pods anti-affinity rules",
            NO_VICTIMS
        )
    );
    assert_eq!(
        run(&pod("p", json!({"app": "db"}), json!({})), &n, &[lonely]),
        Ok(())
    );
}

#[test]
fn required_pod_affinity_on_one_node() {
    let n = node(json!({}));
    let hostname = "kubernetes.io/hostname";
    let db = pod("db", json!({"app": "db"}), json!({}));
    let rule = anti_affinity("podAffinity", json!({"app": "db"}), hostname, json!({}));
    let unmet = "1 node(s) didn't match pod affinity rules";
    assert_eq!(run(&pod("p", json!({}), rule.clone()), &n, &[db]), Ok(()));
    assert_eq!(
        run(&pod("p", json!({}), rule.clone()), &n, &[]),
        refused(unmet, HELPLESS)
    );
    // The first pod of a group with affinity to itself.
    assert_eq!(run(&pod("p", json!({"app": "db"}), rule), &n, &[]), Ok(()));
    let zone = anti_affinity(
        "podAffinity",
        json!({"app": "db"}),
        "topology.kubernetes.io/zone",
        json!({}),
    );
    assert_eq!(
        run(&pod("p", json!({"app": "db"}), zone), &n, &[]),
        refused(unmet, HELPLESS)
    );
}

#[test]
fn hard_topology_spread_on_one_node() {
    let n = node(json!({}));
    let spread = |key: &str, extra: Value| {
        let mut c = json!({"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}});
        merge(&mut c, extra);
        json!({"topologySpreadConstraints": [c]})
    };
    let web = || pod("w", json!({"app": "web"}), json!({}));
    let p = |spec| pod("p", json!({"app": "web"}), spec);
    assert_eq!(
        run(
            &p(spread("kubernetes.io/hostname", json!({}))),
            &n,
            &[web(), web()]
        ),
        Ok(())
    );
    assert_eq!(
        run(
            &p(spread("topology.kubernetes.io/zone", json!({}))),
            &n,
            &[]
        ),
        refused(
            "1 node(s) didn't match pod topology spread constraints (missing required label)",
            HELPLESS
        )
    );
    let soft = spread(
        "topology.kubernetes.io/zone",
        json!({"whenUnsatisfiable": "ScheduleAnyway"}),
    );
    assert_eq!(run(&p(soft), &n, &[]), Ok(()));
    // minDomains beyond the one domain: the global minimum is 0.
    let min = spread("kubernetes.io/hostname", json!({"minDomains": 2}));
    assert_eq!(run(&p(min.clone()), &n, &[]), Ok(()));
    assert_eq!(
        run(&p(min), &n, &[web()]),
        refused(
            "1 node(s) didn't match pod topology spread constraints",
            NO_VICTIMS
        )
    );
}

#[test]
fn the_first_failing_filter_names_the_reason() {
    // Tainted, unlabelled for the selector, and too small: the taint is
    // checked first.
    let n = node(json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}));
    let mut spec = requesting("64", "1Gi");
    spec["nodeSelector"] = json!({"disktype": "hdd"});
    assert_eq!(
        run(&pod("p", json!({}), spec.clone()), &n, &[]),
        refused("1 node(s) had untolerated taint {k: v}", HELPLESS)
    );
    spec["tolerations"] = json!([{"operator": "Exists"}]);
    assert_eq!(
        run(&pod("p", json!({}), spec.clone()), &n, &[]),
        refused(SELECTOR, HELPLESS)
    );
    spec["nodeSelector"] = json!({"disktype": "ssd"});
    assert_eq!(
        run(&pod("p", json!({}), spec), &n, &[]),
        refused("1 Insufficient cpu", HELPLESS)
    );
}

#[test]
fn a_pod_that_may_not_preempt_says_so() {
    let n = node(json!({}));
    let mut spec = requesting("64", "1Gi");
    spec["preemptionPolicy"] = json!("Never");
    assert_eq!(
        run(&pod("p", json!({}), spec), &n, &[]),
        refused(
            "1 Insufficient cpu",
            " preemption: not eligible due to preemptionPolicy=Never."
        )
    );
}
