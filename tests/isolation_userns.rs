//! `hostUsers: false`, run for real (root): the pod in a user namespace of
//! its own, whose root is an unprivileged id of the host. Each attack is
//! first run in a `hostUsers: true` pod, where root in the container is
//! root on the host, to show it works there; then it must fail.

mod common;

use std::os::unix::fs::MetadataExt;

use common::pods::{create, delete_and_check_clean, wait_log};
use common::{Env, import_busybox};

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// The first host id and size of a pod's user namespace, from a
/// `/proc/self/uid_map` line printed by the container.
fn mapping(log: &str, label: &str) -> Option<(u64, u64)> {
    let line = log.lines().find_map(|l| l.strip_prefix(label))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    (fields.len() == 3 && fields[0] == 0).then(|| (fields[1], fields[2]))
}

/// The host's view of a process's real uid and gid (`/proc/<pid>/status`).
fn host_ids(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("Uid:"), field("Gid:"))
}

/// The host pid of container `main` of pod `uid` (the runtime's record).
fn container_pid(env: &Env, uid: &str) -> i32 {
    let record = env
        .run_root()
        .join("pods")
        .join(uid)
        .join("containers/main/state.json");
    let text = std::fs::read_to_string(&record).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["pid"].as_i64().unwrap() as i32
}

/// A pod whose container runs `script`, then prints "end" and sleeps (so
/// the host can look at its process). `host_users` is the pod's
/// `hostUsers`; /scratch is an emptyDir, /hostfile a hostPath file.
fn start(env: &Env, name: &str, host_users: bool, hostfile: &str, script: &str) -> String {
    create(
        env,
        name,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  hostUsers: {host_users}
  restartPolicy: Never
  volumes:
  - name: scratch
    emptyDir: {{}}
  - name: hostfile
    hostPath: {{path: {hostfile}, type: File}}
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
    - {{name: hostfile, mountPath: /hostfile}}
    command: [sh, -c, '{script}; echo end; exec sleep 1000']
"#
        ),
    )
}

/// What the container reports about itself and tries against the host: a
/// file in its emptyDir, a write to a root-owned host file, a device node.
const PROBE: &str = "echo id=$(id -u):$(id -g); echo map=$(cat /proc/self/uid_map); echo gmap=$(cat /proc/self/gid_map); \
    touch /scratch/made && echo made; \
    if echo pwned >> /hostfile; then echo hostfile-written; else echo hostfile-refused; fi; \
    if mknod /tmp/null c 1 3; then echo mknod-done; else echo mknod-refused; fi; \
    ls -ln / | grep \" etc$\"; touch /etc/new && echo root-writable";

struct Probe {
    log: String,
    uid: String,
    host_ids: (u64, u64),
    made_owner: (u32, u32),
}

fn probe(env: &Env, name: &str, host_users: bool, hostfile: &str) -> Probe {
    let uid = start(env, name, host_users, hostfile, PROBE);
    let log = wait_log(env, name, &uid, "main", "end");
    let pid = container_pid(env, &uid);
    let made = std::fs::metadata(
        env.root()
            .join("pods/default")
            .join(name)
            .join("volumes/empty-dir/scratch/made"),
    )
    .unwrap_or_else(|e| panic!("the file the container made: {e}\n{log}"));
    Probe {
        host_ids: host_ids(pid),
        made_owner: (made.uid(), made.gid()),
        log,
        uid,
    }
}

