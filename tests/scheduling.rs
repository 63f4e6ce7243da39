//! Scheduling against the one node: a pod runs only if it fits the node
//! (nodeName, nodeSelector and affinity, taints, requests, host ports);
//! one that does not stays Pending with the scheduler's condition and
//! FailedScheduling event, shown by get and describe, and is tried again
//! when the node or its pods change.

mod common;

use common::pods::{create, jsonpath, wait_until};
use common::{Env, import_busybox};

const HELPLESS: &str =
    "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
const NO_VICTIMS: &str =
    "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// A pod `name` running `sleep 3600` from busybox, with `extra` appended
/// to its spec (indented by two).
fn sleeper(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
{extra}"
    )
}

fn phase(env: &Env, name: &str) -> String {
    jsonpath(env, name, "{.status.phase}")
}

fn wait_phase(env: &Env, name: &str, want: &str) {
    wait_until(env, name, &format!("phase {want}"), || {
        (phase(env, name) == want).then_some(())
    });
}

/// The pod's events as `REASON FROM MESSAGE` lines.
fn events(env: &Env, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(
        env.root()
            .join("pods/default")
            .join(name)
            .join("events.jsonl"),
    )
    .unwrap_or_default();
    let mut seen: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = e["metadata"]["name"].as_str().unwrap().to_string();
        let shown = format!(
            "{} {} {} x{}",
            e["reason"].as_str().unwrap(),
            e["source"]["component"].as_str().unwrap(),
            e["message"].as_str().unwrap(),
            e["count"]
        );
        match seen.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = shown,
            None => seen.push((key, shown)),
        }
    }
    seen.into_iter().map(|(_, s)| s).collect()
}

