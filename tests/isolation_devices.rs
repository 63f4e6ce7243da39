//! Attacks on the host's devices from a pod, run for real (root): making a
//! device node and using it, opening a host block device handed in as a
//! hostPath volume, an image that carries device nodes. Each attack is
//! first run in a privileged container, which may reach the host's
//! devices, to show it works there; then it must fail in a default one.

mod common;

use common::pods::{create, delete_and_check_clean, wait_log};
use common::{Env, import_busybox};

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// A block device of the host that root can open (an unbound loop device
/// will do): (path, major, minor).
fn host_block_device() -> (String, u32, u32) {
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::fs::MetadataExt;
    for entry in std::fs::read_dir("/sys/class/block").unwrap().flatten() {
        let path = format!("/dev/{}", entry.file_name().to_string_lossy());
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.file_type().is_block_device() && std::fs::File::open(&path).is_ok() {
            let rdev = meta.rdev();
            return (path, libc::major(rdev), libc::minor(rdev));
        }
    }
    panic!("this host has no block device root can open");
}

const PRIVILEGED: &str = "{privileged: true}";
const DEFAULT: &str = "{}";

/// Runs `script` in a one-shot pod (with the container's `security`
/// context, an emptyDir at /scratch, `volumes` added to the pod and
/// `extra` to the container's volumeMounts) and returns the log once the
/// script printed "end".
fn run(env: &Env, name: &str, security: &str, extra: &str, volumes: &str, script: &str) -> String {
    let uid = create(
        env,
        name,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  volumes:
  - name: scratch
    emptyDir: {{}}
{volumes}
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    securityContext: {security}
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
{extra}
    command: [sh, -c, '{script}; echo end']
"#
        ),
    );

    let log = wait_log(env, name, &uid, "main", "end");
    delete_and_check_clean(env, name, &uid);
    log
}

/// `mknod` of the kernel log (c 1:11) then a write to it, in the
/// container's root, its /dev and an emptyDir.
/// (A privileged container's /dev is the host's: the nodes are removed.)
const KMSG: &str = "for d in /tmp /dev /scratch; do if mknod $d/podtest-kmsg c 1 11 && echo pod-isolation-test > $d/podtest-kmsg; then echo wrote $d; else echo refused $d; fi; rm -f $d/podtest-kmsg; done";

#[test]
fn a_container_cannot_make_and_write_the_kernel_log() {
    let env = env();
    let log = run(&env, "privileged-kmsg", PRIVILEGED, "", "", KMSG);
    for dir in ["/tmp", "/dev", "/scratch"] {
        assert!(
            log.contains(&format!("wrote {dir}\n")),
            "a privileged container writes the kernel log through {dir}/kmsg:\n{log}"
        );
    }
    let log = run(&env, "default-kmsg", DEFAULT, "", "", KMSG);
    for dir in ["/tmp", "/dev", "/scratch"] {
        assert!(
            log.contains(&format!("refused {dir}\n")),
            "a default container wrote the kernel log through {dir}/kmsg:\n{log}"
        );
    }
}

#[test]
fn a_container_cannot_open_a_block_device_it_made() {
    let env = env();
    let (_, major, minor) = host_block_device();
    let script = format!(
        "for d in /tmp /dev /scratch; do if mknod $d/podtest-disk b {major} {minor} && true < $d/podtest-disk; then echo opened $d; else echo refused $d; fi; rm -f $d/podtest-disk; done"
    );
    let log = run(&env, "privileged-block", PRIVILEGED, "", "", &script);
    for dir in ["/tmp", "/dev", "/scratch"] {
        assert!(
            log.contains(&format!("opened {dir}\n")),
            "a privileged container opens the block device it made in {dir}:\n{log}"
        );
    }
    let log = run(&env, "default-block", DEFAULT, "", "", &script);
    for dir in ["/tmp", "/dev", "/scratch"] {
        assert!(
            log.contains(&format!("refused {dir}\n")),
            "a default container opened a block device it made in {dir}:\n{log}"
        );
    }
}

#[test]
fn a_host_block_device_volume_opens_only_when_privileged() {
    let env = env();
    let (path, _, _) = host_block_device();
    let volumes = format!("  - name: disk\n    hostPath: {{path: {path}, type: BlockDevice}}");
    let extra = "    - {name: disk, mountPath: /disk}";
    let script = "if true < /disk; then echo opened; else echo refused; fi";
    let log = run(&env, "privileged-disk", PRIVILEGED, extra, &volumes, script);
    assert!(log.contains("opened\n"), "{log}");
    let log = run(&env, "default-disk", DEFAULT, extra, &volumes, script);
    assert!(log.contains("refused\n"), "{log}");
}

