//! The pod network when plugins fail: a plugin that fails or hangs
//! leaves the pod in ContainerCreating with the kubelet's
//! FailedCreatePodSandBox event and is retried at the pod worker's
//! requeue (the kubelet's 10 s backOffPeriod, 1 s here); `delete`
//! never waits for a hung plugin; a DEL after a crash (supervisor killed,
//! the namespace gone) still frees the address; while a slow ADD runs the
//! pod's containers' inits are set up, and no program of the pod runs
//! before it succeeds. The
//! failing plugins are shell scripts in the test's own plugin directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::net::{Bridge, leases};
use common::pods::{create, delete_and_check_clean, jsonpath, wait_until};
use common::{Env, import_busybox};

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, "3600"]
"#;

fn pod(name: &str) -> String {
    POD.replace("NAME", name)
}

/// An environment whose plugins are found in `<dir>/bin` first, then in
/// the system's directory; back-off 1 s doubling to 2 s, a failed
/// sandbox retried every 1 s.
fn env(extra: &str) -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    std::fs::create_dir_all(bin(&env)).unwrap();
    env.node_config(&format!(
        "cniBinDirs: [{}, /usr/lib/cni]\n{extra}",
        bin(&env).display()
    ));
    env
}

fn bin(env: &Env) -> PathBuf {
    env.dir.path().join("bin")
}

fn ipam_dir(env: &Env) -> PathBuf {
    env.dir.path().join("ipam")
}

/// `pod` with the short back-off.
fn run(env: &Env, args: &[&str]) -> std::process::Output {
    env.pod()
        .env("POD_BACKOFF_INITIAL", "1s")
        .env("POD_BACKOFF_MAX", "2s")
        .args(args)
        .output()
        .unwrap()
}

