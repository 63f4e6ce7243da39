//! The `pod` binary as the container init and exec re-execute it: opened
//! through a private, read-only overlay of its directory, so that a
//! container which reaches the running init's `/proc/<pid>/exe` (the
//! CVE-2019-5736 class: a container binary whose interpreter is
//! `/proc/self/exe`, or a sibling container watching the init) cannot
//! write to the host's binary.
//!
//! This is runc's answer (libcontainer/exeseal): an overlay with only lower
//! layers is read-only by construction (`EROFS` on every write, whatever
//! mount flags a process manages to change), it shares the page cache with
//! the real file (no copy: a memfd copy of this 10 MB binary would cost
//! milliseconds and 10 MB of RAM per process that makes it), and it is
//! never attached to a mount table: `fsmount` gives a detached mount, the
//! binary is opened through it, and the mount lives as long as the
//! process, made on first use.
//!
//! The mount's own descriptor is kept open too, for the process's life:
//! closing it dissolves the detached mount's anonymous namespace, and an
//! unmount waits for an expedited RCU grace period (0.2 ms quiet, 1-2 ms
//! on a loaded machine), which the supervisor paid while preparing a
//! pod's first container. Kept, it is closed at the process's exit.
//!
//! An overlay needs two lower layers to run without an upper one. The
//! binary's directory is the upper of the two (so its file name resolves to
//! the binary); the other is `/dev`, a directory every Linux host has that
//! is neither above nor below the binary's (overlay refuses overlapping
//! layers), and that nothing reads through this mount.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, anyhow};
use rustix::fs::{Mode, OFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

/// The second, unused lower layer (see the module documentation).
const FILLER_LAYER: &str = "/dev";

/// This binary opened through its sealed overlay, made once per process.
static SEALED: OnceLock<Sealed> = OnceLock::new();

struct Sealed {
    binary: OwnedFd,
    /// The overlay's detached mount, never closed (see the module
    /// documentation).
    _mount: OwnedFd,
}

/// The descriptor of this binary's sealed copy (see the module
/// documentation), which a re-executed child runs: through a copy above
/// the numbers it places (`spawn`), since this number may be one of them.
/// It is close-on-exec, so the program the child finally runs inherits
/// nothing.
pub fn fd() -> Result<RawFd> {
    if let Some(fd) = SEALED.get() {
        return Ok(fd.binary.as_raw_fd());
    }
    // One thread seals; the others (containers made ready side by side)
    // wait for its copy rather than mount one each.
    static SEALING: Mutex<()> = Mutex::new(());
    let _sealing = SEALING.lock().unwrap_or_else(|e| e.into_inner());
    let fd = match SEALED.get() {
        Some(fd) => fd,
        None => {
            let sealed = seal().context("opening the pod binary through a read-only overlay")?;
            SEALED.get_or_init(|| sealed)
        }
    };
    Ok(fd.binary.as_raw_fd())
}

fn seal() -> Result<Sealed> {
    let binary = std::fs::read_link("/proc/self/exe").context("reading /proc/self/exe")?;
    let (Some(dir), Some(name)) = (binary.parent(), binary.file_name()) else {
        return Err(anyhow!("{} has no directory", binary.display()));
    };
    let context = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let lower = format!("{}:{FILLER_LAYER}", escape_layer(&dir.to_string_lossy()));
    rustix::mount::fsconfig_set_string(&context, "lowerdir", &lower)
        .with_context(|| format!("lowerdir={lower}"))?;
    // Only a source of kernel log noise when the layers sit on different
    // filesystems; this mount needs no inode numbers of its own.
    let _ = rustix::mount::fsconfig_set_string(&context, "xino", "off");
    rustix::mount::fsconfig_create(&context).context("creating the overlay")?;
    let mount = rustix::mount::fsmount(
        &context,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )
    .context("mounting the overlay")?;
    let file = rustix::fs::openat(
        &mount,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {} in the overlay", name.to_string_lossy()))?;
    same_file(&binary, &file)?;
    // Above stdio (0-2) and the pipes a child places at 3 and 4.
    Ok(Sealed {
        binary: rustix::io::fcntl_dupfd_cloexec(&file, 10)?,
        _mount: mount,
    })
}

/// Checks that the file found by name is the one this process runs: a
/// binary replaced on disk since (an upgrade, a rebuild) would be another
/// program, speaking another version of the configuration the init reads.
/// A lower-only overlay keeps the real inode number of a file.
fn same_file(binary: &std::path::Path, sealed: &OwnedFd) -> Result<()> {
    let running = rustix::fs::stat("/proc/self/exe")?;
    let found = rustix::fs::fstat(sealed)?;
    let identity = |s: &rustix::fs::Stat| (s.st_ino, s.st_size, s.st_mtime, s.st_mtime_nsec);
    if identity(&running) != identity(&found) {
        return Err(anyhow!(
            "{} was replaced since this process started; restart it",
            binary.display()
        ));
    }
    Ok(())
}

/// A lower layer path as overlay's option parser reads it: `:` separates
/// layers and `\` escapes.
fn escape_layer(path: &str) -> String {
    path.replace('\\', "\\\\").replace(':', "\\:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_separators_are_escaped() {
        assert_eq!(escape_layer("/usr/bin"), "/usr/bin");
        assert_eq!(escape_layer("/a:b\\c"), "/a\\:b\\\\c");
    }
}
