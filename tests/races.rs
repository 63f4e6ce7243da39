//! Races between `pod` processes started at once: creates of one name,
//! creates and deletes of many pods, `get` while pods come and go, and
//! two deletes of one pod. Every command is a real process on one state
//! directory, as users racing each other would run them.
//!
//! The pods are on a bridge and subnet of this file's own (the host's
//! `pod0` and 10.244.0.0/16 belong to the default network of other tests).

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::net::{self, Bridge};
use common::pods::{jsonpath, leftovers, wait_until};
use common::{Env, import_busybox};

/// An environment with busybox and a bridge network `bridge` on `subnet`;
/// the bridge's guard is dropped after the environment, which deletes the
/// pods.
fn env(bridge: &'static str, subnet: &str) -> (Bridge, Env) {
    let bridge = Bridge(bridge);
    let env = Env::new();
    import_busybox(&env.root());
    let conflist = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "races",
        "plugins": [{
            "type": "bridge", "bridge": bridge.0, "isGateway": true,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                     "dataDir": env.dir.path().join("ipam")}
        }]
    });
    std::fs::write(
        env.cni_conf_dir().join("10-races.conflist"),
        conflist.to_string(),
    )
    .unwrap();
    (bridge, env)
}

fn pod_yaml(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, \"3600\"]
"
    )
}

