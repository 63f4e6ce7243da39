//! Removal of a pod's directories off the path someone waits on.
//!
//! On a disk mounted with `discard` and no journal (this kind of virtual
//! disk), every block a removal frees is discarded synchronously, inside
//! the `unlink` or `rmdir`: about 3.5 ms per directory or non-empty
//! file, so a pod's writable layers, logs and record cost a `delete` a
//! hundred milliseconds and more. A supervisor deleting its pod instead
//! buries them: each directory is renamed at once into `tmp/` of the
//! state root (one rename, no block freed), out of every path a reader
//! or a new pod of the same name looks at, and the graves are removed
//! after the `delete` was answered, before the supervisor exits. The
//! kubelet leaves a deleted pod's directories and containers to its
//! housekeeping and garbage collection in the same way.
//!
//! A grave is `tmp/.grave-<pid>-<start time>-<n>`: whoever buried it
//! removes it, and a grave whose process is gone (killed before it was
//! done) is removed by the next process that empties its own.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Store;
use super::record::Process;

const PREFIX: &str = ".grave-";

impl Store {
    /// Renames `path` (a directory under the state root) into a grave,
    /// to be removed by [`Store::empty_graves`]; if it cannot be renamed
    /// (a full disk may refuse the new entry), it is removed now. A
    /// missing `path` is nothing to do.
    pub fn bury(&self, path: &Path) -> io::Result<()> {
        let grave = self.grave();
        match fs::rename(path, &grave) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(_) => match fs::remove_dir_all(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        }
    }

    /// [`Store::remove`] of a pod (its record, status, events and
    /// volumes), the directory buried rather than removed now. Returns
    /// whether there was one.
    pub fn bury_pod(&self, namespace: &str, name: &str) -> super::Result<bool> {
        if !super::addressable(namespace, name)? {
            return Ok(false);
        }
        match fs::rename(self.pod_dir(namespace, name), self.grave()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            // Removed now, as `remove` does.
            Err(_) => self.remove(crate::api::Kind::Pod, namespace, name),
        }
    }

    /// A new grave's path, named after this process.
    pub(super) fn grave(&self) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let me = Process::current();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{PREFIX}{}-{}-{n}", me.pid, me.start))
    }

    /// Removes this process's graves and those of processes that are
    /// gone. A dead process's grave is first renamed to one of this
    /// process, so that two processes emptying at once never remove the
    /// same tree.
    pub fn empty_graves(&self) {
        let tmp = self.root.join("tmp");
        let Ok(entries) = fs::read_dir(&tmp) else {
            return;
        };
        let me = Process::current();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name.to_str().and_then(owner) else {
                continue;
            };
            let path = entry.path();
            let mine = (owner.pid, owner.start) == (me.pid, me.start);
            let doomed = if mine {
                path
            } else if owner.is_alive() {
                continue;
            } else {
                let claimed = self.grave();
                if fs::rename(&path, &claimed).is_err() {
                    // Another process claimed it first.
                    continue;
                }
                claimed
            };
            if let Err(e) = remove(&doomed) {
                eprintln!("Warning: removing {}: {e}", doomed.display());
            }
        }
    }
}

/// The process a grave's name says buried it.
fn owner(name: &str) -> Option<Process> {
    let mut parts = name.strip_prefix(PREFIX)?.split('-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    Some(Process { pid, start })
}

fn remove(path: &Path) -> io::Result<()> {
    let removed = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        // Built as `open` builds it, which only root may call: the unit
        // tests run as any user.
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            root: dir.path().join("root"),
            run_root: dir.path().join("run"),
            node_config: None,
        };
        fs::create_dir_all(store.root.join("tmp")).unwrap();
        (dir, store)
    }

    fn graves(store: &Store) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(store.root.join("tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(PREFIX))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_buried_directory_is_gone_at_once_and_its_grave_goes_when_emptied() {
        let (_dir, store) = store();
        let doomed = store.root.join("writable").join("uid");
        fs::create_dir_all(doomed.join("a/b")).unwrap();
        fs::write(doomed.join("a/b/f"), "data").unwrap();
        store.bury(&doomed).unwrap();
        assert!(!doomed.exists());
        let buried = graves(&store);
        assert_eq!(buried.len(), 1, "{buried:?}");
        let me = Process::current();
        assert!(buried[0].starts_with(&format!("{PREFIX}{}-{}-", me.pid, me.start)));
        store.empty_graves();
        assert_eq!(graves(&store), Vec::<String>::new());
        // Nothing there: nothing to do.
        store.bury(&doomed).unwrap();
        assert_eq!(graves(&store), Vec::<String>::new());
    }

    #[test]
    fn a_dead_processs_grave_is_emptied_and_a_live_ones_is_left() {
        let (_dir, store) = store();
        let tmp = store.root.join("tmp");
        // A process that has exited (reaped: its pid names nothing, or a
        // process started later).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = Process::of(child.id() as i32);
        child.wait().unwrap();
        let dead = dead.map_or(u64::MAX, |p| p.start);
        let dead_grave = tmp.join(format!("{PREFIX}{}-{dead}-0", child.id()));
        fs::create_dir_all(dead_grave.join("x")).unwrap();
        // A live process's (the parent of this test: it outlives it).
        let parent = Process::of(std::os::unix::process::parent_id() as i32).unwrap();
        let live_grave = tmp.join(format!("{PREFIX}{}-{}-0", parent.pid, parent.start));
        fs::create_dir_all(&live_grave).unwrap();
        // Not a grave at all: a create's staging directory.
        let staging = tmp.join(".123-456-0");
        fs::create_dir_all(&staging).unwrap();
        store.empty_graves();
        assert!(!dead_grave.exists());
        assert!(live_grave.exists());
        assert!(staging.exists());
        assert_eq!(graves(&store).len(), 1);
    }
}
