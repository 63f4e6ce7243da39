//! Pods that outlive the death of their pause process (and, later, of
//! their supervisor): real pods on the node's default network (root,
//! busybox image made from the host's busybox-static, the reference CNI
//! plugins).
//!
//! A dead pause process is the kubelet's changed sandbox: the
//! SandboxChanged event, the containers killed, a new sandbox with a new
//! address, and the containers started again per the restart policy.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::net;
use common::pods::{create, delete_and_check_clean, leftovers};
use common::{Env, import_busybox};
use serde_json::Value;

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

fn pod_json(env: &Env, name: &str) -> Value {
    serde_json::from_str(&env.ok(&["get", "pod", name, "-o", "json"])).unwrap()
}

/// Polls the pod until `check` holds; panics with its status and events
/// after `secs` seconds.
fn until(env: &Env, name: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let pod = pod_json(env, name);
        if check(&pod) {
            return pod;
        }
        if Instant::now() > deadline {
            panic!(
                "condition not reached in {secs}s; pod:\n{}\nevents:\n{:#?}",
                serde_json::to_string_pretty(&pod["status"]).unwrap(),
                events(env, name)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or(&Value::Null)
}

fn running(pod: &Value, name: &str, restarts: i64) -> bool {
    let c = container(pod, name);
    c["restartCount"] == restarts && !c["state"]["running"].is_null()
}

/// `(reason, message)` of the pod's events, in order.
fn events(env: &Env, name: &str) -> Vec<(String, String)> {
    let path = env
        .root()
        .join("pods/default")
        .join(name)
        .join("events.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn count(events: &[(String, String)], reason: &str, message: &str) -> usize {
    events
        .iter()
        .filter(|(r, m)| r == reason && m.contains(message))
        .count()
}

/// The pid of one of the pod's recorded processes (`pause`, a container).
fn recorded_pid(env: &Env, uid: &str, which: &str) -> i32 {
    let file = env.run_root().join("pods").join(uid).join("processes.json");
    let processes: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    processes[which]["pid"].as_i64().unwrap() as i32
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.contains(") Z ") && !s.contains(") X "))
}

/// The addresses host-local holds for the default network.
fn leases(env: &Env) -> Vec<String> {
    net::leases(&env.root().join("cni").join("networks").join("pod"))
}

/// iptables rules (every table) that name `id`: the network's
/// masquerading of the pod's address.
fn rules_naming(id: &str) -> Vec<String> {
    let out = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_string)
        .collect()
}

fn kill_pause(env: &Env, uid: &str) -> i32 {
    let pause = recorded_pid(env, uid, "(pause)");
    // SAFETY: kill(2) on the pause process of a pod this test made.
    assert_eq!(unsafe { libc::kill(pause, libc::SIGKILL) }, 0);
    pause
}

const SANDBOX_CHANGED: &str = "Pod sandbox changed, it will be killed and re-created.";

fn two_containers(name: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
{extra}  containers:
  - name: a
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "trap 'exit 0' TERM; echo started; while true; do sleep 0.2; done"]
  - name: b
    image: busybox
    imagePullPolicy: Never
    command: [sleep, "3600"]
"#
    )
}

/// The sandbox's death seen through to its end with restartPolicy
/// Always: the event, the containers killed and started again (restart
/// count 1, their last state the kill), a new pause, a new address, and
/// the old one released.
fn sandbox_re_created(env: &Env, name: &str, shared_pid_namespace: bool) {
    let extra = if shared_pid_namespace {
        "  shareProcessNamespace: true\n"
    } else {
        ""
    };
    let uid = create(env, name, &two_containers(name, extra));
    let pod = until(env, name, 20, |p| {
        running(p, "a", 0) && running(p, "b", 0) && p["status"]["podIP"].is_string()
    });
    let old_ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    assert_eq!(leases(env), std::slice::from_ref(&old_ip));
    // The built-in default network masquerades the whole pod subnet with
    // one rule per node, so no rule names the pod; what is checked below is
    // that the sandbox's change adds none and leaves none for the old
    // address (a CNI network's per-pod rules would have to go with it).
    let rules = rules_naming(&uid);
    let old_b = recorded_pid(env, &uid, "b");
    let pause = kill_pause(env, &uid);

    let pod = until(env, name, 20, |p| {
        running(p, "a", 1)
            && running(p, "b", 1)
            && p["status"]["podIP"].as_str().is_some_and(|ip| ip != old_ip)
    });
    let new_ip = pod["status"]["podIP"].as_str().unwrap().to_string();
    assert!(!alive(old_b), "the old container was killed");
    let new_pause = recorded_pid(env, &uid, "(pause)");
    assert_ne!(new_pause, pause);
    assert!(alive(new_pause));
    for c in ["a", "b"] {
        let last = &container(&pod, c)["lastState"]["terminated"];
        assert!(last.is_object(), "{c}: {pod}");
        if shared_pid_namespace {
            // Killed by the kernel with the PID namespace.
            assert_eq!(last["exitCode"], 137, "{c}: {last}");
        }
    }
    let ready = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PodReadyToStartContainers")
        .unwrap();
    assert_eq!(ready["status"], "True");
    let seen = events(env, name);
    assert_eq!(
        count(&seen, "SandboxChanged", SANDBOX_CHANGED),
        1,
        "{seen:#?}"
    );
    assert_eq!(
        count(&seen, "Started", "Started container a"),
        2,
        "{seen:#?}"
    );
    if !shared_pid_namespace {
        // The kubelet kills what still runs.
        assert_eq!(
            count(&seen, "Killing", "Stopping container b"),
            1,
            "{seen:#?}"
        );
    }
    // The old address went with the old sandbox (DEL), the new one is the
    // only lease.
    assert_eq!(leases(env), std::slice::from_ref(&new_ip));
    let now = rules_naming(&uid);
    assert_eq!(now.len(), rules.len(), "{now:#?}");
    assert!(!now.iter().any(|r| r.contains(&old_ip)), "{now:#?}");
    delete_and_check_clean(env, name, &uid);
    assert!(rules_naming(&uid).is_empty());
    assert!(leases(env).is_empty());
}