/// A file only host root may write, for the hostPath attack.
fn root_file(env: &Env) -> String {
    let path = env.dir.path().join("root-only");
    std::fs::write(&path, "host\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // The test directory itself is only root's; the file must be reachable
    // by path for the hostPath check, which runs as root anyway.
    path.to_string_lossy().into_owned()
}

#[test]
fn root_in_a_host_users_false_pod_is_nobody_on_the_host() {
    let env = env();
    let hostfile = root_file(&env);

    // Weakened: hostUsers true. Root in the container is root on the host.
    let host = probe(&env, "host-users", true, &hostfile);
    assert!(host.log.contains("id=0:0\n"), "{}", host.log);
    assert_eq!(
        mapping(&host.log, "map="),
        Some((0, 4294967295)),
        "{}",
        host.log
    );
    assert_eq!(host.host_ids, (0, 0));
    assert_eq!(host.made_owner, (0, 0));
    assert!(host.log.contains("hostfile-written\n"), "{}", host.log);
    assert!(host.log.contains("mknod-done\n"), "{}", host.log);
    assert!(host.log.contains("root-writable\n"), "{}", host.log);
    assert_eq!(std::fs::read_to_string(&hostfile).unwrap(), "host\npwned\n");
    std::fs::write(&hostfile, "host\n").unwrap();
    delete_and_check_clean(&env, "host-users", &host.uid);

    // hostUsers false: root in the container, an unprivileged range on
    // the host.
    let own = probe(&env, "own-users", false, &hostfile);
    let log = &own.log;
    assert!(log.contains("id=0:0\n"), "{log}");
    let (first, size) = mapping(log, "map=").unwrap_or_else(|| panic!("{log}"));
    assert_eq!(mapping(log, "gmap="), Some((first, size)), "{log}");
    assert_eq!(size, 65536, "{log}");
    assert!(first >= 65536 && first % 65536 == 0, "{log}");
    // The host sees the container's process and its file as the range's
    // first id.
    assert_eq!(own.host_ids, (first, first), "{log}");
    assert_eq!(own.made_owner, (first as u32, first as u32), "{log}");
    // A hostPath is idmapped through the pod's mapping, as the kubelet
    // and containerd do (see `a_host_path_is_idmapped_as_the_kubelet_does`):
    // host root's file is the pod root's, and stays host root's.
    assert!(log.contains("hostfile-written\n"), "{log}");
    assert_eq!(std::fs::read_to_string(&hostfile).unwrap(), "host\npwned\n");
    let meta = std::fs::metadata(&hostfile).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    assert!(log.contains("mknod-refused\n"), "{log}");
    // The image is the container's root's (idmapped layers): / and /etc
    // are its own, and it writes there.
    assert!(
        log.lines()
            .any(|l| l.ends_with(" etc") && l.contains(" 0 ")),
        "{log}"
    );
    assert!(log.contains("root-writable\n"), "{log}");
    delete_and_check_clean(&env, "own-users", &own.uid);
}

#[test]
fn two_pods_get_different_ranges_and_give_them_back() {
    let env = env();
    let hostfile = root_file(&env);
    let script = "echo map=$(cat /proc/self/uid_map)";
    let a = start(&env, "a", false, &hostfile, script);
    let b = start(&env, "b", false, &hostfile, script);
    let log_a = wait_log(&env, "a", &a, "main", "end");
    let log_b = wait_log(&env, "b", &b, "main", "end");
    let (first_a, _) = mapping(&log_a, "map=").unwrap_or_else(|| panic!("{log_a}"));
    let (first_b, _) = mapping(&log_b, "map=").unwrap_or_else(|| panic!("{log_b}"));
    assert!(first_a.abs_diff(first_b) >= 65536, "{log_a}{log_b}");
    let ranges = env.root().join("userns");
    let held = || {
        std::fs::read_dir(&ranges)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "lock")
            .count()
    };
    assert_eq!(held(), 2);
    delete_and_check_clean(&env, "a", &a);
    delete_and_check_clean(&env, "b", &b);
    assert_eq!(held(), 0, "a deleted pod's range is given back");
}