fn create_pod(env: &Env, name: &str) -> String {
    let file = env.manifest(&format!("{name}.yaml"), &pod(name));
    let out = run(env, &["create", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    jsonpath(env, name, "{.metadata.uid}")
}

/// Writes the plugin `name`: a script that appends its command to
/// `<dir>/calls` and then runs `body`.
fn plugin(env: &Env, name: &str, body: &str) {
    let path = bin(env).join(name);
    let calls = env.dir.path().join("calls");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$CNI_COMMAND\" >> {}\n{body}\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn calls(env: &Env) -> Vec<String> {
    std::fs::read_to_string(env.dir.path().join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A network: bridge `bridge` on `subnet` (if given), then the test's
/// plugin `kind` (if given).
fn network(env: &Env, kind: Option<&str>, bridge: Option<(&str, &str)>) {
    let mut plugins = Vec::new();
    if let Some((bridge, subnet)) = bridge {
        plugins.push(serde_json::json!({
            "type": "bridge", "bridge": bridge,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "dataDir": ipam_dir(env)}
        }));
    }
    if let Some(kind) = kind {
        plugins.push(serde_json::json!({"type": kind}));
    }
    std::fs::write(
        env.cni_conf_dir().join("10-test.conflist"),
        serde_json::json!({"cniVersion": "1.0.0", "name": "failnet", "plugins": plugins})
            .to_string(),
    )
    .unwrap();
}

/// How many times the pod's event (reason, message) was recorded
/// (from the events the supervisor appends to the store).
fn event_count(env: &Env, name: &str, reason: &str, message: &str) -> u64 {
    let path = env
        .root()
        .join("pods/default")
        .join(name)
        .join("events.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["reason"] == reason && e["message"] == message)
        .map(|e| e["count"].as_u64().unwrap_or(1))
        .sum()
}

#[test]
fn a_failing_plugin_gives_the_kubelets_event_and_is_retried_until_it_works() {
    let env = env("");
    let _bridge = Bridge("podt-fail");
    // After the bridge took an address, the plugin fails ADD (DEL
    // succeeds).
    plugin(
        &env,
        "failer",
        "cat >/dev/null\nif [ \"$CNI_COMMAND\" = ADD ]; then\n  echo '{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"the test says no\"}'\n  exit 1\nfi",
    );
    network(&env, Some("failer"), Some(("podt-fail", "10.246.3.0/24")));
    let uid = create_pod(&env, "failing");
    let wanted = format!(
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{uid}\": plugin type=\"failer\" name=\"failnet\" failed (add): the test says no"
    );
    wait_until(&env, "failing", "two FailedCreatePodSandBox events", || {
        (event_count(&env, "failing", "FailedCreatePodSandBox", &wanted) >= 2).then_some(())
    });
    assert_eq!(
        jsonpath(
            &env,
            "failing",
            "{.status.containerStatuses[0].state.waiting.reason}"
        ),
        "ContainerCreating"
    );
    assert_eq!(jsonpath(&env, "failing", "{.status.podIP}"), "");
    // Each failed ADD was undone at once: the address the bridge took is
    // free again while the pod waits.
    let seen = calls(&env);
    assert!(seen.iter().filter(|c| *c == "ADD").count() >= 2, "{seen:?}");
    assert!(seen.contains(&"DEL".to_string()), "{seen:?}");
    // (Between two attempts: one may be under way, its address taken.)
    wait_until(&env, "failing", "the address given back", || {
        leases(&ipam_dir(&env).join("failnet"))
            .is_empty()
            .then_some(())
    });

    // The configuration is mended: the next retry succeeds.
    network(&env, None, Some(("podt-fail", "10.246.3.0/24")));
    let ip = wait_until(&env, "failing", "a pod IP after the fix", || {
        let ip = jsonpath(&env, "failing", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    assert!(ip.starts_with("10.246.3."), "{ip}");
    wait_until(&env, "failing", "Running", || {
        (jsonpath(&env, "failing", "{.status.phase}") == "Running").then_some(())
    });
    delete_and_check_clean(&env, "failing", &uid);
    assert_eq!(
        leases(&ipam_dir(&env).join("failnet")),
        Vec::<String>::new()
    );
}

#[test]
fn the_containers_are_made_ready_while_the_add_runs_and_started_after_it() {
    let env = env("");
    let _bridge = Bridge("podt-slow");
    // After the bridge gave the pod its address, ADD waits for the gate,
    // then passes the bridge's result on.
    let gate = env.dir.path().join("gate");
    plugin(
        &env,
        "slow",
        &format!(
            "conf=$(cat)\nif [ \"$CNI_COMMAND\" = ADD ]; then\n  while [ ! -e {} ]; do sleep 0.05; done\n  printf '%s' \"$conf\" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\nfi",
            gate.display()
        ),
    );
    network(&env, Some("slow"), Some(("podt-slow", "10.246.7.0/24")));
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: a, image: busybox, imagePullPolicy: Never, command: [sleep, "3600"]}
  - {name: b, image: busybox, imagePullPolicy: Never, command: [sleep, "3600"]}
"#;
    let uid = create(&env, "slow", yaml);
    wait_until(&env, "slow", "the ADD under way", || {
        calls(&env).contains(&"ADD".to_string()).then_some(())
    });
    // Both containers are made ready (their roots' mount points are
    // made with the rest) while ADD waits...
    let instance = |name: &str| {
        env.run_root()
            .join("pods")
            .join(&uid)
            .join("containers")
            .join(name)
            .join("0/rootfs")
    };
    wait_until(&env, "slow", "both containers made ready", || {
        (instance("a").is_dir() && instance("b").is_dir()).then_some(())
    });
    // ... and neither has started.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        event_count(&env, "slow", "Created", "Created container: a"),
        0
    );
    assert_eq!(
        event_count(&env, "slow", "Created", "Created container: b"),
        0
    );
    assert_eq!(
        jsonpath(
            &env,
            "slow",
            "{.status.containerStatuses[*].state.waiting.reason}"
        ),
        "ContainerCreating ContainerCreating"
    );
    assert!(
        env.run_root()
            .join("pods")
            .join(&uid)
            .join("netns")
            .exists()
    );
    assert!(!calls(&env).contains(&"DEL".to_string()));

    std::fs::write(&gate, "").unwrap();
    wait_until(&env, "slow", "Running", || {
        (jsonpath(&env, "slow", "{.status.phase}") == "Running").then_some(())
    });
    // Each container's /etc/hosts is the one written after the ADD,
    // with the pod's address.
    let ip = jsonpath(&env, "slow", "{.status.podIP}");
    assert!(ip.starts_with("10.246.7."), "{ip}");
    for name in ["a", "b"] {
        let hosts = env.ok(&["exec", "slow", "-c", name, "--", "cat", "/etc/hosts"]);
        assert!(hosts.contains(&format!("{ip}\tslow")), "{name}: {hosts}");
    }
    delete_and_check_clean(&env, "slow", &uid);
}

/// The pod's container inits: processes still running `pod`'s init (not
/// a container's program yet) in the pod's cgroups.
fn held_inits(uid: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if cmdline.starts_with(b"pod-init\0__pod-container-init") && cgroup.contains(uid) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn the_inits_are_set_up_while_the_add_runs_and_their_programs_wait_for_it() {
    let env = env("");
    let _bridge = Bridge("podt-held");
    // After the bridge gave the pod its address, ADD waits for the gate;
    // then it fails once if told to (the bridge's address is given back
    // by the DEL that follows), else passes the bridge's result on.
    let gate = env.dir.path().join("gate");
    let fail = env.dir.path().join("fail");
    plugin(
        &env,
        "held",
        &format!(
            "conf=$(cat)\nif [ \"$CNI_COMMAND\" = ADD ]; then\n  while [ ! -e {gate} ]; do sleep 0.05; done\n  if [ -e {fail} ]; then\n    rm {fail}\n    echo '{{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"held, then no\"}}'\n    exit 1\n  fi\n  printf '%s' \"$conf\" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\nfi",
            gate = gate.display(),
            fail = fail.display()
        ),
    );
    network(&env, Some("held"), Some(("podt-held", "10.246.8.0/24")));
    std::fs::write(&fail, "").unwrap();
    // Each program leaves a mark in its root first.
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata: {name: held}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: a, image: busybox, imagePullPolicy: Never, command: [sh, -c, "touch /ran; exec sleep 3600"]}
  - {name: b, image: busybox, imagePullPolicy: Never, command: [sh, -c, "touch /ran; exec sleep 3600"]}
"#;
    let uid = create(&env, "held", yaml);
    wait_until(&env, "held", "the ADD under way", || {
        calls(&env).contains(&"ADD".to_string()).then_some(())
    });
    // While ADD waits, both inits run and are set up: each is in the
    // container's root (the termination log is mounted there, /etc/hosts
    // too)...
    let inits = wait_until(&env, "held", "both inits set up", || {
        let pids = held_inits(&uid);
        let set_up = |pid: i32| {
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            root.join("dev/termination-log").exists() && root.join("etc/hosts").exists()
        };
        (pids.len() == 2 && pids.iter().all(|&pid| set_up(pid))).then_some(pids)
    });
    // ... and stay there: no program has run, nothing is Created.
    std::thread::sleep(Duration::from_millis(500));
    let mut still = held_inits(&uid);
    still.sort();
    let mut sorted = inits.clone();
    sorted.sort();
    assert_eq!(still, sorted, "the held inits");
    for pid in &inits {
        assert!(
            !PathBuf::from(format!("/proc/{pid}/root/ran")).exists(),
            "a program ran before the ADD ended"
        );
    }
    for name in ["a", "b"] {
        let created = format!("Created container: {name}");
        assert_eq!(event_count(&env, "held", "Created", &created), 0);
    }

    // The ADD fails: the inits end without running anything.
    std::fs::write(&gate, "").unwrap();
    let wanted = format!(
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{uid}\": plugin type=\"held\" name=\"failnet\" failed (add): held, then no"
    );
    wait_until(&env, "held", "the failed ADD's event", || {
        (event_count(&env, "held", "FailedCreatePodSandBox", &wanted) >= 1).then_some(())
    });
    wait_until(&env, "held", "the held inits gone", || {
        inits
            .iter()
            .all(|pid| !PathBuf::from(format!("/proc/{pid}")).exists())
            .then_some(())
    });
    for name in ["a", "b"] {
        let created = format!("Created container: {name}");
        assert_eq!(event_count(&env, "held", "Created", &created), 0);
    }

    // The retry's ADD succeeds: the programs run, with the pod's address
    // in /etc/hosts.
    wait_until(&env, "held", "Running", || {
        (jsonpath(&env, "held", "{.status.phase}") == "Running").then_some(())
    });
    let ip = jsonpath(&env, "held", "{.status.podIP}");
    assert!(ip.starts_with("10.246.8."), "{ip}");
    for name in ["a", "b"] {
        let hosts = env.ok(&["exec", "held", "-c", name, "--", "cat", "/etc/hosts"]);
        assert!(hosts.contains(&format!("{ip}\theld")), "{name}: {hosts}");
        env.ok(&["exec", "held", "-c", name, "--", "test", "-e", "/ran"]);
    }
    delete_and_check_clean(&env, "held", &uid);
}

#[test]
fn a_hung_plugin_times_out_and_delete_does_not_wait_for_it() {
    let env = env("cniPluginTimeout: 1s\n");
    let pidfile = env.dir.path().join("sleeper");
    plugin(
        &env,
        "hang",
        &format!(
            "if [ \"$CNI_COMMAND\" = ADD ]; then sleep 1000 & echo $! > {}; wait; fi",
            pidfile.display()
        ),
    );
    network(&env, Some("hang"), None);
    let uid = create_pod(&env, "hung");
    let wanted = format!(
        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{uid}\": plugin type=\"hang\" name=\"failnet\" failed (add): plugin timed out after 1s"
    );
    wait_until(&env, "hung", "the timeout's event", || {
        (event_count(&env, "hung", "FailedCreatePodSandBox", &wanted) >= 1).then_some(())
    });
    let sleeper: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = |pid: i32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty() || stat.contains(") Z ")
    };
    wait_until(&env, "hung", "the timed-out plugin's child killed", || {
        gone(sleeper).then_some(())
    });

    // Now a plugin that would hang for ten minutes: delete stops it.
    env.node_config(&format!(
        "cniBinDirs: [{}, /usr/lib/cni]\ncniPluginTimeout: 600s\n",
        bin(&env).display()
    ));
    std::fs::remove_file(&pidfile).unwrap();
    wait_until(&env, "hung", "the next ADD", || {
        pidfile.exists().then_some(())
    });
    let sleeper: i32 = wait_until(&env, "hung", "the plugin's pid", || {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    });
    let started = Instant::now();
    delete_and_check_clean(&env, "hung", &uid);
    // Well inside the plugin's ten minutes, whatever the load.
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "delete took {:?}",
        started.elapsed()
    );
    assert!(gone(sleeper), "the hung plugin's child is still running");
}

#[test]
fn a_del_after_a_crash_frees_the_address() {
    let env = env("");
    let _bridge = Bridge("podt-crash");
    network(&env, None, Some(("podt-crash", "10.246.4.0/24")));
    let uid = create(&env, "crashed", &pod("crashed"));
    let ip = wait_until(&env, "crashed", "a pod IP", || {
        let ip = jsonpath(&env, "crashed", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    assert_eq!(leases(&ipam_dir(&env).join("failnet")), vec![ip]);
    // The supervisor and the pause die, and the namespace goes with the
    // unmounted pin: nothing of the pod's network is left to look at.
    let run_dir = env.run_root().join("pods").join(&uid);
    common::pods::kill_supervisor_for_good(&env, &uid);
    let processes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("processes.json")).unwrap()).unwrap();
    let pause = processes["(pause)"]["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the pod's pause process.
    unsafe { libc::kill(pause, libc::SIGKILL) };
    let pin = run_dir.join("netns");
    nix::mount::umount2(&pin, nix::mount::MntFlags::MNT_DETACH).unwrap();
    env.ok(&["delete", "pod", "crashed", "--grace-period=0", "--force"]);
    assert_eq!(
        leases(&ipam_dir(&env).join("failnet")),
        Vec::<String>::new()
    );
    assert!(
        !env.root()
            .join("cni/results")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
}

/// The cached attachments (file names) of the environment.
fn cached(env: &Env) -> Vec<String> {
    let Ok(entries) = env.root().join("cni/results").read_dir() else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The notes of failed DELs (file name, note).
fn retry_notes(env: &Env) -> Vec<(String, serde_json::Value)> {
    let Ok(entries) = env.root().join("cni/retry").read_dir() else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            let note = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), note)
        })
        .collect()
}

#[test]
fn a_del_that_failed_is_retried_by_a_later_teardown_and_frees_the_address() {
    let env = env("");
    let _bridge = Bridge("podt-retry");
    // portmap after the bridge, whose DEL fails while the file `block`
    // exists (so the bridge's DEL, which frees the address, never runs).
    let block = env.dir.path().join("block");
    std::fs::write(&block, "").unwrap();
    plugin(
        &env,
        "flaky",
        &format!(
            "if [ \"$CNI_COMMAND\" = DEL ] && [ -e {block} ]; then\n  cat >/dev/null\n  echo '{{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"not this time\"}}'\n  exit 1\nfi\nexec /usr/lib/cni/portmap",
            block = block.display()
        ),
    );
    network(&env, Some("flaky"), Some(("podt-retry", "10.246.6.0/24")));
    let gone = create(&env, "gone", &pod("gone"));
    let other = create(&env, "other", &pod("other"));
    let ip = wait_until(&env, "gone", "a pod IP", || {
        let ip = jsonpath(&env, "gone", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    wait_until(&env, "other", "Running", || {
        (jsonpath(&env, "other", "{.status.phase}") == "Running").then_some(())
    });
    let dels = || calls(&env).iter().filter(|c| *c == "DEL").count();
    assert_eq!(dels(), 0);

    // The DEL fails: delete does not wait for it, the pod is gone, its
    // address and attachment are kept, and the failure is noted. (Its own
    // supervisor retries it at its end if the first back-off, 1 s, is
    // over by then, which a loaded machine allows: failing again.)
    env.ok(&["delete", "pod", "gone", "--grace-period=1"]);
    assert!(env.fails(&["get", "pod", "gone"]).contains("NotFound"));
    wait_until(&env, "other", "the end of gone's supervisor", || {
        common::pods::leftovers(&env, &gone)
            .is_empty()
            .then_some(())
    });
    assert!(leases(&ipam_dir(&env).join("failnet")).contains(&ip));
    let attachment = format!("failnet-{gone}-eth0");
    assert!(cached(&env).contains(&attachment), "{:?}", cached(&env));
    let notes = retry_notes(&env);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, attachment);
    let failures = notes[0].1["failures"].as_u64().unwrap();
    assert!((1..=2).contains(&failures), "{notes:?}");
    assert_eq!(dels() as u64, failures, "one failure noted per DEL");
    assert_eq!(
        notes[0].1["error"],
        "plugin type=\"flaky\" name=\"failnet\" failed (delete): not this time"
    );

    // The plugin mended and the note due (1 s after it was written, 2 s
    // after a second failure), the next supervisor's end retries it (once
    // it answered its delete).
    std::fs::remove_file(&block).unwrap();
    let written = std::fs::metadata(env.root().join("cni/retry").join(&attachment))
        .unwrap()
        .modified()
        .unwrap();
    let due = written + Duration::from_secs(1 << (failures - 1)) + Duration::from_millis(200);
    if let Ok(left) = due.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left);
    }
    delete_and_check_clean(&env, "other", &other);
    wait_until(&env, "gone", "the retried DEL", || {
        leases(&ipam_dir(&env).join("failnet"))
            .is_empty()
            .then_some(())
    });
    // The other pod's DEL, then the retried one.
    assert_eq!(dels() as u64, failures + 2);
    assert_eq!(cached(&env), Vec::<String>::new());
    assert_eq!(retry_notes(&env), Vec::new());
}

/// The cache file names of the pods `uids` on the network "gcnet",
/// sorted as `cached` lists them.
fn attachments(uids: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = uids.iter().map(|u| format!("gcnet-{u}-eth0")).collect();
    names.sort();
    names
}

#[test]
fn gc_at_the_nodes_start_deletes_what_no_pod_holds_and_runs_the_plugins_gc_once_per_boot() {
    let env = env("");
    // A plugin of spec 1.1.0 that logs each command with its container id
    // and stdin, answers ADD with an address, and fails DEL while
    // `fail-del` exists.
    let log = env.dir.path().join("gclog");
    let fail = env.dir.path().join("fail-del");
    plugin(
        &env,
        "rec",
        &format!(
            r#"in=$(cat)
echo "$CNI_COMMAND|$CNI_CONTAINERID|$in" >> {log}
if [ "$CNI_COMMAND" = DEL ] && [ -e {fail} ]; then
  echo '{{"cniVersion":"1.1.0","code":100,"msg":"not now"}}'; exit 1
fi
if [ "$CNI_COMMAND" = ADD ]; then
  printf '%s' '{{"cniVersion":"1.1.0","interfaces":[{{"name":"eth0","sandbox":"/x"}}],"ips":[{{"interface":0,"address":"10.247.0.2/24"}}]}}'
fi"#,
            log = log.display(),
            fail = fail.display()
        ),
    );
    std::fs::write(
        env.cni_conf_dir().join("10-gc.conflist"),
        r#"{"cniVersion":"1.1.0","name":"gcnet","plugins":[{"type":"rec"}]}"#,
    )
    .unwrap();
    let logged = || -> Vec<(String, String, serde_json::Value)> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut parts = l.splitn(3, '|');
                let command = parts.next().unwrap().to_string();
                let id = parts.next().unwrap().to_string();
                (
                    command,
                    id,
                    serde_json::from_str(parts.next().unwrap()).unwrap(),
                )
            })
            .collect()
    };
    let running = |name: &str| {
        wait_until(&env, name, "Running", || {
            (jsonpath(&env, name, "{.status.phase}") == "Running").then_some(())
        })
    };
    let a = create(&env, "a", &pod("a"));
    running("a");
    // The node's first set-up ran GC (nothing valid yet), then ADD.
    let seen = logged();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].0.as_str(), seen[0].1.as_str()), ("GC", ""));
    assert_eq!(
        seen[0].2["cni.dev/valid-attachments"],
        serde_json::json!([])
    );
    assert_eq!(
        (seen[1].0.as_str(), seen[1].1.as_str()),
        ("ADD", a.as_str())
    );
    let b = create(&env, "b", &pod("b"));
    running("b");
    assert_eq!(logged().len(), 3, "no GC for the second pod");

    // b's DEL fails: its attachment stays cached.
    std::fs::write(&fail, "").unwrap();
    env.ok(&["delete", "pod", "b", "--grace-period=1"]);
    assert_eq!(cached(&env), attachments(&[&a, &b]));
    std::fs::remove_file(&fail).unwrap();

    // A reboot empties the run root (its GC mark with it); the node's
    // start, `pod up`, collects: b's DEL, then the plugins' GC told that
    // a's attachment is valid (a runs, and is left to its supervisor).
    std::fs::remove_file(env.run_root().join("cni-gc")).unwrap();
    let before = logged().len();
    env.ok(&["up"]);
    let seen = logged();
    let after: Vec<(&str, &str)> = seen[before..]
        .iter()
        .map(|(cmd, id, _)| (cmd.as_str(), id.as_str()))
        .collect();
    assert_eq!(after, [("DEL", b.as_str()), ("GC", "")]);
    assert_eq!(
        seen[before + 1].2["cni.dev/valid-attachments"],
        serde_json::json!([{"containerID": a, "ifname": "eth0"}])
    );
    assert_eq!(seen[before + 1].2["cniVersion"], "1.1.0");
    assert_eq!(cached(&env), attachments(&[&a]));
    // Once per boot: the next set-up only adds.
    let c = create(&env, "c", &pod("c"));
    running("c");
    let after: Vec<(String, String)> = logged()[before + 2..]
        .iter()
        .map(|(cmd, id, _)| (cmd.clone(), id.clone()))
        .collect();
    assert_eq!(after, [("ADD".to_string(), c.clone())]);
    assert_eq!(cached(&env), attachments(&[&a, &c]));
    delete_and_check_clean(&env, "a", &a);
    delete_and_check_clean(&env, "c", &c);
    assert_eq!(cached(&env), Vec::<String>::new());
}

