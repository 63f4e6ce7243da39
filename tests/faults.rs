//! kill -9 of the CLI in the middle of `create` and of `delete` (issue
//! 18), at exact points: `POD_FAULT=<point>` makes a debug build SIGKILL
//! itself there (src/fault.rs). For each point the pod is left in a state
//! kubectl users know (Pending/ContainerCreating, Running, Terminating,
//! or gone), and a `pod delete` afterwards leaves nothing of it on the
//! host: processes, mounts, cgroups, the pinned network namespace (and
//! with it the veth), the address's lease and its node-wide index entry,
//! the cached attachment, iptables rules naming the pod, files.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::pods::{index_entries, jsonpath, kill_supervisor_for_good, leftovers, wait_until};
use common::{Env, import_busybox};

const YAML: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: f\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes: [{name: data, emptyDir: {}}]\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    volumeMounts: [{name: data, mountPath: /data}]\n    command: [sleep, '3600']\n";

/// Runs `pod ARGS` with the fault point set; asserts it died by SIGKILL.
fn killed_at(env: &Env, point: &str, args: &[&str]) {
    killed_at_with(env, point, args, &[]);
}

/// `killed_at`, with more variables in the command's environment.
fn killed_at_with(env: &Env, point: &str, args: &[&str], vars: &[(&str, &str)]) {
    let out = env
        .pod()
        .env("POD_FAULT", point)
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "pod {args:?} with POD_FAULT={point}: {out:?}"
    );
}

