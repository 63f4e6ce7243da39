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