#[test]
fn the_device_nodes_a_container_needs_still_work() {
    let env = env();
    let log = run(
        &env,
        "needs",
        DEFAULT,
        "",
        "",
        "head -c 4 /dev/zero | od -An -tx1; head -c 8 /dev/urandom | wc -c; head -c 8 /dev/random | wc -c; echo x > /dev/null && echo null-ok; \
         echo x > /dev/full 2>/dev/null || echo full-ok; echo x > /dev/shm/f && cat /dev/shm/f; echo gone > /dev/termination-log && echo log-ok; \
         ls /dev/pts/ptmx >/dev/null && echo pts-ok",
    );
    for want in [
        " 00 00 00 00\n",
        "8\n",
        "null-ok\n",
        "full-ok\n",
        "x\n",
        "log-ok\n",
        "pts-ok\n",
    ] {
        assert!(log.contains(want), "{want:?} missing:\n{log}");
    }
}

/// A copy of /dev/null (c 1:3, which the device cgroup allows) made in the
/// root filesystem or in /dev: only `nodev` keeps it from working.
const NULL_COPY: &str = "for d in /tmp /dev; do if mknod $d/podtest-null c 1 3 && echo x > $d/podtest-null; then echo usable $d; else echo inert $d; fi; rm -f $d/podtest-null; done; grep -E \" / (/|/dev) \" /proc/self/mountinfo";

#[test]
fn nodes_made_in_the_root_or_dev_are_inert() {
    let env = env();
    let log = run(&env, "privileged-null", PRIVILEGED, "", "", NULL_COPY);
    for want in ["usable /tmp\n", "usable /dev\n"] {
        assert!(log.contains(want), "{log}");
    }
    let log = run(&env, "default-null", DEFAULT, "", "", NULL_COPY);
    for want in ["inert /tmp\n", "inert /dev\n"] {
        assert!(log.contains(want), "{log}");
    }
    let mounts: Vec<&str> = log.lines().filter(|l| l.contains(" / /")).collect();
    assert_eq!(mounts.len(), 2, "{log}");
    assert!(mounts.iter().all(|l| l.contains("nodev")), "{log}");
    // A read-only root keeps its nodev.
    let log = run(
        &env,
        "read-only-null",
        "{readOnlyRootFilesystem: true}",
        "",
        "",
        "grep -E \" / / \" /proc/self/mountinfo",
    );
    let root = log
        .lines()
        .find(|l| l.contains(" / / "))
        .unwrap_or_default();
    assert!(root.contains("ro,") && root.contains("nodev"), "{log}");
}

/// Imports the busybox image with a layer that also carries device nodes
/// (the kernel log and a host block device, mode 0666) and a set-uid-root
/// copy of busybox, as `localhost/devices:v1`.
fn import_image_with_devices(env: &Env) {
    let scratch = tempfile::tempdir().unwrap();
    let base = common::busybox_rootfs_tar(scratch.path());
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(std::fs::File::open(&base).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        out.append(&header, &mut entry).unwrap();
    }
    let (_, major, minor) = host_block_device();
    let node = |out: &mut tar::Builder<Vec<u8>>, kind, path: &str, dev: (u32, u32)| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o666);
        h.set_size(0);
        h.set_device_major(dev.0).unwrap();
        h.set_device_minor(dev.1).unwrap();
        out.append_data(&mut h, path, &[][..]).unwrap();
    };
    node(&mut out, tar::EntryType::Char, "podtest/kmsg", (1, 11));
    node(
        &mut out,
        tar::EntryType::Block,
        "podtest/disk",
        (major, minor),
    );
    let busybox = std::fs::read(common::HOST_BUSYBOX).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o4755);
    h.set_size(busybox.len() as u64);
    out.append_data(&mut h, "podtest/suid", &busybox[..])
        .unwrap();
    let path = scratch.path().join("devices.tar");
    std::fs::write(&path, out.into_inner().unwrap()).unwrap();
    env.ok(&[
        "image",
        "import",
        "--quiet",
        path.to_str().unwrap(),
        "localhost/devices:v1",
    ]);
}

