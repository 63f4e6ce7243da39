//! The container's overlay root of the image layers: by path, or with
//! each layer idmapped through the pod's user namespace and given by
//! descriptor (`hostUsers: false`).

use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use nix::mount::{MsFlags, mount};

use super::super::config::Rootfs;
use super::bind;

pub(super) fn mount_overlay(rootfs: &Rootfs, nodev: bool) -> Result<()> {
    let lower: Vec<String> = rootfs
        .layers
        .iter()
        .rev()
        .map(|p| escape_overlay_path(p))
        .collect();
    if lower.is_empty() {
        bail!("the image has no layers");
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        escape_overlay_path(&rootfs.upper),
        escape_overlay_path(&rootfs.work)
    );
    let flags = if nodev {
        MsFlags::MS_NODEV
    } else {
        MsFlags::empty()
    };
    mount(
        Some("overlay"),
        &rootfs.mountpoint,
        Some("overlay"),
        flags,
        Some(options.as_str()),
    )
    .map_err(|e| {
        anyhow!(
            "mounting the overlay root at {}: {}",
            rootfs.mountpoint.display(),
            super::init::errno_text(e)
        )
    })
}

/// The overlay root of a pod in its own user namespace: every image layer
/// is an idmapped mount (through the pod's mapping, so a layer file owned
/// by host uid 0 is owned by the pod's first id, root in the pod) given to
/// overlayfs by descriptor (Linux 6.13's `lowerdir+` with FSCONFIG_SET_FD),
/// so no path is resolved again between the idmapping and the overlay.
/// The layers stay
/// shared between pods, unchanged on disk. The upper directory is not
/// idmapped: it belongs to this pod alone, its root was given to the pod's
/// root by the runtime, and what the container writes (copies up included,
/// which keep the idmapped owner) is stored with the host ids of its
/// range. The overlay itself is made by host root in the container's mount
/// namespace, which stays owned by the host's user namespace: root in the
/// pod cannot unmount or remount anything in it.
pub(super) fn mount_idmapped_overlay(
    rootfs: &Rootfs,
    nodev: bool,
    user: BorrowedFd<'_>,
) -> Result<()> {
    use rustix::mount::{
        FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, fsconfig_create,
        fsconfig_set_fd, fsconfig_set_string, fsmount, fsopen, move_mount,
    };
    if rootfs.layers.is_empty() {
        bail!("the image has no layers");
    }
    let fail = |what: &str, e: rustix::io::Errno| {
        anyhow!(
            "mounting the overlay root at {}: {what}: {}",
            rootfs.mountpoint.display(),
            super::init::errno_text(nix::errno::Errno::from_raw(e.raw_os_error()))
        )
    };
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| fail("fsopen", e))?;
    // overlayfs clones its layers' mounts, which it does only for mounts
    // of the caller's mount namespace: each idmapped clone is attached in
    // this one (the container's, private) first, beside the root's mount
    // point; the pivot detaches them.
    let attach_under = rootfs.mountpoint.with_file_name("layers");
    for (i, layer) in rootfs.layers.iter().rev().enumerate() {
        let tree = idmapped_layer(layer, user)?;
        let at = attach_under.join(i.to_string());
        fs::create_dir_all(&at).with_context(|| format!("creating {}", at.display()))?;
        move_mount(
            &tree,
            "",
            rustix::fs::CWD,
            &at,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .map_err(|e| fail(&format!("attaching layer {}", layer.display()), e))?;
        fsconfig_set_fd(&fs, "lowerdir+", &tree)
            .map_err(|e| fail(&format!("layer {}", layer.display()), e))?;
    }
    fsconfig_set_string(&fs, "upperdir", &rootfs.upper).map_err(|e| fail("upperdir", e))?;
    fsconfig_set_string(&fs, "workdir", &rootfs.work).map_err(|e| fail("workdir", e))?;
    fsconfig_create(&fs).map_err(|e| fail("creating", e))?;
    let attributes = if nodev {
        MountAttrFlags::MOUNT_ATTR_NODEV
    } else {
        MountAttrFlags::empty()
    };
    let mount =
        fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attributes).map_err(|e| fail("fsmount", e))?;
    move_mount(
        &mount,
        "",
        rustix::fs::CWD,
        &rootfs.mountpoint,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| fail("move_mount", e))
}

/// A detached clone of `layer` seen through the user namespace `user`'s
/// mapping (mount_setattr with MOUNT_ATTR_IDMAP).
fn idmapped_layer(layer: &Path, user: BorrowedFd<'_>) -> Result<OwnedFd> {
    use rustix::mount::{OpenTreeFlags, open_tree};
    let tree = open_tree(
        rustix::fs::CWD,
        layer,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .with_context(|| format!("open_tree {}", layer.display()))?;
    bind::idmap(tree.as_fd(), user)
        .with_context(|| format!("idmapping layer {}", layer.display()))?;
    Ok(tree)
}

/// Overlay options separate with `,` and `:`; both are escaped with `\`.
fn escape_overlay_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_paths_are_escaped() {
        assert_eq!(escape_overlay_path(Path::new("/a:b,c")), "/a\\:b\\,c");
    }
}