/// Starts `pod ARGS` for each argument list, all before any is waited
/// for; returns their outputs in order.
fn at_once(env: &Env, commands: &[Vec<String>]) -> Vec<Output> {
    let children: Vec<Child> = commands
        .iter()
        .map(|args| {
            env.pod()
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting pod")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("waiting for pod"))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn uid(env: &Env, name: &str) -> String {
    env.ok(&["get", "pod", name, "-o", "jsonpath={.metadata.uid}"])
}

fn wait_running(env: &Env, name: &str) {
    wait_until(env, name, "the pod Running", || {
        (jsonpath(env, name, "{.status.phase}") == "Running").then_some(())
    });
}

/// Waits until the host holds nothing of any of `uids`.
fn wait_clean(env: &Env, uids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: Vec<String> = uids.iter().flat_map(|u| leftovers(env, u)).collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left behind: {left:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The addresses host-local still holds.
fn leases(env: &Env) -> Vec<String> {
    net::leases(&env.dir.path().join("ipam").join("races"))
}

#[test]
fn ten_creates_of_one_name_make_exactly_one_pod() {
    let (_bridge, env) = env("podt-race1", "10.246.18.0/24");
    let file = env.manifest("x.yaml", &pod_yaml("x"));
    let file = file.to_str().unwrap().to_string();
    let commands: Vec<Vec<String>> = (0..10)
        .map(|_| vec!["create".into(), "-f".into(), file.clone()])
        .collect();
    let outputs = at_once(&env, &commands);

    let created: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(created.len(), 1, "{outputs:#?}");
    assert_eq!(text(&created[0].stdout), "pod/x created\n");
    let refused = format!(
        "Error from server (AlreadyExists): error when creating \"{file}\": pods \"x\" already exists\n"
    );
    for out in outputs.iter().filter(|o| !o.status.success()) {
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert_eq!(text(&out.stdout), "");
        assert_eq!(text(&out.stderr), refused);
    }

    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "pod/x\n");
    wait_running(&env, "x");
    let uid = uid(&env, "x");
    // One supervisor and one pause: the losers started nothing.
    let runs: Vec<_> = std::fs::read_dir(env.run_root().join("pods"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(runs, [std::ffi::OsString::from(&uid)]);

    env.ok(&["delete", "pod", "x", "--grace-period=1"]);
    wait_clean(&env, &[uid]);
    assert_eq!(leases(&env), Vec::<String>::new());
}

#[test]
fn many_creates_then_many_deletes_at_once_all_succeed_without_sharing_an_address() {
    const PODS: usize = 50;
    let (_bridge, env) = env("podt-race2", "10.246.19.0/24");
    let names: Vec<String> = (0..PODS).map(|i| format!("p{i:02}")).collect();
    let commands: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let file = env.manifest(&format!("{n}.yaml"), &pod_yaml(n));
            vec!["create".into(), "-f".into(), file.to_str().unwrap().into()]
        })
        .collect();
    let outputs = at_once(&env, &commands);
    for (name, out) in names.iter().zip(&outputs) {
        assert!(out.status.success(), "create {name}: {out:?}");
        assert_eq!(text(&out.stdout), format!("pod/{name} created\n"));
        assert_eq!(text(&out.stderr), "");
    }

    let uids: Vec<String> = names.iter().map(|n| uid(&env, n)).collect();
    let mut ips = BTreeSet::new();
    for name in &names {
        let ip = wait_until(&env, name, "a pod IP", || {
            let ip = jsonpath(&env, name, "{.status.podIP}");
            (!ip.is_empty()).then_some(ip)
        });
        assert!(ips.insert(ip.clone()), "{ip} handed out twice");
    }
    assert_eq!(leases(&env).len(), PODS);

    let commands: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            vec![
                "delete".into(),
                "pod".into(),
                n.clone(),
                "--grace-period=1".into(),
            ]
        })
        .collect();
    let outputs = at_once(&env, &commands);
    for (name, out) in names.iter().zip(&outputs) {
        assert!(out.status.success(), "delete {name}: {out:?}");
        assert_eq!(text(&out.stdout), format!("pod \"{name}\" deleted\n"));
    }
    wait_clean(&env, &uids);
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
    assert_eq!(leases(&env), Vec::<String>::new());
}

#[test]
fn get_never_fails_while_pods_are_created_and_deleted() {
    let (_bridge, env) = env("podt-race3", "10.246.20.0/24");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (gets, failures) = std::thread::scope(|s| {
        let getter = s.spawn(|| {
            let mut gets = 0;
            let mut failures = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for args in [&["get", "pods"][..], &["get", "pods", "-o", "json"][..]] {
                    let out = env.run(args);
                    gets += 1;
                    // An empty list is said on stderr, as kubectl does.
                    let stderr = text(&out.stderr);
                    let quiet =
                        stderr.is_empty() || stderr == "No resources found in default namespace.\n";
                    if !out.status.success() || !quiet {
                        failures.push(out);
                    }
                }
            }
            (gets, failures)
        });
        // The getter stops even when an assertion below fails.
        struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let stopper = Stop(&stop);
        let mut uids = Vec::new();
        for round in 0..3 {
            let names: Vec<String> = (0..4).map(|i| format!("r{round}p{i}")).collect();
            let commands: Vec<Vec<String>> = names
                .iter()
                .map(|n| {
                    let file = env.manifest(&format!("{n}.yaml"), &pod_yaml(n));
                    vec!["create".into(), "-f".into(), file.to_str().unwrap().into()]
                })
                .collect();
            for out in at_once(&env, &commands) {
                assert!(out.status.success(), "{out:?}");
            }
            uids.extend(names.iter().map(|n| uid(&env, n)));
            let commands: Vec<Vec<String>> = names
                .iter()
                .map(|n| {
                    vec![
                        "delete".into(),
                        "pod".into(),
                        n.clone(),
                        "--grace-period=1".into(),
                    ]
                })
                .collect();
            for out in at_once(&env, &commands) {
                assert!(out.status.success(), "{out:?}");
            }
        }
        drop(stopper);
        let result = getter.join().unwrap();
        wait_clean(&env, &uids);
        result
    });
    assert!(gets > 2, "get ran only {gets} times");
    assert!(
        failures.is_empty(),
        "{} of {gets} gets failed: {failures:#?}",
        failures.len()
    );
}

#[test]
fn two_deletes_of_one_pod_at_once_both_succeed_or_one_is_not_found() {
    let (_bridge, env) = env("podt-race4", "10.246.21.0/24");
    let file = env.manifest("x.yaml", &pod_yaml("x"));
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    wait_running(&env, "x");
    let uid = uid(&env, "x");

    let delete: Vec<String> = ["delete", "pod", "x", "--grace-period=1"]
        .map(String::from)
        .to_vec();
    let outputs = at_once(&env, &[delete.clone(), delete]);
    let mut succeeded = 0;
    for out in &outputs {
        if out.status.success() {
            succeeded += 1;
            assert_eq!(text(&out.stdout), "pod \"x\" deleted\n");
            assert_eq!(text(&out.stderr), "");
        } else {
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            assert_eq!(text(&out.stdout), "");
            assert_eq!(
                text(&out.stderr),
                "Error from server (NotFound): pods \"x\" not found\n"
            );
        }
    }
    assert!(succeeded >= 1, "{outputs:#?}");
    wait_clean(&env, &[uid]);
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
    assert_eq!(leases(&env), Vec::<String>::new());
}