fn status_column(env: &Env) -> String {
    let table = env.ok(&["get", "pods"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("f "))
        .unwrap_or_else(|| panic!("no pod f: {table}"));
    row.split_whitespace().nth(2).unwrap().to_string()
}

fn uid(env: &Env) -> String {
    env.ok(&["get", "pod", "f", "-o", "jsonpath={.metadata.uid}"])
}

/// Everything of pod `uid` still on the host or in the state directory.
fn traces(env: &Env, uid: &str) -> Vec<String> {
    let mut left: Vec<String> = leftovers(env, uid)
        .into_iter()
        .filter(|l| l.contains(uid))
        .collect();
    let dir_entries = |dir: std::path::PathBuf| -> Vec<String> {
        std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| format!("{}/{}", dir.display(), e.file_name().to_string_lossy()))
                    .filter(|n| !n.ends_with("/lock") && !n.contains("last_reserved_ip"))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The default network's leases and attachments, the pod's files.
    left.extend(dir_entries(env.root().join("cni/networks/pod")));
    left.extend(dir_entries(env.root().join("cni/results")));
    left.extend(dir_entries(env.root().join("logs")));
    left.extend(dir_entries(env.root().join("pods/default")));
    left.extend(dir_entries(env.root().join("writable")));
    // The node-wide index of the default network's addresses: an entry
    // is a link to the lease of a pod of some state root.
    for (entry, target) in index_entries(env) {
        left.push(format!(
            "index: {} -> {}",
            entry.display(),
            target.display()
        ));
    }
    let rules = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    left.extend(
        String::from_utf8_lossy(&rules.stdout)
            .lines()
            .filter(|l| l.contains(uid))
            .map(|l| format!("iptables: {l}")),
    );
    left
}

/// `pod delete` of the pod, then nothing of it is left.
fn delete_leaves_nothing(env: &Env, uid: &str) {
    env.ok(&[
        "delete",
        "pod",
        "f",
        "--grace-period=1",
        "--ignore-not-found",
    ]);
    let deadline = Instant::now() + common::pods::PATIENCE;
    while !traces(env, uid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(traces(env, uid), Vec::<String>::new());
}

fn running(env: &Env) {
    wait_until(env, "f", "Running", || {
        (jsonpath(env, "f", "{.status.containerStatuses[0].ready}") == "true").then_some(())
    });
}

fn kill_supervisor(env: &Env, uid: &str) {
    // With its keeper, so that no new supervisor adopts the pod before
    // the delete: nothing reads the pod in between (a `get` would adopt
    // it, `pods::revive`), so the delete does the supervisor's work.
    kill_supervisor_for_good(env, uid);
}

#[test]
fn create_killed_at_each_point() {
    let env = Env::new();
    import_busybox(&env.root());
    let file = env.manifest("f.yaml", YAML);
    let create = ["create", "-f", file.to_str().unwrap()];

    // Stored: a pod that fits is stored already bound, in one write (no
    // second write of its record binds it), so it is ContainerCreating
    // with no supervisor yet; `pod up` starts it.
    killed_at(&env, "create-stored", &create);
    let uid_stored = uid(&env);
    assert_eq!(status_column(&env), "ContainerCreating");
    assert_eq!(jsonpath(&env, "f", "{.status.phase}"), "Pending");
    assert!(!jsonpath(&env, "f", "{.spec.nodeName}").is_empty());
    assert_eq!(env.ok(&["up"]), "pod/f started\n");
    running(&env);
    delete_leaves_nothing(&env, &uid_stored);

    // Bound, no supervisor yet: ContainerCreating; delete cleans up.
    killed_at(&env, "create-bound", &create);
    let uid_bound = uid(&env);
    assert_eq!(status_column(&env), "ContainerCreating");
    assert!(!jsonpath(&env, "f", "{.spec.nodeName}").is_empty());
    delete_leaves_nothing(&env, &uid_bound);

    // Bound again and left there: `pod up` starts it.
    killed_at(&env, "create-bound", &create);
    let uid_up = uid(&env);
    assert_eq!(env.ok(&["up"]), "pod/f started\n");
    running(&env);
    delete_leaves_nothing(&env, &uid_up);

    // The supervisor started: it runs the pod without the CLI.
    killed_at(&env, "supervisor-spawned", &create);
    let uid_spawned = uid(&env);
    running(&env);
    assert_eq!(status_column(&env), "Running");
    delete_leaves_nothing(&env, &uid_spawned);
}

#[test]
fn delete_killed_at_each_point() {
    let env = Env::new();
    import_busybox(&env.root());
    let file = env.manifest("f.yaml", YAML);
    let create = ["create", "-f", file.to_str().unwrap()];
    let delete = ["delete", "pod", "f", "--grace-period=1"];

    // Marked for deletion, the supervisor not asked: Terminating, still
    // running; the next delete finishes it.
    env.ok(&create);
    let uid_marked = uid(&env);
    running(&env);
    // What a running pod holds, as `traces` sees it.
    let held = traces(&env, &uid_marked).join("\n");
    for what in [
        "cni/networks/pod/10.244.",
        "cni/results/pod-",
        "index: ",
        "mount: ",
    ] {
        assert!(held.contains(what), "{what} not in {held}");
    }
    killed_at(&env, "delete-marked", &delete);
    assert_eq!(status_column(&env), "Terminating");
    assert!(!jsonpath(&env, "f", "{.metadata.deletionTimestamp}").is_empty());
    delete_leaves_nothing(&env, &uid_marked);

    // The supervisor accepted: it finishes the deletion alone.
    env.ok(&create);
    let uid_accepted = uid(&env);
    running(&env);
    killed_at(&env, "delete-accepted", &delete);
    let deadline = Instant::now() + common::pods::PATIENCE;
    while !traces(&env, &uid_accepted).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(traces(&env, &uid_accepted), Vec::<String>::new());
    assert!(env.fails(&["get", "pod", "f"]).contains("not found"));

    // No supervisor (killed, and the one `delete` starts to adopt the pod
    // dies before it answers): the CLI cleans up itself, and is killed
    // after killing the pod's processes, then after the teardown. The pod
    // is Terminating; the next delete finishes it, or, when the run
    // directory is still there, the supervisor that the next read starts
    // to adopt it (`pods::revive`).
    let no_revival = [("POD_SUPERVISOR_FAULT", "supervisor-claimed")];
    for point in ["delete-killed", "delete-torn-down"] {
        env.ok(&create);
        let uid = uid(&env);
        running(&env);
        kill_supervisor(&env, &uid);
        killed_at_with(&env, point, &delete, &no_revival);
        let table = env.ok(&["get", "pods", "--no-headers"]);
        let status = table.split_whitespace().nth(2);
        assert!(
            status.is_none() || status == Some("Terminating"),
            "{point}: {table}"
        );
        delete_leaves_nothing(&env, &uid);
    }
}

/// The processes whose command line is a supervisor's of the pod `uid`.
fn supervisors_of(uid: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.starts_with("pod-supervisor\0") && cmdline.contains(uid)
        })
        .collect()
}