#[test]
fn exec_joins_the_pods_user_namespace() {
    let env = env();
    let hostfile = root_file(&env);
    let uid = start(
        &env,
        "exec",
        false,
        &hostfile,
        "echo map=$(cat /proc/self/uid_map)",
    );
    let log = wait_log(&env, "exec", &uid, "main", "end");
    let (first, _) = mapping(&log, "map=").unwrap();
    let out = env.ok(&[
        "exec",
        "exec",
        "--",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}");
    assert_eq!(
        mapping(&format!("map={}", lines.next().unwrap()), "map="),
        Some((first, 65536)),
        "{out}"
    );
    // A pty made by `pod exec -t` is the pod root's, its group tty (5),
    // seen from inside.
    let dir = env.dir.path().join("tty");
    std::fs::create_dir_all(&dir).unwrap();
    let term = common::Terminal::start(
        &dir,
        &[("POD_ROOT", &env.root()), ("POD_RUN_ROOT", &env.run_root())],
        &[
            env!("CARGO_BIN_EXE_pod"),
            "exec",
            "-it",
            "exec",
            "--",
            "sh",
            "-c",
            "ls -lnL $(tty) | while read mode links owner group rest; do echo pty=$owner:$group; done; sleep 5",
        ],
        80,
        24,
    );
    let screen = term.expect("pty=");
    assert!(screen.contains("pty=0:5"), "{screen}");
    drop(term);
    delete_and_check_clean(&env, "exec", &uid);
}

#[test]
fn host_namespaces_do_not_mix_with_host_users_false() {
    let env = Env::new();
    let file = env.manifest(
        "mixed.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: mixed}\nspec:\n  hostUsers: false\n  hostNetwork: true\n  hostIPC: true\n  containers:\n  - {name: main, image: busybox}\n",
    );
    let err = env.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains("spec.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false"),
        "{err}"
    );
    assert!(
        err.contains("spec.HostIPC: Forbidden: when `pod.Spec.HostUsers` is false"),
        "{err}"
    );
    assert!(env.run(&["get", "pods", "-o", "name"]).stdout.is_empty());
}

/// A hostPath in a `hostUsers: false` pod is an idmapped bind through the
/// pod's mapping, as the kubelet asks (every CRI Mount of such a pod
/// carries the pod's uid/gid mappings, KEP-127) and containerd does: a
/// file of host root shows as root's and a file of host uid 1000 as
/// uid 1000's, and what the pod's root makes there is host root's on the
/// host. Without the idmapping (the old behaviour) host root's file is
/// nobody's inside and the pod's root may neither read it nor write in
/// the directory.
#[test]
fn a_host_path_is_idmapped_as_the_kubelet_does() {
    let env = env();
    let shared = env.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(shared.join("root-owned"), "host root's\n").unwrap();
    std::fs::set_permissions(
        shared.join("root-owned"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(shared.join("user-owned"), "").unwrap();
    std::os::unix::fs::chown(shared.join("user-owned"), Some(1000), Some(1000)).unwrap();
    let uid = create(
        &env,
        "hostpath",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: hostpath}}
spec:
  hostUsers: false
  restartPolicy: Never
  volumes:
  - {{name: shared, hostPath: {{path: {}, type: Directory}}}}
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    volumeMounts: [{{name: shared, mountPath: /shared}}]
    command: [sh, -c, 'echo map=$(cat /proc/self/uid_map); ls -ln /shared | while read mode links owner group size m d t name; do echo $name=$owner:$group; done; cat /shared/root-owned; touch /shared/made && echo made; mkdir /shared/dir && echo dir; echo end']
"#,
            shared.display()
        ),
    );
    let log = wait_log(&env, "hostpath", &uid, "main", "end");
    let (first, _) = mapping(&log, "map=").unwrap_or_else(|| panic!("{log}"));
    assert!(first >= 65536, "{log}");
    assert!(log.contains("root-owned=0:0\n"), "{log}");
    assert!(log.contains("user-owned=1000:1000\n"), "{log}");
    assert!(log.contains("host root's\n"), "{log}");
    assert!(log.contains("made\ndir\n"), "{log}");
    for made in ["made", "dir"] {
        let meta = std::fs::metadata(shared.join(made)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{made}");
    }
    delete_and_check_clean(&env, "hostpath", &uid);
}

