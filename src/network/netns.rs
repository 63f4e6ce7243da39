//! Pinning a pod's network namespace to a file, so that it outlives the
//! pause process until DEL has run in it.

use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};

/// Bind-mounts `/proc/<pid>/ns/net` on `path` (replacing an older pin).
pub fn pin(pid: i32, path: &Path) -> Result<()> {
    unpin(path)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let source = format!("/proc/{pid}/ns/net");
    nix::mount::mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| {
        format!(
            "pinning the network namespace {source} at {}",
            path.display()
        )
    })
}

/// Unmounts and removes the pin; a missing one is fine.
pub fn unpin(path: &Path) -> Result<()> {
    // A pin may be stacked (a pin over a pin): unmount until none is left.
    loop {
        match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => break,
            Err(e) => return Err(e).with_context(|| format!("unmounting {}", path.display())),
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Removes the file at `path` unless a network namespace is mounted on
/// it.
pub fn forget_if_dead(path: &Path) -> Result<()> {
    // NSFS_MAGIC: what statfs says of a namespace file.
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    match nix::sys::statfs::statfs(path) {
        Ok(fs) if fs.filesystem_type().0 == NSFS_MAGIC => Ok(()),
        Ok(_) => unpin(path),
        Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("examining {}", path.display())),
    }
}

/// Whether `path` is a pin of the network namespace of process `pid`.
pub fn is_of(path: &Path, pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let pinned = std::fs::metadata(path);
    let current = std::fs::metadata(format!("/proc/{pid}/ns/net"));
    match (pinned, current) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}
