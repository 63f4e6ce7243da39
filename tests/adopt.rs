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

/// Kills the pod's supervisor (its keeper starts the next one) and waits
/// until another one holds the pod.
fn replace_supervisor(env: &Env, uid: &str) {
    let supervisor = common::pods::kill_supervisor(env, uid);
    wait_for("a new supervisor", || {
        recorded_pid(env, uid, "supervisor.pid")
            .filter(|&p| p != supervisor)
            .map(|_| ())
    });
}

/// Waits as long as a back-off on a loaded machine may take.
fn wait_long<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A crash-loop back-off outlives the supervisor: killed while its
/// container waits, the next one keeps it waiting the delay in force from
/// its exit (the dead one's successor used to restart it at once), and
/// the next delay doubles from it.
#[test]
fn a_crash_loop_back_off_holds_across_a_supervisor_replacement() {
    let env = Env::new();
    import_busybox(&env.root());
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: looping\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'exit 1']\n";
    let file = env.manifest("looping.yaml", yaml);
    let out = env
        .pod()
        .env("POD_BACKOFF_INITIAL", "30s")
        .env("POD_BACKOFF_MAX", "5m")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let uid = env.ok(&["get", "pod", "looping", "-o", "jsonpath={.metadata.uid}"]);
    // The container's status, read at once (it changes under the test).
    let container = || -> serde_json::Value {
        let out = env.run(&[
            "get",
            "pod",
            "looping",
            "-o",
            "jsonpath={.status.containerStatuses[0]}",
        ]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let backing_off = |c: &serde_json::Value| c["state"]["waiting"]["reason"] == "CrashLoopBackOff";
    let time = |c: &serde_json::Value, field: &str| -> jiff::Timestamp {
        let text = c["lastState"]["terminated"][field]
            .as_str()
            .unwrap_or_default();
        text.parse()
            .unwrap_or_else(|e| panic!("{field}: {text:?}: {e}: {c}"))
    };
    // The first restart is at once; the second exit begins a 30 s
    // back-off, in which the supervisor is killed.
    let first = wait_long("the first back-off", || {
        let c = container();
        (c["restartCount"] == 1 && backing_off(&c)).then_some(c)
    });
    let message = first["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.starts_with("back-off 30s "), "{first}");
    let exited = time(&first, "finishedAt");
    replace_supervisor(&env, &uid);
    // It held: the next start came once the delay was over, counted as a
    // restart, and its exit waits the doubled delay.
    // (The count goes up when the next instance is created, before its
    // exit changes the state: the exit is seen by its last state.)
    let second = wait_long("the second back-off", || {
        let c = container();
        let next_exit = c["lastState"]["terminated"]["finishedAt"]
            != first["lastState"]["terminated"]["finishedAt"];
        (next_exit && backing_off(&c)).then_some(c)
    });
    assert_eq!(second["restartCount"], 2, "{second}");
    let message = second["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.starts_with("back-off 1m0s "), "{second}");
    let started = time(&second, "startedAt");
    // Both times have whole seconds.
    let waited = started.duration_since(exited).as_secs();
    assert!(waited >= 29, "restarted {waited} s after its exit");
    delete_and_check_clean(&env, "looping", &uid);
}

/// A postStart hook that had not ended when the supervisor died runs
/// again under the next one (the dead one's run of it is killed), and the
/// container is Running only once that run ends; a hook that ended is not
/// run again by a later supervisor.
#[test]
fn a_post_start_hook_cut_short_by_the_supervisors_death_runs_again_and_an_ended_one_does_not() {
    use std::os::unix::fs::MetadataExt;

    let env = Env::new();
    import_busybox(&env.root());
    // The first run waits for good; the second ends at once; a third
    // would wait for good again. Each run's lines go to a host directory:
    // exec is refused until the container runs.
    let shared = env.dir.path().join("hook");
    std::fs::create_dir(&shared).unwrap();
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hooked\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sleep, '3600']\n    volumeMounts:\n    - {{name: shared, mountPath: /shared}}\n    lifecycle:\n      postStart:\n        exec:\n          command: [sh, -c, 'echo begun >> /shared/log; [ $(grep -c begun /shared/log) -eq 2 ] || sleep 3600; echo done >> /shared/log']\n  volumes:\n  - name: shared\n    hostPath: {{path: {}, type: Directory}}\n",
        shared.display()
    );
    let uid = create(&env, "hooked", &yaml);
    let hook_log = || std::fs::read_to_string(shared.join("log")).unwrap_or_default();
    wait_long("the hook to begin", || {
        (hook_log() == "begun\n").then_some(())
    });
    let ready = "{.status.containerStatuses[0].ready}";
    assert_eq!(jsonpath(&env, "hooked", ready), "false");
    replace_supervisor(&env, &uid);
    wait_until(&env, "hooked", "Running after the hook ran again", || {
        (jsonpath(&env, "hooked", ready) == "true").then_some(())
    });
    assert_eq!(hook_log(), "begun\nbegun\ndone\n");
    // The first run's processes are gone: only the container's sleep is
    // left besides this ps.
    let ps = env.ok(&["exec", "hooked", "--", "ps", "-o", "args"]);
    assert_eq!(ps.matches("sleep 3600").count(), 1, "{ps}");
    assert!(!ps.contains("echo begun"), "{ps}");

    // Once more, with the hook ended: the status the next supervisor
    // writes first (a new file) shows the container running and ready,
    // and the hook did not run a third time (it would wait for good).
    let status = env.root().join("pods/default/hooked/status.json");
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
    let written = std::fs::metadata(&status).unwrap().ino();
    // SAFETY: SIGCONT to the keeper stopped above.
    unsafe { libc::kill(keeper, libc::SIGCONT) };
    wait_long("the next supervisor's status", || {
        let now = std::fs::metadata(&status).ok()?.ino();
        (now != written).then_some(())
    });
    assert_eq!(jsonpath(&env, "hooked", ready), "true");
    assert_eq!(hook_log(), "begun\nbegun\ndone\n");
    delete_and_check_clean(&env, "hooked", &uid);
}

/// The supervisor killed with its keeper (`kill -9` of both): nothing
/// replaces it until a command reads the pod: the next `get` (or `pod
/// up`) starts a supervisor that adopts it, as a kubelet restarted by
/// systemd adopts what its runtime kept running, and does not show it
/// Unknown. The containers that ran on are taken
/// back (the same processes, their output into their logs again), one
/// that died meanwhile and one that dies after, both seen without an exit
/// status (the host's init reaped them), are the kubelet's
/// ContainerStatusUnknown, exit code 137, and restart per the policy.
#[test]
fn a_pod_whose_supervisor_and_keeper_were_killed_is_adopted_by_the_next_get_or_pod_up() {
    let env = Env::new();
    import_busybox(&env.root());
    let yaml = "\
apiVersion: v1
kind: Pod
metadata:
  name: kept
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: quiet
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'trap \"echo pong\" USR1; echo started; while true; do sleep 1; done']
  - name: lone
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
  - name: other
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
";
    let uid = create(&env, "kept", yaml);
    let ready = || jsonpath(&env, "kept", "{.status.containerStatuses[*].ready}");
    wait_until(&env, "kept", "every container ready", || {
        (ready() == "true true true").then_some(())
    });
    common::pods::wait_log(&env, "kept", &uid, "quiet", "started");
    let pid = |c: &str| container_pid(&env, &uid, c).unwrap();
    let (quiet, lone, other) = (pid("quiet"), pid("lone"), pid("other"));
    let pod_ip = jsonpath(&env, "kept", "{.status.podIP}");

    // Both dead once it returns, or `get` would leave the pod to a
    // keeper still there.
    let supervisor = common::pods::kill_supervisor_for_good(&env, &uid);
    // One ends while no supervisor runs: nobody can learn how.
    // SAFETY: kill(2) of a container process of this test's pod.
    unsafe { libc::kill(other, libc::SIGKILL) };
    wait_for("other to die", || {
        matches!(state(other), Some('Z') | None).then_some(())
    });

    // The next `get` adopts it: not Unknown, a new supervisor.
    let shown = env.ok(&["get", "pod", "kept", "--no-headers"]);
    assert!(!shown.contains("Unknown"), "{shown}");
    assert!(recorded_pid(&env, &uid, "supervisor.pid").is_some_and(|p| p != supervisor));
    assert_eq!(env.ok(&["up"]), "", "supervised already");
    let unknown = |c: &str| {
        let last = |field: &str| {
            jsonpath(
                &env,
                "kept",
                &format!(
                    "{{.status.containerStatuses[?(@.name==\"{c}\")].lastState.terminated.{field}}}"
                ),
            )
        };
        (last("reason"), last("exitCode"))
    };
    let expected = || ("ContainerStatusUnknown".to_string(), "137".to_string());
    wait_until(&env, "kept", "other restarted, all ready", || {
        (restarts(&env, "other") == 1
            && ready() == "true true true"
            && jsonpath(&env, "kept", "{.status.phase}") == "Running")
            .then_some(())
    });
    assert_eq!(unknown("other"), expected());
    assert_ne!(container_pid(&env, &uid, "other"), Some(other));
    // The others are the same processes, in the same sandbox.
    assert_eq!(container_pid(&env, &uid, "quiet"), Some(quiet));
    assert_eq!(container_pid(&env, &uid, "lone"), Some(lone));
    assert_eq!((restarts(&env, "quiet"), restarts(&env, "lone")), (0, 0));
    assert_eq!(jsonpath(&env, "kept", "{.status.podIP}"), pod_ip);
    assert!(recorded_pid(&env, &uid, "keeper.pid").is_some());

    // One that ends now is seen ending through its pidfd, not how.
    // SAFETY: kill(2) of a container process of this test's pod.
    unsafe { libc::kill(lone, libc::SIGKILL) };
    wait_until(&env, "kept", "lone restarted", || {
        (restarts(&env, "lone") == 1 && ready() == "true true true").then_some(())
    });
    assert_eq!(unknown("lone"), expected());

    // What quiet writes goes into its log again.
    // SAFETY: a signal to a container process of this test's pod.
    unsafe { libc::kill(quiet, libc::SIGUSR1) };
    common::pods::wait_log(&env, "kept", &uid, "quiet", "pong");
    assert_eq!(restarts(&env, "quiet"), 0);

    // Both killed again, and `pod up` the first to look: it adopts it.
    common::pods::kill_supervisor_for_good(&env, &uid);
    assert_eq!(env.ok(&["up"]), "pod/kept adopted\n");
    assert!(recorded_pid(&env, &uid, "keeper.pid").is_some());
    assert_eq!(container_pid(&env, &uid, "quiet"), Some(quiet));
    delete_and_check_clean(&env, "kept", &uid);
}