/// `describe pod NAME` with runs of spaces made one (columns align to
/// the longest label of their block).
fn describe(env: &Env, name: &str) -> String {
    env.ok(&["describe", "pod", name])
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The pod's supervisor never started: nothing of it in the run root.
fn never_started(env: &Env, name: &str) -> bool {
    let uid = jsonpath(env, name, "{.metadata.uid}");
    !env.run_root().join("pods").join(uid).exists()
}

#[test]
fn a_pod_asking_for_more_cpu_than_the_node_has_stays_pending() {
    let env = Env::new();
    let yaml = sleeper(
        "greedy",
        "    resources: {requests: {cpu: '1000', memory: 1Mi}}\n",
    );
    create(&env, "greedy", &yaml);
    let message = format!("0/1 nodes are available: 1 Insufficient cpu. {HELPLESS}");
    assert_eq!(phase(&env, "greedy"), "Pending");
    assert_eq!(
        jsonpath(
            &env,
            "greedy",
            "{.status.conditions[0].type} {.status.conditions[0].status} {.status.conditions[0].reason} {.status.conditions[0].message}"
        ),
        format!("PodScheduled False Unschedulable {message}")
    );
    assert_eq!(jsonpath(&env, "greedy", "{.spec.nodeName}"), "");
    assert_eq!(
        events(&env, "greedy"),
        [format!("FailedScheduling default-scheduler {message} x1")]
    );
    assert!(never_started(&env, "greedy"));

    let table = env.ok(&["get", "pod", "greedy"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["greedy", "0/1", "Pending", "0"], "{table}");
    let described = describe(&env, "greedy");
    for want in ["Status: Pending", "Node: <none>", "PodScheduled False"] {
        assert!(described.contains(want), "{want:?} not in:\n{described}");
    }
    // The event's age is the seconds since the create, however many a
    // loaded machine let pass: any number of seconds, nothing else.
    let event = described
        .lines()
        .find_map(|l| l.strip_prefix("Warning FailedScheduling "))
        .unwrap_or_else(|| panic!("no FailedScheduling event in:\n{described}"));
    let (age, rest) = event.split_once(' ').unwrap();
    assert!(
        age.strip_suffix('s')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        "{event}"
    );
    assert_eq!(rest, format!("default-scheduler {message}"));
    // Deleting it frees nothing and leaves nothing.
    env.ok(&["delete", "pod", "greedy"]);
    assert!(env.fails(&["get", "pod", "greedy"]).contains("NotFound"));
}

#[test]
fn a_pod_bound_to_another_node_never_runs_here() {
    let env = Env::new();
    let yaml = sleeper("elsewhere", "  nodeName: foo-node\n");
    create(&env, "elsewhere", &yaml);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(phase(&env, "elsewhere"), "Pending");
    assert!(never_started(&env, "elsewhere"));
    assert_eq!(events(&env, "elsewhere"), Vec::<String>::new());
    let described = describe(&env, "elsewhere");
    assert!(described.contains("Node: foo-node/\n"), "{described}");
    assert!(
        described.contains("Message: The pod is bound to node \"foo-node\", and this node is"),
        "{described}"
    );
    env.ok(&["delete", "pod", "elsewhere"]);
    assert!(env.fails(&["get", "pod", "elsewhere"]).contains("NotFound"));
}

#[test]
fn two_pods_asking_for_one_host_port() {
    let env = env();
    let port = "    ports: [{containerPort: 80, hostPort: 18080}]\n";
    create(&env, "first", &sleeper("first", port));
    create(&env, "second", &sleeper("second", port));
    wait_phase(&env, "first", "Running");
    let message = format!(
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. {NO_VICTIMS}"
    );
    assert_eq!(phase(&env, "second"), "Pending");
    assert_eq!(
        events(&env, "second"),
        [format!("FailedScheduling default-scheduler {message} x1")]
    );
    assert!(never_started(&env, "second"));
    // The first one gone, the second is tried again and runs.
    env.ok(&["delete", "pod", "first"]);
    wait_phase(&env, "second", "Running");
    let node = jsonpath(&env, "second", "{.spec.nodeName}");
    assert!(!node.is_empty());
    assert_eq!(
        events(&env, "second")[..2],
        [
            format!("FailedScheduling default-scheduler {message} x1"),
            format!(
                "Scheduled default-scheduler Successfully assigned default/second to {node} x1"
            ),
        ]
    );
}

/// This node's name: the hostname, lower-cased, as the kubelet takes it.
fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_lowercase()
}

#[test]
fn a_node_selector_pod_waits_until_a_label_makes_it_fit() {
    let env = env();
    let yaml = sleeper("picky", "  nodeSelector: {disktype: ssd}\n");
    create(&env, "picky", &yaml);
    let message = format!(
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. {HELPLESS}"
    );
    assert_eq!(phase(&env, "picky"), "Pending");
    assert!(never_started(&env, "picky"));
    assert_eq!(
        events(&env, "picky"),
        [format!("FailedScheduling default-scheduler {message} x1")]
    );
    let node = node_name();
    env.ok(&["label", "node", &node, "disktype=ssd"]);
    wait_phase(&env, "picky", "Running");
    assert_eq!(jsonpath(&env, "picky", "{.spec.nodeName}"), node);
    assert_eq!(
        events(&env, "picky")[..2],
        [
            format!("FailedScheduling default-scheduler {message} x1"),
            format!("Scheduled default-scheduler Successfully assigned default/picky to {node} x1"),
        ]
    );
}

#[test]
fn a_no_schedule_taint_keeps_out_the_pods_that_do_not_tolerate_it() {
    let env = env();
    let node = node_name();
    env.ok(&["taint", "node", &node, "dedicated=gpu:NoSchedule"]);
    create(&env, "plain", &sleeper("plain", ""));
    let tolerant = sleeper(
        "tolerant",
        "  tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]\n",
    );
    create(&env, "tolerant", &tolerant);
    wait_phase(&env, "tolerant", "Running");
    let message = format!(
        "0/1 nodes are available: 1 node(s) had untolerated taint {{dedicated: gpu}}. {HELPLESS}"
    );
    assert_eq!(phase(&env, "plain"), "Pending");
    assert_eq!(
        events(&env, "plain"),
        [format!("FailedScheduling default-scheduler {message} x1")]
    );
    // The taint removed, the waiting pod is tried again and runs.
    env.ok(&["taint", "node", &node, "dedicated=gpu:NoSchedule-"]);
    wait_phase(&env, "plain", "Running");
}

/// The pod's deletionTimestamp, or "" (also when it is gone).
fn deletion(env: &Env, name: &str) -> String {
    jsonpath(env, name, "{.metadata.deletionTimestamp}")
}

#[test]
fn a_no_execute_taint_evicts_running_pods_after_their_toleration_seconds() {
    let env = env();
    let node = node_name();
    // PID 1 of its container, sleep ignores SIGTERM: each pod stays
    // Terminating for its grace period, long enough to look at it on a
    // loaded machine.
    let grace = |yaml: String| {
        yaml.replace(
            "terminationGracePeriodSeconds: 1",
            "terminationGracePeriodSeconds: 15",
        )
    };
    // The patient pod's toleration: long enough that the pod deleted at
    // once and the one deleted after it stay apart under any load.
    const TOLERATION: u64 = 20;
    create(&env, "plain", &grace(sleeper("plain", "")));
    let patient = sleeper(
        "patient",
        &format!(
            "  tolerations: [{{key: maintenance, operator: Exists, effect: NoExecute, tolerationSeconds: {TOLERATION}}}]\n"
        ),
    );
    create(&env, "patient", &grace(patient));
    let forever = sleeper(
        "forever",
        "  tolerations: [{key: maintenance, operator: Exists, effect: NoExecute}]\n",
    );
    create(&env, "forever", &grace(forever));
    for name in ["plain", "patient", "forever"] {
        wait_phase(&env, name, "Running");
    }
    // A supervisor may see the taint before the command returns: the
    // toleration counts from no earlier than the command's start.
    let tainting = std::time::Instant::now();
    env.ok(&["taint", "node", &node, "maintenance=now:NoExecute"]);

    // Not tolerated: deleted at once (at the supervisor's next look),
    // while the patient pod is not yet.
    wait_until(&env, "plain", "the eviction of plain", || {
        (!deletion(&env, "plain").is_empty()).then_some(())
    });
    let patient_deletion = deletion(&env, "patient");
    let looked = tainting.elapsed();
    assert!(
        looked < std::time::Duration::from_secs(TOLERATION),
        "plain was evicted only {looked:?} after the taint"
    );
    assert_eq!(patient_deletion, "", "patient evicted before its time");
    // The kubelet's Killing may already follow it.
    let seen = events(&env, "plain");
    assert!(
        seen.iter().any(|e| e
            == "TaintManagerEviction taint-eviction-controller Marking for deletion Pod default/plain x1"),
        "{seen:?}"
    );
    // The condition comes with the supervisor's next status report, which
    // may follow the deletion's mark.
    let reason = wait_until(&env, "plain", "the DisruptionTarget condition", || {
        let reason = jsonpath(
            &env,
            "plain",
            "{.status.conditions[?(@.type==\"DisruptionTarget\")].reason}",
        );
        (!reason.is_empty()).then_some(reason)
    });
    assert_eq!(reason, "DeletionByTaintManager");
    // Tolerated for a while: deleted once it is over, never before.
    wait_until(&env, "patient", "the eviction of patient", || {
        (!deletion(&env, "patient").is_empty()).then_some(())
    });
    let waited = tainting.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(TOLERATION),
        "evicted after {waited:?}"
    );
    // Both go; the pod that tolerates the taint for ever stays.
    for name in ["plain", "patient"] {
        wait_until(&env, name, &format!("{name} gone"), || {
            (!env.run(&["get", "pod", name]).status.success()).then_some(())
        });
    }
    assert_eq!(phase(&env, "forever"), "Running");
    assert!(deletion(&env, "forever").is_empty());
}

