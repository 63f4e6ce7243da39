//! The Python `kubernetes` client (PyPI, pinned in
//! tests/python/requirements.txt, installed by scripts/install-deps.sh
//! into `$POD_TEST_PYTHON`, default /var/cache/pod-test-python) against
//! `pod serve`: it lists, selects, creates, watches, reads and deletes
//! pods through its own models and kubeconfig loader
//! (tests/python/client.py). A machine without the client fails this
//! test; it does not skip.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::served::serve_busybox;

fn python() -> PathBuf {
    let env = std::env::var_os("POD_TEST_PYTHON").unwrap_or("/var/cache/pod-test-python".into());
    let python = PathBuf::from(env).join("bin").join("python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh (it installs the Python kubernetes client)",
        python.display()
    );
    python
}

const LISTED: &str = "apiVersion: v1
kind: Pod
metadata:
  name: listed
  labels:
    made-by: cli
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sleep, '3600']
    imagePullPolicy: Never
";

/// The line of the client's output for `step`.
fn step(lines: &[serde_json::Value], step: &str) -> serde_json::Value {
    lines
        .iter()
        .find(|l| l["step"] == step)
        .unwrap_or_else(|| panic!("no {step} in {lines:?}"))
        .clone()
}

#[test]
fn the_python_client_lists_watches_creates_and_deletes_pods() {
    let python = python();
    let served = serve_busybox();
    let manifest = served.env.manifest("listed.yaml", LISTED);
    served.env.ok(&["create", "-f", manifest.to_str().unwrap()]);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&served.kubeconfig)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python client failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let list = step(&lines, "list");
    assert_eq!(list["names"], serde_json::json!(["listed"]), "{list}");
    assert!(
        list["resource_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(
        step(&lines, "select")["names"],
        serde_json::json!(["listed"])
    );

    // The pod the client made is the store's: the CLI sees it, same uid.
    let made = step(&lines, "create");
    assert_eq!(made["name"], "made-by-python");
    let watch = step(&lines, "watch");
    let events = watch["events"].as_array().unwrap();
    assert!(!events.is_empty(), "the watch saw no event: {watch}");
    assert_eq!(events[0][0], "ADDED", "{watch}");
    assert!(events.iter().all(|e| e[1] == "made-by-python"), "{watch}");
    assert_eq!(events.last().unwrap()[2], "Running", "{watch}");
    let read = step(&lines, "read");
    assert_eq!(read["phase"], "Running", "{read}");

    let deleted = step(&lines, "delete");
    assert_eq!(
        deleted["events"].as_array().unwrap().last().unwrap(),
        "DELETED",
        "{deleted}"
    );
    let out = served.env.run(&["get", "pod", "made-by-python"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pods \"made-by-python\" not found"),
        "{out:?}"
    );
    // The uid the client was given was the store's own.
    assert!(
        made["uid"].as_str().is_some_and(|u| u.len() == 36),
        "{made}"
    );
}
