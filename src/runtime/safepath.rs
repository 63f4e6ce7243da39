//! Paths resolved and created through file descriptors, so that whoever can
//! write inside a directory cannot redirect what the runtime opens, creates
//! or chmods there.
//!
//! A path string is looked up again by every system call that takes it: a
//! process that can write in one of its directories (a container sharing an
//! emptyDir, say) can swap a component for a symbolic link between the
//! check and the use, and the runtime, as root, then follows it out (the
//! CVE-2017-1002101 / CVE-2021-25741 subPath and CVE-2021-30465 mount
//! target class). Here a path is resolved once, by the kernel, with
//! `openat2` and `RESOLVE_BENEATH` or `RESOLVE_IN_ROOT` relative to a
//! directory fd, into an fd that stays on the same inode whatever happens to
//! the names afterwards; `RESOLVE_NO_MAGICLINKS` keeps `/proc/<pid>/fd/N`
//! style links (which jump anywhere) out of every lookup. Missing
//! directories are made with `mkdirat` on the parent's fd and entered with
//! `O_NOFOLLOW | O_DIRECTORY`, so a racer can at worst make the walk fail.
//!
//! Modes are set with `fchmod` on an fd opened `O_NOFOLLOW | O_DIRECTORY`,
//! never `chmod` by name (which follows a final symlink and looks the path
//! up again). `fchmod` needs a real fd, not an O_PATH one; opening a
//! directory read-only has no side effect, so that is what is done. The
//! other way, `chmod("/proc/self/fd/N")` on an O_PATH fd, reaches the fd's
//! inode only while /proc is a genuine, not over-mounted procfs (libpathrs
//! checks that with fstatfs and mount ids); it is not needed here.
//!
//! `RESOLVE_NO_XDEV` is not used: a hostPath volume's tree legitimately
//! spans mounts, and `RESOLVE_BENEATH` / `RESOLVE_IN_ROOT` already confine
//! the walk to the base directory whichever mounts it crosses.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{CWD, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How a relative path is resolved against its base directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Leaving the base (an absolute symlink, `..` above it) is an error
    /// (EXDEV): volume sources, where the kubelet refuses a subPath that
    /// leads out of the volume.
    Beneath,
    /// The base is the root: absolute symlinks and `..` stay inside it, as
    /// in a chroot. Container root filesystems.
    InRoot,
}

impl Scope {
    fn flags(self) -> ResolveFlags {
        ResolveFlags::NO_MAGICLINKS
            | match self {
                Scope::Beneath => ResolveFlags::BENEATH,
                Scope::InRoot => ResolveFlags::IN_ROOT,
            }
    }
}

/// `openat2`, tried again while it fails with EAGAIN: a scoped lookup
/// (`RESOLVE_BENEATH`, `RESOLVE_IN_ROOT`) that crosses `..` gives up when
/// any rename or mount happens on the system meanwhile (the kernel cannot
/// then prove the walk stayed inside), which a container renaming files in
/// a loop can cause at will. libpathrs retries the same way.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &str,
    oflags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(dir, path, oflags, mode, resolve) {
            Err(Errno::AGAIN) if tries < 128 => tries += 1,
            result => return Ok(result?),
        }
    }
}

