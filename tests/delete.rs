//! `pod delete` of several pods: every pod is asked to stop before any is
//! waited for, so grace periods run side by side.

mod common;

use std::time::{Duration, Instant};

use common::Env;

/// The stubborn pods' grace period: long enough that one period and three
/// in a row stay apart whatever a loaded machine adds to a delete.
const GRACE: u64 = 10;

/// A pod whose only process ignores SIGTERM (a shell as PID 1 without a
/// handler), so it always takes its whole grace period.
fn stubborn(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: {GRACE}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'while true; do sleep 1; done']
"
    )
}

#[test]
fn deleting_three_pods_takes_one_grace_period() {
    let env = Env::new();
    common::import_busybox(&env.root());
    for name in ["a", "b", "c"] {
        let file = env.manifest(&format!("{name}.yaml"), &stubborn(name));
        env.ok(&["create", "-f", file.to_str().unwrap()]);
    }
    env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/a",
        "pod/b",
        "pod/c",
        "--timeout=60s",
    ]);
    let start = Instant::now();
    let out = env.ok(&["delete", "pods", "--all"]);
    let took = start.elapsed();
    assert_eq!(
        out,
        "pod \"a\" deleted\npod \"b\" deleted\npod \"c\" deleted\n"
    );
    // Side by side the three take one grace period; one after another
    // they would take three. The bound between is a whole period from
    // either, a margin no load crosses.
    assert!(took >= Duration::from_secs(GRACE), "{took:?}");
    assert!(took < Duration::from_secs(2 * GRACE), "{took:?}");
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
}

/// `--force --grace-period=0`: every process is SIGKILLed at once; the
/// preStop hook does not run and the 120 s grace period is not waited
/// for (SIGTERM is ignored: a graceful stop would take all of it).
#[test]
fn a_forced_deletion_kills_at_once_without_pre_stop() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let yaml = format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: forced
spec:
  terminationGracePeriodSeconds: 120
  volumes:
  - name: out
    hostPath: {{path: {}, type: Directory}}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    volumeMounts:
    - {{name: out, mountPath: /out}}
    command: [sh, -c, 'trap \"\" TERM; while true; do echo beat >> /out/beats; sleep 0.1; done']
    lifecycle:
      preStop:
        exec:
          command: [sh, -c, 'echo pre-stop > /out/pre-stop']
",
        out.display()
    );
    let file = env.manifest("forced.yaml", &yaml);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let uid = env.ok(&["get", "pod", "forced", "-o", "jsonpath={.metadata.uid}"]);
    // Running, and its loop under way (Ready comes before the shell's
    // first beat on a loaded machine); its main process on the host, as
    // the supervisor records it.
    let beats = || std::fs::read_to_string(out.join("beats")).map_or(0, |b| b.len());
    let processes = env
        .run_root()
        .join("pods")
        .join(&uid)
        .join("processes.json");
    let pid = within(Duration::from_secs(60), "the first beat", || {
        let recorded: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&processes).ok()?).ok()?;
        let pid = recorded["c"]["pid"].as_i64()?;
        (beats() > 0).then_some(pid)
    });
    let deleted = Instant::now();
    env.ok(&["delete", "pod", "forced", "--force", "--grace-period=0"]);
    // SIGKILLed at once: gone well inside the 120 s grace period, which a
    // graceful stop would take whole (SIGTERM is ignored). Waited for,
    // not slept on, so that a loaded machine only makes it slower.
    within(Duration::from_secs(60), "the container's death", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        (stat.is_empty() || stat.contains(") Z ")).then_some(())
    });
    assert!(deleted.elapsed() < Duration::from_secs(60));
    let before = beats();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(beats(), before, "the container still beats");
    assert!(!out.join("pre-stop").exists(), "preStop ran");
}

