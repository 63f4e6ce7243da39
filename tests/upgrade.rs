//! Upgrading the `pod` binary while pods run (issue 18): the state files
//! carry their format's version, a record of a newer format is a one-line
//! error naming the file (not a misread), records written before versions
//! existed still read, and supervisors started by the old binary keep
//! working for the commands of the new one after the file is replaced.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pods::{create, delete_and_check_clean, jsonpath, wait_log, wait_until};
use common::{Env, import_busybox};

fn sleeper(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo hello; exec sleep 3600']\n"
    )
}

fn running(env: &Env, name: &str) {
    wait_until(env, name, "Running", || {
        (jsonpath(env, name, "{.status.phase}") == "Running").then_some(())
    });
}

/// Sets the record's version, as a newer build would write it.
fn set_version(path: &Path, version: u64) {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    value["recordVersion"] = version.into();
    std::fs::write(path, serde_json::to_vec(&value).unwrap()).unwrap();
}

/// Waits until the host holds nothing of pod `uid` (other pods of the
/// environment keep theirs).
fn gone(env: &Env, uid: &str) {
    let mine = || -> Vec<String> {
        common::pods::leftovers(env, uid)
            .into_iter()
            .filter(|l| l.contains(uid))
            .collect()
    };
    let deadline = std::time::Instant::now() + common::pods::PATIENCE;
    while !mine().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(mine(), Vec::<String>::new());
}