/// An O_PATH fd of a path the runtime itself chose (a pod directory, a
/// hostPath named in the manifest), symlinks followed as the kubelet does.
pub fn open_trusted(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The normal components of `path` with `.` dropped and `..` applied
/// lexically, as runc cleans a mount destination (`filepath.Clean`).
pub fn clean_components(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            // A component of a &str is a &str.
            Component::Normal(s) => parts.extend(s.to_str()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts
}

/// An O_PATH fd of `path` (relative; symlinks followed within `scope`).
pub fn open(base: BorrowedFd<'_>, path: &str, scope: Scope) -> io::Result<OwnedFd> {
    let parts = clean_components(path);
    open_parts(base, &parts, scope)
}

fn open_parts(base: BorrowedFd<'_>, parts: &[&str], scope: Scope) -> io::Result<OwnedFd> {
    let joined = if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    };
    openat2(
        base,
        joined.as_str(),
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        scope.flags(),
    )
}

/// The directory `path` under `base`, made (with `mode`, exactly: not
/// subject to the umask) where it or its parents are missing, as the
/// kubelet's SafeMakeDir does. Directories that exist keep their mode.
/// Returns an fd of the directory.
pub fn mkdir_all(base: BorrowedFd<'_>, path: &str, scope: Scope, mode: u32) -> io::Result<OwnedFd> {
    let parts = clean_components(path);
    // The longest prefix that exists, resolved in one lookup.
    let mut existing = parts.len();
    let mut dir = loop {
        match open_parts(base, &parts[..existing], scope) {
            Ok(fd) => break fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && existing > 0 => existing -= 1,
            Err(e) => return Err(e),
        }
    };
    for name in &parts[existing..] {
        dir = make_child(dir.as_fd(), name, mode)?;
    }
    if existing == parts.len() {
        // It existed: it must be a directory.
        let stat = rustix::fs::fstat(&dir)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Directory {
            return Err(Errno::NOTDIR.into());
        }
    }
    Ok(dir)
}

/// Makes the directory `name` in `parent` and enters it without following
/// a symlink: one planted (or swapped in) after the mkdirat, or a
/// non-directory, fails the walk (ENOTDIR). Only a directory this call
/// made gets `mode`.
fn make_child(parent: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<OwnedFd> {
    let made = match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(mode)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(e.into()),
    };
    let child = open_dir_nofollow(parent, name)?;
    if made {
        rustix::fs::fchmod(&child, Mode::from_raw_mode(mode))?;
    }
    Ok(child)
}

/// A read-only fd of the directory `name` in `parent`, never through a
/// symlink.
fn open_dir_nofollow(parent: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    openat2(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH,
    )
}

/// Creates the empty file `path` under `base` (parents made with 0755),
/// failing if anything already has its name: `O_CREAT | O_EXCL |
/// O_NOFOLLOW` on the parent's fd, as runc makes a file bind mount's
/// target. Returns an fd of the new file with `mode` set.
pub fn create_file(
    base: BorrowedFd<'_>,
    path: &str,
    scope: Scope,
    mode: u32,
) -> io::Result<OwnedFd> {
    let parts = clean_components(path);
    let Some((name, parents)) = parts.split_last() else {
        return Err(Errno::ISDIR.into());
    };
    let parent = mkdir_all(base, &parents.join("/"), scope, 0o755)?;
    let file = rustix::fs::openat(
        &parent,
        *name,
        OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
    Ok(file)
}

/// `mkdir -p` of a host directory the runtime owns, then its mode set
/// exactly: the directory itself and every directory this call makes are
/// entered with `O_NOFOLLOW`, so a symlink standing at the name fails the
/// call (ENOTDIR) instead of redirecting the mkdir or the chmod. Existing
/// ancestors are opened normally (a node may keep its state directory
/// behind a symlink).
pub fn make_dir(path: &Path, mode: u32) -> io::Result<()> {
    let (parent, name) = split(path)?;
    let parent = open_or_make_ancestors(parent, mode)?;
    match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let dir = open_dir_nofollow(parent.as_fd(), name)?;
    // The umask applied to mkdir; the kubelet's modes are exact.
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(mode))?;
    Ok(())
}

/// Creates the empty file `path` with `mode` unless something already has
/// its name (then it is left alone, as the kubelet's FileOrCreate does):
/// `O_CREAT | O_EXCL | O_NOFOLLOW` in the parent's fd, so a symlink
/// planted at the name is neither followed to create nor chmodded.
pub fn make_file(path: &Path, mode: u32) -> io::Result<()> {
    let (parent, name) = split(path)?;
    let parent = open_or_make_ancestors(parent, 0o755)?;
    match rustix::fs::openat(
        &parent,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    ) {
        Ok(file) => Ok(rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?),
        Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn split(path: &Path) -> io::Result<(&Path, &str)> {
    match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
        (Some(parent), Some(name)) if path.is_absolute() => Ok((parent, name)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not an absolute directory path", path.display()),
        )),
    }
}

/// An O_PATH fd of the directory `dir`, made (mode `mode`, minus the umask,
/// as `mkdir -p` does) with its missing ancestors.
fn open_or_make_ancestors(dir: &Path, mode: u32) -> io::Result<OwnedFd> {
    match rustix::fs::openat(
        CWD,
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOENT) => {
            let (parent, name) = split(dir)?;
            let parent = open_or_make_ancestors(parent, mode)?;
            match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            openat2(
                parent.as_fd(),
                name,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Where an fd points, as the kernel names it (`/proc/self/fd/N`); for
/// checks and messages, never to open again.
pub fn fd_path(fd: BorrowedFd<'_>) -> io::Result<std::path::PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    fn dir_fd(path: &Path) -> OwnedFd {
        open_trusted(path).unwrap()
    }

    #[test]
    fn make_dir_never_follows_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = tmp.path().join("link");
        symlink(&victim, &link).unwrap();

        let err = make_dir(&link, 0o777).unwrap_err();
        // O_DIRECTORY | O_NOFOLLOW on a symlink: ENOTDIR.
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR), "{err}");
        assert_eq!(mode_of(&victim), 0o700, "the symlink's target was chmodded");
        // A dangling one is not created through either.
        let dangling = tmp.path().join("dangling");
        symlink(tmp.path().join("elsewhere"), &dangling).unwrap();
        assert!(make_dir(&dangling, 0o755).is_err());
        assert!(!tmp.path().join("elsewhere").exists());

        // The ordinary case: parents made, the mode exact.
        let deep = tmp.path().join("a/b/c");
        make_dir(&deep, 0o777).unwrap();
        assert_eq!(mode_of(&deep), 0o777);
        make_dir(&deep, 0o750).unwrap();
        assert_eq!(mode_of(&deep), 0o750, "an existing directory gets the mode");

        // Nor does make_file create or chmod through one.
        std::fs::write(victim.join("file"), b"").unwrap();
        std::fs::set_permissions(victim.join("file"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        symlink(victim.join("file"), tmp.path().join("planted")).unwrap();
        make_file(&tmp.path().join("planted"), 0o644).unwrap();
        assert_eq!(mode_of(&victim.join("file")), 0o600);
        symlink(victim.join("new"), tmp.path().join("dangling-file")).unwrap();
        make_file(&tmp.path().join("dangling-file"), 0o644).unwrap();
        assert!(!victim.join("new").exists());
        make_file(&tmp.path().join("a/fresh"), 0o640).unwrap();
        assert_eq!(mode_of(&tmp.path().join("a/fresh")), 0o640);
    }

    #[test]
    fn beneath_refuses_what_leads_out() {
        let tmp = tempfile::tempdir().unwrap();
        let vol = tmp.path().join("vol");
        std::fs::create_dir_all(vol.join("real/inner")).unwrap();
        symlink("/", vol.join("to-root")).unwrap();
        symlink("../..", vol.join("up")).unwrap();
        symlink("real/inner", vol.join("rel")).unwrap();
        symlink("/proc/self/root", vol.join("magic")).unwrap();
        let base = dir_fd(&vol);
        let exdev = |p: &str| {
            open(base.as_fd(), p, Scope::Beneath)
                .unwrap_err()
                .raw_os_error()
        };
        assert_eq!(exdev("to-root"), Some(libc::EXDEV));
        assert_eq!(exdev("to-root/etc"), Some(libc::EXDEV));
        assert_eq!(exdev("up"), Some(libc::EXDEV));
        assert!(exdev("magic").is_some());
        let inner = open(base.as_fd(), "rel", Scope::Beneath).unwrap();
        assert_eq!(fd_path(inner.as_fd()).unwrap(), vol.join("real/inner"));
        // Creation through an escaping symlink fails and makes nothing.
        assert!(mkdir_all(base.as_fd(), "to-root/new-dir", Scope::Beneath, 0o777).is_err());
        assert!(!Path::new("/new-dir").exists());
    }

    #[test]
    fn in_root_keeps_symlinks_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/usr/lib", root.join("lib")).unwrap();
        symlink("../../../../etc", root.join("usr/escape")).unwrap();
        let base = dir_fd(root);
        let made = mkdir_all(base.as_fd(), "/lib/a/b", Scope::InRoot, 0o755).unwrap();
        assert_eq!(fd_path(made.as_fd()).unwrap(), root.join("usr/lib/a/b"));
        assert_eq!(mode_of(&root.join("usr/lib/a")), 0o755);
        let made = mkdir_all(base.as_fd(), "/usr/escape/x", Scope::InRoot, 0o755).unwrap();
        assert_eq!(fd_path(made.as_fd()).unwrap(), root.join("etc/x"));
        // Nothing is made through a dangling symlink (as runc's
        // MkdirAllInRoot): the walk fails instead.
        symlink("/nowhere", root.join("dangling")).unwrap();
        assert!(mkdir_all(base.as_fd(), "/dangling/x", Scope::InRoot, 0o755).is_err());
        assert!(!root.join("nowhere").exists());
        let file = create_file(base.as_fd(), "/lib/f", Scope::InRoot, 0o644).unwrap();
        assert_eq!(fd_path(file.as_fd()).unwrap(), root.join("usr/lib/f"));
        assert_eq!(mode_of(&root.join("usr/lib/f")), 0o644);
        // An existing name is never taken over as a new file.
        assert!(create_file(base.as_fd(), "/lib/f", Scope::InRoot, 0o644).is_err());
        // `..` is applied lexically, as runc cleans a destination.
        assert_eq!(clean_components("/a/../b/./c/.."), vec!["b"]);
    }

    #[test]
    fn created_directories_get_the_exact_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let base = dir_fd(tmp.path());
        mkdir_all(base.as_fd(), "x/y", Scope::Beneath, 0o1777).unwrap();
        assert_eq!(mode_of(&tmp.path().join("x")), 0o1777);
        assert_eq!(mode_of(&tmp.path().join("x/y")), 0o1777);
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        let err = mkdir_all(base.as_fd(), "file", Scope::Beneath, 0o755).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }
}
