//! `pod logs -f` across log rotation: a follower that started before the
//! first rotation sees every line, in order, through several rotations.
//! `pod logs -p`: the previous instance is the kubelet's lastState.

mod common;

use std::process::Stdio;

use common::Env;
use common::pods::wait_until;

/// A pod `name` of one busybox container `c` running `command` (a YAML
/// list); `spec` and `container` are more fields of the pod's spec and
/// of the container, as lines indented as they stand there.
fn busybox_pod(name: &str, spec: &str, command: &str, container: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{spec}  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: {command}
{container}"
    )
}

/// An emptyDir at /d that outlives the container's restarts: the pod's
/// and the container's fields.
const COUNTER_VOLUME: (&str, &str) = (
    "  volumes:\n  - {name: d, emptyDir: {}}\n",
    "    volumeMounts:\n    - {name: d, mountPath: /d}\n",
);

/// An environment with busybox, where `yaml` is created.
fn env_with(name: &str, yaml: &str) -> Env {
    let env = Env::new();
    common::import_busybox(&env.root());
    common::pods::create(&env, name, yaml);
    env
}

#[test]
fn follow_reads_every_line_across_rotations() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let file = env.manifest(
        "chatty.yaml",
        &busybox_pod(
            "chatty",
            "  restartPolicy: Never\n",
            "[sh, -c, 'until [ -e /tmp/go ]; do sleep 0.1; done; i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done']",
            "",
        ),
    );
    // 4 KiB files: 3000 lines (about 120 KiB of CRI lines) rotate about
    // thirty times, several times between two looks of the follower.
    let out = env
        .pod()
        .env("POD_LOG_MAX_SIZE", "4096")
        .env("POD_LOG_MAX_FILES", "100")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/chatty",
        "--timeout=60s",
    ]);
    let follower = env
        .pod()
        .args(["logs", "-f", "chatty"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The container writes once the follower has the log open, however
    // long a loaded machine takes to get it there.
    let fds = format!("/proc/{}/fd", follower.id());
    let logs = env.root().join("logs");
    wait_until(&env, "chatty", "the follower to open the log", || {
        std::fs::read_dir(&fds)
            .unwrap()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target.starts_with(&logs)))
            .then_some(())
    });
    env.ok(&["exec", "chatty", "--", "touch", "/tmp/go"]);
    let out = follower.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let want: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    assert!(
        text == want,
        "{} lines, last: {:?}",
        text.lines().count(),
        text.lines().last()
    );
    let files = std::fs::read_dir(env.root().join("logs"))
        .unwrap()
        .flat_map(|pod| std::fs::read_dir(pod.unwrap().path().join("c")).unwrap())
        .count();
    assert!(files > 10, "the log rotated: {files} files");
}

/// The container's status in the pod's record.
fn container_status(env: &Env, pod: &str) -> serde_json::Value {
    let json = env.ok(&["get", "pod", pod, "-o", "json"]);
    let pod: serde_json::Value = serde_json::from_str(&json).unwrap();
    pod["status"]["containerStatuses"][0].clone()
}

#[test]
fn previous_in_a_crash_loop_is_the_instance_that_just_crashed() {
    // Each instance says its number, counted in an emptyDir that outlives
    // the container's restarts, and crashes.
    let env = env_with(
        "crashing",
        &busybox_pod(
            "crashing",
            COUNTER_VOLUME.0,
            "[sh, -c, 'n=$(cat /d/n 2>/dev/null || echo 0); echo $((n+1)) > /d/n; echo instance $n; exit 1']",
            COUNTER_VOLUME.1,
        ),
    );
    // Backing off after a restarted instance crashed: both `logs` and
    // `logs -p` show that instance (lastState), as with the kubelet. The
    // state can move on between two commands, so the logs count only
    // when the status around them is the same.
    let (restarts, previous, current) =
        wait_until(&env, "crashing", "a crash loop after a restart", || {
            let before = container_status(&env, "crashing");
            let restarts = before["restartCount"].as_i64()?;
            if restarts < 1 || before["state"]["waiting"]["reason"] != "CrashLoopBackOff" {
                return None;
            }
            let previous = env.run(&["logs", "crashing", "-p"]);
            let current = env.run(&["logs", "crashing"]);
            (container_status(&env, "crashing") == before).then(|| {
                (
                    restarts,
                    String::from_utf8_lossy(&previous.stdout).into_owned(),
                    String::from_utf8_lossy(&current.stdout).into_owned(),
                )
            })
        });
    assert_eq!(previous, format!("instance {restarts}\n"));
    assert_eq!(current, previous);
}

