//! The state directory on a full filesystem (issue 18): a small tmpfs
//! mounted as the test's state root. A create fails with a clear error
//! and leaves no half-written object; a running pod keeps running, its
//! log stops at the limit, its supervisor lives on (and says so once in
//! its own log, not once per line), and everything is still deleted.

mod common;

use std::time::{Duration, Instant};

use common::pods::{jsonpath, leftovers, wait_until};
use common::{Env, import_busybox};

/// A tmpfs of `size` on the environment's state root, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

/// The environment, then its tmpfs: fields drop in this order, so the
/// pods are deleted before the tmpfs goes.
struct Fixture {
    env: Env,
    _tmpfs: Tmpfs,
}

impl Tmpfs {
    fn mount(path: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={size},mode=0700").as_str()),
        )
        .unwrap();
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        // The environment's directory could not be removed around the
        // mount point.
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn free_bytes(path: &std::path::Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(path).unwrap();
    s.blocks_available() as u64 * s.fragment_size() as u64
}

#[test]
fn a_full_state_disk_fails_creates_cleanly_and_running_pods_live_on() {
    let env = Env::new();
    let root = env.root();
    let config = std::fs::read(root.join("config.yaml")).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let fixture = Fixture {
        _tmpfs: Tmpfs::mount(&root, "24m"),
        env,
    };
    let env = &fixture.env;
    std::fs::write(root.join("config.yaml"), config).unwrap();
    import_busybox(&root);

    // A container that writes its log as fast as it can, with a log
    // limit above what the disk holds.
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: chatty\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'i=0; while true; do i=$((i+1)); echo line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done']\n";
    let file = env.manifest("chatty.yaml", yaml);
    let out = env
        .pod()
        .env("POD_LOG_MAX_SIZE", "1000000000")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let uid = env.ok(&["get", "pod", "chatty", "-o", "jsonpath={.metadata.uid}"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while free_bytes(&root) > 0 {
        assert!(Instant::now() < deadline, "the disk did not fill");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = root
        .join("logs")
        .join(format!("default_chatty_{uid}"))
        .join("c/0.log");
    let full_at = std::fs::metadata(&log).unwrap().len();

    // A create on the full disk: one clear line, nothing half-written.
    let other = env.manifest(
        "other.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: other\nspec:\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sleep, '3600']\n",
    );
    let stderr = env.fails(&["create", "-f", other.to_str().unwrap()]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(env.fails(&["get", "pod", "other"]).contains("not found"));
    let staged: Vec<_> = std::fs::read_dir(root.join("tmp"))
        .unwrap()
        .flatten()
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    assert!(!root.join("pods/default/other").exists());

    // The running pod runs on, its supervisor too; its log stays at the
    // limit.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(jsonpath(env, "chatty", "{.status.phase}"), "Running");
    assert_eq!(
        jsonpath(env, "chatty", "{.status.containerStatuses[0].ready}"),
        "true"
    );
    assert_eq!(
        env.ok(&["exec", "chatty", "--", "echo", "alive"]),
        "alive\n"
    );
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size <= full_at + 64 * 1024, "{size} > {full_at}");
    let supervisor_log = std::fs::read_to_string(
        env.run_root()
            .join("pods")
            .join(&uid)
            .join("supervisor.log"),
    )
    .unwrap();
    let reports = supervisor_log.matches("No space left on device").count();
    assert!(
        (1..=4).contains(&reports),
        "the full disk reported {reports} times: {supervisor_log}"
    );
    // What was written reads back, up to the limit.
    let head = env.ok(&["logs", "chatty", "--limit-bytes=100"]);
    assert!(head.starts_with("line "), "{head}");

    // Deleting still works, and makes room.
    env.ok(&["delete", "pod", "chatty", "--grace-period=1"]);
    let deadline = Instant::now() + common::pods::PATIENCE;
    while !leftovers(env, &uid).iter().all(|l| !l.contains(&uid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mine: Vec<String> = leftovers(env, &uid)
        .into_iter()
        .filter(|l| l.contains(&uid))
        .collect();
    assert_eq!(mine, Vec::<String>::new());
    assert!(!log.exists());
    env.ok(&["create", "-f", other.to_str().unwrap()]);
    wait_until(env, "other", "Running", || {
        (jsonpath(env, "other", "{.status.phase}") == "Running").then_some(())
    });
}
