//! A soak of create/delete cycles (issue 18, Leaks): a 2-container pod
//! with an emptyDir on disk and one in memory, a readiness probe, a
//! hostPort and the pod network; every fourth cycle its supervisor is
//! killed (-9) before the delete. Afterwards nothing is left: mounts,
//! processes, cgroups, host interfaces, IPAM leases (and the node-wide
//! index's entries), iptables rules, fds of the long-lived process (this
//! one, which ran every command), and files in the state and run roots
//! beyond those that were there before the first pod.
//!
//! 20 cycles here; `scripts/soak.sh [CYCLES]` runs the long one
//! (`POD_SOAK_CYCLES`, 1000 by default) and prints the cycle times, with
//! a copy of the pod binary (`POD_TEST_BIN`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::pods::{PATIENCE, index_entries, jsonpath, kill_supervisor, leftovers, wait_until};
use common::{Env, import_busybox, pod_bin};

const HOST_PORT: u16 = 38_391;

fn manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: soak}}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - {{name: disk, emptyDir: {{}}}}
  - {{name: mem, emptyDir: {{medium: Memory, sizeLimit: 1Mi}}}}
  containers:
  - name: a
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'echo a > /disk/a && echo a > /mem/a && exec sleep 3600']
    volumeMounts: [{{name: disk, mountPath: /disk}}, {{name: mem, mountPath: /mem}}]
    ports: [{{containerPort: 8080, hostPort: {HOST_PORT}}}]
    readinessProbe:
      exec: {{command: [cat, /disk/a]}}
      periodSeconds: 1
  - name: b
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
    volumeMounts: [{{name: disk, mountPath: /disk}}, {{name: mem, mountPath: /mem}}]
"#
    )
}

/// Every file and directory below `dir`, as paths relative to it.
fn tree(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        out.insert(path.strip_prefix(base).unwrap().display().to_string());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            tree(&path, base, out);
        }
    }
}

fn files(env: &Env) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    tree(env.dir.path(), env.dir.path(), &mut out);
    out
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The host end of a pod's veth, named as `network::bridge::host_veth`
/// names it (a digest of the state root and the uid).
fn host_veth(root: &Path, uid: &str) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(root.as_os_str().as_encoded_bytes());
    hash.update([0]);
    hash.update(uid.as_bytes());
    format!("veth{}", &hex::encode(hash.finalize())[..11])
}

/// What pod `uid` (or any pod of this environment) left on the host.
fn traces(env: &Env, uids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for uid in uids {
        left.extend(leftovers(env, uid));
    }
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    let rules = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout);
    for uid in uids {
        let veth = host_veth(&env.root(), uid);
        left.extend(
            links
                .lines()
                .filter(|l| l.contains(&veth))
                .map(|l| format!("link: {l}")),
        );
        left.extend(
            rules
                .lines()
                .filter(|l| l.contains(uid.as_str()))
                .map(|l| format!("iptables: {l}")),
        );
    }
    left.extend(
        rules
            .lines()
            .filter(|l| l.contains(&format!("--dport {HOST_PORT}")))
            .map(|l| format!("iptables: {l}")),
    );
    // Leases of the default network, and the node-wide index's entries
    // pointing into this state root.
    let leases = env.root().join("cni/networks/pod");
    for entry in std::fs::read_dir(&leases).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "lock" && !name.starts_with("last_reserved_ip") {
            left.push(format!("lease: {name}"));
        }
    }
    for (entry, _) in index_entries(env) {
        left.push(format!("index: {}", entry.display()));
    }
    // Processes of this pod binary (supervisors, pause) still alive.
    let bin = std::fs::canonicalize(pod_bin()).unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if std::fs::read_link(entry.path().join("exe")).is_ok_and(|exe| exe == bin) {
            left.push(format!("process {:?} runs pod", entry.file_name()));
        }
    }
    left
}

fn ready(env: &Env) -> bool {
    jsonpath(env, "soak", "{.status.containerStatuses[*].ready}") == "true true"
}

#[test]
fn create_delete_cycles_leave_nothing_behind() {
    let cycles: usize = std::env::var("POD_SOAK_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let env = Env::new();
    import_busybox(&env.root());
    let file = env.manifest("soak.yaml", &manifest());
    let file = file.to_str().unwrap();
    let mut uids = Vec::new();
    let mut before = None;
    let mut times = Vec::new();
    for cycle in 0..=cycles {
        let start = Instant::now();
        env.ok(&["create", "-f", file]);
        let uid = env.ok(&["get", "pod", "soak", "-o", "jsonpath={.metadata.uid}"]);
        wait_until(&env, "soak", "both containers ready", || {
            ready(&env).then_some(())
        });
        if cycle == 0 {
            // The checks see a live pod's things, so their emptiness later
            // means something.
            let live = traces(&env, std::slice::from_ref(&uid));
            for kind in [
                "mount:",
                "cgroup:",
                "process",
                "link:",
                "iptables:",
                "lease:",
                "index:",
            ] {
                assert!(
                    live.iter().any(|l| l.starts_with(kind)),
                    "no {kind} seen while the pod runs: {live:#?}"
                );
            }
        }
        let killed = cycle % 4 == 3;
        if killed {
            kill_supervisor(&env, &uid);
        }
        env.ok(&["delete", "pod", "soak", "--grace-period=1"]);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = traces(&env, std::slice::from_ref(&uid));
            let gone = !String::from_utf8_lossy(&env.run(&["get", "pods", "-o", "name"]).stdout)
                .contains("soak");
            if left.is_empty() && gone {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cycle {cycle} (supervisor killed: {killed}): {left:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Cycle 0 warms up: the node object, the network's bridge and
        // directories made once. What is there after it is the baseline.
        if cycle == 0 {
            before = Some((files(&env), fds()));
        } else {
            times.push(start.elapsed());
        }
        uids.push(uid);
        if cycle % 50 == 0 {
            eprintln!("soak: cycle {cycle}/{cycles}, last {:.2?}", start.elapsed());
        }
    }
    let (files_before, fds_before) = before.unwrap();
    assert_eq!(traces(&env, &uids), Vec::<String>::new());
    let files_after = files(&env);
    let new: Vec<_> = files_after.difference(&files_before).collect();
    let gone: Vec<_> = files_before.difference(&files_after).collect();
    assert!(new.is_empty(), "files left after {cycles} cycles: {new:#?}");
    assert!(gone.is_empty(), "files removed: {gone:#?}");
    assert_eq!(fds(), fds_before, "fds of the test process");
    times.sort();
    let total: Duration = times.iter().sum();
    eprintln!(
        "soak: {cycles} cycles ({} with the supervisor killed), cycle time mean {:.2?}, median {:.2?}, max {:.2?}",
        cycles / 4,
        total / cycles.max(1) as u32,
        times[times.len() / 2],
        times[times.len() - 1]
    );
}