/// The unpacked layer directories of the store.
fn layer_dirs(env: &Env) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(env.root().join("images/layers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("diff"))
        .collect()
}

#[test]
fn device_nodes_in_an_image_are_not_made() {
    let env = Env::new();
    import_image_with_devices(&env);
    // Not even a privileged container, which may use any node it makes,
    // finds the image's.
    let uid = create(
        &env,
        "image-nodes",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: image-nodes
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: localhost/devices:v1
    imagePullPolicy: Never
    securityContext: {privileged: true}
    command: [sh, -c, 'ls /podtest; for n in kmsg disk; do if [ -e /podtest/$n ]; then echo has $n; else echo no $n; fi; done; if mknod /podtest/kmsg c 1 11 && echo pod-isolation-test > /podtest/kmsg; then echo made kmsg; fi; echo end']
"#,
    );
    let log = wait_log(&env, "image-nodes", &uid, "main", "end");
    delete_and_check_clean(&env, "image-nodes", &uid);
    for want in ["no kmsg\n", "no disk\n", "made kmsg\n"] {
        assert!(log.contains(want), "{want:?} missing:\n{log}");
    }
    // Nor is there any device in the store on the host side (0:0 nodes
    // are overlay whiteouts).
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    for dir in layer_dirs(&env) {
        for name in ["kmsg", "disk"] {
            let path = dir.join("podtest").join(name);
            if let Ok(meta) = std::fs::symlink_metadata(&path) {
                let kind = meta.file_type();
                assert!(
                    !(kind.is_char_device() || kind.is_block_device()) || meta.rdev() == 0,
                    "{} is a device in the layer store",
                    path.display()
                );
            }
        }
    }
}

/// Whether the host user nobody can reach `path` as a set-uid file.
fn nobody_reaches_setuid(path: &std::path::Path) -> bool {
    std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "test",
            "-u",
        ])
        .arg(path)
        .status()
        .expect("running setpriv (util-linux)")
        .success()
}

#[test]
fn set_uid_files_of_a_layer_are_out_of_host_users_reach() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    import_image_with_devices(&env);
    let diff = layer_dirs(&env)
        .into_iter()
        .find(|d| d.join("podtest/suid").exists())
        .expect("the layer with the set-uid file");
    let suid = diff.join("podtest/suid");
    // Whatever the store's own modes, let a host user walk down to the
    // layer (as the 0755 store did).
    let mut dir = diff.parent().unwrap().to_path_buf();
    while dir.starts_with(env.dir.path()) {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode | 0o011)).unwrap();
        dir.pop();
    }
    assert!(
        !nobody_reaches_setuid(&suid),
        "the host user nobody reaches {}",
        suid.display()
    );
    // With the layer's root opened as the archive said (0755), it could.
    std::fs::set_permissions(&diff, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        nobody_reaches_setuid(&suid),
        "the weakened set-up is no test"
    );
}

/// The memory limit file of the container's own cgroup, v1 or v2, as read
/// inside it.
const MEMORY_LIMIT: &str = "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cat /sys/fs/cgroup/memory.max; else cat /sys/fs/cgroup/memory/memory.limit_in_bytes; fi";

#[test]
fn the_container_sees_its_own_cgroup_read_only() {
    let env = env();
    let uid = create(
        &env,
        "limits",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: limits
spec:
  volumes:
  - name: scratch
    emptyDir: {{}}
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
    resources: {{limits: {{memory: 64Mi, cpu: 500m}}}}
    command: [sh, -c, '{MEMORY_LIMIT}; cat /proc/self/cgroup; if mkdir /sys/fs/cgroup/escape 2>/dev/null || touch /sys/fs/cgroup/*/cgroup.procs 2>/dev/null; then echo writable; else echo read-only; fi; echo end; sleep 3600']
"#
        ),
    );
    let log = wait_log(&env, "limits", &uid, "main", "end");
    assert!(log.starts_with("67108864\n"), "{log}");
    assert!(log.contains("read-only\n"), "{log}");
    // Its own cgroup namespace: every hierarchy's path is its root.
    let paths: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":/") || l.starts_with("0::"))
        .map(|l| l.rsplit(':').next().unwrap())
        .collect();
    assert!(
        !paths.is_empty() && paths.iter().all(|p| *p == "/"),
        "{log}"
    );
    // exec joins the namespace and sees the same files.
    let exec = env.ok(&[
        "exec",
        "limits",
        "--",
        "sh",
        "-c",
        &format!("{MEMORY_LIMIT}; grep memory /proc/self/cgroup || grep 0:: /proc/self/cgroup"),
    ]);
    let mut lines = exec.lines();
    assert_eq!(lines.next(), Some("67108864"), "{exec}");
    assert!(lines.next().is_some_and(|l| l.ends_with(":/")), "{exec}");
    // An exec'd process is in the container's device cgroup too (an
    // emptyDir is not nodev: only the cgroup stands in the way).
    let out = env.run(&[
        "exec",
        "limits",
        "--",
        "sh",
        "-c",
        "mknod /scratch/kmsg c 1 11 && echo pod-isolation-test > /scratch/kmsg",
    ]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{out:?}"
    );
    delete_and_check_clean(&env, "limits", &uid);
}

#[test]
fn a_privileged_container_may_write_its_cgroups() {
    let env = env();
    let log = run(
        &env,
        "cgroup-writer",
        PRIVILEGED,
        "",
        "",
        "if mkdir /sys/fs/cgroup/pids/child 2>/dev/null || mkdir /sys/fs/cgroup/child; then echo writable; fi; rmdir /sys/fs/cgroup/pids/child /sys/fs/cgroup/child 2>/dev/null",
    );
    assert!(log.contains("writable\n"), "{log}");
}
