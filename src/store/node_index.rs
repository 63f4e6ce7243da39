//! A node-wide index of what every state root on the machine draws from
//! one pool (the built-in network's addresses, the user namespace ranges):
//! state roots are independent, so a record per root alone could give one
//! thing to pods of two roots.
//!
//! Each thing taken has a record in the root of the pod holding it (a
//! file whose first line names the holder: the root keeps it with the rest
//! of the pod, after a crash or a reboot) and an entry in the index, a
//! symbolic link `<index>/<key>` to that record, made and removed under one
//! lock for the whole node. An entry whose record is gone (released, or its
//! whole root removed) is free: nothing can keep a thing once the root that
//! held it is gone. The index lives in /run: after a reboot it is empty,
//! and a record left in a root stays taken for that root (`take` refuses a
//! key whose record exists) until its holder releases it.
//!
//! The order makes every crash safe: the entry is made before the record
//! (a crash between leaves a dangling entry, which is free), and the
//! record goes before the entry (a crash between leaves a dangling one).
//! A release removes an entry only once its record is gone, so a late
//! release by a holder whose record was since given to another (in the
//! same root) leaves the new holder's entry alone.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One index: its entries' directory and its lock file.
#[derive(Debug, Clone)]
pub struct NodeIndex {
    /// Where the entries are (`<key>` → record).
    pub entries: PathBuf,
    /// The lock file, which may sit among the entries (its name is no
    /// key: it is not a link).
    pub lock: PathBuf,
}

/// The index, locked for the node while alive: every operation on the
/// entries takes it.
pub struct Locked {
    index: NodeIndex,
    _file: File,
}

/// Root's alone, as every directory of the state root.
fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// The record's path as the entry names it: absolute, so that the link
/// resolves from anywhere.
fn absolute(record: &Path) -> Result<PathBuf> {
    std::path::absolute(record).with_context(|| format!("resolving {}", record.display()))
}

