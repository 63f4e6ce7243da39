//! pods/status and pods/eviction through the real kubectl against
//! `pod serve`: a status write keeps only the status (and of it, what the
//! supervisor does not own, which then survives the supervisor's own
//! writes); an eviction marks the pod `DisruptionTarget` and deletes it;
//! `kubectl drain` finds the eviction in discovery and evicts.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::pods::{PATIENCE, jsonpath};
use common::served::{Served, serve_busybox};

/// Polls `check` (generously: a loaded machine) until it holds.
fn wait_for(what: &str, mut check: impl FnMut() -> Option<String>) -> String {
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A pod whose container exits every second and is restarted after 1 s:
/// its supervisor writes its status again and again.
const RESTARTING: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  terminationGracePeriodSeconds: 1
  readinessGates:
  - conditionType: example.com/gate
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'sleep 1; exit 1']
    imagePullPolicy: Never
";

const GATE: &str = "{.status.conditions[?(@.type==\"example.com/gate\")].status}";

#[test]
fn a_status_write_keeps_only_the_status_and_survives_the_supervisors_writes() {
    let served = serve_busybox();
    let manifest = served.env.manifest("web.yaml", RESTARTING);
    let out = served
        .env
        .pod()
        .env("POD_BACKOFF_INITIAL", "1s")
        .env("POD_BACKOFF_MAX", "1s")
        .args(["create", "-f", manifest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // Spec, metadata and the supervisor's fields in the write are not
    // kept; the condition of the readiness gate is.
    let out = served.kubectl_ok(&[
        "patch",
        "pod",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"metadata": {"labels": {"app": "other"}},
            "spec": {"activeDeadlineSeconds": 5},
            "status": {"phase": "Failed", "hostIP": "10.9.9.9",
                       "conditions": [{"type": "example.com/gate", "status": "True"}]}}"#,
    ]);
    assert_eq!(out, "pod/web patched\n");
    assert_eq!(jsonpath(&served.env, "web", GATE), "True");
    assert_eq!(
        jsonpath(&served.env, "web", "{.metadata.labels.app}"),
        "web"
    );
    assert_eq!(
        jsonpath(&served.env, "web", "{.spec.activeDeadlineSeconds}"),
        ""
    );
    assert_ne!(jsonpath(&served.env, "web", "{.status.phase}"), "Failed");
    assert_ne!(jsonpath(&served.env, "web", "{.status.hostIP}"), "10.9.9.9");
    // kubectl reads the status subresource as the API server serves it.
    assert_eq!(
        served.kubectl_ok(&[
            "get",
            "pod",
            "web",
            "--subresource=status",
            "-o",
            &format!("jsonpath={GATE}"),
        ]),
        "True"
    );

    // The supervisor writes its status on every restart: the condition
    // stays.
    let restarts = |env: &Env| -> u64 {
        jsonpath(env, "web", "{.status.containerStatuses[0].restartCount}")
            .parse()
            .unwrap_or(0)
    };
    let before = restarts(&served.env);
    wait_for("two more restarts", || {
        (restarts(&served.env) >= before + 2).then(String::new)
    });
    assert_eq!(jsonpath(&served.env, "web", GATE), "True");
    assert_eq!(
        served.kubectl_ok(&["get", "pod", "web", "-o", &format!("jsonpath={GATE}")]),
        "True"
    );

    // A PUT of the status replaces the conditions: the gate set False.
    let current = served.kubectl_ok(&["get", "pod", "web", "-o", "json"]);
    let mut pod: serde_json::Value = serde_json::from_str(&current).unwrap();
    for c in pod["status"]["conditions"].as_array_mut().unwrap() {
        if c["type"] == "example.com/gate" {
            c["status"] = "False".into();
        }
    }
    pod["metadata"]["resourceVersion"] = serde_json::Value::Null;
    let put = served.file("put.json", &pod.to_string());
    served.kubectl_ok(&[
        "replace",
        "--raw",
        "/api/v1/namespaces/default/pods/web/status",
        "-f",
        &put,
    ]);
    assert_eq!(jsonpath(&served.env, "web", GATE), "False");

    // A condition type that is no qualified name is refused, with the
    // API server's field path.
    let err = served.kubectl_fails(&[
        "patch",
        "pod",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"conditions": [{"type": "bad type!", "status": "True"}]}}"#,
    ]);
    assert!(
        err.starts_with(
            "The Pod \"web\" is invalid: status.conditions[0].Type: Invalid value: \"bad type!\": name part must consist of"
        ),
        "{err}"
    );
    assert_eq!(jsonpath(&served.env, "web", GATE), "False");
}

