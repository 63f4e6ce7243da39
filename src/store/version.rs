//! Resource versions: the API server gives every write a new, increasing
//! resourceVersion (etcd's revision). `pod` needs one where something
//! refers to a version of an object: the PodPreset admission plugin
//! records the version of each preset it applied, and `pod serve` gives
//! one to each change it sees in the store. One counter for the whole
//! state directory, read and bumped under a lock.

use anyhow::{Context, Result};

use super::{Lock, Store, read_small_file, write_atomic};

/// The next resourceVersion, as the decimal string the API uses.
pub fn next(store: &Store) -> Result<String> {
    Ok(reserve(store, 1)?.to_string())
}

/// Takes `count` new versions at once (one write for many changes) and
/// returns the first; the others follow it.
pub fn reserve(store: &Store, count: u64) -> Result<u64> {
    let path = store.root().join("resource-version");
    let locks = store.root().join("locks");
    std::fs::create_dir_all(&locks)?;
    let _lock = Lock::exclusive(&locks.join("resource-version"))?;
    let last = current(store)?;
    write_atomic(&path, (last + count).to_string().as_bytes())?;
    Ok(last + 1)
}

/// The last version given (0 when none was).
pub fn current(store: &Store) -> Result<u64> {
    let path = store.root().join("resource-version");
    match read_small_file(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .trim()
            .parse()
            .with_context(|| format!("corrupt state file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
