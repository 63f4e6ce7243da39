//! The supervisor's lifecycle with real pods (root, busybox image made
//! from the host's busybox-static): restarts and back-off, restart
//! policies, init containers and sidecars, probes, hooks, termination,
//! a lost supervisor, logs across restarts, wait.
//!
//! Back-off is shortened with POD_BACKOFF_INITIAL / POD_BACKOFF_MAX. Every
//! test has its own state directories; `Env`'s drop force-deletes what is
//! left, so processes and mounts go even when a test fails.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Env, import_busybox};
use serde_json::Value;

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// `pod create -f` of `yaml` with a short back-off (1 s, at most 2 s).
fn create(env: &Env, name: &str, yaml: &str) {
    create_backing_off(env, name, yaml, "1s", "2s");
}

/// `pod create -f` of `yaml` with a crash-loop back-off from `initial` up
/// to `max`.
fn create_backing_off(env: &Env, name: &str, yaml: &str, initial: &str, max: &str) {
    let file = env.manifest(&format!("{name}.yaml"), yaml);
    let out = env
        .pod()
        .env("POD_BACKOFF_INITIAL", initial)
        .env("POD_BACKOFF_MAX", max)
        .args(["create", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pod_json(env: &Env, name: &str) -> Value {
    serde_json::from_str(&env.ok(&["get", "pod", name, "-o", "json"])).unwrap()
}

/// Polls the pod until `check` holds; panics with the last status after
/// `secs` seconds.
fn until(env: &Env, name: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let pod = pod_json(env, name);
        if check(&pod) {
            return pod;
        }
        if Instant::now() > deadline {
            panic!(
                "condition not reached in {secs}s; pod:\n{}\nevents:\n{}",
                serde_json::to_string_pretty(&pod["status"]).unwrap(),
                env.run(&["describe", "pod", name]).stdout.escape_ascii()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .chain(pod["status"]["initContainerStatuses"].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or(&Value::Null)
}

fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("")
}

fn events(env: &Env, name: &str) -> Vec<Value> {
    let path = env
        .root()
        .join("pods/default")
        .join(name)
        .join("events.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut latest: Vec<Value> = Vec::new();
    for e in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        match latest
            .iter_mut()
            .find(|x| x["metadata"]["name"] == e["metadata"]["name"])
        {
            Some(x) => *x = e,
            None => latest.push(e),
        }
    }
    latest
}

fn has_event(env: &Env, name: &str, reason: &str, message: &str) -> bool {
    events(env, name)
        .iter()
        .any(|e| e["reason"] == reason && e["message"].as_str().unwrap_or("").contains(message))
}

fn first_log_time(env: &Env, pod: &Value, container: &str, instance: u32) -> f64 {
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let name = pod["metadata"]["name"].as_str().unwrap();
    let path = env
        .root()
        .join("logs")
        .join(format!("default_{name}_{uid}"))
        .join(container)
        .join(format!("{instance}.log"));
    let text = std::fs::read_to_string(&path).unwrap();
    let stamp = text.split(' ').next().unwrap();
    let ts: jiff::Timestamp = stamp.parse().unwrap();
    ts.as_millisecond() as f64 / 1000.0
}

fn pod_yaml(name: &str, spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

#[test]
fn crash_loop_backs_off_with_growing_delays() {
    let env = env();
    // What the supervisor shows while the container waits, read from the
    // status file itself every few milliseconds (a back-off shows for a
    // second at least), in the order shown.
    let status = env.root().join("pods/default/crash/status.json");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut shown: Vec<String> = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let status: Value = std::fs::read(&status)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                let waiting = &status["containerStatuses"][0]["state"]["waiting"];
                if waiting["reason"] == "CrashLoopBackOff" {
                    let message = waiting["message"].as_str().unwrap_or("").to_string();
                    if shown.last() != Some(&message) {
                        shown.push(message);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            shown
        })
    };
    // Back-offs of 3 s, then 6 s: a restart counts as backed off when the
    // supervisor handles the exit before the delay is over (the kubelet's
    // rule: a delay is counted from the container's end), and a loaded
    // machine has taken more than a second to handle one.
    create_backing_off(
        &env,
        "crash",
        &pod_yaml(
            "crash",
            "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'echo started; exit 1']\n",
        ),
        "3s",
        "6s",
    );
    // Instance 3 has logged once instance 4 was started.
    let pod = until(&env, "crash", 60, |p| {
        container(p, "app")["restartCount"].as_i64() >= Some(4)
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let shown = watcher.join().unwrap();
    let starts: Vec<f64> = (0..4)
        .map(|i| first_log_time(&env, &pod, "app", i))
        .collect();
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    // Lower bounds only: a loaded machine adds start-up time to every gap
    // but never shortens a back-off.
    assert!(gaps[1] >= 2.9, "then 3 s: {gaps:?}");
    assert!(gaps[2] >= 5.9, "then 6 s (the maximum): {gaps:?}");
    // The first restart is immediate, every later one backs off: in the
    // order the supervisor recorded its events, no BackOff between the
    // first two starts, one before each later start.
    let text = std::fs::read_to_string(env.root().join("pods/default/crash/events.jsonl")).unwrap();
    let order: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["reason"].as_str().map(String::from))
        .filter(|r| r == "Started" || r == "BackOff")
        .collect();
    assert_eq!(
        order[..6],
        [
            "Started", "Started", "BackOff", "Started", "BackOff", "Started"
        ],
        "{order:?}"
    );
    // The delays grow, as the supervisor says them: 3 s, then 6 s.
    let back_off = |delay: &str| {
        format!("back-off {delay} restarting failed container=app pod=crash_default(")
    };
    assert!(shown.len() >= 2, "{shown:?}");
    assert!(shown[0].starts_with(&back_off("3s")), "{shown:?}");
    assert!(
        shown[1..].iter().all(|m| m.starts_with(&back_off("6s"))),
        "{shown:?}"
    );
    let pod = until(&env, "crash", 60, |p| {
        container(p, "app")["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    });
    let app = container(&pod, "app");
    assert_eq!(app["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(app["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(phase(&pod), "Running");
    assert!(has_event(
        &env,
        "crash",
        "BackOff",
        "Back-off restarting failed container app in pod crash_default("
    ));
    // The table says so while the container waits; on a loaded machine the
    // 6 s back-off can end between the check above and `get pods`, so look
    // again until a wait is caught by the table itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let table = env.ok(&["get", "pods"]);
        if table.contains("CrashLoopBackOff") {
            break;
        }
        assert!(Instant::now() < deadline, "{table}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn on_failure_and_never_end_the_pod() {
    let env = env();
    let spec = |policy: &str, script: &str| {
        format!(
            "  restartPolicy: {policy}\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, '{script}']\n"
        )
    };
    create(&env, "ok", &pod_yaml("ok", &spec("OnFailure", "exit 0")));
    create(&env, "bad", &pod_yaml("bad", &spec("Never", "exit 2")));
    // OnFailure restarts a failure until it succeeds; the counter file is
    // in an emptyDir, which outlives container restarts.
    create(
        &env,
        "retry",
        &pod_yaml(
            "retry",
            "  restartPolicy: OnFailure\n  volumes:\n  - name: work\n    emptyDir: {}\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    volumeMounts:\n    - {name: work, mountPath: /work}\n    command: [sh, -c, 'if [ -f /work/once ]; then exit 0; fi; touch /work/once; exit 1']\n",
        ),
    );
    let ok = until(&env, "ok", 60, |p| phase(p) == "Succeeded");
    assert_eq!(
        container(&ok, "app")["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(container(&ok, "app")["restartCount"], 0);
    // Its sandbox is torn down after the final phase is written, and the
    // teardown's own status says so.
    let sandbox = |p: &Value| {
        p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "PodReadyToStartContainers")
            .map(|c| c["status"].clone())
    };
    let ok = until(&env, "ok", 60, |p| sandbox(p) == Some("False".into()));
    assert_eq!(phase(&ok), "Succeeded");
    let bad = until(&env, "bad", 60, |p| phase(p) == "Failed");
    let t = &container(&bad, "app")["state"]["terminated"];
    assert_eq!(t["exitCode"], 2);
    assert_eq!(t["reason"], "Error");
    assert_eq!(container(&bad, "app")["restartCount"], 0);
    let retry = until(&env, "retry", 60, |p| phase(p) == "Succeeded");
    assert_eq!(container(&retry, "app")["restartCount"], 1);
    assert_eq!(
        container(&retry, "app")["lastState"]["terminated"]["exitCode"],
        1
    );
}

/// A container over its memory limit (the cgroup's, v1 or v2) is killed
/// by the kernel's OOM killer: terminated `OOMKilled` with exit code 137,
/// as the CRI reports it, and restarted per its policy; `get` and
/// `describe` show it as kubectl does. dd's 64 MiB buffer, filled from
/// /dev/zero, is charged to the container's cgroup, limited to 16 MiB.
#[test]
fn a_container_over_its_memory_limit_is_oom_killed_and_restarted_per_its_policy() {
    let env = env();
    let spec = |policy: &str, script: &str| {
        format!(
            "  restartPolicy: {policy}\n  volumes:\n  - name: work\n    emptyDir: {{}}\n  containers:\n  - name: hog\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    volumeMounts:\n    - {{name: work, mountPath: /work}}\n    resources:\n      limits: {{memory: 16Mi}}\n    command: [sh, -c, '{script}']\n"
        )
    };
    let hog = "exec dd if=/dev/zero of=/dev/null bs=64M count=1";
    create(&env, "once", &pod_yaml("once", &spec("Never", hog)));
    // The first instance runs out of memory, the second ends well.
    let twice = format!("if [ -f /work/ran ]; then exit 0; fi; touch /work/ran; {hog}");
    create(
        &env,
        "twice",
        &pod_yaml("twice", &spec("OnFailure", &twice)),
    );

    let once = until(&env, "once", 60, |p| phase(p) == "Failed");
    let t = &container(&once, "hog")["state"]["terminated"];
    assert_eq!(t["reason"], "OOMKilled", "{t}");
    assert_eq!(t["exitCode"], 137, "{t}");
    assert_eq!(container(&once, "hog")["restartCount"], 0);
    let row = env.ok(&["get", "pod", "once", "--no-headers"]);
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[..4], ["once", "0/1", "OOMKilled", "0"], "{row}");

    let twice = until(&env, "twice", 60, |p| phase(p) == "Succeeded");
    let hog = container(&twice, "hog");
    assert_eq!(hog["restartCount"], 1, "{hog}");
    let last = &hog["lastState"]["terminated"];
    assert_eq!(last["reason"], "OOMKilled", "{last}");
    assert_eq!(last["exitCode"], 137, "{last}");
    // The instance after it is not taken for another OOM kill: its cgroup
    // (and the cgroup's count of kills) is a new one.
    assert_eq!(hog["state"]["terminated"]["reason"], "Completed", "{hog}");
    let describe = env.ok(&["describe", "pod", "twice"]);
    assert!(
        describe.contains(
            "    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n"
        ),
        "{describe}"
    );
}

#[test]
fn init_container_fails_then_succeeds_and_sidecar_stays_up() {
    let env = env();
    create(
        &env,
        "init",
        &pod_yaml(
            "init",
            "  volumes:\n  - name: work\n    emptyDir: {}\n  initContainers:\n  - name: setup\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    volumeMounts:\n    - {name: work, mountPath: /work}\n    command: [sh, -c, 'if [ -f /work/tried ]; then echo ready > /work/state; exit 0; fi; touch /work/tried; exit 1']\n  - name: proxy\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    restartPolicy: Always\n    command: [sleep, '3600']\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    volumeMounts:\n    - {name: work, mountPath: /work}\n    command: [sh, -c, 'cat /work/state; sleep 3600']\n",
        ),
    );
    let pod = until(&env, "init", 60, |p| {
        phase(p) == "Running" && container(p, "app")["ready"] == true
    });
    let setup = container(&pod, "setup");
    assert_eq!(setup["restartCount"], 1);
    assert_eq!(setup["state"]["terminated"]["exitCode"], 0);
    assert_eq!(setup["lastState"]["terminated"]["exitCode"], 1);
    let proxy = container(&pod, "proxy");
    assert!(proxy["state"]["running"].is_object(), "{proxy}");
    assert_eq!(proxy["started"], true);
    assert_eq!(proxy["ready"], true);
    let table = env.ok(&["get", "pod", "init"]);
    assert!(table.contains("2/2"), "sidecar counts in READY: {table}");
    // Running (and so ready) comes before the shell has written its line.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env.ok(&["logs", "init", "-c", "app"]).contains("ready") {
        assert!(Instant::now() < deadline, "app never wrote its line");
        std::thread::sleep(Duration::from_millis(100));
    }
    let conditions = pod["status"]["conditions"].as_array().unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Initialized" && c["status"] == "True")
    );
}

#[test]
fn init_failure_with_never_fails_the_pod() {
    let env = env();
    create(
        &env,
        "never",
        &pod_yaml(
            "never",
            "  restartPolicy: Never\n  initContainers:\n  - name: setup\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'exit 7']\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        ),
    );
    let pod = until(&env, "never", 60, |p| phase(p) == "Failed");
    assert_eq!(
        container(&pod, "setup")["state"]["terminated"]["exitCode"],
        7
    );
    assert!(container(&pod, "app")["state"]["waiting"].is_object());
    let table = env.ok(&["get", "pod", "never"]);
    assert!(table.contains("Init:Error"), "{table}");
}

#[test]
fn init_failure_with_never_stops_the_sidecars_and_ends_the_pod() {
    let env = env();
    create(
        &env,
        "fails",
        &pod_yaml(
            "fails",
            "  restartPolicy: Never\n  terminationGracePeriodSeconds: 1\n  initContainers:\n  - name: proxy\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    restartPolicy: Always\n    command: [sleep, '3600']\n  - name: setup\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'exit 7']\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        ),
    );
    // The kubelet kills the pod: the sidecar is stopped (SIGKILL after
    // the 2 s minimum, as sleep ignores SIGTERM as PID 1) and not
    // restarted.
    let pod = until(&env, "fails", 60, |p| {
        phase(p) == "Failed" && container(p, "proxy")["state"]["terminated"].is_object()
    });
    assert_eq!(container(&pod, "proxy")["restartCount"], 0);
    assert_eq!(
        container(&pod, "setup")["state"]["terminated"]["exitCode"],
        7
    );
    assert!(has_event(
        &env,
        "fails",
        "Killing",
        "Stopping container proxy"
    ));
    std::thread::sleep(Duration::from_secs(3));
    let pod = pod_json(&env, "fails");
    assert_eq!(container(&pod, "proxy")["restartCount"], 0, "not restarted");
    assert_eq!(phase(&pod), "Failed");
}

#[test]
fn liveness_failure_restarts_and_readiness_flips() {
    let env = env();
    create(
        &env,
        "probed",
        &pod_yaml(
            "probed",
            "  terminationGracePeriodSeconds: 2\n  containers:\n  - name: live\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600']\n    livenessProbe:\n      exec:\n        command: [cat, /tmp/healthy]\n      periodSeconds: 1\n      failureThreshold: 1\n  - name: ready\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'touch /tmp/ready; sleep 600']\n    readinessProbe:\n      exec:\n        command: [cat, /tmp/ready]\n      periodSeconds: 1\n",
        ),
    );
    until(&env, "probed", 60, |p| {
        container(p, "ready")["ready"] == true
    });
    // Unready once its file is gone (removed by the test, not after a
    // time in the container that a loaded machine could let pass before
    // any probe saw it ready).
    env.ok(&["exec", "probed", "-c", "ready", "--", "rm", "/tmp/ready"]);
    let pod = until(&env, "probed", 60, |p| {
        container(p, "ready")["ready"] == false
            && container(p, "ready")["state"]["running"].is_object()
    });
    let ready = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    until(&env, "probed", 60, |p| {
        container(p, "live")["restartCount"].as_i64() >= Some(1)
    });
    assert!(has_event(
        &env,
        "probed",
        "Killing",
        "Container live failed liveness probe, will be restarted"
    ));
    assert!(has_event(
        &env,
        "probed",
        "Unhealthy",
        "Liveness probe failed: cat: can't open '/tmp/healthy'"
    ));
    assert!(has_event(
        &env,
        "probed",
        "Unhealthy",
        "Readiness probe failed:"
    ));
}

#[test]
fn http_and_tcp_probes_reach_the_pod_network() {
    let env = env();
    create(
        &env,
        "web",
        &pod_yaml(
            "web",
            "  containers:\n  - name: httpd\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    ports:\n    - {name: http, containerPort: 8080}\n    command: [sh, -c, 'mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www']\n    readinessProbe:\n      httpGet: {path: /index.html, port: http}\n      periodSeconds: 1\n    livenessProbe:\n      tcpSocket: {port: 8080}\n      periodSeconds: 1\n  - name: missing\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    readinessProbe:\n      httpGet: {path: /nothing-here, port: 8080}\n      periodSeconds: 1\n",
        ),
    );
    let pod = until(&env, "web", 60, |p| container(p, "httpd")["ready"] == true);
    assert_eq!(container(&pod, "httpd")["restartCount"], 0);
    until(&env, "web", 60, |_| {
        has_event(
            &env,
            "web",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 404",
        )
    });
    assert_eq!(container(&pod_json(&env, "web"), "missing")["ready"], false);
}

#[test]
fn post_start_runs_before_the_container_counts_as_running() {
    let env = env();
    create(
        &env,
        "hooked",
        &pod_yaml(
            "hooked",
            "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'sleep 1; cat /tmp/hooked; sleep 3600']\n    lifecycle:\n      postStart:\n        exec:\n          command: [sh, -c, 'echo from-post-start > /tmp/hooked']\n",
        ),
    );
    until(&env, "hooked", 60, |p| {
        container(p, "app")["state"]["running"].is_object()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env.ok(&["logs", "hooked"]).contains("from-post-start") {
        assert!(Instant::now() < deadline, "postStart's file never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_post_start_hook_holds_back_the_containers_after_it() {
    let env = env();
    let mount = "    volumeMounts:\n    - {name: shared, mountPath: /shared}\n";
    let spec = format!(
        "  volumes:\n  - name: shared\n    emptyDir: {{}}\n  containers:\n  - name: proxy\n    image: busybox\n    imagePullPolicy: IfNotPresent\n{mount}    command: [sleep, '3600']\n    lifecycle:\n      postStart:\n        exec:\n          command: [sh, -c, 'sleep 1; touch /shared/proxy-up']\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n{mount}    command: [sh, -c, 'if test -e /shared/proxy-up; then echo after-hook; else echo before-hook; fi; sleep 3600']\n"
    );
    create(&env, "ordered", &pod_yaml("ordered", &spec));
    until(&env, "ordered", 60, |p| {
        container(p, "app")["state"]["running"].is_object()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = env.ok(&["logs", "ordered", "-c", "app"]);
        if !log.is_empty() {
            break log;
        }
        assert!(Instant::now() < deadline, "app never wrote its line");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(log, "after-hook\n");
}

#[test]
fn a_failed_post_start_hook_stops_the_container_and_it_restarts() {
    let env = env();
    // The hook fails only once the container's trap is set: a stop
    // signal that came before it would kill the shell (143), not end it.
    let spec = "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'trap \"exit 0\" TERM; touch /tmp/trapped; while true; do sleep 0.1; done']\n    lifecycle:\n      postStart:\n        exec:\n          command: [sh, -c, 'until test -e /tmp/trapped; do sleep 0.05; done; exit 3']\n";
    create(&env, "failing", &pod_yaml("failing", spec));
    until(&env, "failing", 60, |p| {
        container(p, "app")["restartCount"].as_i64().unwrap_or(0) >= 1
    });
    assert!(has_event(&env, "failing", "FailedPostStartHook", ""));
    // Stopped by its stop signal (the shell's trap exits 0), with the
    // kubelet's message.
    assert!(has_event(&env, "failing", "Killing", "FailedPostStartHook"));
    let pod = pod_json(&env, "failing");
    let last = &container(&pod, "app")["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 0, "{last}");
}

#[test]
fn delete_runs_pre_stop_then_sigterm_and_kills_at_the_grace_period() {
    let env = env();
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let spec = format!(
        "  terminationGracePeriodSeconds: 2\n  volumes:\n  - name: out\n    hostPath: {{path: {}, type: Directory}}\n  containers:\n  - name: polite\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    volumeMounts:\n    - {{name: out, mountPath: /out}}\n    command: [sh, -c, 'trap \"echo term >> /out/order; exit 0\" TERM; while true; do sleep 0.1; done']\n    lifecycle:\n      preStop:\n        exec:\n          command: [sh, -c, 'echo pre-stop >> /out/order']\n  - name: stubborn\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        out.display()
    );
    create(&env, "stop", &pod_yaml("stop", &spec));
    until(&env, "stop", 60, |p| {
        container(p, "polite")["ready"] == true && container(p, "stubborn")["ready"] == true
    });
    let begun = Instant::now();
    let deleted = env.ok(&["delete", "pod", "stop"]);
    let took = begun.elapsed();
    assert_eq!(deleted, "pod \"stop\" deleted\n");
    // sleep is PID 1 of its PID namespace and ignores SIGTERM: SIGKILL
    // comes when the 2 s grace period is spent, not after the default 30 s
    // (the upper bound leaves a loaded machine room).
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let order = std::fs::read_to_string(out.join("order")).unwrap();
    assert_eq!(order, "pre-stop\nterm\n");
    env.fails(&["get", "pod", "stop"]);
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    text.lines()
        .filter(|l| l.contains(&dir))
        .map(String::from)
        .collect()
}

/// The pid recorded in `file` (`pid start`) of the pod's run directory.
fn recorded(run_dir: &Path, file: &str) -> Option<i32> {
    let text = std::fs::read_to_string(run_dir.join(file)).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

/// The numbers of the `line N` lines of a container's log, in order.
fn counted(env: &Env, name: &str) -> Vec<u64> {
    env.ok(&["logs", name, "-c", "count"])
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
        .collect()
}

#[test]
fn a_killed_supervisor_is_replaced_and_its_pod_adopted() {
    let env = env();
    create(
        &env,
        "orphan",
        &pod_yaml(
            "orphan",
            "  terminationGracePeriodSeconds: 2\n  containers:\n  - name: count\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.02; done']\n  - name: echo\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    stdin: true\n    stdinOnce: true\n    command: [sh, -c, 'while read l; do echo got $l; done']\n",
        ),
    );
    let ready = |p: &Value| {
        phase(p) == "Running"
            && container(p, "count")["ready"] == true
            && container(p, "echo")["ready"] == true
    };
    let pod = until(&env, "orphan", 60, ready);
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let run_dir = env.run_root().join("pods").join(&uid);
    let supervisor = recorded(&run_dir, "supervisor.pid").unwrap();
    let keeper = recorded(&run_dir, "keeper.pid").unwrap();
    let processes = || -> Value {
        let mut list: Value =
            serde_json::from_slice(&std::fs::read(run_dir.join("processes.json")).unwrap())
                .unwrap();
        list.as_object_mut().unwrap().remove("recordVersion");
        list
    };
    let before = processes();
    assert_eq!(
        before.as_object().unwrap().len(),
        3,
        "pause and two containers: {before}"
    );
    // SAFETY: kill(2) on the supervisor this test started.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    let killed = Instant::now();
    let lines_then = counted(&env, "orphan").len();
    // A new supervisor (the keeper's child) adopts the pod: Running and
    // ready again, the same processes, no restart.
    let pod = until(&env, "orphan", 60, |p| {
        recorded(&run_dir, "supervisor.pid").is_some_and(|p| p != supervisor) && ready(p)
    });
    eprintln!("adopted after {:?}", killed.elapsed());
    let replacement = recorded(&run_dir, "supervisor.pid").unwrap();
    assert!(alive(replacement.into()));
    assert_eq!(recorded(&run_dir, "keeper.pid"), Some(keeper));
    assert_eq!(processes(), before, "the same pause and containers");
    for p in before.as_object().unwrap().values() {
        assert!(alive(p["pid"].as_i64().unwrap()), "{before}");
    }
    for c in ["count", "echo"] {
        assert_eq!(container(&pod, c)["restartCount"], 0, "{c}");
    }
    assert!(!env.ok(&["get", "pods"]).contains("Unknown"));
    // The log goes on in the same file, without a gap across the time
    // no supervisor read the pipe.
    let deadline = Instant::now() + Duration::from_secs(60);
    let lines = loop {
        let lines = counted(&env, "orphan");
        if lines.len() > lines_then + 50 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        lines.len() > lines_then + 50,
        "{} then {}",
        lines_then,
        lines.len()
    );
    let expected: Vec<u64> = (0..lines.len() as u64).collect();
    assert!(lines == expected, "a line lost or repeated: {lines:?}");
    let files = std::fs::read_dir(
        env.root()
            .join("logs")
            .join(format!("default_orphan_{uid}"))
            .join("count"),
    )
    .unwrap()
    .count();
    assert_eq!(files, 1);
    // Attach reaches the adopted container's stdin, which the keeper held
    // open while no supervisor ran.
    let mut attach = env
        .pod()
        .args(["attach", "-i", "orphan", "-c", "echo"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        attach.stdin.take().unwrap().write_all(b"b\n").unwrap();
    }
    // The container ends with its stdin (stdinOnce), and the session
    // with it; a session that does not end fails the test, not hangs it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while attach.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = attach.kill();
            panic!("attach did not end");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = attach.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got b\n");
    // Delete through the new supervisor leaves nothing, keeper included
    // (no process whose command line names the pod).
    common::pods::delete_and_check_clean(&env, "orphan", &uid);
    assert!(
        mounts_under(env.dir.path()).is_empty(),
        "{:?}",
        mounts_under(env.dir.path())
    );
    env.fails(&["get", "pod", "orphan"]);
}

/// Killed with its keeper, the supervisor is not replaced until a
/// command reads or deletes the pod; when the supervisor `delete` starts
/// to adopt it dies too (here before it answers), `delete` does the dead
/// supervisor's work itself from the records it left.
#[test]
fn a_supervisor_killed_with_its_keeper_is_cleaned_up_after_by_delete() {
    let env = env();
    create(
        &env,
        "orphan",
        &pod_yaml(
            "orphan",
            "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        ),
    );
    let pod = until(&env, "orphan", 60, |p| phase(p) == "Running");
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let run_dir = env.run_root().join("pods").join(&uid);
    let processes: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("processes.json")).unwrap()).unwrap();
    let pids: Vec<i64> = processes
        .as_object()
        .unwrap()
        .values()
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    assert_eq!(pids.len(), 2, "pause and app: {processes}");
    common::pods::kill_supervisor_for_good(&env, &uid);
    delete_without_revival(&env, "orphan");
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the delete");
    }
    assert!(!run_dir.exists());
    assert!(
        mounts_under(env.dir.path()).is_empty(),
        "{:?}",
        mounts_under(env.dir.path())
    );
    env.fails(&["get", "pod", "orphan"]);
}

/// `pod delete pod NAME` of a pod whose supervisor and keeper died, the
/// supervisor it starts to adopt the pod dying before it answers (a
/// debug build's fault point), so that `delete` does the work itself.
fn delete_without_revival(env: &Env, name: &str) {
    let out = env
        .pod()
        .env("POD_SUPERVISOR_FAULT", "supervisor-claimed")
        .args(["delete", "pod", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn logs_survive_a_restart_and_wait_reports_conditions() {
    let env = env();
    create(
        &env,
        "twice",
        &pod_yaml(
            "twice",
            "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'echo run; echo err >&2; sleep 1; exit 1']\n",
        ),
    );
    until(&env, "twice", 60, |p| {
        container(p, "app")["restartCount"].as_i64() >= Some(1)
    });
    let previous = env.ok(&["logs", "twice", "--previous"]);
    assert_eq!(previous, "run\nerr\n");
    let prefixed = env.ok(&["logs", "twice", "-p", "--prefix", "--tail=1"]);
    assert_eq!(prefixed, "[pod/twice/app] err\n");
    create(
        &env,
        "ready",
        &pod_yaml(
            "ready",
            "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        ),
    );
    let met = env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/ready",
        "--timeout=60s",
    ]);
    assert_eq!(met, "pod/ready condition met\n");
    let met = env.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pod/ready",
    ]);
    assert_eq!(met, "pod/ready condition met\n");
    let err = env.fails(&[
        "wait",
        "--for=condition=Ready=false",
        "pod/ready",
        "--timeout=1s",
    ]);
    assert_eq!(
        err,
        "error: timed out waiting for the condition on pods/ready\n"
    );
}

#[test]
fn image_errors_wait_and_termination_messages_are_kept() {
    let env = env();
    create(
        &env,
        "images",
        &pod_yaml(
            "images",
            "  containers:\n  - name: never\n    image: example.invalid/absent:1\n    imagePullPolicy: Never\n  - name: unreachable\n    image: 127.0.0.1:1/absent:1\n",
        ),
    );
    let pod = until(&env, "images", 60, |p| {
        container(p, "never")["state"]["waiting"]["reason"] == "ErrImageNeverPull"
            && container(p, "unreachable")["state"]["waiting"]["reason"] == "ImagePullBackOff"
    });
    assert_eq!(phase(&pod), "Pending");
    assert!(has_event(
        &env,
        "images",
        "ErrImageNeverPull",
        "is not present with pull policy of Never"
    ));
    assert!(has_event(
        &env,
        "images",
        "Pulling",
        "Pulling image \"127.0.0.1:1/absent:1\""
    ));
    assert!(has_event(
        &env,
        "images",
        "Failed",
        "Failed to pull image \"127.0.0.1:1/absent:1\""
    ));
    assert!(has_event(
        &env,
        "images",
        "BackOff",
        "Back-off pulling image \"127.0.0.1:1/absent:1\""
    ));

    create(
        &env,
        "messages",
        &pod_yaml(
            "messages",
            "  restartPolicy: Never\n  containers:\n  - name: file\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, 'echo -n disk full > /dev/termination-log; exit 1']\n  - name: logs\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    terminationMessagePolicy: FallbackToLogsOnError\n    command: [sh, -c, 'echo first; echo last words; exit 3']\n",
        ),
    );
    let pod = until(&env, "messages", 60, |p| phase(p) == "Failed");
    assert_eq!(
        container(&pod, "file")["state"]["terminated"]["message"],
        "disk full"
    );
    assert_eq!(
        container(&pod, "logs")["state"]["terminated"]["message"],
        "first\nlast words\n"
    );
}

#[test]
fn a_container_named_pause_and_the_pause_process_are_both_recorded_and_killed() {
    let env = env();
    create(
        &env,
        "named",
        &pod_yaml(
            "named",
            "  containers:\n  - name: pause\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        ),
    );
    let pod = until(&env, "named", 60, |p| {
        p["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|s| s.len() == 2 && s.iter().all(|c| c["ready"] == true))
    });
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let run_dir = env.run_root().join("pods").join(&uid);
    let processes: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("processes.json")).unwrap()).unwrap();
    // The pause process (named so by itself) and the two containers: the
    // container `pause` took the pause process's entry when they shared
    // one key.
    let mut names: Vec<String> = processes
        .as_object()
        .unwrap()
        .values()
        .filter_map(|p| p["pid"].as_i64())
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["pause", "sleep", "sleep"], "{processes}");
    let pids: Vec<i64> = processes
        .as_object()
        .unwrap()
        .values()
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    // With its supervisor gone (and no new one to adopt the pod),
    // `delete` kills what the list names.
    common::pods::kill_supervisor_for_good(&env, &uid);
    delete_without_revival(&env, "named");
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the delete");
    }
    assert!(!run_dir.exists());
}

/// KiB of anonymous (private or copy-on-write) memory in process `pid`'s
/// mappings of its own executable: data the dynamic linker or the
/// program wrote, which no other pod's processes share.
fn anonymous_kib_of_exe(pid: i32) -> u64 {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut in_exe = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            // A mapping's header: range, perms, offset, dev, inode, path.
            in_exe = fields.nth(4).is_some_and(|path| Path::new(path) == exe);
        } else if in_exe && first == "Anonymous:" {
            kib += fields.next().and_then(|v| v.parse::<u64>().ok()).unwrap();
        }
    }
    kib
}

/// KiB of the writable segments of the ELF executable `path` (its
/// relocated data, `.data` and `.bss`), from its program headers.
fn writable_kib_of_elf(path: &Path) -> u64 {
    let elf = std::fs::read(path).unwrap();
    assert_eq!(
        &elf[..6],
        b"\x7fELF\x02\x01",
        "a 64-bit little-endian ELF file"
    );
    let word = |at: usize, len: usize| {
        let mut bytes = [0u8; 8];
        bytes[..len].copy_from_slice(&elf[at..at + len]);
        u64::from_le_bytes(bytes)
    };
    let (table, size, count) = (
        word(0x20, 8) as usize,
        word(0x36, 2) as usize,
        word(0x38, 2),
    );
    let (pt_load, pf_w) = (1, 2);
    (0..count as usize)
        .map(|i| table + i * size)
        .filter(|&h| word(h, 4) == pt_load && word(h + 4, 4) & pf_w != 0)
        .map(|h| word(h + 40, 8).div_ceil(1024))
        .sum()
}

/// The pod binary's relocated data (tables of pointers: vtables, the
/// strings of serde's and clap's tables, the GOT) is clean file pages,
/// one copy in the page cache for every pod, not a private copy in each
/// pod's supervisor and keeper. A position-independent binary has the
/// dynamic linker write every pointer at start: all of it private in
/// every pod (1468 KiB of 1466 in a debug build, 244 KiB in release),
/// which fails this; position-dependent, only the pages with the GOT
/// entries of libc's symbols and `.data` (148 KiB of 1466 in a debug
/// build).
#[test]
fn the_binarys_relocated_data_is_not_copied_into_each_pod() {
    let env = env();
    create(
        &env,
        "lean",
        &pod_yaml(
            "lean",
            "  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
        ),
    );
    let pod = until(&env, "lean", 60, |p| container(p, "main")["ready"] == true);
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let run_dir = env.run_root().join("pods").join(&uid);
    for file in ["supervisor.pid", "keeper.pid"] {
        let pid = recorded(&run_dir, file).unwrap();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        let (private, writable) = (anonymous_kib_of_exe(pid), writable_kib_of_elf(&exe));
        assert!(
            private * 4 <= writable,
            "{file}: {private} KiB of the binary's {writable} KiB of data are private"
        );
    }
    env.ok(&["delete", "pod", "lean"]);
}
