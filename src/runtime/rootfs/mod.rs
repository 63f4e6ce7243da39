//! The container's root filesystem, built inside its own mount namespace
//! (so every mount disappears with the container's last process): the
//! overlay of the image layers, /proc, /sys, a minimal /dev, the pod's
//! files and volumes, then pivot_root.

mod dev;
mod overlay;

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

// `bind` and `init` are named here for the submodules too: their moved
// code says `bind::` and `super::init::` as it did in this file.
use super::bind;
use super::cgroups::HostView;
use super::config::{ContainerConfig, Mount, MountKind};
use super::init;
use dev::{bind_host_dev, make_dev, mount_dev_extras};
use overlay::{mount_idmapped_overlay, mount_overlay};

/// containerd's masked paths (oci/spec.go `defaultUnixMaskedPaths`).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// containerd's read-only paths (`defaultUnixReadonlyPaths`).
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Mounts everything under the new root and pivots into it. `sources`
/// holds, for each of `config.mounts`, the bind's source cloned in the
/// host's mount namespace (see [`super::bind`]). `user`: the pod's user
/// namespace (`hostUsers: false`), whose mapping the image layers are seen
/// through (see [`idmapped_layer`]).
pub fn prepare(
    config: &ContainerConfig,
    sources: Vec<Option<bind::Source>>,
    user: Option<BorrowedFd<'_>>,
) -> Result<()> {
    // Nothing done here may leak to the host; host mounts still reach us.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .context("making / a slave mount")?;
    let root = &config.rootfs.mountpoint;
    // A privileged container may use the device nodes it makes or its
    // image carries; any other keeps only its minimal /dev's nodes.
    let nodev = !config.host_dev;
    match user {
        Some(user) => mount_idmapped_overlay(&config.rootfs, nodev, user)?,
        None => mount_overlay(&config.rootfs, nodev)?,
    }
    // The host's null device, opened before anything of the image is
    // looked at: what masks /proc and /sys files later (see
    // `restrict_proc`).
    let null = open_null()?;
    let root_fd = bind::Root::open(root)?;
    mount_proc(&root_fd)?;
    mount_sys(&root_fd, config.sys_writable)?;
    mount_cgroups(root, &config.cgroups, config.sys_writable)?;
    if config.host_dev {
        bind_host_dev(&root_fd)?;
    } else {
        make_dev(&root_fd)?;
    }
    // The ptys' group, tty (5) in the container, is a host gid in the
    // mount options (the mount is made from the host's user namespace).
    mount_dev_extras(root, config.id_base.unwrap_or(0) + TTY_GID)?;
    for (m, source) in config.mounts.iter().zip(sources) {
        mount_one(&root_fd, m, source, user)?;
    }
    mask_paths(&root_fd, &config.masked_paths, &null)?;
    drop(root_fd);
    pivot(root)
}

/// An O_PATH fd of the host's /dev/null, refused unless it is the null
/// character device (1:3): the source of every masked path's bind.
fn open_null() -> Result<OwnedFd> {
    use rustix::fs::{FileType, OFlags};
    let fd = rustix::fs::open(
        "/dev/null",
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| anyhow!("opening /dev/null: {e}"))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| anyhow!("checking /dev/null: {e}"))?;
    let (major, minor) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice || (major, minor) != (1, 3)
    {
        bail!("/dev/null is not the null device (1:3)");
    }
    Ok(fd)
}

/// Where a filesystem of the runtime's own (proc, sysfs, the /dev tmpfs)
/// is mounted: the directory `name` at the top of the root, made when
/// missing, and refused when the image put anything else there, a
/// symbolic link above all, as runc refuses (`filesystem "proc" must be
/// mounted on ordinary directory`, its fix for CVE-2019-16884 and
/// CVE-2019-19921): a link would move the mount where the image chose,
/// and let it stand a fake /proc or /dev where the runtime and the
/// container look. The fd is what the mount is made on
/// (`/proc/self/fd/N` reaches exactly it), never the name again.
fn own_fs_target(root: &bind::Root<'_>, name: &str, fstype: &str) -> Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    let open = || {
        rustix::fs::openat(
            &root.fd,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let refused = || anyhow!("filesystem {fstype:?} must be mounted on ordinary directory");
    match open() {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) => {
            match rustix::fs::mkdirat(&root.fd, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(anyhow!("creating /{name}: {e}")),
            }
            open().map_err(|e| match e {
                Errno::NOTDIR | Errno::LOOP => refused(),
                e => anyhow!("opening /{name}: {e}"),
            })
        }
        // O_PATH | O_NOFOLLOW opens a symlink itself, which O_DIRECTORY
        // then refuses.
        Err(Errno::NOTDIR | Errno::LOOP) => Err(refused()),
        Err(e) => Err(anyhow!("opening /{name}: {e}")),
    }
}