/// The holder a record names: its first line.
fn holder(record: &Path) -> Option<String> {
    let mut text = String::new();
    File::open(record)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .ok()?;
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

impl NodeIndex {
    /// Takes the node-wide lock (blocking), making the directories.
    pub fn lock(self) -> Result<Locked> {
        private_dir(&self.entries)?;
        if let Some(parent) = self.lock.parent() {
            private_dir(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .with_context(|| format!("opening {}", self.lock.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking {}", self.lock.display()))?;
        Ok(Locked {
            index: self,
            _file: file,
        })
    }
}

impl Locked {
    fn entry(&self, key: &str) -> PathBuf {
        self.index.entries.join(key)
    }

    /// Points `key`'s entry to `record` unless a live record (of any
    /// root) holds it; a dangling entry is free. Returns whether the entry
    /// points to `record` now. The record itself is not touched: this is
    /// for a holder whose record exists (taking its entry back after a
    /// reboot), and the first half of [`Locked::take`].
    pub fn claim(&self, key: &str, record: &Path) -> Result<bool> {
        let record = absolute(record)?;
        let entry = self.entry(key);
        match fs::read_link(&entry) {
            Ok(target) if target == record => return Ok(true),
            // Another record, live: taken.
            Ok(target) if target.exists() => return Ok(false),
            Ok(_) => match fs::remove_file(&entry) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", entry.display())),
            },
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            // Not a link: nothing of ours; the key stays taken.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("reading {}", entry.display())),
        }
        std::os::unix::fs::symlink(&record, &entry)
            .with_context(|| format!("creating {}", entry.display()))?;
        Ok(true)
    }

    /// Takes `key` for a new holder: its entry ([`Locked::claim`]), then
    /// its record holding `content` (whose first line names the holder).
    /// Returns false, changing nothing, when the key is held: by a live
    /// entry, or by `record` existing already (its root holds it from
    /// before the index knew: a reboot emptied /run).
    pub fn take(&self, key: &str, record: &Path, content: &[u8]) -> Result<bool> {
        match fs::symlink_metadata(record) {
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("examining {}", record.display())),
        }
        if !self.claim(key, record)? {
            return Ok(false);
        }
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(record)
            .and_then(|mut f| f.write_all(content));
        if let Err(e) = written {
            let _ = fs::remove_file(self.entry(key));
            return Err(e).with_context(|| format!("writing {}", record.display()));
        }
        Ok(true)
    }

    /// Gives `key` back for `holder`: its record if the record still
    /// names `holder` (read now, under the lock: a record given to another
    /// since stays), then the entry if it points to a record that is gone.
    /// Returns whether the holder's record was removed. Idempotent.
    pub fn release(&self, key: &str, record: &Path, holder_name: &str) -> Result<bool> {
        let record = absolute(record)?;
        let removed = if holder(&record).as_deref() == Some(holder_name) {
            match fs::remove_file(&record) {
                Ok(()) => true,
                Err(e) if e.kind() == ErrorKind::NotFound => false,
                Err(e) => return Err(e).with_context(|| format!("removing {}", record.display())),
            }
        } else {
            false
        };
        let entry = self.entry(key);
        if fs::read_link(&entry).is_ok_and(|target| target == record) && !record.exists() {
            let _ = fs::remove_file(&entry);
        }
        Ok(removed)
    }

    /// The live entries, as (key, record), sorted by key; dangling ones
    /// are removed on the way.
    pub fn live(&self) -> Vec<(String, PathBuf)> {
        let Ok(entries) = fs::read_dir(&self.index.entries) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let Ok(key) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(target) = fs::read_link(entry.path()) else {
                continue;
            };
            if target.exists() {
                found.push((key, target));
            } else {
                let _ = fs::remove_file(entry.path());
            }
        }
        found.sort();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dirs {
        _tmp: tempfile::TempDir,
        entries: PathBuf,
        lock: PathBuf,
        one: PathBuf,
        two: PathBuf,
    }

    fn dirs() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().to_path_buf();
        for root in ["one", "two"] {
            fs::create_dir(p.join(root)).unwrap();
        }
        Dirs {
            entries: p.join("node/entries"),
            lock: p.join("node/lock"),
            one: p.join("one"),
            two: p.join("two"),
            _tmp: tmp,
        }
    }

    #[test]
    fn a_key_is_taken_once_node_wide_and_a_dangling_entry_is_free() {
        let d = dirs();
        let index = NodeIndex {
            entries: d.entries.clone(),
            lock: d.lock.clone(),
        };
        let locked = index.lock().unwrap();
        assert!(locked.take("k", &d.one.join("k"), b"a\nmore").unwrap());
        assert_eq!(fs::read(d.one.join("k")).unwrap(), b"a\nmore");
        // Another root: taken. The same root: its record exists.
        assert!(!locked.take("k", &d.two.join("k"), b"b").unwrap());
        assert!(!locked.take("k", &d.one.join("k"), b"b").unwrap());
        assert!(!d.two.join("k").exists());
        assert_eq!(locked.live(), [("k".to_string(), d.one.join("k"))]);
        // The holder's root removed: the entry dangles, and is free.
        fs::remove_dir_all(&d.one).unwrap();
        assert!(locked.take("k", &d.two.join("k"), b"b").unwrap());
        assert_eq!(fs::read_link(d.entries.join("k")).unwrap(), d.two.join("k"));
        // A file that is no link is no key of ours.
        fs::write(d.entries.join("plain"), "").unwrap();
        assert!(!locked.take("plain", &d.two.join("plain"), b"b").unwrap());
        assert!(!d.two.join("plain").exists());
    }

    #[test]
    fn a_holder_whose_record_survived_claims_its_entry_back() {
        let d = dirs();
        let index = NodeIndex {
            entries: d.entries.clone(),
            lock: d.lock.clone(),
        };
        let locked = index.lock().unwrap();
        assert!(locked.take("k", &d.one.join("k"), b"a").unwrap());
        assert!(locked.claim("k", &d.one.join("k")).unwrap());
        // A reboot empties the index; the record stays.
        fs::remove_file(d.entries.join("k")).unwrap();
        assert!(locked.claim("k", &d.one.join("k")).unwrap());
        assert!(!locked.claim("k", &d.two.join("k")).unwrap());
    }

    #[test]
    fn a_late_release_leaves_the_next_holders_entry_alone() {
        let d = dirs();
        let index = NodeIndex {
            entries: d.entries.clone(),
            lock: d.lock.clone(),
        };
        let locked = index.lock().unwrap();
        let record = d.one.join("k");
        assert!(locked.take("k", &record, b"a").unwrap());
        assert!(locked.release("k", &record, "a").unwrap());
        assert!(!d.entries.join("k").exists());
        // Given to b, in the same root: a's late release changes nothing.
        assert!(locked.take("k", &record, b"b").unwrap());
        assert!(!locked.release("k", &record, "a").unwrap());
        assert_eq!(fs::read(&record).unwrap(), b"b");
        assert_eq!(fs::read_link(d.entries.join("k")).unwrap(), record);
        assert!(!locked.take("k", &d.two.join("k"), b"c").unwrap());
        // b's own release frees it.
        assert!(locked.release("k", &record, "b").unwrap());
        assert!(!locked.release("k", &record, "b").unwrap());
        assert!(locked.live().is_empty());
        assert!(locked.take("k", &d.two.join("k"), b"c").unwrap());
    }
}