/// The runtime's files (a secret volume, /etc/hosts, the termination log)
/// are shown to the pod's root as its own (idmapped binds): a secret of
/// mode 0400 reads, the termination message is written.
#[test]
fn the_pods_own_files_are_its_roots() {
    let env = env();
    let uid = create(
        &env,
        "files",
        r#"
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {key: secret-value}
---
apiVersion: v1
kind: Pod
metadata: {name: files}
spec:
  hostUsers: false
  restartPolicy: Never
  securityContext: {fsGroup: 2000}
  volumes:
  - {name: token, secret: {secretName: token, defaultMode: 0400}}
  - {name: scratch, emptyDir: {}}
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    volumeMounts: [{name: token, mountPath: /token}, {name: scratch, mountPath: /scratch}]
    command: [sh, -c, 'ls -lnLd /token/key /etc/hosts /scratch | while read mode links owner group rest; do echo $owner:$group $mode; done; cat /token/key; echo; echo map=$(cat /proc/self/uid_map); echo written > /dev/termination-log; echo end']
"#,
    );
    let log = wait_log(&env, "files", &uid, "main", "end");
    let (first, _) = mapping(&log, "map=").unwrap_or_else(|| panic!("{log}"));
    // /etc/hosts, the emptyDir (its group the fsGroup), the secret (with
    // the fsGroup): all the pod root's.
    assert!(
        log.starts_with("0:0 -rw-r--r--\n0:2000 drwxrwxrwx\n0:2000 -r--------\nsecret-value\n"),
        "{log}"
    );
    let scratch = std::fs::metadata(
        env.root()
            .join("pods/default/files/volumes/empty-dir/scratch"),
    )
    .unwrap();
    assert_eq!(u64::from(scratch.uid()), first);
    assert_eq!(u64::from(scratch.gid()), first + 2000);
    let message = common::pods::wait_until(&env, "files", "the termination message", || {
        let message = common::pods::jsonpath(
            &env,
            "files",
            "{.status.containerStatuses[0].state.terminated.message}",
        );
        (!message.is_empty()).then_some(message)
    });
    assert_eq!(message, "written\n");
    delete_and_check_clean(&env, "files", &uid);
}

/// `procMount: Unmasked` (allowed only with `hostUsers: false`) leaves
/// /proc unmasked, yet the host's kernel settings stay out of reach: the
/// check opens `kernel.core_pattern` for appending (an open that writes
/// nothing, so the host's value never changes). A privileged `hostUsers:
/// true` container, whose /proc is unmasked too, opens it.
#[test]
fn an_unmasked_proc_in_a_user_namespace_cannot_reach_the_hosts_settings() {
    let env = env();
    let script = "grep -c \" /proc/sys \" /proc/self/mountinfo; if true 2>/dev/null >> /proc/sys/kernel/core_pattern; then echo core-open; else echo core-refused; fi; echo end";
    let pod = |name: &str, host_users: bool, security: &str| {
        let uid = create(
            &env,
            name,
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  hostUsers: {host_users}\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: busybox\n    imagePullPolicy: Never\n    securityContext: {security}\n    command: [sh, -c, '{script}']\n"
            ),
        );
        let log = wait_log(&env, name, &uid, "main", "end");
        delete_and_check_clean(&env, name, &uid);
        log
    };
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let privileged = pod("privileged", true, "{privileged: true}");
    assert_eq!(privileged, "0\ncore-open\nend\n");
    let unmasked = pod("unmasked", false, "{procMount: Unmasked}");
    // Nothing is mounted over /proc/sys (read-only when masked).
    assert!(unmasked.starts_with("0\n"), "{unmasked}");
    assert!(unmasked.contains("core-refused\n"), "{unmasked}");
    let masked = pod("masked", false, "{}");
    assert!(masked.starts_with("1\n"), "{masked}");
    assert!(masked.contains("core-refused\n"), "{masked}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
}

