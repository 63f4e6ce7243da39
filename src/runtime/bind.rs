//! A container's bind mounts, made through file descriptors from source to
//! target, so nothing a container can write reaches between the check of a
//! path and its use.
//!
//! Who does what, and why:
//! - The **supervisor** resolves every source (the pod's /etc files, its
//!   /dev/shm, the termination log, each volume and subPath) to an O_PATH
//!   fd: the volume's directory by the path the runtime chose, the subPath
//!   inside it with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`,
//!   missing subPath directories made with `mkdirat` on fds (see
//!   [`super::safepath`]). It is the process that reports configuration
//!   errors (CreateContainerConfigError, with the kubelet's words), so the
//!   source that was checked is the one that is mounted: nothing is looked
//!   up again by name afterwards.
//! - The fds reach the container's init as inherited descriptors
//!   ([`super::spawn::launch_with_fds`], numbers in
//!   [`super::config::Mount::source_fd`]). Inheritance rather than
//!   SCM_RIGHTS: the init is the supervisor's own child, the fds exist
//!   before the fork, and the configuration pipe stays a plain pipe.
//! - The **init**, still in the host's mount namespace (where the sources'
//!   mounts live: `open_tree(OPEN_TREE_CLONE)` only clones mounts of the
//!   caller's namespace), clones each source as a detached recursive mount
//!   tree and closes the O_PATH fd at once, so no fd of a host directory is
//!   left to reach the container's program. After `unshare(CLONE_NEWNS)`
//!   and the overlay root, it sets the tree's attributes with
//!   `mount_setattr` (read-only, recursively for `recursiveReadOnly`;
//!   propagation), which only adds flags, so the source's nosuid, nodev and
//!   noexec stay (a `MS_REMOUNT | MS_BIND | MS_RDONLY` drops them), then
//!   resolves the target inside the root filesystem with
//!   `openat2(RESOLVE_IN_ROOT)` on the root's fd, makes a missing one with
//!   `mkdirat` or `O_CREAT | O_EXCL` on fds, and attaches the tree there
//!   with `move_mount`. A target inside an earlier volume (a nested mount)
//!   can be swapped by a sibling container at any time; the fd keeps the
//!   inode that was resolved inside the root, and a rename cannot carry it
//!   out of the mount it lives on.
//!
//! As containerd and runc do, volume binds get neither nosuid nor nodev of
//! their own (the source's flags carry over), and a target on /proc is
//! refused with runc's messages (a few lxcfs-style files excepted).

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use rustix::mount::{MoveMountFlags, OpenTreeFlags, move_mount, open_tree};

use super::config::{Mount, MountKind, Propagation};
use super::safepath::{self, Scope};

/// A bind's source cloned as a detached mount tree.
#[derive(Debug)]
pub struct Source {
    tree: OwnedFd,
    is_dir: bool,
}

/// Takes over the inherited source fds of `mounts` and clones each source
/// (recursively, as containerd's `rbind`). Must run in the host's mount
/// namespace. One entry per mount, None for non-binds.
pub fn clone_sources(mounts: &[Mount]) -> Result<Vec<Option<Source>>> {
    // Owned (so closed, and close-on-exec until then) before anything can
    // fail.
    let fds: Vec<Option<OwnedFd>> = mounts
        .iter()
        .map(|m| {
            m.source_fd.map(|raw| {
                // SAFETY: the runtime placed this fd for this mount only.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
                fd
            })
        })
        .collect();
    mounts
        .iter()
        .zip(fds)
        .map(|(m, fd)| {
            let Some(fd) = fd else {
                if m.kind == MountKind::Bind {
                    bail!("no source fd for the bind mount at {}", m.destination);
                }
                return Ok(None);
            };
            if m.propagation == Propagation::Bidirectional {
                super::propagation::ensure_shared(fd.as_fd(), &m.source)?;
            }
            let stat = rustix::fs::fstat(&fd)
                .map_err(|e| anyhow!("stat {}: {}", m.source.display(), errno(e)))?;
            let is_dir = rustix::fs::FileType::from_raw_mode(stat.st_mode)
                == rustix::fs::FileType::Directory;
            let tree = open_tree(
                &fd,
                "",
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::AT_RECURSIVE
                    | OpenTreeFlags::AT_EMPTY_PATH
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC,
            )
            .map_err(|e| anyhow!("cloning the mount of {}: {}", m.source.display(), errno(e)))?;
            Ok(Some(Source { tree, is_dir }))
        })
        .collect()
}

/// The container's root filesystem before pivot_root: its mount point and
/// an fd every target is resolved against.
pub struct Root<'a> {
    pub path: &'a Path,
    pub fd: OwnedFd,
}

impl Root<'_> {
    pub fn open(path: &Path) -> Result<Root<'_>> {
        let fd = safepath::open_trusted(path)
            .with_context(|| format!("opening the root filesystem {}", path.display()))?;
        Ok(Root { path, fd })
    }
}