#[test]
fn a_retried_del_that_hangs_does_not_slow_another_pods_delete() {
    let env = env("cniPluginTimeout: 15s\n");
    // DEL of the pod "slow" hangs (until the time limit kills it).
    plugin(
        &env,
        "hangdel",
        r#"cat >/dev/null
case "$CNI_COMMAND $CNI_ARGS" in
  "DEL "*K8S_POD_NAME=slow*) exec sleep 1000 ;;
  ADD*) printf '%s' '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.247.1.2/24"}]}' ;;
esac"#,
    );
    network(&env, Some("hangdel"), None);
    let slow = create(&env, "slow", &pod("slow"));
    let quick = create(&env, "quick", &pod("quick"));
    for name in ["slow", "quick"] {
        wait_until(&env, name, "Running", || {
            (jsonpath(&env, name, "{.status.phase}") == "Running").then_some(())
        });
    }
    env.ok(&["delete", "pod", "slow", "--grace-period=1"]);
    let notes = retry_notes(&env);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0].1["error"],
        "plugin type=\"hangdel\" name=\"failnet\" failed (delete): plugin timed out after 15s"
    );
    // Due: quick's supervisor retries it, after answering its delete.
    std::thread::sleep(Duration::from_millis(1200));
    env.ok(&["delete", "pod", "quick", "--grace-period=1"]);
    // The delete is answered before the retry, which hangs for its 15 s:
    // it has not failed again when the delete returns.
    let notes = retry_notes(&env);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].1["failures"], 1, "the delete waited for the retry");
    wait_until(&env, "slow", "the retry's second failure", || {
        let notes = retry_notes(&env);
        (notes.len() == 1 && notes[0].1["failures"] == 2).then_some(())
    });
    assert_eq!(cached(&env), [format!("failnet-{slow}-eth0")]);
    // The plugin mended, the next boot's GC (at the next pod's set-up)
    // deletes it.
    plugin(
        &env,
        "hangdel",
        r#"cat >/dev/null
[ "$CNI_COMMAND" = ADD ] && printf '%s' '{"cniVersion":"1.0.0","ips":[{"address":"10.247.1.3/24"}]}'
exit 0"#,
    );
    std::fs::remove_file(env.run_root().join("cni-gc")).unwrap();
    let last = create(&env, "last", &pod("last"));
    wait_until(&env, "last", "Running", || {
        (jsonpath(&env, "last", "{.status.phase}") == "Running").then_some(())
    });
    assert_eq!(cached(&env), [format!("failnet-{last}-eth0")]);
    assert_eq!(retry_notes(&env), Vec::new());
    assert!(!cached(&env).contains(&format!("failnet-{quick}-eth0")));
    delete_and_check_clean(&env, "last", &last);
}