/// A pod that ignores SIGTERM: it stays Terminating for its 30 s.
const STUBBORN: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'trap \"\" TERM; while true; do sleep 1; done']
    imagePullPolicy: Never
";

#[test]
fn an_eviction_marks_the_pod_and_deletes_it() {
    let served = serve_busybox();
    common::pods::create(&served.env, "web", STUBBORN);
    let eviction = |name: &str| {
        served.file(&format!("evict-{name}.json"),
            &format!(
                r#"{{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {{"name": "{name}", "namespace": "default"}}}}"#
            ),
        )
    };
    let url = "/api/v1/namespaces/default/pods/web/eviction";
    let err = served.kubectl_fails(&["create", "--raw", url, "-f", &eviction("other")]);
    assert_eq!(
        err.trim(),
        "Error from server (BadRequest): name in URL does not match name in Eviction object"
    );
    let err = served.kubectl_fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/pods/nope/eviction",
        "-f",
        &eviction("nope"),
    ]);
    assert_eq!(
        err.trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );

    let out = served.kubectl_ok(&["create", "--raw", url, "-f", &eviction("web")]);
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["kind"], "Status");
    assert_eq!(answer["status"], "Success");
    // Marked, and being deleted (it ignores SIGTERM: 30 s of grace).
    let target = "{.status.conditions[?(@.type==\"DisruptionTarget\")]}";
    let condition: serde_json::Value = serde_json::from_str(&served.kubectl_ok(&[
        "get",
        "pod",
        "web",
        "-o",
        &format!("jsonpath={target}"),
    ]))
    .unwrap();
    assert_eq!(condition["status"], "True");
    assert_eq!(condition["reason"], "EvictionByEvictionAPI");
    assert_eq!(condition["message"], "Eviction API: evicting");
    assert!(
        !jsonpath(&served.env, "web", "{.metadata.deletionTimestamp}").is_empty(),
        "not being deleted"
    );
    // Gone once its grace period ends.
    wait_for("the evicted pod to go", || {
        (!served.env.run(&["get", "pod", "web"]).status.success()).then(String::new)
    });
}

/// kubectl drain evicts when discovery lists pods/eviction with its
/// policy/v1 group version (else it deletes, and says "deleted").
#[test]
fn kubectl_drain_evicts_the_nodes_pods() {
    let served = serve_busybox();
    common::pods::create(&served.env, "web", common::pods::SLEEPER);
    let node = served.kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
    let out = served.kubectl_ok(&["drain", &node, "--force", "--timeout=120s"]);
    assert!(out.contains("evicting pod default/web\n"), "{out}");
    assert!(out.contains("pod/web evicted\n"), "{out}");
    assert!(out.ends_with(&format!("node/{node} drained\n")), "{out}");
    assert!(!served.env.run(&["get", "pod", "web"]).status.success());
    served.kubectl_ok(&["uncordon", &node]);
}

/// A running pod whose one container is ready at once (no probe) and
/// whose Ready waits for a readiness gate.
const GATED: &str = "apiVersion: v1
kind: Pod
metadata:
  name: gated
spec:
  terminationGracePeriodSeconds: 1
  readinessGates:
  - conditionType: example.com/gate
  containers:
  - name: app
    image: busybox
    command: [sleep, '3600']
    imagePullPolicy: Never
";

fn condition(served: &Served, type_: &str, field: &str) -> String {
    jsonpath(
        &served.env,
        "gated",
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].{field}}}"),
    )
}