/// A container in a `hostUsers: false` pod whose user or group lies
/// outside the 65536 ids its user namespace maps cannot become it (setuid
/// would fail with EINVAL in its init): the kubelet's
/// CreateContainerConfigError says so, in runc's words, and nothing runs.
/// The same ids in a `hostUsers: true` pod, and the last mapped id in a
/// `hostUsers: false` one, run.
#[test]
fn ids_outside_the_user_namespace_are_a_configuration_error() {
    let env = env();
    // An image whose USER is outside the range.
    let scratch = tempfile::tempdir().unwrap();
    let tar = common::busybox_rootfs_tar(scratch.path());
    env.ok(&[
        "image",
        "import",
        "--quiet",
        "--change",
        "USER 70000",
        tar.to_str().unwrap(),
        "highuser:1",
    ]);
    let pod = |name: &str, host_users: bool, image: &str, pod_sc: &str, sc: &str| {
        create(
            &env,
            name,
            &format!(
                r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  hostUsers: {host_users}
  restartPolicy: Never
  securityContext: {pod_sc}
  containers:
  - name: main
    image: {image}
    imagePullPolicy: Never
    securityContext: {sc}
    command: [sh, -c, 'echo "ids $(id -u) $(id -g) $(id -G)"; exec sleep 1000']
"#
            ),
        )
    };
    let refused = |name: &str, uid: &str, what: &str| {
        let message = common::pods::wait_until(&env, name, "CreateContainerConfigError", || {
            let reason = common::pods::jsonpath(
                &env,
                name,
                "{.status.containerStatuses[0].state.waiting.reason}",
            );
            (reason == "CreateContainerConfigError").then(|| {
                common::pods::jsonpath(
                    &env,
                    name,
                    "{.status.containerStatuses[0].state.waiting.message}",
                )
            })
        });
        assert_eq!(
            message,
            format!(
                "cannot set {what} is outside the ids 0-65535 of the pod's user namespace (hostUsers: false)"
            ),
            "{name}"
        );
        assert!(common::pods::log(&env, name, uid, "main").is_empty());
        delete_and_check_clean(&env, name, uid);
    };

    let uid = pod("run-as-user", false, "busybox", "{}", "{runAsUser: 70000}");
    refused(
        "run-as-user",
        &uid,
        "uid to unmapped user in user namespace: uid 70000",
    );
    let uid = pod(
        "run-as-group",
        false,
        "busybox",
        "{runAsGroup: 70000}",
        "{}",
    );
    refused(
        "run-as-group",
        &uid,
        "gid to unmapped user in user namespace: gid 70000",
    );
    let uid = pod("fs-group", false, "busybox", "{fsGroup: 65536}", "{}");
    refused(
        "fs-group",
        &uid,
        "gid to unmapped user in user namespace: supplementary gid 65536",
    );
    let uid = pod("image-user", false, "highuser:1", "{}", "{}");
    refused(
        "image-user",
        &uid,
        "uid to unmapped user in user namespace: uid 70000",
    );

    // With the host's users, the same ids are fine; in the pod's own
    // namespace, its last id is.
    let uid = pod("host-users", true, "highuser:1", "{fsGroup: 65536}", "{}");
    wait_log(&env, "host-users", &uid, "main", "ids 70000 0 0 65536");
    delete_and_check_clean(&env, "host-users", &uid);
    let uid = pod(
        "last-id",
        false,
        "busybox",
        "{runAsUser: 65535, runAsGroup: 65535}",
        "{}",
    );
    wait_log(&env, "last-id", &uid, "main", "ids 65535 65535 65535");
    delete_and_check_clean(&env, "last-id", &uid);
}