#[test]
fn a_dead_pause_process_is_a_changed_sandbox_killed_and_re_created() {
    let env = env();
    sandbox_re_created(&env, "sbx", false);
}

#[test]
fn a_dead_pause_process_with_a_shared_pid_namespace_takes_the_containers_with_it() {
    let env = env();
    sandbox_re_created(&env, "sbxpid", true);
}

#[test]
fn a_dead_sandbox_under_never_fails_the_pod_without_a_new_one() {
    let env = env();
    let name = "sbxnever";
    let uid = create(
        &env,
        name,
        &two_containers(name, "  restartPolicy: Never\n"),
    );
    until(&env, name, 60, |p| running(p, "a", 0) && running(p, "b", 0));
    let pause = kill_pause(&env, &uid);
    let pod = until(&env, name, 60, |p| p["status"]["phase"] == "Failed");
    for c in ["a", "b"] {
        let state = &container(&pod, c)["state"]["terminated"];
        assert!(state.is_object(), "{c}: {pod}");
        assert_eq!(container(&pod, c)["restartCount"], 0);
    }
    // a traps SIGTERM and exits 0; b is SIGKILLed at the end of the grace.
    assert_eq!(
        container(&pod, "a")["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(container(&pod, "b")["state"]["terminated"]["exitCode"], 137);
    let seen = events(&env, name);
    assert_eq!(count(&seen, "SandboxChanged", ""), 0, "{seen:#?}");
    assert_eq!(
        count(&seen, "Killing", "Stopping container"),
        2,
        "{seen:#?}"
    );
    assert!(!alive(pause));
    // The supervisor tore the sandbox down when the pod ended.
    let run_dir = env.run_root().join("pods").join(&uid);
    let deadline = Instant::now() + Duration::from_secs(60);
    while run_dir.join("netns").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A teardown still under way (its DEL waiting for the node's address
    // lock) is not a lease left behind: said apart.
    assert!(
        !run_dir.join("netns").exists(),
        "the sandbox is not torn down 60 s after the pod's end; leases {:?}",
        leases(&env)
    );
    assert!(leases(&env).is_empty(), "{:?}", leases(&env));
    env.ok(&["delete", "pod", name]);
    assert!(
        leftovers(&env, &uid).is_empty(),
        "{:#?}",
        leftovers(&env, &uid)
    );
    assert!(!Path::new(&run_dir).exists());
}

/// The container's log of instance `n`, without the CRI prefixes.
fn log(env: &Env, name: &str, uid: &str, container: &str, n: u32) -> String {
    let path = env
        .root()
        .join("logs")
        .join(format!("default_{name}_{uid}"))
        .join(container)
        .join(format!("{n}.log"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_string() + "\n")
        .collect()
}

#[test]
fn a_new_sandbox_runs_the_init_containers_again_after_the_pre_stop_hooks() {
    let env = env();
    let name = "sbxinit";
    let uid = create(
        &env,
        name,
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: init
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "echo init ran"]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "trap 'echo terminated; exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      preStop:
        exec:
          command: [sh, -c, "echo pre-stop ran > /proc/1/fd/1"]
"#
        ),
    );
    until(&env, name, 60, |p| running(p, "app", 0));
    kill_pause(&env, &uid);
    let pod = until(&env, name, 60, |p| running(p, "app", 1));
    let init = pod["status"]["initContainerStatuses"][0].clone();
    assert_eq!(init["restartCount"], 1, "{init}");
    assert_eq!(init["state"]["terminated"]["reason"], "Completed", "{init}");
    assert_eq!(
        container(&pod, "app")["lastState"]["terminated"]["reason"],
        "Completed",
        "it trapped SIGTERM: {pod}"
    );
    // The hook ran before the stop signal, in the old instance.
    assert_eq!(
        log(&env, name, &uid, "app", 0),
        "pre-stop ran\nterminated\n"
    );
    assert_eq!(log(&env, name, &uid, "init", 1), "init ran\n");
    let seen = events(&env, name);
    assert_eq!(
        count(&seen, "SandboxChanged", SANDBOX_CHANGED),
        1,
        "{seen:#?}"
    );
    assert_eq!(
        count(&seen, "Killing", "Stopping container app"),
        1,
        "{seen:#?}"
    );
    assert_eq!(
        count(&seen, "Started", "Started container init"),
        2,
        "{seen:#?}"
    );
    delete_and_check_clean(&env, name, &uid);
}
