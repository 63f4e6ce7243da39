//! Attacks on volume mounts through real pods (root): a sibling container
//! racing a subPath with a symlink to the host's root, a subPath symlink
//! out of its volume, volumes over /proc, read-only volumes with mounts
//! inside them. Each must fail. (The race itself, won against paths
//! resolved as strings and lost against fds, is also shown in one process
//! by the unit test `runtime::bind::tests`.)

mod common;

use common::pods::{create, delete_and_check_clean, jsonpath, wait_log, wait_until};
use common::{Env, import_busybox};

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// A tmpfs mounted on the host for a test (with `options`), unmounted with
/// whatever is under it when dropped.
struct HostTmpfs {
    dir: tempfile::TempDir,
}

impl HostTmpfs {
    fn new(options: &str) -> HostTmpfs {
        let dir = tempfile::Builder::new()
            .prefix("pod-test-mounts-")
            .tempdir()
            .unwrap();
        mount_tmpfs(dir.path(), options);
        HostTmpfs { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l"])
            .arg(self.dir.path())
            .status();
    }
}

fn mount_tmpfs(path: &std::path::Path, options: &str) {
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mounting a tmpfs at {}", path.display());
}

/// Every log line of every instance of `container`.
fn all_logs(env: &Env, name: &str, uid: &str, container: &str) -> String {
    let dir = env
        .root()
        .join("logs")
        .join(format!("default_{name}_{uid}"))
        .join(container);
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    text
}

/// A container keeps replacing the directory `d` of a shared emptyDir
/// with a symlink to `/` and back, while four others start again and again with
/// subPath `d` (200 attempts at least): each must see the volume's
/// directory or not start (CreateContainerConfigError, or a start error
/// when the directory went away under it), never the host's root. With the subPath
/// resolved as a string in the supervisor and bound by name in the init,
/// as before, this race was won within a few starts.
#[test]
fn a_sub_path_raced_with_a_symlink_to_the_host_root_never_shows_the_host() {
    let env = env();
    // What only the host's root shows.
    let marker = env.dir.path().join("HOST-ROOT-MARKER");
    std::fs::write(&marker, b"host").unwrap();
    let victims: String = (0..4)
        .map(|i| {
            format!(
                r#"
  - name: victim{i}
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: shared, mountPath: /data, subPath: d}}
    command: [sh, -c, 'if [ -e /data{marker} ]; then echo ESCAPED; else echo CONTAINED; fi; sleep 0.05']
"#,
                marker = marker.display()
            )
        })
        .collect();
    let manifest = format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: race
spec:
  volumes:
  - {{name: shared, emptyDir: {{}}}}
  initContainers:
  - name: setup
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: shared, mountPath: /vol}}
    command: [sh, -c, 'mkdir -p /vol/d']
  containers:
  - name: swapper
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: shared, mountPath: /vol}}
    command: [sh, -c, 'cd /vol; while true; do rm -rf d; ln -sn / d; usleep 1000; rm -f d; mkdir d; usleep 1000; done 2>/dev/null']
{victims}"#
    );
    let file = env.manifest("race.yaml", &manifest);
    let out = env
        .pod()
        .env("POD_BACKOFF_INITIAL", "10ms")
        .env("POD_BACKOFF_MAX", "10ms")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let uid = jsonpath(&env, "race", "{.metadata.uid}");

    let runs = |env: &Env| {
        (0..4)
            .map(|i| all_logs(env, "race", &uid, &format!("victim{i}")))
            .collect::<String>()
    };
    // Attempts: starts that ran or failed on the way (a mount source swapped
    // away between its resolution and the attach); subPath refusals come
    // on top, uncounted (the kubelet does not count them as restarts).
    let attempts = |env: &Env| -> usize {
        jsonpath(env, "race", "{.status.containerStatuses[*].restartCount}")
            .split_whitespace()
            .filter_map(|n| n.parse::<usize>().ok())
            .sum()
    };
    const ATTEMPTS: usize = 200;
    const MIN_CONTAINED: usize = 5;
    // Long: on a loaded machine every attempt is a slow container start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let logs = runs(&env);
        assert!(!logs.contains("ESCAPED"), "a container saw the host's root");
        let done = attempts(&env) >= ATTEMPTS && logs.matches("CONTAINED").count() >= MIN_CONTAINED;
        if done || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let logs = runs(&env);
    let (contained, escaped, attempts) = (
        logs.matches("CONTAINED").count(),
        logs.matches("ESCAPED").count(),
        attempts(&env),
    );
    eprintln!("{attempts} attempts: {contained} saw the volume, {escaped} the host's root");
    assert_eq!(escaped, 0, "a container saw the host's root");
    assert!(
        attempts >= ATTEMPTS && contained >= MIN_CONTAINED,
        "only {attempts} attempts, {contained} of them started, in the time given: the race was not run enough"
    );
    delete_and_check_clean(&env, "race", &uid);
}

/// A subPath that is a symlink out of its volume (absolute, or `..` past
/// the volume) fails the container with the kubelet's message; one that
/// stays inside works.
#[test]
fn a_sub_path_symlink_out_of_the_volume_is_refused() {
    let env = env();
    let uid = create(
        &env,
        "links",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: links
spec:
  volumes:
  - {name: shared, emptyDir: {}}
  initContainers:
  - name: setup
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: shared, mountPath: /vol}
    command: [sh, -c, 'mkdir -p /vol/real && echo inside > /vol/real/file && ln -s / /vol/abs && ln -s ../../../.. /vol/up && ln -s real /vol/rel']
  containers:
  - name: absolute
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: shared, mountPath: /data, subPath: abs}
    command: [sleep, "3600"]
  - name: relative
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: shared, mountPath: /data, subPath: up/etc}
    command: [sleep, "3600"]
  - name: inside
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: shared, mountPath: /data, subPath: rel}
    command: [sh, -c, 'cat /data/file; ls /proc/self/fd; echo listed; sleep 3600']
