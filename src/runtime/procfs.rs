//! Files of procfs opened so that nothing in the container can redirect
//! them: the AppArmor `attr/exec` write that confines the program about
//! to run.
//!
//! Written by path, a `/proc` that is not the kernel's procfs (an image or
//! volume making it a directory or a tmpfs, CVE-2019-16884) or a bind
//! mount over the file (CVE-2025-52881) takes the write somewhere
//! harmless and the container runs unconfined. As runc does since then:
//! `/proc` is opened once and checked to be the root of a real procfs
//! (its filesystem magic and root inode), the file is resolved beneath
//! that fd crossing no mount (RESOLVE_NO_XDEV) and following no magic
//! link, and the file opened is checked to be procfs again.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// `PROC_SUPER_MAGIC` of linux/magic.h.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// The inode of every procfs root (`PROC_ROOT_INO`).
const PROC_ROOT_INO: u64 = 1;

/// An fd of the root of a procfs mount, checked to be one.
pub struct ProcRoot {
    fd: OwnedFd,
}

fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}

fn is_procfs(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::fs::fstatfs(fd)?.f_type as i64 == PROC_SUPER_MAGIC)
}

impl ProcRoot {
    /// Opens `path` (no symlink followed at its end) and checks that it
    /// is the root of a procfs.
    pub fn open(path: &Path) -> io::Result<ProcRoot> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        if !is_procfs(&fd)? {
            return Err(refused(format!("{} is not a procfs", path.display())));
        }
        if rustix::fs::fstat(&fd)?.st_ino != PROC_ROOT_INO {
            return Err(refused(format!(
                "{} is not the root of a procfs",
                path.display()
            )));
        }
        Ok(ProcRoot { fd })
    }

    /// Opens `rel` beneath the root, for writing, through no other mount
    /// and no magic link (`thread-self` and `self` are plain symlinks of
    /// procfs, within it).
    pub fn open_write(&self, rel: &str) -> io::Result<File> {
        let fd = super::safepath::openat2(
            self.fd.as_fd(),
            rel,
            OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_XDEV | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EXDEV) => refused(format!("/proc/{rel} is covered by another mount")),
            _ => e,
        })?;
        if !is_procfs(&fd)? {
            return Err(refused(format!("/proc/{rel} is not on procfs")));
        }
        Ok(File::from(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_root_of_a_real_procfs_is_taken() {
        let fake = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(fake.path().join("thread-self/attr")).unwrap();
        std::fs::write(fake.path().join("thread-self/attr/exec"), "").unwrap();
        let err = ProcRoot::open(fake.path()).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().ends_with("is not a procfs"), "{err}");
        for inside in ["/proc/1", "/proc/sys", "/proc/self/attr"] {
            let err = ProcRoot::open(Path::new(inside)).err().unwrap();
            assert!(
                err.to_string().contains("is not")
                    || err.raw_os_error() == Some(libc::ENOTDIR)
                    || err.raw_os_error() == Some(libc::ELOOP),
                "{inside}: {err}"
            );
        }
        let root = ProcRoot::open(Path::new("/proc")).unwrap();
        // A file of procfs opens; a path climbing out does not.
        root.open_write("thread-self/attr/exec").unwrap();
        assert_eq!(
            root.open_write("../etc/passwd").unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
    }
}
