//! The node restarting under its pods (issue 18), simulated: every
//! process of every pod killed, every mount under the run root undone,
//! the run root wiped (it is a tmpfs on a real machine). `get` then tells
//! what the kubelet would: the pods that restart wait to be created again
//! (one more restart, last state ContainerStatusUnknown), a restartPolicy
//! Never pod that was running is Failed. `pod up` starts the former again
//! (volumes on disk kept, logs of the earlier instance kept), writes the
//! latter's end, leaves finished pods alone, and a second run does
//! nothing.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::pods::{PATIENCE, create, jsonpath, leftovers, wait_log, wait_until};
use common::{Env, import_busybox};

fn pod_yaml(name: &str, policy: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: {policy}\n  terminationGracePeriodSeconds: 1\n  volumes: [{{name: data, emptyDir: {{}}}}]\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    volumeMounts: [{{name: data, mountPath: /data}}]\n    command: [sh, -c, '{command}']\n"
    )
}

/// Kills every process of the environment's pods (supervisors first, so
/// that none restarts what is killed next), as a power cut would.
fn kill_everything(env: &Env, uids: &[String]) {
    for uid in uids {
        // The keeper first, or it starts a new supervisor.
        if let Some(keeper) = common::pods::recorded_pid(env, uid, "keeper.pid") {
            // SAFETY: kill(2) of a keeper this test started.
            unsafe { libc::kill(keeper, libc::SIGKILL) };
        }
        let pid_file = env.run_root().join("pods").join(uid).join("supervisor.pid");
        if let Ok(text) = std::fs::read_to_string(pid_file)
            && let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok())
        {
            // SAFETY: kill(2) of a supervisor this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut alive = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if uids
                .iter()
                .any(|u| cgroup.contains(u.as_str()) || cmdline.contains(u.as_str()))
            {
                // SAFETY: kill(2) of a process of a pod this test made.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                alive.push(pid);
            }
        }
        if alive.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "still alive: {alive:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Undoes every mount under `run_root` (deepest first) and removes it.
fn wipe_run_root(run_root: &Path) {
    let prefix = run_root.to_string_lossy().into_owned();
    loop {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mut points: Vec<String> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        if points.is_empty() {
            break;
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let _ = nix::mount::umount2(point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    std::fs::remove_dir_all(run_root).unwrap();
}

fn container_state(env: &Env, name: &str) -> serde_json::Value {
    let out = env.ok(&["get", "pod", name, "-o", "json"]);
    let pod: serde_json::Value = serde_json::from_str(&out).unwrap();
    pod["status"]["containerStatuses"][0].clone()
}

fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {table}"))
        .split_whitespace()
        .collect()
}

#[test]
fn after_a_reboot_get_tells_the_truth_and_up_brings_the_pods_back() {
    let env = Env::new();
    import_busybox(&env.root());
    let uids = vec![
        create(
            &env,
            "always",
            &pod_yaml(
                "always",
                "Always",
                "echo run >> /data/runs; echo started; exec sleep 3600",
            ),
        ),
        create(
            &env,
            "never",
            &pod_yaml("never", "Never", "echo started; exec sleep 3600"),
        ),
        create(&env, "done", &pod_yaml("done", "Never", "echo finished")),
    ];
    // Running, and their shells past their first lines (Running comes
    // before them): what the reboot must keep is written.
    for (name, uid) in ["always", "never"].iter().zip(&uids) {
        wait_until(&env, name, "Running", || {
            (jsonpath(&env, name, "{.status.phase}") == "Running").then_some(())
        });
        wait_log(&env, name, uid, "c", "started\n");
    }
    wait_until(&env, "done", "Succeeded", || {
        (jsonpath(&env, "done", "{.status.phase}") == "Succeeded").then_some(())
    });

    kill_everything(&env, &uids);
    wipe_run_root(&env.run_root());

    // The truth before anything is started again.
    let table = env.ok(&["get", "pods"]);
    assert_eq!(
        row(&table, "always")[..4],
        ["always", "0/1", "ContainerCreating", "1"],
        "{table}"
    );
    assert_eq!(
        row(&table, "never")[..4],
        ["never", "0/1", "ContainerStatusUnknown", "1"],
        "{table}"
    );
    assert_eq!(row(&table, "done")[..3], ["done", "0/1", "Completed"]);
    let never = container_state(&env, "never");
    assert_eq!(
        never["state"]["terminated"],
        serde_json::json!({
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated"
        })
    );
    assert_eq!(
        never["lastState"]["terminated"]["message"],
        "The container could not be located when the pod was deleted.  The container used to be Running"
    );
    assert_eq!(jsonpath(&env, "never", "{.status.phase}"), "Failed");

    // The new supervisors stop once they hold their pods, before their
    // first report (a debug build's fault point), so what `get` shows in
    // between is looked at for as long as it lasts.
    let out = env
        .pod()
        .env("POD_SUPERVISOR_FAULT", "stop:supervisor-claimed")
        .arg("up")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pod/always started\npod/never failed: its containers were lost when the node restarted (restartPolicy Never)\n"
    );
    // Supervised, not reported yet: the pod reads as before `up`, not as
    // the record of before the restart (Running, ready, no restart).
    let supervisor =
        common::pods::recorded_pid(&env, &uids[0], "supervisor.pid").expect("the new supervisor");
    let table = env.ok(&["get", "pods"]);
    // Let go on before anything is asserted: a stopped supervisor would
    // hold up the clean-up of a failed test.
    // SAFETY: SIGCONT to the supervisor this test's `up` started.
    unsafe { libc::kill(supervisor, libc::SIGCONT) };
    assert_eq!(
        row(&table, "always")[..4],
        ["always", "0/1", "ContainerCreating", "1"],
        "{table}"
    );
    // Running again, as the new supervisor reports it.
    wait_until(&env, "always", "Running again", || {
        let state = jsonpath(
            &env,
            "always",
            "{.status.phase} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount}",
        );
        (state == "Running true 1").then_some(())
    });
    let always = container_state(&env, "always");
    assert_eq!(always["restartCount"], 1);
    assert_eq!(
        always["lastState"]["terminated"]["reason"],
        "ContainerStatusUnknown"
    );
    // The emptyDir on disk is the pod's still; the earlier instance's log
    // is the previous one. (Ready comes before the new shell's lines.)
    wait_until(&env, "always", "the new instance's line", || {
        (env.ok(&["logs", "always"]) == "started\n").then_some(())
    });
    assert_eq!(
        env.ok(&["exec", "always", "--", "cat", "/data/runs"]),
        "run\nrun\n"
    );
    assert_eq!(env.ok(&["logs", "always", "-p"]), "started\n");
    // The Never pod's end is written down: it reads the same with the
    // run directory back.
    let status: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.root().join("pods/default/never/status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(status["phase"], "Failed");
    assert_eq!(jsonpath(&env, "done", "{.status.phase}"), "Succeeded");

    // A second run finds every pod supervised or finished.
    assert_eq!(env.ok(&["up"]), "");

    env.ok(&["delete", "pods", "--all", "--grace-period=1"]);
    let deadline = Instant::now() + PATIENCE;
    let all_left = || -> Vec<String> { uids.iter().flat_map(|u| leftovers(&env, u)).collect() };
    while !all_left().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(all_left(), Vec::<String>::new());
    assert_eq!(
        std::fs::read_dir(env.root().join("logs")).unwrap().count(),
        0,
        "logs left"
    );
}

/// Whether process `pid` runs (a zombie has ended).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z ") && !stat.contains(") X "))
}

/// `pod up` that finds a pod being deleted whose supervisor and keeper
/// died (`kill -9` of both while the node ran: not a restart) takes it
/// back as a read or `delete` does: the new supervisor goes on with the
/// deletion, runs the preStop hook, sends SIGTERM and waits out what is
/// left of the grace period before it kills. `up` deleted it at once from
/// the records: no hook, no SIGTERM, no grace.
#[test]
fn up_goes_on_with_the_deletion_of_a_pod_whose_supervisor_and_keeper_died() {
    let env = Env::new();
    import_busybox(&env.root());
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let yaml = common::pods::polite_pod("ending", &out, 8);
    let uid = create(&env, "ending", &yaml);
    wait_until(&env, "ending", "both containers ready", || {
        (jsonpath(&env, "ending", "{.status.containerStatuses[*].ready}") == "true true")
            .then_some(())
    });
    let processes: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            env.run_root()
                .join("pods")
                .join(&uid)
                .join("processes.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let stubborn = processes["stubborn"]["pid"].as_i64().unwrap() as i32;

    // Marked Terminating without its supervisor being asked: the
    // `delete` is killed just after its mark.
    let marked = Instant::now();
    let killed = env
        .pod()
        .env("POD_FAULT", "delete-marked")
        .args(["delete", "pod", "ending"])
        .output()
        .unwrap();
    assert!(!killed.status.success(), "{killed:?}");
    common::pods::kill_supervisor_for_good(&env, &uid);
    let order = || std::fs::read_to_string(out.join("order")).unwrap_or_default();
    assert_eq!(order(), "", "stopping began before `up`");

    assert_eq!(
        env.ok(&["up"]),
        "pod/ending adopted; its deletion goes on\n"
    );
    // sleep ignores SIGTERM: it runs until the grace period (8 s from the
    // mark, which keeps whole seconds) is spent.
    while alive(stubborn) && marked.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(50));
    }
    let lived = marked.elapsed();
    assert!(lived >= Duration::from_secs(6), "killed after {lived:?}");
    assert_eq!(
        order(),
        "pre-stop\nterm\n",
        "the preStop hook, then SIGTERM"
    );
    let record = env.root().join("pods/default/ending");
    let deadline = Instant::now() + PATIENCE;
    while (record.exists() || !leftovers(&env, &uid).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!record.exists(), "the pod's record is still stored");
    assert_eq!(leftovers(&env, &uid), Vec::<String>::new());
}
