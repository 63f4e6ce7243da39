//! Atomic file replacement: write a sibling temporary file, fsync it,
//! rename it over the target, fsync the directory (the fsyncs left out for
//! run-time state).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` so that readers see either the old or the
/// new content, never a mix, even across a crash. The file is 0600 from
/// its creation on: state (secrets among it) is root's alone.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, true, 0o600)
}

/// Replaces `path` with `bytes` so that readers see either the old or the
/// new content, never a mix, without waiting for the disk: for run-time
/// state (pids, a pod's /etc files) that means nothing after a reboot.
/// Two fsyncs cost about a millisecond on this machine's disk, several
/// times on the path of every container start. The file is 0644: a pod's
/// /etc files are bind-mounted into containers whose users read them.
pub fn write_volatile(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false, 0o644)
}

/// As [`write_volatile`], but 0600: for run-time records that hold what
/// a container was given (its resolved env, secrets among it), so that
/// they stay root's even in a run root left open (as older versions made
/// it, until the next command tightens it).
pub fn write_volatile_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false, 0o600)
}

/// As [`write_volatile`], but into a directory that must exist (NotFound
/// otherwise): for records of something whose directory another step
/// removes, so that a late write cannot make the directory again.
pub fn write_volatile_existing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_file(path, bytes, false, 0o644)
}

/// `bytes` written and synced beside a record, under a temporary name,
/// and not yet in its place: [`Synced::put_in_place`] shows it to readers
/// with a rename alone, the disk's waits already behind it. An atomic
/// write in two steps, so that the writing (and its fsync) can come
/// before the moment the record must read it: the supervisor's status
/// writer writes the status it expects next while it waits for it.
#[derive(Debug)]
pub struct Synced {
    tmp: PathBuf,
    path: PathBuf,
}

