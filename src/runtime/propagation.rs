//! `mountPropagation: Bidirectional`: mounts made under the volume inside
//! the container must appear on the host, and the other way round.
//!
//! Every other mount of the container lives in a mount namespace whose root
//! is a slave of the host's (so nothing the runtime mounts leaks out), and a
//! bind mount made there can only be a slave as well. So the volume's mount
//! is cloned with `open_tree(OPEN_TREE_CLONE)` while the container's init is
//! still in the host's mount namespace (see [`super::bind`]): the clone is a
//! peer of the host's mount, and stays one when `move_mount` attaches it
//! inside the new root. As containerd does, the host path must be on a
//! shared mount.

use std::os::fd::BorrowedFd;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::{AtFlags, StatxFlags, statx};

/// Fails, in containerd's words, unless `fd` (the source `path`) is on a
/// shared mount.
pub fn ensure_shared(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let stat = statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map_err(|e| anyhow!("stat {}: {e}", path.display()))?;
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    let (mount_point, shared) = mount_of(&mountinfo, stat.stx_mnt_id)
        .with_context(|| format!("finding the mount of {}", path.display()))?;
    if !shared {
        bail!(
            "path {:?} is mounted on {:?} but it is not a shared mount",
            path.display().to_string(),
            mount_point
        );
    }
    Ok(())
}

/// The mount point of mount `id` in mountinfo(5) text, and whether it is
/// shared (a `shared:N` optional field).
fn mount_of(mountinfo: &str, id: u64) -> Option<(String, bool)> {
    mountinfo.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.first()?.parse::<u64>().ok()? != id {
            return None;
        }
        let mount_point = unescape(fields.get(4)?);
        let optional = fields.get(6..)?.iter().take_while(|f| **f != "-");
        let shared = optional.clone().any(|f| f.starts_with("shared:"));
        Some((mount_point, shared))
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw
30 22 0:27 / /mnt/shared\\040dir rw,relatime shared:5 - tmpfs tmpfs rw
31 22 0:28 / /mnt/slave rw,relatime master:5 - tmpfs tmpfs rw
";

    #[test]
    fn reads_the_mount_point_and_whether_it_is_shared() {
        assert_eq!(mount_of(MOUNTINFO, 22), Some(("/".into(), false)));
        assert_eq!(
            mount_of(MOUNTINFO, 30),
            Some(("/mnt/shared dir".into(), true))
        );
        assert_eq!(mount_of(MOUNTINFO, 31), Some(("/mnt/slave".into(), false)));
        assert_eq!(mount_of(MOUNTINFO, 99), None);
    }
}