/// The supervisor started for a pod whose supervisor and keeper died
/// appends to the pod's `supervisor.log`: what the dead one wrote last
/// (why it died) is still there after the revive, followed by a line that
/// marks where the new one begins. It was truncated.
#[test]
fn a_revived_pod_keeps_the_last_words_of_its_dead_supervisor_in_its_log() {
    let env = Env::new();
    import_busybox(&env.root());
    let yaml = "\
apiVersion: v1
kind: Pod
metadata:
  name: words
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
";
    let uid = create(&env, "words", yaml);
    wait_until(&env, "words", "Running", || {
        (jsonpath(&env, "words", "{.status.phase}") == "Running").then_some(())
    });
    let log_path = env
        .run_root()
        .join("pods")
        .join(&uid)
        .join("supervisor.log");
    // The supervisor's last words, written where its stderr goes.
    let last_words = "pod-supervisor: writing status: out of memory\n";
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .unwrap();
    std::io::Write::write_all(&mut log, last_words.as_bytes()).unwrap();
    drop(log);
    let before = std::fs::read_to_string(&log_path).unwrap();

    let supervisor = common::pods::kill_supervisor_for_good(&env, &uid);
    let shown = env.ok(&["get", "pod", "words", "--no-headers"]);
    assert!(!shown.contains("Unknown"), "{shown}");
    assert!(recorded_pid(&env, &uid, "supervisor.pid").is_some_and(|p| p != supervisor));
    let after = std::fs::read_to_string(&log_path).unwrap();
    let new_part = after.strip_prefix(&before).unwrap_or_else(|| {
        panic!("the log lost what was in it:\nbefore:\n{before}\nafter:\n{after}")
    });
    assert!(
        new_part.starts_with("--- ") && new_part.contains(" a new supervisor\n"),
        "{new_part:?}"
    );
    delete_and_check_clean(&env, "words", &uid);
}