/// Attaches `source` at `m.destination` inside `root`, with `m`'s
/// read-only flag and propagation, and idmapped through the user namespace
/// `user` if `m.idmap` says so.
pub fn attach(
    root: &Root<'_>,
    m: &Mount,
    source: Source,
    user: Option<BorrowedFd<'_>>,
) -> Result<()> {
    if let Some(user) = user.filter(|_| m.idmap) {
        idmap(source.tree.as_fd(), user).context("idmapping the mount")?;
    }
    let propagation = match m.propagation {
        Propagation::None => Some(libc::MS_PRIVATE),
        Propagation::HostToContainer => Some(libc::MS_SLAVE),
        // The clone is a peer of the host's mount: left so.
        Propagation::Bidirectional => None,
    };
    if let Some(propagation) = propagation {
        set_attributes(source.tree.as_fd(), 0, propagation, true)
            .context("setting mount propagation")?;
    }
    if m.readonly {
        set_attributes(
            source.tree.as_fd(),
            MOUNT_ATTR_RDONLY,
            0,
            m.recursive_readonly,
        )
        .context("making the mount read-only")?;
    }
    let target = target(root, &m.destination, source.is_dir)?;
    move_mount(
        &source.tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| anyhow!("attaching the mount at {}: {}", m.destination, errno(e)))
}

/// The mount point of a bind (or tmpfs) at `destination`, resolved and if
/// need be made inside the root, and checked as runc checks it.
pub fn target(root: &Root<'_>, destination: &str, is_dir: bool) -> Result<OwnedFd> {
    let parts = safepath::clean_components(destination);
    let clean = format!("/{}", parts.join("/"));
    // A first check on the name as written: nothing is made under /proc.
    check_proc(&clean, destination)?;
    let fd = match safepath::open(root.fd.as_fd(), &clean, Scope::InRoot) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => if is_dir {
            safepath::mkdir_all(root.fd.as_fd(), &clean, Scope::InRoot, 0o755)
        } else {
            safepath::create_file(root.fd.as_fd(), &clean, Scope::InRoot, 0o644)
        }
        .map_err(|e| anyhow!("make mountpoint {destination:?}: {}", io_text(&e)))?,
        Err(e) => bail!("lookup mountpoint target {destination:?}: {}", io_text(&e)),
    };
    // Then on where it really is, symlinks in the image followed.
    let real = safepath::fd_path(fd.as_fd())
        .map_err(|e| anyhow!("get mount destination real path: {}", io_text(&e)))?;
    let inside = real.strip_prefix(root.path).map_err(|_| {
        anyhow!(
            "mountpoint {:?} is outside of rootfs {:?}",
            real.display().to_string(),
            root.path.display().to_string()
        )
    })?;
    if inside.as_os_str().is_empty() {
        bail!(
            "mountpoint {:?} is on the top of rootfs {:?}",
            real.display().to_string(),
            root.path.display().to_string()
        );
    }
    check_proc(&format!("/{}", inside.display()), destination)?;
    Ok(fd)
}

/// The files under /proc that runc lets a bind cover (lxcfs emulates them).
const VALID_PROC_MOUNTS: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
];

/// runc's checkProcMount for a bind whose source is not a procfs: nothing
/// on /proc itself, nothing under it but [`VALID_PROC_MOUNTS`]. `path` is
/// clean and absolute inside the container.
fn check_proc(path: &str, destination: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(anyhow!(
            "check proc-safety of {destination} mount: {path:?} cannot be mounted because it is {why}"
        ))
    };
    if path == "/proc" {
        return fail("not of type proc");
    }
    if path.starts_with("/proc/") && !VALID_PROC_MOUNTS.contains(&path) {
        return fail("inside /proc");
    }
    Ok(())
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// The kernel's `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes the detached mount `fd` (its top mount only) show its files
/// through the mapping of the user namespace `user`: what host uid 0 owns
/// is owned by the namespace's root.
pub fn idmap(fd: BorrowedFd<'_>, user: BorrowedFd<'_>) -> Result<()> {
    use std::os::fd::AsRawFd;
    mount_setattr(
        fd,
        MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: user.as_raw_fd() as u64,
        },
        false,
    )
}