/// A supervisor's taint eviction reads the node's record alone: it evicts
/// while another process holds the node's lock (a `get nodes` measuring
/// the machine, a `taint` writing). It took that lock to read the whole
/// node, and its loop, with a pod's start behind it, waited for it.
#[test]
fn a_no_execute_taint_evicts_while_the_nodes_lock_is_held() {
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};
    let env = env();
    let node = node_name();
    create(&env, "plain", &sleeper("plain", ""));
    wait_phase(&env, "plain", "Running");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.root().join("locks/node"))
        .unwrap();
    // SAFETY: flock(2) of a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    // Tainted by hand: `pod taint` would wait for the lock too.
    let record = env.root().join("nodes").join(format!("{node}.json"));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    value["spec"]["taints"] =
        serde_json::json!([{"key": "maintenance", "value": "now", "effect": "NoExecute"}]);
    let written = env.root().join("node-record.tmp");
    std::fs::write(&written, serde_json::to_vec(&value).unwrap()).unwrap();
    std::fs::rename(&written, &record).unwrap();
    // Read from the store, not by a command, which may wait for the lock.
    let pod_file = env.root().join("pods/default/plain/pod.json");
    let marked = |bytes: &[u8]| {
        let pod: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        pod["metadata"]["deletionTimestamp"].is_string()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let evicted = loop {
        match std::fs::read(&pod_file) {
            Ok(bytes) if marked(&bytes) => break true,
            Ok(_) => {}
            Err(_) => break true,
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(lock);
    assert!(
        evicted,
        "not evicted in 30 s while the node's lock was held"
    );
}

#[test]
fn a_pod_bound_by_node_name_gets_the_kubelets_admission() {
    let env = env();
    let node = node_name();
    let cpus: i64 = env
        .ok(&[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.allocatable.cpu}",
        ])
        .parse()
        .unwrap();
    let bound = |name: &str, extra: &str| {
        let yaml = sleeper(name, extra).replace("spec:\n", &format!("spec:\n  nodeName: {node}\n"));
        create(&env, name, &yaml);
    };
    // It never saw the scheduler: the kubelet's resource check refuses it.
    bound("hog", "    resources: {requests: {cpu: '1000'}}\n");
    assert_eq!(
        jsonpath(
            &env,
            "hog",
            "{.status.phase} {.status.reason}|{.status.message}"
        ),
        format!(
            "Failed OutOfcpu|Pod was rejected: Node didn't have enough resource: cpu, requested: 1000000, used: 0, capacity: {}",
            cpus * 1000
        )
    );
    assert!(never_started(&env, "hog"));
    assert_eq!(
        events(&env, "hog"),
        [format!(
            "OutOfcpu kubelet Node didn't have enough resource: cpu, requested: 1000000, used: 0, capacity: {} x1",
            cpus * 1000
        )]
    );
    let table = env.ok(&["get", "pod", "hog"]);
    assert!(table.contains(" OutOfcpu "), "{table}");

    // What runs counts: 100m taken, the whole node asked for.
    bound("small", "    resources: {requests: {cpu: 100m}}\n");
    wait_phase(&env, "small", "Running");
    bound(
        "rest",
        &format!("    resources: {{requests: {{cpu: '{cpus}'}}}}\n"),
    );
    assert_eq!(
        jsonpath(&env, "rest", "{.status.reason}|{.status.message}"),
        format!(
            "OutOfcpu|Pod was rejected: Node didn't have enough resource: cpu, requested: {}, used: 100, capacity: {}",
            cpus * 1000,
            cpus * 1000
        )
    );

    // Then the predicates: node affinity, as the kubelet words it.
    bound("picky", "  nodeSelector: {disktype: none}\n");
    assert_eq!(
        jsonpath(
            &env,
            "picky",
            "{.status.phase} {.status.reason}|{.status.message}"
        ),
        "Failed NodeAffinity|Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
    );
    for name in ["hog", "rest", "picky", "small"] {
        env.ok(&["delete", "pod", name, "--grace-period=0", "--force"]);
    }
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
}

/// Polls `check` for up to `seconds`.
fn wait_long(env: &Env, name: &str, seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; pod status: {}",
            jsonpath(env, name, "{.status}")
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn disk_pressure_taints_the_node_and_evicts_pods_by_their_use() {
    let env = env();
    create(&env, "quiet", &sleeper("quiet", ""));
    let writer = sleeper("writer", "").replace(
        "command: [sleep, '3600']",
        "command: [sh, -c, 'dd if=/dev/zero of=/fill bs=1M count=4 && touch /done && sleep 3600']",
    );
    create(&env, "writer", &writer);
    wait_phase(&env, "quiet", "Running");
    wait_phase(&env, "writer", "Running");
    wait_long(&env, "writer", 60, "the writer's 4 MiB", || {
        env.run(&["exec", "writer", "--", "test", "-e", "/done"])
            .status
            .success()
    });
    // A threshold no disk stays above: the node is under disk pressure
    // (the host's own free space decides nothing).
    env.node_config("evictionHard:\n  memory.available: 100Mi\n  nodefs.available: 1Ei\n");
    let node = node_name();
    let pressure = env.ok(&[
        "get",
        "node",
        &node,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"DiskPressure\")].status} {.spec.taints[*].key}",
    ]);
    assert_eq!(pressure, "True node.kubernetes.io/disk-pressure");
    // The taint keeps new pods away.
    create(&env, "late", &sleeper("late", ""));
    assert_eq!(
        jsonpath(
            &env,
            "late",
            "{.status.phase} {.status.conditions[0].message}"
        ),
        format!(
            "Pending 0/1 nodes are available: 1 node(s) had untolerated taint {{node.kubernetes.io/disk-pressure: }}. {HELPLESS}"
        )
    );
    // The pod using the most disk goes first; the other one still runs.
    wait_long(&env, "writer", 60, "the writer's eviction", || {
        phase(&env, "writer") == "Failed"
    });
    assert_eq!(phase(&env, "quiet"), "Running");
    let status = jsonpath(&env, "writer", "{.status.reason}|{.status.message}");
    let prefix = "Evicted|The node was low on resource: ephemeral-storage. Threshold quantity: 1Ei, available: ";
    assert!(status.starts_with(prefix), "{status}");
    assert!(
        status.contains(". Container c was using ")
            && status.ends_with(", request is 0, has larger consumption of ephemeral-storage. "),
        "{status}"
    );
    let message = status.strip_prefix("Evicted|").unwrap();
    assert_eq!(
        jsonpath(
            &env,
            "writer",
            "{.status.conditions[?(@.type==\"DisruptionTarget\")].status} {.status.conditions[?(@.type==\"DisruptionTarget\")].reason}"
        ),
        "True TerminationByKubelet"
    );
    assert!(
        events(&env, "writer").contains(&format!("Evicted kubelet {message} x1")),
        "{:?}",
        events(&env, "writer")
    );
    // The table says Evicted until the end of the killed container is
    // recorded; from then on the container's reason shows, as kubectl
    // shows it (a loaded machine may get there before the table is read).
    let table = env.ok(&["get", "pod", "writer"]);
    if !table.contains(" Evicted ") {
        let ended = jsonpath(
            &env,
            "writer",
            "{.status.containerStatuses[0].state.terminated.reason}",
        );
        assert!(
            !ended.is_empty() && table.contains(&format!(" {ended} ")),
            "{table}"
        );
    }
    // The pressure holds: the next one goes at a later period.
    wait_long(&env, "quiet", 60, "the quiet pod's eviction", || {
        phase(&env, "quiet") == "Failed"
    });
    assert_eq!(jsonpath(&env, "quiet", "{.status.reason}"), "Evicted");
    assert_eq!(phase(&env, "late"), "Pending");
    for name in ["writer", "quiet", "late"] {
        env.ok(&["delete", "pod", name, "--grace-period=0", "--force"]);
    }
}

#[test]
fn waiting_pods_are_tried_again_every_pod_max_in_unschedulable_pods_duration() {
    // No retry can come before the period has passed since the first pod
    // command of the node stamped it, which is after this.
    let start = std::time::Instant::now();
    const PERIOD: std::time::Duration = std::time::Duration::from_secs(8);
    let env = env();
    // Disk pressure from a threshold no disk stays above, and the
    // scheduler's periodic retry every 8 s instead of 5 minutes.
    env.node_config(
        "evictionHard:\n  memory.available: 100Mi\n  nodefs.available: 1Ei\npodMaxInUnschedulablePodsDuration: 8s\n",
    );
    create(&env, "late", &sleeper("late", ""));
    let taint = format!(
        "0/1 nodes are available: 1 node(s) had untolerated taint {{node.kubernetes.io/disk-pressure: }}. {HELPLESS}"
    );
    assert_eq!(
        jsonpath(
            &env,
            "late",
            "{.status.phase} {.status.conditions[0].message}"
        ),
        format!("Pending {taint}")
    );
    // The pressure ends and nothing announces it (no label, no taint
    // removed, no pod gone): the pod waits for the periodic retry. Still
    // Pending when looked at before the period is over (a loaded machine
    // may have taken longer than that to get here).
    env.node_config("podMaxInUnschedulablePodsDuration: 8s\n");
    let pending = phase(&env, "late");
    let looked = start.elapsed();
    if looked < PERIOD {
        assert_eq!(pending, "Pending");
    }
    wait_long(&env, "late", 60, "the periodic retry", || {
        phase(&env, "late") == "Running"
    });
    assert!(
        start.elapsed() >= PERIOD,
        "tried again before its time: {:?}",
        start.elapsed()
    );
    let seen = events(&env, "late");
    // One failure, unless the machine was so slow that a retry came while
    // the pressure held.
    let failed = format!("FailedScheduling default-scheduler {taint} x");
    assert!(seen[0].starts_with(&failed), "{seen:?}");
    if looked < PERIOD {
        assert_eq!(seen[0], format!("{failed}1"));
    }
    assert!(
        seen[1].starts_with("Scheduled default-scheduler Successfully assigned default/late to "),
        "{seen:?}"
    );
    env.ok(&["delete", "pod", "late", "--grace-period=0", "--force"]);
}

#[test]
fn a_namespace_selector_sees_the_namespaces_own_labels() {
    let env = env();
    let web = sleeper("web", "").replace(
        "  name: web\n",
        "  name: web\n  namespace: team-a\n  labels: {app: web}\n",
    );
    let file = env.manifest(
        "team.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels: {{team: a}}\n---\n{web}"
        ),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    wait_until(&env, "web", "web running", || {
        let out = env.ok(&[
            "-n",
            "team-a",
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.status.phase}",
        ]);
        (out == "Running").then_some(())
    });
    // Anti-affinity against app=web in the namespaces labelled team=a.
    let picky = sleeper(
        "picky",
        "  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {app: web}}
        namespaceSelector: {matchLabels: {team: a}}
        topologyKey: kubernetes.io/hostname
",
    );
    create(&env, "picky", &picky);
    assert_eq!(
        jsonpath(
            &env,
            "picky",
            "{.status.phase} {.status.conditions[0].message}"
        ),
        format!(
            "Pending 0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules. {NO_VICTIMS}"
        )
    );
    // The namespace relabelled: the selector no longer picks it, and the
    // waiting pod is tried again at once.
    assert_eq!(
        env.ok(&["label", "namespace", "team-a", "team=b", "--overwrite"]),
        "namespace/team-a labeled\n"
    );
    wait_phase(&env, "picky", "Running");
    env.ok(&["delete", "pod", "picky", "--grace-period=0", "--force"]);
    env.ok(&[
        "delete",
        "namespace",
        "team-a",
        "--grace-period=0",
        "--force",
    ]);
}

#[test]
fn max_pods_is_the_nodes_pod_capacity_and_a_pod_past_it_waits() {
    let env = env();
    // The kubelet's maxPods, 110 unless set: here one.
    env.node_config("maxPods: 1\n");
    let capacity = env.ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.capacity.pods} {.items[0].status.allocatable.pods}",
    ]);
    assert_eq!(capacity, "1 1");
    create(&env, "first", &sleeper("first", ""));
    wait_phase(&env, "first", "Running");
    create(&env, "second", &sleeper("second", ""));
    let waiting = jsonpath(
        &env,
        "second",
        "{.status.phase} {.status.conditions[0].message}",
    );
    assert!(
        waiting.starts_with("Pending 0/1 nodes are available: 1 Too many pods. "),
        "{waiting}"
    );
    assert!(never_started(&env, "second"));
    // The first one gone, the second takes its place.
    env.ok(&["delete", "pod", "first", "--grace-period=0", "--force"]);
    wait_phase(&env, "second", "Running");
    env.ok(&["delete", "pod", "second", "--grace-period=0", "--force"]);
}
