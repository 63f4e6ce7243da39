//! A supervisor replaced by its keeper adopts what the dead one left:
//! restart counts, probes, and the exit of a container that ended while
//! no supervisor ran (root, busybox image from the host's busybox-static).

mod common;

use std::time::{Duration, Instant};

use common::pods::{create, delete_and_check_clean, jsonpath, recorded_pid, wait_until};
use common::{Env, import_busybox};

const YAML: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: kept
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'touch /tmp/healthy; exec sleep 3600']
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      timeoutSeconds: 10
      failureThreshold: 1
  - name: other
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
";

fn restarts(env: &Env, container: &str) -> i64 {
    jsonpath(
        env,
        "kept",
        &format!("{{.status.containerStatuses[?(@.name==\"{container}\")].restartCount}}"),
    )
    .parse()
    .unwrap_or(-1)
}

fn container_pid(env: &Env, uid: &str, container: &str) -> Option<i32> {
    let path = env.run_root().join("pods").join(uid).join("processes.json");
    let processes: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    processes[container]["pid"].as_i64().map(|p| p as i32)
}

/// The state letter of /proc/<pid>/stat (Z for a zombie), if it exists.
fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_adopted_pod_keeps_its_counts_and_probes_and_sees_an_exit_made_without_a_supervisor() {
    let env = Env::new();
    import_busybox(&env.root());
    let uid = create(&env, "kept", YAML);
    wait_until(&env, "kept", "both containers ready", || {
        (jsonpath(&env, "kept", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    // A restart before the supervisor dies: its count goes on after.
    let first = container_pid(&env, &uid, "other").unwrap();
    // SAFETY: kill(2) of a container process of this test's pod.
    unsafe { libc::kill(first, libc::SIGKILL) };
    wait_until(&env, "kept", "a first restart of other", || {
        (restarts(&env, "other") == 1
            && jsonpath(&env, "kept", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    let app = container_pid(&env, &uid, "app").unwrap();
    let second = container_pid(&env, &uid, "other").unwrap();
    assert_ne!(first, second);

    // No supervisor for a while: the keeper is stopped, so it neither
    // reaps nor replaces; the supervisor dies, then `other` does.
    let keeper = recorded_pid(&env, &uid, "keeper.pid").unwrap();
    let supervisor = recorded_pid(&env, &uid, "supervisor.pid").unwrap();
    // SAFETY: signals to the keeper and supervisor of this test's pod.
    unsafe {
        libc::kill(keeper, libc::SIGSTOP);
        libc::kill(supervisor, libc::SIGKILL);
    }
    wait_for("the supervisor to die", || {
        matches!(state(supervisor), Some('Z') | None).then_some(())
    });
    // SAFETY: kill(2) of a container process of this test's pod.
    unsafe { libc::kill(second, libc::SIGKILL) };
    wait_for("other to die", || {
        matches!(state(second), Some('Z') | None).then_some(())
    });
    assert!(
        jsonpath(&env, "kept", "{.status.phase}") == "Unknown",
        "no supervisor runs"
    );
    // SAFETY: SIGCONT to the keeper stopped above.
    unsafe { libc::kill(keeper, libc::SIGCONT) };

    // The new supervisor saw the exit: other restarted per Always, its
    // count going on; app is the same process, not restarted.
    wait_until(&env, "kept", "other restarted after adoption", || {
        (restarts(&env, "other") == 2
            && jsonpath(&env, "kept", "{.status.phase}") == "Running"
            && jsonpath(&env, "kept", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    let last = jsonpath(
        &env,
        "kept",
        "{.status.containerStatuses[?(@.name==\"other\")].lastState.terminated.exitCode}",
    );
    assert_eq!(last, "137");
    assert_ne!(recorded_pid(&env, &uid, "supervisor.pid"), Some(supervisor));
    assert_eq!(container_pid(&env, &uid, "app"), Some(app));
    assert_eq!(restarts(&env, "app"), 0);

    // The liveness probe runs again: its failure restarts app.
    env.ok(&["exec", "kept", "-c", "app", "--", "rm", "/tmp/healthy"]);
    wait_until(&env, "kept", "app restarted by its liveness probe", || {
        (restarts(&env, "app") == 1).then_some(())
    });
    assert_ne!(container_pid(&env, &uid, "app"), Some(app));
    let events = env.ok(&["describe", "pod", "kept"]);
    assert!(
        events.contains("Container app failed liveness probe, will be restarted"),
        "{events}"
    );
    // Nothing left, the keeper included (no process whose command line
    // names the pod).
    delete_and_check_clean(&env, "kept", &uid);
}
