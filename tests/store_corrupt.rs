//! A corrupt or truncated file in the state directory (issue 18): a
//! pod's status record, its manifest, a ConfigMap, the supervisor's pid
//! file and process list. Each gives one line on stderr naming the file,
//! never a panic; `get` and `describe` still show the other objects; and
//! `delete` still stops and removes a pod whose status or records are
//! damaged.

mod common;

use std::path::PathBuf;

use common::pods::{create, delete_and_check_clean, jsonpath, leftovers, wait_until};
use common::{Env, import_busybox};

fn env_with_pods(names: &[&str]) -> (Env, Vec<String>) {
    let env = Env::new();
    import_busybox(&env.root());
    let uids = names
        .iter()
        .map(|name| {
            let yaml = format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo hello; exec sleep 3600']\n"
            );
            create(&env, name, &yaml)
        })
        .collect();
    for name in names {
        wait_until(&env, name, "Running", || {
            (jsonpath(&env, name, "{.status.phase}") == "Running").then_some(())
        });
    }
    (env, uids)
}

fn pod_file(env: &Env, name: &str, file: &str) -> PathBuf {
    env.root().join("pods/default").join(name).join(file)
}

/// Cuts a file to half its length, as a torn write would leave it.
fn truncate(path: &PathBuf) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

