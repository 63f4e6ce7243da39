//! Resource versions: the API server gives every write a new, increasing
//! resourceVersion (etcd's revision). `pod` needs one where something
//! refers to a version of an object: the PodPreset admission plugin
//! records the version of each preset it applied. One counter for the
//! whole state directory, read and bumped under a lock.

use anyhow::{Context, Result};

use super::{Lock, Store, read_small_file, write_atomic};

/// The next resourceVersion, as the decimal string the API uses.
pub fn next(store: &Store) -> Result<String> {
    let path = store.root().join("resource-version");
    let locks = store.root().join("locks");
    std::fs::create_dir_all(&locks)?;
    let _lock = Lock::exclusive(&locks.join("resource-version"))?;
    let last: u64 = match read_small_file(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes)
            .trim()
            .parse()
            .with_context(|| format!("corrupt state file {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let next = last + 1;
    write_atomic(&path, next.to_string().as_bytes())?;
    Ok(next.to_string())
}