#[test]
fn ready_waits_for_the_readiness_gates_condition() {
    let served = serve_busybox();
    let manifest = served.env.manifest("gated.yaml", GATED);
    served.env.ok(&["create", "-f", manifest.to_str().unwrap()]);
    wait_for("the containers ready", || {
        (condition(&served, "ContainersReady", "status") == "True").then(String::new)
    });
    // Containers ready, no condition for the gate: not Ready, in the
    // kubelet's words, for `pod get` and kubectl alike.
    assert_eq!(condition(&served, "Ready", "status"), "False");
    assert_eq!(
        condition(&served, "Ready", "reason"),
        "ReadinessGatesNotReady"
    );
    assert_eq!(
        condition(&served, "Ready", "message"),
        "corresponding condition of pod readiness gate \"example.com/gate\" does not exist."
    );
    let ready = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
    assert_eq!(
        served.kubectl_ok(&["get", "pod", "gated", "-o", ready]),
        "False"
    );

    let set = |status: &str| {
        served.kubectl_ok(&[
            "patch",
            "pod",
            "gated",
            "--subresource=status",
            "--type=merge",
            "-p",
            &format!(
                r#"{{"status": {{"conditions": [{{"type": "example.com/gate", "status": "{status}"}}]}}}}"#
            ),
        ])
    };
    set("False");
    assert_eq!(
        condition(&served, "Ready", "message"),
        "the status of pod readiness gate \"example.com/gate\" is not \"True\", but False"
    );
    // The gate True: Ready, and `kubectl wait` sees it.
    set("True");
    served.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/gated",
        "--timeout=60s",
    ]);
    assert_eq!(condition(&served, "Ready", "status"), "True");
    assert_eq!(condition(&served, "Ready", "reason"), "");
}

/// The entry of `manager` in the pod's managedFields, as kubectl shows it.
fn managed_entry(served: &Served, manager: &str) -> serde_json::Value {
    let pod: serde_json::Value = serde_json::from_str(&served.kubectl_ok(&[
        "get",
        "pod",
        "gated",
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .unwrap();
    pod["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == manager)
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// Status writes record their manager with subresource `status`, as the
/// API server does, and keep the spec's managers (and a write through
/// the pod keeps theirs); a server-side apply of the status is served:
/// it conflicts with the field's other manager unless forced.
#[test]
fn status_writes_record_their_managers_and_server_side_apply_them() {
    let served = serve_busybox();
    let manifest = served.file("gated.yaml", GATED);
    served.kubectl_ok(&["create", "-f", &manifest]);
    served.kubectl_ok(&[
        "patch",
        "pod",
        "gated",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"conditions": [{"type": "example.com/gate", "status": "False"}]}}"#,
    ]);
    let gate_fields = serde_json::json!({"f:status": {"f:conditions": {
        "k:{\"type\":\"example.com/gate\"}": {".": {}, "f:status": {}, "f:type": {}}}}});
    let patcher = managed_entry(&served, "kubectl-patch");
    assert_eq!(patcher["operation"], "Update", "{patcher}");
    assert_eq!(patcher["subresource"], "status", "{patcher}");
    assert_eq!(patcher["fieldsV1"], gate_fields, "{patcher}");
    let creator = managed_entry(&served, "kubectl-create");
    assert!(
        creator["fieldsV1"]["f:spec"]["f:containers"].is_object(),
        "{creator}"
    );
    // A label through the pod keeps the status's manager.
    served.kubectl_ok(&["label", "pod", "gated", "tier=a"]);
    assert_eq!(
        managed_entry(&served, "kubectl-patch")["fieldsV1"],
        gate_fields
    );

    let applied = served.file(
        "status.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: gated
status:
  conditions:
  - type: example.com/gate
    status: 'True'
",
    );
    let apply = [
        "apply",
        "--server-side",
        "--subresource=status",
        "-f",
        &applied,
    ];
    let err = served.kubectl_fails(&apply);
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-patch\" with subresource \"status\" using v1: .status.conditions[type=\"example.com/gate\"].status"
        ),
        "{err}"
    );
    assert_eq!(condition(&served, "example.com/gate", "status"), "False");
    let forced = [&apply[..], &["--force-conflicts"]].concat();
    assert_eq!(served.kubectl_ok(&forced), "pod/gated serverside-applied\n");
    assert_eq!(condition(&served, "example.com/gate", "status"), "True");
    let applier = managed_entry(&served, "kubectl");
    assert_eq!(applier["operation"], "Apply", "{applier}");
    assert_eq!(applier["subresource"], "status", "{applier}");
    assert_eq!(applier["fieldsV1"], gate_fields, "{applier}");
    // The forced value is taken from the patcher; the item and its key
    // stay shared.
    assert_eq!(
        managed_entry(&served, "kubectl-patch")["fieldsV1"],
        serde_json::json!({"f:status": {"f:conditions": {
            "k:{\"type\":\"example.com/gate\"}": {".": {}, "f:type": {}}}}})
    );
    served.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/gated",
        "--timeout=120s",
    ]);
}