/// Polls `check` every 20 ms until it gives a value; panics naming
/// `what` once `bound` has passed.
fn within<T>(bound: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "no {what} within {bound:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// While a pod's grace period runs, `get` shows it Terminating, its
/// record carries the deletion's time and period (the API server's mark,
/// written before the supervisor is asked); once `delete` answers, the
/// pod's directories are gone from where they were, and once its
/// supervisor is gone nothing of them is left in the state root's
/// `tmp/` (the supervisor buries them and removes the graves after it
/// answered: `store::graves`).
#[test]
fn a_pod_is_terminating_through_its_grace_period_and_leaves_no_grave() {
    let env = Env::new();
    common::import_busybox(&env.root());
    // A grace period the checks below run well inside, however loaded
    // the machine.
    let manifest = stubborn("slow").replace(
        &format!("terminationGracePeriodSeconds: {GRACE}"),
        "terminationGracePeriodSeconds: 30",
    );
    let file = env.manifest("slow.yaml", &manifest);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    env.ok(&["wait", "--for=condition=Ready", "pod/slow", "--timeout=60s"]);
    let uid = env.ok(&["get", "pod", "slow", "-o", "jsonpath={.metadata.uid}"]);
    let record = env.root().join("pods/default/slow");
    let writable = env.root().join("writable").join(&uid);
    let logs = env.root().join("logs").join(format!("default_slow_{uid}"));
    for dir in [&record, &writable, &logs] {
        assert!(dir.is_dir(), "{} while the pod runs", dir.display());
    }
    let delete = env
        .pod()
        .args(["delete", "pod", "slow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = |env: &Env| {
        let out = env.run(&["get", "pod", "slow", "--no-headers"]);
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        line.split_whitespace().nth(2).map(str::to_string)
    };
    within(common::pods::PATIENCE, "Terminating", || {
        (status(&env).as_deref() == Some("Terminating")).then_some(())
    });
    // The mark: now + the pod's grace period, as the API server sets it.
    let period = env.ok(&[
        "get",
        "pod",
        "slow",
        "-o",
        "jsonpath={.metadata.deletionGracePeriodSeconds}",
    ]);
    assert_eq!(period, "30");
    let at = env.ok(&[
        "get",
        "pod",
        "slow",
        "-o",
        "jsonpath={.metadata.deletionTimestamp}",
    ]);
    assert!(
        at.ends_with('Z') && at.len() == "2006-01-02T15:04:05Z".len(),
        "{at}"
    );
    // Still Terminating a moment later: the grace period is running
    // (SIGTERM is ignored), whatever the supervisor wrote meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&env).as_deref(), Some("Terminating"));
    let out = delete.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pod \"slow\" deleted\n"
    );
    for dir in [&record, &writable, &logs] {
        assert!(!dir.exists(), "{} after the delete", dir.display());
    }
    common::pods::assert_nothing_left(&env, &uid, "pod slow");
    let graves: Vec<_> = std::fs::read_dir(env.root().join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(graves.is_empty(), "{graves:?}");
}

/// A second `delete` with a shorter `--grace-period` shortens the
/// deletion under way, as the kubelet kills a pod again with the shorter
/// period the API server gives it: the container, which ignores SIGTERM
/// and is still in its preStop hook (both would hold it for the 300 s of
/// the first deletion), is SIGKILLed and the pod is gone long before.
#[test]
fn a_second_delete_with_a_shorter_grace_period_ends_the_deletion_sooner() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let manifest = "apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  terminationGracePeriodSeconds: 300
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'trap \"\" TERM; while true; do sleep 1; done']
    lifecycle:
      preStop:
        exec:
          command: [sh, -c, 'touch /tmp/pre-stop; sleep 300']
";
    let file = env.manifest("slow.yaml", manifest);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    env.ok(&["wait", "--for=condition=Ready", "pod/slow", "--timeout=60s"]);
    env.ok(&["delete", "pod", "slow", "--wait=false"]);
    // The hook is under way: the first deletion's stop has begun.
    within(common::pods::PATIENCE, "the preStop hook", || {
        let out = env.run(&["exec", "slow", "--", "ls", "/tmp/pre-stop"]);
        out.status.success().then_some(())
    });
    let mut second = env
        .pod()
        .args(["delete", "pod", "slow", "--grace-period=1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Waited for, not timed: the first deletion alone would take 300 s.
    let status = within(common::pods::PATIENCE, "the second delete's end", || {
        second.try_wait().unwrap()
    });
    assert!(status.success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut second.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out, "pod \"slow\" deleted\n");
    assert!(env.fails(&["get", "pod", "slow"]).contains("not found"));
}