"#,
    );
    for (i, container) in [(0, "absolute"), (1, "relative")] {
        let state = wait_until(&env, "links", "the subPath refusal", || {
            let state = jsonpath(
                &env,
                "links",
                &format!("{{.status.containerStatuses[{i}].state.waiting}}"),
            );
            state
                .contains("CreateContainerConfigError")
                .then_some(state)
        });
        assert!(
            state.contains(&format!(
                r#"failed to prepare subPath for volumeMount \"shared\" of container \"{container}\""#
            )),
            "{state}"
        );
    }
    // Waits for the end of the listing, not its first line: the log may
    // hold the file's line before ls has written anything.
    let log = wait_log(&env, "links", &uid, "inside", "listed\n");
    assert_eq!(log.lines().next(), Some("inside"), "{log}");
    // Nothing of the runtime's (no host directory) is left open in the
    // container: stdin, stdout, stderr and ls's own directory.
    let fds: Vec<&str> = log
        .lines()
        .skip(1)
        .take_while(|line| *line != "listed")
        .collect();
    assert_eq!(
        fds,
        ["0", "1", "2", "3"],
        "open fds in the container: {log}"
    );
    delete_and_check_clean(&env, "links", &uid);
}

/// Volumes over /proc or under it are refused as runc refuses them; the
/// rest of the pod runs.
#[test]
fn a_volume_mount_over_proc_is_refused() {
    let env = env();
    let uid = create(
        &env,
        "procmount",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: procmount
spec:
  restartPolicy: Never
  volumes:
  - {name: scratch, emptyDir: {}}
  containers:
  - name: over
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: scratch, mountPath: /proc}
    command: ["true"]
  - name: under
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: scratch, mountPath: /tmp/../proc/sys/kernel}
    command: ["true"]
  - name: fine
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {name: scratch, mountPath: /procfs}
    command: [sh, -c, 'echo mounted; sleep 3600']
"#,
    );
    let expect = [
        (
            0,
            r#"check proc-safety of /proc mount: \"/proc\" cannot be mounted because it is not of type proc"#,
        ),
        (
            1,
            r#"check proc-safety of /tmp/../proc/sys/kernel mount: \"/proc/sys/kernel\" cannot be mounted because it is inside /proc"#,
        ),
    ];
    for (i, message) in expect {
        let state = wait_until(&env, "procmount", "the refusal", || {
            let state = jsonpath(
                &env,
                "procmount",
                &format!("{{.status.containerStatuses[{i}].state.terminated}}"),
            );
            state.contains("StartError").then_some(state)
        });
        assert!(state.contains(message), "{state}");
    }
    wait_log(&env, "procmount", &uid, "fine", "mounted");
    delete_and_check_clean(&env, "procmount", &uid);
}

/// A read-only hostPath volume holding a mount of its own: with
/// recursiveReadOnly Enabled the inner mount is read-only too; with a
/// plain readOnly (the weaker set-up, as the kubelet does it) only the top
/// is. Either way the source's nosuid/nodev/noexec stay.
#[test]
fn a_recursive_read_only_volume_is_read_only_all_the_way_down() {
    let env = env();
    let host = HostTmpfs::new("nosuid,nodev,noexec,mode=0755");
    let nested = host.path().join("nested");
    std::fs::create_dir(&nested).unwrap();
    mount_tmpfs(&nested, "nosuid,nodev,mode=0777");
    let uid = create(
        &env,
        "rro",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: rro
spec:
  volumes:
  - name: tree
    hostPath: {{path: {}, type: Directory}}
  containers:
  - name: check
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: tree, mountPath: /rro, readOnly: true, recursiveReadOnly: Enabled}}
    - {{name: tree, mountPath: /ro, readOnly: true}}
    command:
    - sh
    - -c
    - |
      for f in /rro/top /rro/nested/x /ro/top /ro/nested/x; do
        if touch $f 2>/dev/null; then echo "$f writable"; else echo "$f read-only"; fi
      done
      for m in /rro /rro/nested /ro /ro/nested; do
        echo "$m $(awk -v m=$m '$5 == m {{print $6}}' /proc/self/mountinfo)"
      done
      echo done
      sleep 3600
"#,
            host.path().display()
        ),
    );
    let log = wait_log(&env, "rro", &uid, "check", "done");
    for line in [
        "/rro/top read-only",
        "/rro/nested/x read-only",
        "/ro/top read-only",
        // The weaker set-up: plain readOnly leaves the inner mount writable.
        "/ro/nested/x writable",
        "/rro ro,nosuid,nodev,noexec,relatime",
        "/rro/nested ro,nosuid,nodev,relatime",
        "/ro ro,nosuid,nodev,noexec,relatime",
        "/ro/nested rw,nosuid,nodev,relatime",
    ] {
        assert!(log.lines().any(|l| l == line), "no {line:?} in:\n{log}");
    }
    delete_and_check_clean(&env, "rro", &uid);
}