/// (exit code, stdout, stderr) of `pod ARGS`; stderr is one line.
fn run_one_line(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = env.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "pod {args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "pod {args:?}: {stderr:?}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Deletes the pod and waits until the host holds nothing of it (other
/// pods of the environment keep theirs).
fn delete_and_check_gone(env: &Env, name: &str, uid: &str) {
    env.ok(&["delete", "pod", name, "--grace-period=2"]);
    wait_gone(env, name, uid);
}

/// Waits until the host holds nothing of pod `uid`.
fn wait_gone(env: &Env, name: &str, uid: &str) {
    let mine = || -> Vec<String> {
        leftovers(env, uid)
            .into_iter()
            .filter(|l| l.contains(uid))
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !mine().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(mine(), Vec::<String>::new(), "left behind by pod {name}");
}

fn names(table: &str) -> Vec<&str> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn a_torn_status_record_is_named_and_its_pod_still_deleted() {
    let (env, uids) = env_with_pods(&["a", "b", "c"]);
    let status = pod_file(&env, "b", "status.json");
    truncate(&status);
    let wanted = format!(
        "error: corrupt state file {}: EOF while parsing",
        status.display()
    );

    let (code, stdout, stderr) = run_one_line(&env, &["get", "pods"]);
    assert_eq!((code, names(&stdout)), (1, vec!["a", "c"]));
    assert!(stderr.starts_with(&wanted), "{stderr}");

    let (code, stdout, stderr) = run_one_line(&env, &["describe", "pods"]);
    assert_eq!(code, 1);
    let described: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Name:")).collect();
    assert_eq!(described.len(), 2, "{stdout}");
    assert!(stderr.starts_with(&wanted), "{stderr}");

    for args in [
        &["get", "pod", "b", "-o", "yaml"][..],
        &["describe", "pod", "b"],
    ] {
        let (code, _, stderr) = run_one_line(&env, args);
        assert_eq!(code, 1);
        assert!(stderr.starts_with(&wanted), "{stderr}");
    }

    // The logs are files of their own: shown, with a warning naming the
    // damaged record.
    let (code, stdout, stderr) = run_one_line(&env, &["logs", "b"]);
    assert_eq!((code, stdout.as_str()), (0, "hello\n"));
    assert!(
        stderr.starts_with(&format!(
            "Warning: corrupt state file {}: EOF while parsing",
            status.display()
        )),
        "{stderr}"
    );

    // Deleting acts on the manifest: the damaged status does not stop it.
    delete_and_check_gone(&env, "b", &uids[1]);
    let listed = env.ok(&["get", "pods"]);
    assert_eq!(names(&listed), ["a", "c"]);
}

#[test]
fn a_torn_manifest_or_config_map_is_named_and_the_others_listed() {
    let (env, uids) = env_with_pods(&["a", "c"]);
    let manifest = pod_file(&env, "c", "pod.json");
    truncate(&manifest);
    let wanted = format!(
        "error: corrupt state file {}: EOF while parsing",
        manifest.display()
    );
    let (code, stdout, stderr) = run_one_line(&env, &["get", "pods", "-o", "wide"]);
    assert_eq!((code, names(&stdout)), (1, vec!["a"]));
    assert!(stderr.starts_with(&wanted), "{stderr}");
    // Without its manifest the pod is found by its uid (its log
    // directory's name): its supervisor stops it, and what it left is
    // removed, the damaged record last. The delete says which file was
    // damaged.
    let (code, stdout, stderr) = run_one_line(&env, &["delete", "pod", "c", "--grace-period=2"]);
    assert_eq!((code, stdout.as_str()), (0, "pod \"c\" deleted\n"));
    assert!(
        stderr.starts_with(&format!(
            "Warning: corrupt state file {}: EOF while parsing",
            manifest.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("deleting pod \"c\" by what its uid left")
    );
    wait_gone(&env, "c", &uids[1]);
    assert!(!manifest.parent().unwrap().exists());
    assert!(
        !env.root()
            .join(format!("logs/default_c_{}", uids[1]))
            .exists()
    );
    assert_eq!(names(&env.ok(&["get", "pods"])), ["a"]);

    let file = env.manifest(
        "cms.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n",
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let record = env.root().join("configmaps/default/one.json");
    truncate(&record);
    let (code, stdout, stderr) = run_one_line(&env, &["get", "cm"]);
    assert_eq!((code, names(&stdout)), (1, vec!["two"]));
    assert!(
        stderr.starts_with(&format!("error: corrupt state file {}", record.display())),
        "{stderr}"
    );
}

/// (exit code, stdout, stderr) of `pod ARGS`, failing the test if it has
/// not ended within a minute (it is killed first) instead of hanging it.
fn run_within_a_minute(env: &Env, args: &[&str]) -> (i32, String, String) {
    use std::io::Read;
    let mut child = env
        .pod()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pod {args:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code().unwrap_or(-1), stdout, stderr)
}

/// A FIFO in place of a pod's status record (only root can put one
/// there): `get` names the file at once, where it waited for a writer
/// for good; the supervisor's next status write replaces it, where its
/// writer waited, so that `delete` never ended.
#[test]
fn a_fifo_in_a_records_place_is_named_not_waited_on() {
    let (env, uids) = env_with_pods(&["a", "b"]);
    let status = pod_file(&env, "b", "status.json");
    std::fs::remove_file(&status).unwrap();
    nix::unistd::mkfifo(&status, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (code, stdout, stderr) = run_within_a_minute(&env, &["get", "pods"]);
    assert_eq!((code, names(&stdout)), (1, vec!["a"]));
    assert_eq!(
        stderr,
        format!("error: reading {}: not a regular file\n", status.display())
    );
    let (code, stdout, stderr) =
        run_within_a_minute(&env, &["delete", "pod", "b", "--grace-period=1"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "pod \"b\" deleted\n"),
        "{stderr}"
    );
    wait_gone(&env, "b", &uids[1]);
    assert_eq!(names(&env.ok(&["get", "pods"])), ["a"]);
}

#[test]
fn delete_all_takes_a_pod_with_a_torn_manifest_and_a_dead_supervisor() {
    let (env, uids) = env_with_pods(&["a", "b"]);
    common::pods::kill_supervisor_for_good(&env, &uids[0]);
    truncate(&pod_file(&env, "a", "pod.json"));
    let out = env.run(&["delete", "pods", "--all", "--grace-period=1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pod \"a\" deleted\npod \"b\" deleted\n"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for (name, uid) in ["a", "b"].iter().zip(&uids) {
        wait_gone(&env, name, uid);
    }
    assert_eq!(env.ok(&["get", "pods", "-A"]), "");
    let logs: Vec<_> = std::fs::read_dir(env.root().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(logs.is_empty(), "{logs:?}");
}

#[test]
fn damaged_supervisor_records_do_not_keep_the_pod_from_being_stopped_gracefully() {
    let env = Env::new();
    import_busybox(&env.root());
    let out = env.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // The container says goodbye on SIGTERM: only a stop by its supervisor
    // (not a cleanup that kills everything) lets it.
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  terminationGracePeriodSeconds: 5\n  volumes: [{{name: out, hostPath: {{path: {}}}}}]\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    volumeMounts: [{{name: out, mountPath: /out}}]\n    command: [sh, -c, 'trap \"echo bye > /out/bye; exit 0\" TERM; echo up > /out/up; while true; do sleep 0.2; done']\n",
        out.display()
    );
    let uid = create(&env, "a", &yaml);
    wait_until(&env, "a", "the container to run", || {
        out.join("up").exists().then_some(())
    });
    let run_dir = env.run_root().join("pods").join(&uid);
    let pid_file = run_dir.join("supervisor.pid");
    // A pid file replaced by garbage (its lock gone with the old file)
    // and a torn process list.
    std::fs::remove_file(&pid_file).unwrap();
    std::fs::write(&pid_file, "garbage\n").unwrap();
    truncate(&run_dir.join("processes.json"));

    // Without a supervisor it can name, the pod reads as Unknown: no error.
    let listed = env.ok(&["get", "pods"]);
    assert_eq!(names(&listed), ["a"]);
    assert!(listed.contains("Unknown"), "{listed}");

    // The delete still reaches the supervisor through its socket, which
    // stops the container with SIGTERM, then cleans up and exits.
    delete_and_check_clean(&env, "a", &uid);
    assert_eq!(
        std::fs::read_to_string(out.join("bye")).unwrap_or_default(),
        "bye\n",
        "the container was not stopped by its supervisor"
    );
}
