//! `pod delete` of several pods: every pod is asked to stop before any is
//! waited for, so grace periods run side by side.

mod common;

use std::time::{Duration, Instant};

use common::Env;

/// A pod whose only process ignores SIGTERM (a shell as PID 1 without a
/// handler), so it always takes its whole grace period.
fn stubborn(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 2
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
    // Three 2 s grace periods one after another would take 6 s.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
}

/// `--force --grace-period=0`: every process is SIGKILLed at once; the
/// preStop hook does not run and the 30 s grace period is not waited
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
  terminationGracePeriodSeconds: 30
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
    env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/forced",
        "--timeout=60s",
    ]);
    env.ok(&["delete", "pod", "forced", "--force", "--grace-period=0"]);
    // The supervisor kills it in its next round: well within a second.
    std::thread::sleep(Duration::from_secs(1));
    let beats = || std::fs::read_to_string(out.join("beats")).unwrap().len();
    let before = beats();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(beats(), before, "the container still runs");
    assert!(!out.join("pre-stop").exists(), "preStop ran");
}