/// The path that reaches exactly what `fd` is (its magic link).
fn fd_target(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The group of ttys (and of the devpts mount's ptys) in an image.
const TTY_GID: u32 = 5;

fn mount_proc(root: &bind::Root<'_>) -> Result<()> {
    let target = own_fs_target(root, "proc", "proc")?;
    mount_fs(
        "proc",
        &fd_target(&target),
        "proc",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}

fn mount_sys(root: &bind::Root<'_>, writable: bool) -> Result<()> {
    let fd = own_fs_target(root, "sys", "sysfs")?;
    let target = fd_target(&fd);
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if !writable {
        flags |= MsFlags::MS_RDONLY;
    }
    if mount_fs("sysfs", &target, "sysfs", flags, None).is_ok() {
        return Ok(());
    }
    // sysfs cannot be mounted in a network namespace we do not own (host
    // network with an unprivileged user namespace): bind the host's.
    bind(Path::new("/sys"), &target, true)?;
    if !writable {
        // The bind is now what `/sys` in the root names (the fd still
        // names the directory under it).
        let target = root.path.join("sys");
        remount_readonly(
            &target,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )?;
    }
    Ok(())
}

/// /sys/fs/cgroup as the container's cgroup namespace (made by the init
/// once in its cgroups) shows it: each hierarchy mounted afresh, so its
/// root is the container's own cgroup and the container reads its own
/// limits (memory.limit_in_bytes, cpu.max, ...) where the JVM, Go runtimes
/// and nproc-style tools look; read-only unless privileged. On v2 that is
/// one cgroup2 mount; on v1 a tmpfs with a mount per hierarchy and the
/// host's links (`cpu -> cpu,cpuacct`). A hybrid host's cgroup2 mount at
/// unified/ is left out: the runtime makes no cgroups there, so it would
/// show the supervisor's.
fn mount_cgroups(root: &Path, view: &HostView, writable: bool) -> Result<()> {
    let target = root.join("sys/fs/cgroup");
    if !target.is_dir() {
        // A kernel without cgroups in sysfs: nothing to show.
        return Ok(());
    }
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    match view {
        HostView::V2 => mount_fs("cgroup2", &target, "cgroup2", flags, None)?,
        HostView::V1 { hierarchies, links } => {
            mount_fs("tmpfs", &target, "tmpfs", flags, Some("mode=755"))?;
            for hierarchy in hierarchies {
                let dir = target.join(&hierarchy.dir);
                fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                mount_fs("cgroup", &dir, "cgroup", flags, Some(&hierarchy.options))?;
                if !writable {
                    remount_readonly(&dir, flags)?;
                }
            }
            for (name, link) in links {
                std::os::unix::fs::symlink(link, target.join(name))
                    .with_context(|| format!("linking {link}"))?;
            }
        }
    }
    if !writable {
        remount_readonly(&target, flags)?;
    }
    Ok(())
}

fn mount_one(
    root: &bind::Root<'_>,
    m: &Mount,
    source: Option<bind::Source>,
    user: Option<BorrowedFd<'_>>,
) -> Result<()> {
    let fail = |e: anyhow::Error| {
        e.context(format!(
            "error mounting {:?} to rootfs at {:?}",
            m.source.display().to_string(),
            m.destination
        ))
    };
    match &m.kind {
        MountKind::Bind => {
            let source = source.ok_or_else(|| anyhow!("no source")).map_err(fail)?;
            bind::attach(root, m, source, user).map_err(fail)
        }
        MountKind::Tmpfs { options } => {
            let target = bind::target(root, &m.destination, true).map_err(fail)?;
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if m.readonly {
                flags |= MsFlags::MS_RDONLY;
            }
            // The magic link reaches exactly the resolved directory.
            let path = PathBuf::from(format!("/proc/self/fd/{}", target.as_raw_fd()));
            mount_fs("tmpfs", &path, "tmpfs", flags, Some(options)).map_err(fail)
        }
    }
}

fn pivot(root: &Path) -> Result<()> {
    nix::unistd::chdir(root).context("entering the new root")?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    // The old root is now stacked on top of the new one: detach it.
    umount2(".", MntFlags::MNT_DETACH).context("detaching the old root")?;
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}

/// Masks the kernel's sensitive /proc and /sys files (containerd's
/// masked paths): a directory under an empty read-only tmpfs, a file under
/// a bind of the null device. Done before pivot_root, once the volumes
/// are mounted, from the root's fd.
///
/// The null device is the host's, opened (and checked) before the image
/// was looked at, never the name `/dev/null` in the container: a volume
/// at /dev, which a sibling container shares, could make that a link to a
/// file the mask would then expose, writable, in place of /proc/kcore
/// (runc's CVE-2025-31133). Each path is opened without following any
/// link (`RESOLVE_NO_SYMLINKS`) and mounted on through its fd.
fn mask_paths(root: &bind::Root<'_>, paths: &[String], null: &OwnedFd) -> Result<()> {
    use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
    let null = fd_target(null);
    for path in paths {
        let relative = path.trim_start_matches('/');
        let fd = match super::safepath::openat2(
            root.fd.as_fd(),
            relative,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => bail!("opening masked path {path}: {}", super::init::io_text(&e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| anyhow!("checking {path}: {e}"))?;
        let target = fd_target(&fd);
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => mount_fs("tmpfs", &target, "tmpfs", MsFlags::MS_RDONLY, None)?,
            FileType::Symlink => bail!("masked path {path} is a symbolic link"),
            _ => bind(&null, &target, false)?,
        }
    }
    Ok(())
}

/// Write-protects the kernel's settings under /proc (containerd's
/// read-only paths), after the sysctls were written.
pub fn restrict_proc(config: &ContainerConfig) -> Result<()> {
    for path in &config.readonly_paths {
        let path = Path::new(path);
        if path.exists() {
            bind(path, path, true)?;
            remount_readonly(
                path,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            )?;
        }
    }
    Ok(())
}

/// Makes `/` read-only, keeping its nosuid/nodev/noexec (a bind remount
/// sets a mount's flags to exactly those given).
pub fn remount_root_readonly() -> Result<()> {
    let kept = kept_flags(Path::new("/")).context("reading the root's mount flags")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
        None::<&str>,
    )
    .context("making the root filesystem read-only")
}

/// The nosuid, nodev and noexec flags of the mount at `path`.
fn kept_flags(path: &Path) -> Result<MsFlags> {
    use nix::sys::statvfs::FsFlags;
    let current = nix::sys::statvfs::statvfs(path)?.flags();
    let mut kept = MsFlags::empty();
    for (has, flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if current.contains(has) {
            kept |= flag;
        }
    }
    Ok(kept)
}

fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    mount(Some(source), target, Some(fstype), flags, data).map_err(|e| {
        anyhow!(
            "mounting {fstype} at {}: {}",
            target.display(),
            super::init::errno_text(e)
        )
    })
}

fn bind(source: &Path, target: &Path, recursive: bool) -> Result<()> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(Some(source), target, None::<&str>, flags, None::<&str>).map_err(|e| {
        anyhow!(
            "bind-mounting {} at {}: {}",
            source.display(),
            target.display(),
            super::init::errno_text(e)
        )
    })
}

fn remount_readonly(target: &Path, extra: MsFlags) -> Result<()> {
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | extra,
        None::<&str>,
    )
    .map_err(|e| {
        anyhow!(
            "remounting {} read-only: {}",
            target.display(),
            super::init::errno_text(e)
        )
    })
}

