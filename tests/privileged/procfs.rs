//! Writes to /proc that nothing mounted in the container can redirect:
//! the checked procfs root (`runtime::procfs`) and the sysctl writes
//! through it (`runtime::init`). Root: each test mounts over /proc in a
//! private mount namespace of its own.

use std::io::Write;
use std::path::Path;

use pod::privileged::{ProcRoot, write_sysctl, write_sysctl_in};

/// Unmounts lazily: another test's child, between its fork and exec,
/// may hold a copy of an fd this test opened on the mount (the threads
/// share one fd table), and a plain umount would fail with EBUSY.
fn unmount(path: impl AsRef<Path>) {
    nix::mount::umount2(path.as_ref(), nix::mount::MntFlags::MNT_DETACH).unwrap();
}

/// Runs `f` on a thread of its own in a private mount namespace, so
/// that its mounts touch nothing else.
fn in_private_mounts<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .unwrap();
        f()
    })
    .join()
    .unwrap()
}

#[test]
fn a_file_or_filesystem_mounted_over_proc_is_refused() {
    in_private_mounts(|| {
        let decoy = tempfile::NamedTempFile::new().unwrap();
        let target = std::fs::canonicalize("/proc/thread-self/attr/exec").unwrap();
        nix::mount::mount(
            Some(decoy.path()),
            &target,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        // By path, the write lands in the decoy: the attack works.
        std::fs::OpenOptions::new()
            .write(true)
            .open("/proc/thread-self/attr/exec")
            .unwrap()
            .write_all(b"exec by-path")
            .unwrap();
        assert_eq!(std::fs::read(decoy.path()).unwrap(), b"exec by-path");
        let root = ProcRoot::open(Path::new("/proc")).unwrap();
        let err = root.open_write("thread-self/attr/exec").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/thread-self/attr/exec is covered by another mount"
        );
        unmount(&target);

        // A tmpfs as /proc.
        let tmp = tempfile::tempdir().unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            tmp.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        let err = ProcRoot::open(tmp.path()).err().unwrap();
        assert!(err.to_string().ends_with("is not a procfs"), "{err}");
        unmount(tmp.path());
    });
}

#[test]
fn a_sysctl_is_written_only_beneath_the_procfs_root_through_no_mount() {
    in_private_mounts(|| {
        // Written back as it is: only the mounts are the test's own.
        let name = Path::new("kernel/shm_rmid_forced");
        let file = "/proc/sys/kernel/shm_rmid_forced";
        let value = std::fs::read_to_string(file).unwrap().trim().to_string();
        write_sysctl(name, &value).unwrap();
        // A mount over /proc/sys itself (a procfs directory, which
        // passes a check of the filesystem): opened by path, /proc/sys
        // is that mount.
        nix::mount::mount(
            Some("/proc/sys"),
            "/proc/sys",
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap();
        let err = write_sysctl(name, &value).unwrap_err().to_string();
        assert_eq!(err, format!("{file} is covered by another mount"));
        unmount("/proc/sys");
        // A tmpfs as /proc.
        let fake = tempfile::tempdir().unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            fake.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        std::fs::create_dir_all(fake.path().join("sys/kernel")).unwrap();
        std::fs::write(fake.path().join("sys/kernel/shm_rmid_forced"), "").unwrap();
        let err = write_sysctl_in(fake.path(), name, &value)
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("is not a procfs"), "{err}");
        unmount(fake.path());
    });
}