/// Waits until `check` holds, for at most 20 s; whether it did.
fn within_20s(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The supervisors of this environment's pods: their uids (from their
/// command lines).
fn supervised_uids(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.run_root().join("pods"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|uid| !supervisors_of(uid).is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `pod create` of pod f, stopped (SIGSTOP) at the fault point where its
/// supervisor has just been forked and exec'd.
fn create_stopped_when_forked(env: &Env) -> std::process::Child {
    let file = env.manifest("f.yaml", YAML);
    let cli = env
        .pod()
        .env("POD_FAULT", "stop:supervisor-forked")
        .args(["create", "-f", file.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stopped = within_20s(|| {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", cli.id())).unwrap_or_default();
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('T'))
    });
    if !stopped {
        let mut cli = cli;
        let _ = cli.kill();
        panic!(
            "create never stopped at supervisor-forked: {:?}",
            cli.wait_with_output()
        );
    }
    cli
}

/// The uid in pod f's record, if it is stored.
fn stored_uid(env: &Env) -> Option<String> {
    let record = std::fs::read_to_string(env.root().join("pods/default/f/pod.json")).ok()?;
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    Some(record["metadata"]["uid"].as_str()?.to_string())
}

/// `create` forks the pod's supervisor on a thread of its own while it
/// stores the pod (their start-ups overlap the store's fsyncs); the
/// supervisor waits, doing nothing of the pod, until the CLI says the pod
/// is stored and bound, and ends when the CLI does not.
#[test]
fn the_supervisor_is_forked_while_the_pod_is_stored_and_waits_for_the_word() {
    let env = Env::new();
    import_busybox(&env.root());

    // Stopped with the supervisor just forked: it runs, and has done
    // nothing of the pod (no claim on it, no status), stored or not yet.
    let cli = create_stopped_when_forked(&env);
    let waiting = supervised_uids(&env);
    let claimed: Vec<bool> = waiting
        .iter()
        .map(|uid| {
            env.run_root()
                .join("pods")
                .join(uid)
                .join("supervisor.pid")
                .exists()
        })
        .collect();
    let status = env.root().join("pods/default/f/status.json").exists();
    // SAFETY: SIGCONT to the CLI this test started.
    unsafe { libc::kill(cli.id() as i32, libc::SIGCONT) };
    let out = cli.wait_with_output().unwrap();
    assert_eq!(waiting.len(), 1, "no supervisor forked: {waiting:?}");
    assert_eq!(claimed, [false], "the supervisor went on before its word");
    assert!(!status, "the supervisor reported before its word");
    // Told to go on, it runs the pod as any supervisor.
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pod/f created\n");
    running(&env);
    let uid = stored_uid(&env).unwrap();
    assert_eq!(waiting, [uid.as_str()]);

    // A create that fails after the fork (the name is taken): its
    // supervisor ends and its run directory goes; the pod that has the
    // name runs on.
    let file = env.manifest("f.yaml", YAML);
    let err = env.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");
    assert!(
        within_20s(|| supervised_uids(&env) == [uid.clone()]),
        "{:?}",
        supervised_uids(&env)
    );
    let run_dirs: Vec<String> = std::fs::read_dir(env.run_root().join("pods"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(run_dirs, [uid.as_str()]);
    delete_leaves_nothing(&env, &uid);

    // The CLI killed before its word, the pod stored or not yet: the
    // supervisor ends without touching the pod. A pod not stored leaves
    // nothing (the supervisor removes the run directory made for it); one
    // stored is bound, ContainerCreating, and `pod up` starts it.
    let cli = create_stopped_when_forked(&env);
    let forked = supervised_uids(&env);
    // SAFETY: SIGKILL, then SIGCONT, to the CLI this test started.
    unsafe {
        libc::kill(cli.id() as i32, libc::SIGKILL);
        libc::kill(cli.id() as i32, libc::SIGCONT);
    }
    let out = cli.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGKILL));
    assert_eq!(forked.len(), 1, "no supervisor forked: {forked:?}");
    assert!(
        within_20s(|| supervised_uids(&env).is_empty()),
        "the supervisor stays after the CLI was killed"
    );
    let uid = &forked[0];
    assert!(
        !env.run_root()
            .join("pods")
            .join(uid)
            .join("supervisor.pid")
            .exists()
    );
    match stored_uid(&env) {
        Some(stored) => {
            assert_eq!(&stored, uid);
            assert_eq!(status_column(&env), "ContainerCreating");
            assert_eq!(env.ok(&["up"]), "pod/f started\n");
            running(&env);
        }
        None => {
            assert!(
                within_20s(|| !env.run_root().join("pods").join(uid).exists()),
                "the run directory of a pod never stored is left"
            );
            assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
        }
    }
    delete_leaves_nothing(&env, uid);
}