/// `delete` of a pod whose supervisor and keeper were both killed stops
/// it as the kubelet, restarted by systemd, stops a pod deleted while it
/// was down: a new supervisor adopts the pod and runs its preStop hook,
/// sends SIGTERM, and kills at the end of the grace period; not a SIGKILL
/// of everything at once from the records.
#[test]
fn a_delete_of_a_pod_whose_supervisor_and_keeper_died_runs_its_pre_stop_hook_and_grace_period() {
    let env = Env::new();
    import_busybox(&env.root());
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // 5 s: the preStop hook has them all (an exec into the container, a
    // few seconds on a machine still writing back a whole build), and
    // SIGTERM 2 s more if it used them up.
    let uid = create(&env, "stop", &common::pods::polite_pod("stop", &out, 5));
    wait_until(&env, "stop", "both containers ready", || {
        (jsonpath(&env, "stop", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    let supervisor = common::pods::kill_supervisor_for_good(&env, &uid);
    // The supervisors' log, read through a descriptor opened now: the
    // deletion removes the file, and it tells why, should this fail.
    let mut log = std::fs::File::open(
        env.run_root()
            .join("pods")
            .join(&uid)
            .join("supervisor.log"),
    )
    .unwrap();

    // Nothing reads the pod in between: the delete is the first to find
    // it lost.
    let begun = Instant::now();
    let deleted = env.run(&["delete", "pod", "stop"]);
    let took = begun.elapsed();
    let order = std::fs::read_to_string(out.join("order")).unwrap_or_default();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut log, &mut said).unwrap();
    let events = env.run(&["get", "events"]);
    let why = format!(
        "took {took:?}; delete's stderr: {}\nthe supervisors' log:\n{said}\nevents:\n{}",
        String::from_utf8_lossy(&deleted.stderr),
        String::from_utf8_lossy(&events.stdout)
    );
    assert_eq!(deleted.stdout, b"pod \"stop\" deleted\n", "{why}");
    assert_eq!(
        order, "pre-stop\nterm\n",
        "the preStop hook, then SIGTERM; {why}"
    );
    // sleep ignores SIGTERM: its SIGKILL came at the end of the 5 s grace
    // period (the upper bound leaves a loaded machine room).
    assert!(took >= Duration::from_millis(4900), "{took:?}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_ne!(recorded_pid(&env, &uid, "supervisor.pid"), Some(supervisor));
    assert!(env.fails(&["get", "pod", "stop"]).contains("not found"));
    common::pods::assert_nothing_left(&env, &uid, "the pod");
}

/// A pod being deleted whose supervisor and keeper then died is not left
/// Terminating (and Unknown) for good: the next command that reads it
/// starts a supervisor that adopts it and goes on with the deletion, as a
/// restarted kubelet finishes the deletions it finds, and nothing of the
/// pod is left once its grace period is spent.
#[test]
fn a_terminating_pod_whose_supervisor_and_keeper_died_is_finished_by_the_next_get() {
    let env = Env::new();
    import_busybox(&env.root());
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let uid = create(&env, "ending", &common::pods::polite_pod("ending", &out, 3));
    wait_until(&env, "ending", "both containers ready", || {
        (jsonpath(&env, "ending", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    let stubborn = container_pid(&env, &uid, "stubborn").unwrap();
    env.ok(&["delete", "pod", "ending", "--wait=false"]);
    common::pods::kill_supervisor_for_good(&env, &uid);
    assert!(state(stubborn).is_some_and(|s| s != 'Z'), "sleep runs on");

    // One read, and no other: the pod is gone within its grace period
    // (3 s, with a loaded machine's room), and everything it held.
    let shown = env.ok(&["get", "pods", "--no-headers"]);
    assert!(shown.is_empty() || shown.contains("Terminating"), "{shown}");
    let record = env.root().join("pods").join("default").join("ending");
    let deadline = Instant::now() + common::pods::PATIENCE;
    let mut left = common::pods::leftovers(&env, &uid);
    while (record.exists() || !left.is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = common::pods::leftovers(&env, &uid);
    }
    assert!(
        !record.exists(),
        "the pod's record is still stored; the read showed {shown:?}; supervisor.log:\n{}",
        std::fs::read_to_string(
            env.run_root()
                .join("pods")
                .join(&uid)
                .join("supervisor.log")
        )
        .unwrap_or_else(|e| e.to_string())
    );
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(!matches!(state(stubborn), Some(s) if s != 'Z'));
    assert!(env.fails(&["get", "pod", "ending"]).contains("not found"));
}

/// `pod attach -it` to container `shell` of pod `name` in a terminal.
fn attach_terminal(env: &Env, name: &str, tag: &str) -> common::Terminal {
    let (root, run_root) = (env.root(), env.run_root());
    let dir = env.dir.path().join(format!("term-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    common::Terminal::start(
        &dir,
        &[("POD_ROOT", &root), ("POD_RUN_ROOT", &run_root)],
        &[
            env!("CARGO_BIN_EXE_pod"),
            "attach",
            "-it",
            name,
            "-c",
            "shell",
        ],
        100,
        30,
    )
}

/// A tty container keeps its terminal when its supervisor and keeper both
/// die: the pause process kept its pty master, which the supervisor that
/// adopts the pod takes back, so the shell (the same process, its state
/// intact) is attached to again, and what it writes goes on into its log.
/// Without it the kernel hangs the terminal up with its last master: the
/// shell's input ends.
#[test]
fn a_tty_container_keeps_its_terminal_when_its_supervisor_and_keeper_die() {
    let env = Env::new();
    import_busybox(&env.root());
    let yaml = "\
apiVersion: v1
kind: Pod
metadata:
  name: term
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: shell
    image: busybox
    imagePullPolicy: Never
    stdin: true
    tty: true
";
    let uid = create(&env, "term", yaml);
    wait_until(&env, "term", "the shell ready", || {
        (jsonpath(&env, "term", "{.status.containerStatuses[0].ready}") == "true").then_some(())
    });
    let shell = container_pid(&env, &uid, "shell").unwrap();
    let before = attach_terminal(&env, "term", "before");
    before.expect("If you don't see a command prompt, try pressing enter.");
    before.press(&["Enter"]);
    before.expect("#");
    before.type_text("KEPT=ye''s; echo set\r");
    before.wait_for("set", Duration::from_secs(60), |s| {
        s.lines().any(|l| l.trim_end() == "set")
    });
    drop(before);

    let supervisor = common::pods::kill_supervisor_for_good(&env, &uid);
    // The next read adopts the pod.
    env.ok(&["get", "pod", "term"]);
    assert!(recorded_pid(&env, &uid, "supervisor.pid").is_some_and(|p| p != supervisor));

    let after = attach_terminal(&env, "term", "after");
    after.expect("If you don't see a command prompt, try pressing enter.");
    after.press(&["Enter"]);
    after.type_text("echo still-$KEPT\r");
    after.wait_for("the shell's variable", Duration::from_secs(60), |s| {
        s.lines().any(|l| l.trim_end() == "still-yes")
    });
    drop(after);
    assert_eq!(container_pid(&env, &uid, "shell"), Some(shell));
    assert_eq!(
        jsonpath(&env, "term", "{.status.containerStatuses[0].restartCount}"),
        "0"
    );
    common::pods::wait_log(&env, "term", &uid, "shell", "still-yes");
    delete_and_check_clean(&env, "term", &uid);
}

/// A Terminating pod whose supervisor and keeper died, and whose runtime
/// record cannot be read (`sandbox.json` of a newer format, which this
/// build leaves to the build that wrote it): a read does not start a
/// supervisor for it (it could not adopt what runs, and would start the
/// pod anew beside it, then remove its record with the old processes
/// running on); the next `delete` kills what the records name, as before,
/// and removes the pod.
#[test]
fn a_terminating_pod_whose_runtime_record_cannot_be_read_is_left_to_delete() {
    let env = Env::new();
    import_busybox(&env.root());
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let uid = create(&env, "unread", &common::pods::polite_pod("unread", &out, 2));
    wait_until(&env, "unread", "both containers ready", || {
        (jsonpath(&env, "unread", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    let stubborn = container_pid(&env, &uid, "stubborn").unwrap();
    env.ok(&["delete", "pod", "unread", "--wait=false"]);
    let supervisor = common::pods::kill_supervisor_for_good(&env, &uid);
    let run_dir = env.run_root().join("pods").join(&uid);
    std::fs::write(run_dir.join("sandbox.json"), "{\"recordVersion\":99}").unwrap();

    let shown = env.ok(&["get", "pods", "--no-headers"]);
    assert!(shown.contains("Terminating"), "{shown}");
    // The dead one's pid file is there still (its process, perhaps a
    // zombie yet), no other.
    let recorded = recorded_pid(&env, &uid, "supervisor.pid");
    assert!(recorded.is_none_or(|p| p == supervisor), "a new supervisor");

    // The record still unreadable: the teardown does without it (the
    // pause process it names dies with the pod's cgroup).
    env.ok(&["delete", "pod", "unread", "--grace-period=1"]);
    assert!(env.fails(&["get", "pod", "unread"]).contains("not found"));
    assert!(!matches!(state(stubborn), Some(s) if s != 'Z'));
    common::pods::assert_nothing_left(&env, &uid, "the pod");
}