fn stderr_of(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(!out.status.success(), "pod {args:?} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "pod {args:?}: {stderr:?}");
    stderr
}

#[test]
fn records_of_a_newer_format_are_refused_and_unversioned_ones_read() {
    let env = Env::new();
    import_busybox(&env.root());
    let uid_a = create(&env, "a", &sleeper("a"));
    let uid_b = create(&env, "b", &sleeper("b"));
    running(&env, "a");
    running(&env, "b");
    // Running comes before the shell's line, read much later.
    wait_log(&env, "a", &uid_a, "c", "hello");
    let dir = |name: &str| env.root().join("pods/default").join(name);

    // What this build writes is versioned.
    for file in ["pod.json", "status.json"] {
        let bytes = std::fs::read(dir("a").join(file)).unwrap();
        assert!(bytes.starts_with(br#"{"recordVersion":1,"#), "{file}");
    }

    let manifest = dir("a").join("pod.json");
    let saved = std::fs::read(&manifest).unwrap();
    set_version(&manifest, 2);
    let wanted = format!(
        "error: state file {} has record version 2, newer than this pod reads (1): it was written by a newer pod binary\n",
        manifest.display()
    );
    for args in [
        &["get", "pod", "a"][..],
        &["get", "pod", "a", "-o", "yaml"],
        &["describe", "pod", "a"],
        &["logs", "a"],
        &["exec", "a", "--", "true"],
    ] {
        assert_eq!(stderr_of(&env, args), wanted, "pod {args:?}");
    }
    // The other pod is still listed beside the error.
    let out = env.run(&["get", "pods"]);
    assert_eq!(out.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.lines().nth(1).unwrap_or("").starts_with("b "),
        "{listed}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), wanted);
    // Pruning images must not guess what a record it cannot read uses.
    let stderr = stderr_of(&env, &["image", "prune", "-a"]);
    assert!(stderr.contains("has record version 2"), "{stderr}");
    env.ok(&["get", "pod", "b"]);
    std::fs::write(&manifest, &saved).unwrap();

    let status = dir("b").join("status.json");
    set_version(&status, 3);
    let stderr = stderr_of(&env, &["get", "pod", "b", "-o", "json"]);
    assert!(
        stderr.starts_with(&format!(
            "error: state file {} has record version 3",
            status.display()
        )),
        "{stderr}"
    );

    // A record as written before versions existed (without the field)
    // reads as it always did.
    let mut value: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    value.as_object_mut().unwrap().remove("recordVersion");
    std::fs::write(&manifest, serde_json::to_vec(&value).unwrap()).unwrap();
    let status_a = dir("a").join("status.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_a).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("recordVersion");
    std::fs::write(&status_a, serde_json::to_vec(&value).unwrap()).unwrap();
    assert_eq!(jsonpath(&env, "a", "{.status.phase}"), "Running");
    assert!(env.ok(&["logs", "a"]).contains("hello"));

    env.ok(&["delete", "pod", "a", "--grace-period=2"]);
    gone(&env, &uid_a);
    // The supervisor of b keeps its status to itself while it cannot be
    // read; restored, the pod is deleted as usual.
    set_version(&status, 1);
    delete_and_check_clean(&env, "b", &uid_b);
}

/// A `pod` command run from `binary` with the environment's state, and
/// restarts after 200 ms.
fn pod_from(env: &Env, binary: &Path, args: &[&str]) -> std::process::Output {
    let reference = env.pod();
    Command::new(binary)
        .args(args)
        .envs(reference.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env("POD_BACKOFF_INITIAL", "200ms")
        .env("POD_BACKOFF_MAX", "200ms")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Replaces `binary` as a package upgrade does: a new file renamed over
/// the old one (running processes keep the old inode). The new file is a
/// different build in content: the same program with bytes appended,
/// which the ELF loader ignores.
fn replace_binary(binary: &Path, generation: u8) {
    let new = binary.with_extension("new");
    let mut bytes = std::fs::read(common::pod_bin()).unwrap();
    bytes.extend_from_slice(&[generation; 4096]);
    std::fs::write(&new, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&new, binary).unwrap();
}

#[test]
fn supervisors_keep_working_after_the_binary_is_replaced() {
    let env = Env::new();
    import_busybox(&env.root());
    let bin_dir = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let binary: PathBuf = bin_dir.join("pod");
    replace_binary(&binary, 1);

    // The container exits every two seconds: the old supervisor restarts
    // it after the replacement, from the binary it runs (now deleted).
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: old\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo started; exec sleep 3600']\n  - name: brief\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo once; sleep 1; exit 1']\n";
    let file = env.manifest("old.yaml", yaml);
    let out = pod_from(&env, &binary, &["create", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let uid = env.ok(&["get", "pod", "old", "-o", "jsonpath={.metadata.uid}"]);
    wait_log(&env, "old", &uid, "c", "started");
    let supervisor_exe = || {
        let pid_text = std::fs::read_to_string(
            env.run_root()
                .join("pods")
                .join(&uid)
                .join("supervisor.pid"),
        )
        .unwrap();
        let pid = pid_text.split_whitespace().next().unwrap().to_string();
        std::fs::read_link(format!("/proc/{pid}/exe")).unwrap()
    };
    assert_eq!(supervisor_exe(), binary);

    replace_binary(&binary, 2);
    assert!(
        supervisor_exe().to_string_lossy().ends_with(" (deleted)"),
        "{:?}",
        supervisor_exe()
    );
    // The new binary's commands work with the old supervisor: exec,
    // logs, get; the old supervisor restarts a container after the
    // replacement.
    let run = |args: &[&str]| {
        let out = pod_from(&env, &binary, args);
        assert!(
            out.status.success(),
            "pod {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run(&["exec", "old", "-c", "c", "--", "echo", "hi"]), "hi\n");
    assert_eq!(run(&["logs", "old", "-c", "c"]), "started\n");
    let restarts = || {
        jsonpath(
            &env,
            "old",
            "{.status.containerStatuses[?(@.name==\"brief\")].restartCount}",
        )
        .parse::<u32>()
        .unwrap_or(0)
    };
    let before = restarts();
    wait_until(&env, "old", "a restart after the replacement", || {
        (restarts() >= before + 2).then_some(())
    });
    assert_eq!(run(&["logs", "old", "-c", "brief", "-p"]), "once\n");
    assert!(run(&["get", "pods"]).contains("old"));

    // Deleted by the new binary: the old supervisor stops and cleans up.
    let out = pod_from(&env, &binary, &["delete", "pod", "old", "--grace-period=2"]);
    assert!(out.status.success(), "{out:?}");
    let deadline = std::time::Instant::now() + common::pods::PATIENCE;
    let mut left = common::pods::leftovers(&env, &uid);
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        left = common::pods::leftovers(&env, &uid);
    }
    assert!(left.is_empty(), "{left:#?}");
}

/// Whether process `pid` runs (a zombie has ended).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z ") && !stat.contains(") X "))
}

/// The processes in pod `uid`'s cgroups.
fn in_pod_cgroups(uid: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|c| c.contains(&format!("/pod/{uid}/")))
        })
        .filter(|&pid| alive(pid))
        .collect();
    pids.sort();
    pids
}

/// A supervisor started by its keeper (the dead one's replacement) that
/// cannot resume the pod's runtime (`sandbox.json` of a newer format)
/// does not start the pod again beside what runs of it, which made a
/// second pause process and second containers that nothing but the new
/// record named. It says why in the pod's supervisor log and exits, and
/// its keeper with it: the pod reads Unknown, a read leaves it alone,
/// `pod up` says why it leaves it too, and `delete` kills what the
/// records name.
#[test]
fn a_supervisor_that_cannot_resume_the_pods_runtime_starts_no_second_sandbox() {
    let env = Env::new();
    import_busybox(&env.root());
    let uid = create(&env, "held", &sleeper("held"));
    running(&env, "held");
    wait_log(&env, "held", &uid, "c", "hello");
    let run_dir = env.run_root().join("pods").join(&uid);
    let processes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("processes.json")).unwrap()).unwrap();
    let pid = |name: &str| processes[name]["pid"].as_i64().unwrap() as i32;
    let (pause, app) = (pid("(pause)"), pid("c"));
    assert_eq!(in_pod_cgroups(&uid), {
        let mut both = vec![pause, app];
        both.sort();
        both
    });
    let keeper = common::pods::recorded_pid(&env, &uid, "keeper.pid").unwrap();
    let sandbox = run_dir.join("sandbox.json");
    let readable = std::fs::read(&sandbox).unwrap();
    set_version(&sandbox, 2);

    // Its keeper starts the next supervisor, which gives up, and the
    // keeper ends with it.
    common::pods::kill_supervisor(&env, &uid);
    let deadline = std::time::Instant::now() + common::pods::PATIENCE;
    while alive(keeper) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let still = alive(keeper);
    let log = std::fs::read_to_string(run_dir.join("supervisor.log")).unwrap_or_default();
    let cgroups = in_pod_cgroups(&uid);
    let shown = env.ok(&["get", "pod", "held", "--no-headers"]);
    let up = env.run(&["up"]);
    let supervisor = common::pods::recorded_pid(&env, &uid, "supervisor.pid");
    // This build's record again, for the teardown, here or when the test
    // fails.
    let planted = std::fs::read(&sandbox).unwrap();
    std::fs::write(&sandbox, &readable).unwrap();
    assert!(!still, "the keeper lives on; its supervisor's log:\n{log}");
    let expected = format!(
        "pod-supervisor: adopting the pod: its runtime cannot be resumed; not starting it again beside what runs of it (`pod delete` kills that): state file {} has record version 2",
        sandbox.display()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(!log.contains("starting the pod again"), "{log}");
    // The old sandbox and container run on, and nothing else of the pod.
    let mut both = vec![pause, app];
    both.sort();
    assert_eq!(cgroups, both, "a second sandbox beside the first");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&planted).unwrap()["pid"],
        pause
    );
    // Unknown; neither the read nor `up` started a supervisor, and `up`
    // says why it left the pod.
    assert_eq!(shown.split_whitespace().nth(2), Some("Unknown"), "{shown}");
    assert!(supervisor.is_none(), "a supervisor runs: {supervisor:?}");
    assert_eq!(String::from_utf8_lossy(&up.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&up.stderr),
        format!(
            "error: pod \"held\": its supervisor and keeper died and its runtime cannot be resumed; left as it is (`pod delete pod held` kills what its records name): state file {} has record version 2, newer than this pod reads (1): it was written by a newer pod binary\n",
            sandbox.display()
        )
    );
    assert!(!up.status.success());

    // `delete` kills what the records name and tears the pod down
    // without the unreadable record (the pause process it names dies
    // with the pod's cgroup).
    std::fs::write(&sandbox, &planted).unwrap();
    let out = env.run(&["delete", "pod", "held", "--grace-period=1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!alive(pause) && !alive(app), "{stderr}");
    assert!(env.fails(&["get", "pod", "held"]).contains("not found"));
    gone(&env, &uid);
}

/// The tests' environment tears down, when it is dropped, a pod whose
/// supervisor and keeper are gone and whose runtime record is of a newer
/// format, without `delete`: its processes, mounts, cgroups, directories
/// and address. A test that
/// plants such a record and fails before it puts this build's back left
/// all of that behind.
#[test]
fn the_test_environment_tears_down_a_pod_whose_runtime_record_cannot_be_read() {
    let env = Env::new();
    import_busybox(&env.root());
    let uid = create(&env, "stuck", &sleeper("stuck"));
    running(&env, "stuck");
    assert!(!common::pods::index_entries(&env).is_empty(), "no address");
    set_version(
        &env.run_root().join("pods").join(&uid).join("sandbox.json"),
        2,
    );
    common::pods::kill_supervisor_for_good(&env, &uid);

    env.clean_up();
    assert_eq!(common::pods::leftovers(&env, &uid), Vec::<String>::new());
    assert_eq!(common::pods::index_entries(&env), Vec::new());
}
