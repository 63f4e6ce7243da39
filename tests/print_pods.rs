//! `get pods -o wide` and `describe pod` through the binary for pods
//! whose status records carry addresses (issue 16): one IP, two
//! (dual-stack), none, and an older record with `podIP` alone; a nominated
//! node and readiness gates. The records are written as a supervisor
//! leaves them for a finished pod (which `get` shows as recorded), so no
//! pod has to run.

mod common;

use common::Env;
use serde_json::{Value, json};

/// Stores pod `name` with `spec` and the status record `status`.
fn store_pod(env: &Env, name: &str, spec: Value, status: Value) {
    let dir = env.root().join("pods/default").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut spec = spec;
    spec["containers"] = json!([{"name": "app", "image": "busybox"}]);
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default",
                     "uid": format!("00000000-0000-4000-8000-{:012}", name.len()),
                     "creationTimestamp": now},
        "spec": spec,
    });
    std::fs::write(dir.join("pod.json"), serde_json::to_vec(&pod).unwrap()).unwrap();
    std::fs::write(
        dir.join("status.json"),
        serde_json::to_vec(&status).unwrap(),
    )
    .unwrap();
}

fn env_with_pods() -> Env {
    let env = Env::new();
    env.ok(&["get", "pods"]);
    let host = json!({"hostIP": "192.0.2.10", "hostIPs": [{"ip": "192.0.2.10"}]});
    let with = |extra: Value| {
        let mut status = host.clone();
        status["phase"] = json!("Succeeded");
        for (k, v) in extra.as_object().unwrap() {
            status[k] = v.clone();
        }
        status
    };
    let node = json!({"nodeName": "node1"});
    store_pod(
        &env,
        "single",
        node.clone(),
        with(json!({"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}]})),
    );
    store_pod(
        &env,
        "dual",
        node.clone(),
        with(
            json!({"podIP": "10.244.0.6", "podIPs": [{"ip": "10.244.0.6"}, {"ip": "fd00:10:244::6"}]}),
        ),
    );
    store_pod(&env, "none", node.clone(), with(json!({"phase": "Failed"})));
    store_pod(&env, "legacy", node, with(json!({"podIP": "10.244.0.7"})));
    store_pod(
        &env,
        "gated",
        json!({"readinessGates": [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]}),
        json!({"phase": "Failed", "nominatedNodeName": "node2",
               "conditions": [{"type": "example.com/a", "status": "True"},
                              {"type": "example.com/b", "status": "False"}]}),
    );
    env
}

fn transcript(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    format!(
        "$ pod {}\n{}{}[exit {}]",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

macro_rules! snapshot {
    ($env:expr, $args:expr) => {
        insta::with_settings!({filters => vec![
            // AGE cells: seconds, one digit or two on a loaded machine. A
            // one-digit age padded in its column loses one space, so that
            // the column reads the same whichever it was.
            (r"\b\ds  ", "[AGE] "),
            (r"\b\d{1,2}s\b", "[AGE]"),
            (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[UID]"),
        ]}, {
            insta::assert_snapshot!(transcript(&$env, $args));
        });
    };
}

#[test]
fn wide_columns() {
    let env = env_with_pods();
    snapshot!(env, &["get", "pods", "-o", "wide"]);
    snapshot!(
        env,
        &[
            "get",
            "pod",
            "legacy",
            "-o",
            "jsonpath={.status.podIP} {.status.podIPs}"
        ]
    );
}

#[test]
fn describe_ip_lines() {
    let env = env_with_pods();
    for name in ["single", "dual", "none", "legacy"] {
        let out = env.ok(&["describe", "pod", name]);
        let lines: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with("IP:"))
            .take_while(|l| !l.starts_with("Containers:"))
            .collect();
        insta::assert_snapshot!(format!("describe_{name}"), lines.join("\n"));
    }
}
