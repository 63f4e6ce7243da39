//! The state roots are root's alone (0700), whatever made them.
//!
//! Why 0700 and not moby's 0711: every host path under the roots is
//! walked by root only. The supervisor and the CLI run as root; a
//! container's init makes its overlay and bind mounts as root before it
//! pivots into the new root, and the kernel checks the overlay's lower and
//! upper directories with the credentials of that mount, not of the
//! process using it. A container process, whatever its uid, never walks a
//! host path to its files. moby needed a traversable root for user
//! namespaces, where the remapped root of a container made mounts through
//! host paths; here user namespaces go through idmapped mounts made by host
//! root. A traversable root would let any host user reach every file under
//! a guessable path (pod names are guessable): emptyDir data is 0777 and
//! may hold a setuid binary planted by a container, secret volumes are
//! 0644 as the container must see them.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// The mode of the state roots and of the private directories under them.
pub const MODE: u32 = 0o700;

/// Creates `dir` (and its missing parents, 0755 as usual) mode 0700, or
/// tightens an existing one that a former version made world-readable.
/// One `stat` when it is already right: this is on every command's path.
pub fn ensure(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a directory",
        )),
        Ok(meta) if meta.mode() & 0o7777 == MODE => Ok(()),
        Ok(_) => fs::set_permissions(dir, fs::Permissions::from_mode(MODE)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent)?;
            }
            match fs::DirBuilder::new().mode(MODE).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            // The umask may have taken bits from a racing creator's mode;
            // never added any.
            fs::set_permissions(dir, fs::Permissions::from_mode(MODE))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_private_and_tightens_an_old_root() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("a/b/root");
        ensure(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);

        let old = tmp.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o755)).unwrap();
        ensure(&old).unwrap();
        assert_eq!(mode(&old), 0o700);

        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        assert!(ensure(&file).is_err());
    }
}