/// Writes `bytes` (0600, synced) to a temporary file beside `path`, named
/// apart by `tag` from the other temporary files of this process beside
/// it, in a directory that must exist (NotFound otherwise): the
/// supervisor's status writer, whose write may come after the pod's
/// record was removed, must not make its directory again.
pub fn write_synced_beside(path: &Path, tag: &str, bytes: &[u8]) -> io::Result<Synced> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{file_name}.{}.{tag}.tmp", std::process::id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match written {
        Ok(()) => Ok(Synced {
            tmp,
            path: path.to_path_buf(),
        }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

impl Synced {
    /// The record it is to replace.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it over its record; the rename is durable once the
    /// directory is synced, which is the caller's.
    ///
    /// The record it replaced comes back still open (unlinked), for the
    /// caller to close when nothing more urgent waits: its blocks are
    /// freed at that close, not inside the rename. On ext4 mounted
    /// `discard` without a journal (this machine's root disk) freeing
    /// blocks discards them synchronously, 2 to 5 ms, which the rename
    /// spent before the new status could be read: on the path of every
    /// container's Running.
    ///
    /// The replaced record is opened as readers open records: whatever
    /// stands in its place that is not a regular file (a FIFO, which a
    /// plain open would wait on until something wrote to it) is not held,
    /// and the rename replaces it.
    pub fn put_in_place(self) -> io::Result<Option<File>> {
        let replaced = super::read::open_regular(&self.path).ok();
        match fs::rename(&self.tmp, &self.path) {
            Ok(()) => Ok(replaced),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Removes it: it is not to be shown.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Closes a record that a write replaced, off the caller's path: on a
/// thread of its own, so that freeing its blocks (a synchronous discard
/// on a disk mounted `discard`, see [`Synced::put_in_place`]) overlaps
/// what the caller does next instead of coming before it.
pub fn close_later(replaced: Option<File>) {
    let Some(file) = replaced else { return };
    // Should the thread not start, the closure, and the file with it, is
    // dropped here: closed at once, as before.
    let _ = std::thread::Builder::new()
        .name("pod-close".into())
        .stack_size(64 * 1024)
        .spawn(move || drop(file));
}

/// As [`write_synced_beside`] and [`Synced::put_in_place`] in one go, with
/// the replaced record held as there, and the last step, the fsync of the
/// directory that makes the rename durable, left to the caller: the
/// directory comes back open for it. `create` starts a pod's supervisor
/// in between (the binding it wrote is what the supervisor reads), so the
/// disk's wait overlaps the supervisor's start, and reports the pod
/// created only after [`DirSync::sync`].
pub fn write_atomic_in_place_sync_later(
    path: &Path,
    bytes: &[u8],
) -> io::Result<(Option<File>, DirSync)> {
    let replaced = super::read::open_regular(path).ok();
    let dir = rename_into_place(path, bytes, true, 0o600)?;
    Ok((replaced, DirSync::of(dir)?))
}

/// A directory whose fsync is still due (see
/// [`write_atomic_in_place_sync_later`]).
/// Synced when dropped if [`DirSync::sync`] was not called, so that an
/// early return delays the fsync but never loses it.
#[must_use = "the directory is synced when dropped; sync() reports a failure"]
pub struct DirSync(Option<File>);

impl DirSync {
    /// The directory at `path`, to be synced.
    pub fn of(path: &Path) -> io::Result<DirSync> {
        Ok(DirSync(Some(File::open(path)?)))
    }

    /// Nothing left to sync: the write synced its directory itself.
    pub fn done() -> DirSync {
        DirSync(None)
    }

    pub fn sync(mut self) -> io::Result<()> {
        match self.0.take() {
            Some(dir) => dir.sync_all(),
            None => Ok(()),
        }
    }
}

impl Drop for DirSync {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = dir.sync_all();
        }
    }
}

fn replace(path: &Path, bytes: &[u8], durable: bool, mode: u32) -> io::Result<()> {
    fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    write_file(path, bytes, durable, mode)
}

fn write_file(path: &Path, bytes: &[u8], durable: bool, mode: u32) -> io::Result<()> {
    let dir = rename_into_place(path, bytes, durable, mode)?;
    if durable {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes a sibling temporary file (fsynced when `durable`) and renames
/// it over `path`; returns the directory, whose fsync is the caller's.
fn rename_into_place<'p>(
    path: &'p Path,
    bytes: &[u8],
    durable: bool,
    mode: u32,
) -> io::Result<&'p Path> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| dir)
}

/// Renames `from` to `to`, failing with AlreadyExists instead of replacing.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(|e| match e {
        rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY => {
            io::Error::from(io::ErrorKind::AlreadyExists)
        }
        other => io::Error::from(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "state files are root's alone");
    }

    /// Written beside and put in place at once: the record it replaced.
    fn write_atomic_in_place(path: &Path, bytes: &[u8]) -> io::Result<Option<File>> {
        write_synced_beside(path, "test", bytes)?.put_in_place()
    }

    #[test]
    fn in_place_never_makes_the_directory_again() {
        let dir = tempfile::tempdir().unwrap();
        let pod = dir.path().join("pod");
        fs::create_dir(&pod).unwrap();
        assert!(
            write_atomic_in_place(&pod.join("status.json"), b"one")
                .unwrap()
                .is_none()
        );
        assert_eq!(fs::read(pod.join("status.json")).unwrap(), b"one");
        fs::remove_dir_all(&pod).unwrap();
        let err = write_atomic_in_place(&pod.join("status.json"), b"two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!pod.exists());
    }

    #[test]
    fn in_place_hands_back_the_replaced_file_open_and_unlinked() {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        write_atomic_in_place(&path, b"one").unwrap();
        let mut replaced = write_atomic_in_place(&path, b"two").unwrap().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // Its blocks are still held: they are freed when it is closed.
        assert_eq!(replaced.metadata().unwrap().nlink(), 0);
        let mut old = String::new();
        replaced.read_to_string(&mut old).unwrap();
        assert_eq!(old, "one");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A FIFO in the record's place is replaced, not waited on: opened
    /// as before to be held, it kept the writer (the supervisor's status
    /// writer) until something wrote to it. Written on a thread, so that
    /// the old code fails the test instead of hanging it.
    #[test]
    fn in_place_replaces_a_fifo_without_waiting_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let writing = path.clone();
        let written = crate::store::on_fifos(std::slice::from_ref(&path), move || {
            write_atomic_in_place(&writing, b"one").map(|old| old.is_none())
        });
        assert!(
            written.expect("the write returned").unwrap(),
            "nothing held"
        );
        assert_eq!(fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn sync_later_shows_the_new_content_before_the_directory_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pod.json");
        write_atomic(&path, b"one").unwrap();
        let (replaced, pending) = write_atomic_in_place_sync_later(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        pending.sync().unwrap();
        assert!(replaced.is_some(), "the replaced record is held");
        // Into a directory that is gone: NotFound, nothing made again.
        let gone = dir.path().join("gone");
        let err = write_atomic_in_place_sync_later(&gone.join("pod.json"), b"x").err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::NotFound));
        assert!(!gone.exists());
    }

    #[test]
    fn rename_noreplace_refuses_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        let err = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(a.exists());
    }
}