/// While the next instance starts after a back-off, `logs -p` is still
/// the instance that crashed. The window is held open here by the new
/// instance's postStart hook: the status counts the instance
/// (restartCount 2, still waiting in CrashLoopBackOff) and its log has
/// its first line, but it is not Running until the hook ends.
#[test]
fn previous_while_the_next_instance_starts_is_the_one_that_crashed() {
    // Instances 0 and 1 wait for their hook to have run, then crash (the
    // first restart is at once, the second after a back-off); instance 2
    // stays up, and its hook never ends.
    let env = env_with(
        "starting",
        &busybox_pod(
            "starting",
            &format!("  terminationGracePeriodSeconds: 1\n{}", COUNTER_VOLUME.0),
            "[sh, -c, 'n=$(cat /d/n 2>/dev/null || echo 0); echo $((n+1)) > /d/n; echo instance $n; if [ $n -lt 2 ]; then until [ $(cat /d/h 2>/dev/null || echo 0) -gt $n ]; do sleep 0.1; done; exit 1; fi; exec sleep 3600']",
            &format!(
                "    lifecycle:
      postStart:
        exec:
          command: [sh, -c, 'h=$(cat /d/h 2>/dev/null || echo 0); echo $((h+1)) > /d/h; if [ $h -ge 2 ]; then exec sleep 3600; fi']
{}",
                COUNTER_VOLUME.1
            ),
        ),
    );
    wait_until(&env, "starting", "instance 2 started, not running", || {
        let status = container_status(&env, "starting");
        let starting = status["restartCount"] == 2 && status["state"]["running"].is_null();
        let current = env.run(&["logs", "starting"]);
        (starting && current.stdout == b"instance 2\n").then_some(())
    });
    // The hook never ends: the state holds.
    let status = container_status(&env, "starting");
    assert_eq!(status["restartCount"], 2, "{status}");
    assert_eq!(
        status["state"]["waiting"]["reason"], "CrashLoopBackOff",
        "{status}"
    );
    let previous = env.run(&["logs", "starting", "-p"]);
    assert_eq!(
        String::from_utf8_lossy(&previous.stdout),
        "instance 1\n",
        "{}",
        String::from_utf8_lossy(&previous.stderr)
    );
}

#[test]
fn previous_of_a_container_that_never_restarted_is_not_found() {
    let env = env_with(
        "once",
        &busybox_pod("once", "  restartPolicy: Never\n", "[echo, ran]", ""),
    );
    wait_until(&env, "once", "the pod's end", || {
        (common::pods::jsonpath(&env, "once", "{.status.phase}") == "Succeeded").then_some(())
    });
    assert_eq!(env.ok(&["logs", "once"]), "ran\n");
    assert_eq!(
        env.fails(&["logs", "once", "-p"]),
        "Error from server (BadRequest): previous terminated container \"c\" in pod \"once\" not found\n"
    );
}

/// `pod logs` and `pod logs -f` whose reader has gone (`| head -1`) end by
/// SIGPIPE, as kubectl does; they ended with exit 0 as if all was read.
#[test]
fn logs_whose_reader_has_gone_end_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;

    let env = env_with(
        "talk",
        &busybox_pod(
            "talk",
            "  terminationGracePeriodSeconds: 1\n",
            "[sh, -c, 'echo hello; exec sleep 3600']",
            "",
        ),
    );
    wait_until(&env, "talk", "its log line", || {
        (env.run(&["logs", "talk"]).stdout == b"hello\n").then_some(())
    });
    for args in [&["logs", "talk"][..], &["logs", "-f", "talk"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = env.pod().args(args).stdout(writer).output().unwrap();
        assert_eq!(
            out.status.signal(),
            Some(13),
            "pod {args:?}: {:?}; stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "pod {args:?}");
    }
    env.ok(&["delete", "pod", "talk", "--grace-period=1"]);
}
