//! `kubectl logs` (the real kubectl 1.32) against `pod serve`: the same
//! lines as `pod logs`, with -c, --tail, --since, --since-time,
//! --timestamps, --limit-bytes, --previous; -f as the container writes
//! and into its next instance after a restart, until the pod is deleted;
//! the API server's words for what cannot be read; a follower whose
//! client went away ends.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::pods::PATIENCE;
use common::served::{self, Served};

/// `fixed` writes three lines, a fourth once told (/tmp/go), then
/// sleeps; `once` writes a line and fails, so it restarts (after a
/// back-off shortened to 1 s) again and again.
const TALK: &str = "apiVersion: v1
kind: Pod
metadata:
  name: talk
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: fixed
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'printf \"one\\ntwo\\nthree\\n\"; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo four; exec sleep 3600']
  - name: once
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'echo run; exit 1']
";

/// Serves a fresh environment with `talk` created, its first lines
/// written and `once` restarted at least once.
fn talking() -> Served {
    let env = Env::new();
    common::import_busybox(&env.root());
    let file = env.manifest("talk.yaml", TALK);
    let out = env
        .pod()
        .args(["create", "-f", file.to_str().unwrap()])
        .env("POD_BACKOFF_INITIAL", "1s")
        .env("POD_BACKOFF_MAX", "1s")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let uid = env.ok(&["get", "pod", "talk", "-o", "jsonpath={.metadata.uid}"]);
    common::pods::wait_log(&env, "talk", &uid, "fixed", "three");
    common::pods::wait_until(&env, "talk", "once restarted", || {
        let restarts = common::pods::jsonpath(
            &env,
            "talk",
            "{.status.containerStatuses[?(@.name==\"once\")].restartCount}",
        );
        (restarts.parse::<i32>().unwrap_or(0) >= 1).then_some(())
    });
    served::serve(env)
}

/// Reads a file until `done` says its text is complete; panics with the
/// text after a generous deadline.
fn wait_for_output(path: &std::path::Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {what} in:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a child to exit by itself (it is killed, by its pid, if it
/// has not after the deadline, and the test fails).
fn wait_exit(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server's threads that follow a log (named `log`).
fn log_threads(served: &Served) -> usize {
    let tasks = format!("/proc/{}/task", served.pid());
    std::fs::read_dir(tasks)
        .unwrap()
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "log"))
        .count()
}

#[test]
fn kubectl_logs_reads_what_pod_logs_reads() {
    let served = talking();
    let both = |args: &[&str]| {
        let mut kubectl = vec!["logs", "talk"];
        kubectl.extend_from_slice(args);
        let theirs = served.kubectl_ok(&kubectl);
        assert_eq!(theirs, served.env.ok(&kubectl), "{args:?}");
        theirs
    };
    assert_eq!(both(&["-c", "fixed"]), "one\ntwo\nthree\n");
    assert_eq!(both(&["-c", "fixed", "--tail=1"]), "three\n");
    assert_eq!(both(&["-c", "fixed", "--tail=0"]), "");
    assert_eq!(both(&["-c", "fixed", "--limit-bytes=5"]), "one\nt");
    assert_eq!(both(&["-c", "fixed", "--since=1h"]), "one\ntwo\nthree\n");
    assert_eq!(
        both(&["-c", "fixed", "--since-time=2099-01-01T00:00:00Z"]),
        ""
    );
    let stamped = both(&["-c", "fixed", "--timestamps"]);
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 3, "{stamped}");
    for (line, word) in lines.iter().zip(["one", "two", "three"]) {
        let (time, text) = line.split_once(' ').unwrap();
        assert_eq!(text, word);
        assert!(
            time.ends_with('Z') && time.parse::<jiff::Timestamp>().is_ok(),
            "{line}"
        );
    }
    // A restarted container's previous instance.
    assert_eq!(both(&["-c", "once", "--previous"]), "run\n");

    // kubectl picks the first container itself and says so.
    let out = served.kubectl(&["logs", "talk"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\nthree\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Defaulted container \"fixed\" out of: fixed, once\n"
    );

    // What cannot be read, in the API server's words.
    assert_eq!(
        served.kubectl_fails(&["logs", "talk", "-c", "fixed", "--previous"]),
        "Error from server (BadRequest): previous terminated container \"fixed\" in pod \"talk\" not found\n"
    );
    assert_eq!(
        served.kubectl_fails(&["get", "--raw", "/api/v1/namespaces/default/pods/talk/log"]),
        "Error from server (BadRequest): a container name must be specified for pod talk, choose one of: [fixed once]\n"
    );
    assert_eq!(
        served.kubectl_fails(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods/talk/log?container=fixed&tailLines=-1"
        ]),
        "Error from server (BadRequest): tailLines must be greater than or equal to 0\n"
    );
    assert_eq!(
        served.kubectl_fails(&["get", "--raw", "/api/v1/namespaces/default/pods/gone/log"]),
        "Error from server (NotFound): pods \"gone\" not found\n"
    );
}

#[test]
fn kubectl_logs_follows_into_restarts_until_the_pod_is_deleted() {
    let served = talking();
    let dir = served.env.dir.path();
    let follow = |container: &str| {
        let out = dir.join(format!("follow-{container}.out"));
        let child = served
            .kubectl_cmd()
            .args(["logs", "-f", "talk", "-c", container])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        (child, out)
    };
    let (mut fixed, fixed_out) = follow("fixed");
    wait_for_output(&fixed_out, "first lines", |t| t == "one\ntwo\nthree\n");
    // A line written while kubectl follows reaches it.
    served
        .env
        .ok(&["exec", "talk", "-c", "fixed", "--", "touch", "/tmp/go"]);
    wait_for_output(&fixed_out, "the line written later", |t| {
        t == "one\ntwo\nthree\nfour\n"
    });
    // `once` followed from one instance into the next.
    let (mut once, once_out) = follow("once");
    wait_for_output(&once_out, "a second instance's line", |t| {
        t.lines().filter(|l| *l == "run").count() >= 2
    });
    assert!(
        fixed.try_wait().unwrap().is_none(),
        "the follow ended early"
    );

    // A follower whose client goes away ends, though its log is quiet:
    // kill one kubectl (ours, by its pid) and the server's log threads go
    // from two to one.
    assert_eq!(log_threads(&served), 2);
    fixed.kill().unwrap();
    fixed.wait().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while log_threads(&served) != 1 {
        assert!(
            Instant::now() < deadline,
            "the follower outlived its client"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Deleted, the pod's containers will not run again: the follow ends.
    served
        .env
        .ok(&["delete", "pod", "talk", "--grace-period=1"]);
    let status = wait_exit(&mut once, "kubectl logs -f");
    assert!(status.success(), "{status:?}");
    let out = std::fs::read_to_string(&once_out).unwrap();
    assert!(out.lines().all(|l| l == "run"), "{out}");
}