const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE])`: adds `set`
/// (MOUNT_ATTR_*) and a propagation type (MS_PRIVATE, ...; 0 to keep it),
/// clearing nothing. Not in rustix; a raw system call.
fn set_attributes(fd: BorrowedFd<'_>, set: u64, propagation: u64, recursive: bool) -> Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
    mount_setattr(fd, attr, recursive)
}

fn mount_setattr(fd: BorrowedFd<'_>, attr: MountAttr, recursive: bool) -> Result<()> {
    use std::os::fd::AsRawFd;
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: a valid fd, an empty NUL-terminated path and a struct of the
    // size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("mount_setattr: {}", io_text(&err));
    }
    Ok(())
}

fn errno(e: rustix::io::Errno) -> String {
    super::init::errno_text(nix::errno::Errno::from_raw(e.raw_os_error()))
}

fn io_text(e: &std::io::Error) -> String {
    super::init::io_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_targets_follow_runc() {
        let msg = |p: &str| check_proc(p, p).unwrap_err().to_string();
        assert_eq!(
            msg("/proc"),
            "check proc-safety of /proc mount: \"/proc\" cannot be mounted because it is not of type proc"
        );
        assert_eq!(
            msg("/proc/sys/kernel"),
            "check proc-safety of /proc/sys/kernel mount: \"/proc/sys/kernel\" cannot be mounted because it is inside /proc"
        );
        assert!(check_proc("/proc/meminfo", "/proc/meminfo").is_ok());
        assert!(check_proc("/procfs", "/procfs").is_ok());
        assert!(check_proc("/sys/fs/cgroup", "/sys/fs/cgroup").is_ok());
    }

    /// The subPath race (CVE-2017-1002101 class), in one process: a thread
    /// keeps exchanging the volume's directory `d` with a symlink out of
    /// the volume (renameat2 RENAME_EXCHANGE) while the other binds `d`.
    /// Resolved as a string and bound by name later, as this runtime did
    /// (the supervisor resolved, the init mounted milliseconds after), the
    /// bind lands outside; resolved to an fd and cloned from it, never.
    #[test]
    fn a_swapped_sub_path_is_won_by_strings_and_lost_by_fds() {
        use nix::mount::{MntFlags, MsFlags, mount, umount2};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: binding needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let vol = tmp.path().join("vol");
        let outside = tmp.path().join("outside");
        let target = tmp.path().join("target");
        for dir in [&vol.join("d"), &outside, &target] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(outside.join("OUTSIDE"), b"").unwrap();
        std::os::unix::fs::symlink(&outside, vol.join("swap")).unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let racer = {
            let stop = stop.clone();
            let vol = safepath::open_trusted(&vol).unwrap();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = rustix::fs::renameat_with(
                        &vol,
                        "d",
                        &vol,
                        "swap",
                        rustix::fs::RenameFlags::EXCHANGE,
                    );
                }
            })
        };
        const TRIES: usize = 300;
        // The gap between resolving and mounting (for the string way, the
        // init's start-up; here the same for both).
        let gap = std::time::Duration::from_micros(500);
        let (by_string, by_fd, fd_mounts) = std::thread::spawn(move || {
            // This thread's own mount namespace: nothing reaches the host.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .unwrap();
            let escaped = || target.join("OUTSIDE").exists();
            let unmount = || umount2(&target, MntFlags::MNT_DETACH).unwrap();
            // At least TRIES each, and on until the race was won once (a
            // loaded machine may schedule the racer seldom), for up to a
            // minute.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let more = |tries: usize, won: usize| {
                tries < TRIES || (won == 0 && std::time::Instant::now() < deadline)
            };
            let (mut by_string, mut tries) = (0, 0);
            while more(tries, by_string) {
                tries += 1;
                let resolved = super::super::rootfs::resolve_in_root(&vol, "d").unwrap();
                std::thread::sleep(gap);
                if mount(
                    Some(&resolved),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .is_ok()
                {
                    by_string += usize::from(escaped());
                    unmount();
                }
            }
            let root = safepath::open_trusted(&vol).unwrap();
            let (mut by_fd, mut fd_mounts, mut tries) = (0, 0, 0);
            while more(tries, fd_mounts) {
                tries += 1;
                // EXDEV while `d` is the symlink: refused, as it should be.
                let source = safepath::open(root.as_fd(), "d", Scope::Beneath);
                std::thread::sleep(gap);
                let Ok(source) = source else {
                    continue;
                };
                let tree = open_tree(
                    &source,
                    "",
                    OpenTreeFlags::OPEN_TREE_CLONE
                        | OpenTreeFlags::AT_EMPTY_PATH
                        | OpenTreeFlags::OPEN_TREE_CLOEXEC,
                )
                .unwrap();
                move_mount(
                    &tree,
                    "",
                    rustix::fs::CWD,
                    &target,
                    MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
                )
                .unwrap();
                fd_mounts += 1;
                by_fd += usize::from(escaped());
                unmount();
            }
            (by_string, by_fd, fd_mounts)
        })
        .join()
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        racer.join().unwrap();
        assert!(
            by_string > 0,
            "the race was never won against string paths in {TRIES} tries: this test shows nothing"
        );
        assert_eq!(by_fd, 0, "a bind made from an fd left the volume");
        assert!(fd_mounts > 0, "no bind was ever made from an fd");
        eprintln!("string binds outside: {by_string}/{TRIES}; fd binds: {fd_mounts}, outside: 0");
    }
}
