//! The container's /dev: a minimal tmpfs with the standard nodes (or the
//! host's, privileged), its own devpts instance and mqueue.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use super::{bind, ensure_dir, fd_target, mount_fs, own_fs_target};

/// The device nodes of a minimal /dev: (name, major, minor).
const DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// A tmpfs /dev mounted `nodev`, so that a node made there later is inert,
/// with the standard nodes made in it and each bind-mounted onto itself
/// first: a bind mount is a mount of its own whose flags (no `nodev`) do
/// not change when the tmpfs under it is remounted `nodev`. The nodes stay
/// the container's own inodes (not the host's, which container root could
/// chmod), and the device cgroup still decides what they may open.
pub(super) fn make_dev(root: &bind::Root<'_>) -> Result<()> {
    let target = own_fs_target(root, "dev", "tmpfs")?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME;
    mount_fs(
        "tmpfs",
        &fd_target(&target),
        "tmpfs",
        flags,
        Some("mode=755,size=65536k"),
    )?;
    // `<root>/dev` is an ordinary directory (checked above), so its name
    // now reaches the fresh tmpfs, which holds nothing of the image.
    let dev = root.path.join("dev");
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .with_context(|| format!("creating /dev/{name}"))?;
        // mknod is subject to the umask.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666))?;
        bind(&path, &path, false)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(link))
            .with_context(|| format!("creating /dev/{link}"))?;
    }
    mount(
        None::<&str>,
        &dev,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NODEV | flags,
        None::<&str>,
    )
    .map_err(|e| anyhow!("remounting /dev nodev: {}", super::init::errno_text(e)))
}

pub(super) fn bind_host_dev(root: &bind::Root<'_>) -> Result<()> {
    let dev = own_fs_target(root, "dev", "tmpfs")?;
    mount(
        Some("/dev"),
        &fd_target(&dev),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("binding the host's /dev")
}

/// /dev/pts (a new instance, so the container's ptys are its own) and
/// /dev/mqueue (the IPC namespace's queues).
pub(super) fn mount_dev_extras(root: &Path, tty_gid: u32) -> Result<()> {
    let pts = ensure_dir(root, "/dev/pts")?;
    let options = format!("newinstance,ptmxmode=0666,mode=0620,gid={tty_gid}");
    mount_fs(
        "devpts",
        &pts,
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(options.as_str()),
    )?;
    let mqueue = ensure_dir(root, "/dev/mqueue")?;
    mount_fs(
        "mqueue",
        &mqueue,
        "mqueue",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}