/// The directory `path` inside `root`, created if missing.
fn ensure_dir(root: &Path, path: &str) -> Result<PathBuf> {
    let target = resolve_in_root(root, path)?;
    if !target.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&target)
            .with_context(|| format!("creating {path}"))?;
    }
    Ok(target)
}

/// Resolves `path` as if `root` were `/`: symbolic links in the image are
/// followed but can never lead out of the root (an absolute link restarts
/// at `root`, `..` stops at it). Missing components are kept as they are.
pub fn resolve_in_root(root: &Path, path: &str) -> Result<PathBuf> {
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        resolved.push(part);
        let current = join(root, &resolved);
        let Ok(target) = fs::read_link(&current) else {
            continue;
        };
        links += 1;
        if links > 40 {
            bail!("too many levels of symbolic links in {path}");
        }
        resolved.pop();
        let target = target.to_string_lossy().into_owned();
        if target.starts_with('/') {
            resolved.clear();
        }
        let mut more = components(&target);
        more.reverse();
        pending.extend(more);
    }
    Ok(join(root, &resolved))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_stays_in_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("/usr/lib", r.join("lib")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", r.join("usr/escape")).unwrap();
        std::os::unix::fs::symlink("lib/x", r.join("usr/rel")).unwrap();
        assert_eq!(resolve_in_root(r, "/lib/a").unwrap(), r.join("usr/lib/a"));
        assert_eq!(
            resolve_in_root(r, "/usr/escape/passwd").unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(resolve_in_root(r, "/usr/rel").unwrap(), r.join("usr/lib/x"));
        assert_eq!(resolve_in_root(r, "/../../x").unwrap(), r.join("x"));
    }

    #[test]
    fn symlink_loops_are_refused() {
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/b", root.path().join("a")).unwrap();
        std::os::unix::fs::symlink("/a", root.path().join("b")).unwrap();
        assert!(resolve_in_root(root.path(), "/a/x").is_err());
    }
}
