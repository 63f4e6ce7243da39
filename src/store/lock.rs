//! Per-object file locks (flock), released when dropped or when the holder
//! dies.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};

/// An exclusive lock on one lock file.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn exclusive(path: &Path) -> Result<Lock> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(Lock { _file: file })
    }
}
