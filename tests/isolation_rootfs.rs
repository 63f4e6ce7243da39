//! The runtime's own mounts in a hostile root filesystem (root): an image
//! whose /proc, /sys or /dev is a symbolic link (the runc CVE-2019-16884 /
//! CVE-2019-19921 class), and a volume at /dev whose `null` a sibling
//! made a link to a writable kernel file, which the masking of /proc
//! files must not bind over /proc/keys (runc's CVE-2025-31133).

mod common;

use std::fs::{self, File};
use std::path::Path;

use common::pods::{create, delete_and_check_clean, jsonpath, wait_log, wait_until};
use common::{Env, import_busybox};

/// The busybox root filesystem with the top-level directory `replaced`
/// turned into a symbolic link to `link`, as `name`.
fn import_hostile(env: &Env, replaced: &str, link: &str, name: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let plain = common::busybox_rootfs_tar(scratch.path());
    let hostile = scratch.path().join("hostile.tar");
    let mut out = tar::Builder::new(File::create(&hostile).unwrap());
    let mut archive = tar::Archive::new(File::open(&plain).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        if path == Path::new(replaced) {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            h.set_mtime(1_700_000_000);
            out.append_link(&mut h, replaced, link).unwrap();
            continue;
        }
        let mut header = entry.header().clone();
        if header.entry_type() == tar::EntryType::Symlink {
            let target = entry.link_name().unwrap().unwrap().into_owned();
            out.append_link(&mut header, &path, target).unwrap();
        } else {
            out.append_data(&mut header, &path, &mut entry).unwrap();
        }
    }
    out.into_inner().unwrap();
    env.ok(&[
        "image",
        "import",
        "--quiet",
        "--change",
        r#"CMD ["sh"]"#,
        hostile.to_str().unwrap(),
        name,
    ]);
}

fn pod_yaml(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo started; ls /proc/self/ >/dev/null && echo proc-ok; sleep 3600']\n"
    )
}

/// The container's terminated reason and message, once it has one.
fn terminated(env: &Env, name: &str) -> (String, String) {
    wait_until(env, name, "the container's failed start", || {
        let state = "{.status.containerStatuses[0].state.terminated";
        let reason = jsonpath(env, name, &format!("{state}.reason}}"));
        (!reason.is_empty()).then(|| (reason, jsonpath(env, name, &format!("{state}.message}}"))))
    })
}

#[test]
fn an_image_cannot_move_proc_sys_or_dev_with_a_symlink() {
    let env = Env::new();
    import_busybox(&env.root());
    // A host directory the links point at, from outside the root.
    let host = tempfile::tempdir().unwrap();
    let outside = format!("/../../../../..{}", host.path().display());
    let cases: [(&str, &str, &str); 5] = [
        ("proc", outside.as_str(), "proc"),
        ("proc", "etc", "proc"),
        ("sys", outside.as_str(), "sysfs"),
        ("dev", outside.as_str(), "tmpfs"),
        ("dev", "tmp", "tmpfs"),
    ];
    for (i, (replaced, link, fstype)) in cases.iter().enumerate() {
        let image = format!("hostile-{replaced}:{i}");
        import_hostile(&env, replaced, link, &image);
        let name = format!("hostile-{i}");
        let uid = create(&env, &name, &pod_yaml(&name, &image));
        let (reason, message) = terminated(&env, &name);
        assert_eq!(reason, "StartError", "{replaced} -> {link}: {message}");
        assert!(
            message.contains(&format!(
                "filesystem \"{fstype}\" must be mounted on ordinary directory"
            )),
            "{replaced} -> {link}: {message}"
        );
        assert_eq!(common::pods::log(&env, &name, &uid, "main"), "");
        delete_and_check_clean(&env, &name, &uid);
        assert_eq!(fs::read_dir(host.path()).unwrap().count(), 0);
    }
    // The same image with real directories runs, /proc mounted.
    let uid = create(&env, "plain", &pod_yaml("plain", "busybox"));
    wait_log(&env, "plain", &uid, "main", "proc-ok");
    delete_and_check_clean(&env, "plain", &uid);
}

/// A sibling container (here an init container, sharing an emptyDir)
/// makes `null` in the volume a link to the pod's
/// /proc/sys/kernel/hostname; the victim mounts the volume at /dev. Were
/// /proc/keys masked by a bind of "/dev/null" as named in the container,
/// the mask would be the hostname file, writable (the bind is made before
/// /proc/sys turns read-only): a write to /proc/keys would rename the
/// pod (shown against a build that binds the container's "/dev/null":
/// `after=pwned`). The mask is the host's null device, so it does not.
#[test]
fn masked_paths_are_covered_by_the_real_null_device() {
    let env = Env::new();
    import_busybox(&env.root());
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  name: nullswap
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes:
  - name: shared
    emptyDir: {}
  initContainers:
  - name: sibling
    image: busybox
    imagePullPolicy: Never
    volumeMounts: [{name: shared, mountPath: /shared}]
    command: [sh, -c, 'ln -s /proc/sys/kernel/hostname /shared/null']
  containers:
  - name: victim
    image: busybox
    imagePullPolicy: Never
    volumeMounts: [{name: shared, mountPath: /dev}]
    command: [sh, -c, 'echo before=$(hostname); echo pwned > /proc/keys; echo after=$(hostname); echo keys=$(head -c 5 /proc/keys | wc -c); sleep 3600']
"#;
    let uid = create(&env, "nullswap", yaml);
    let log = wait_log(&env, "nullswap", &uid, "victim", "keys=");
    assert!(log.contains("before=nullswap\n"), "{log}");
    assert!(log.contains("after=nullswap\n"), "{log}");
    // Reads of the mask are empty, as from /dev/null.
    assert!(log.contains("keys=0\n"), "{log}");
    delete_and_check_clean(&env, "nullswap", &uid);
}
