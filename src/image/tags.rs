//! `repositories.json`: which manifest each name points at
//! (`docker.io/library/busybox:latest` → `sha256:…`). Written atomically
//! under the store's lock; read without it.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::store::{Lock, write_atomic};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tags {
    /// Normalised name → manifest digest.
    pub names: BTreeMap<String, String>,
}

impl Tags {
    pub fn load(path: &Path) -> Result<Tags> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading image names from {}", path.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Tags::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The names pointing at `digest`, sorted.
    pub fn names_of(&self, digest: &str) -> Vec<String> {
        self.names
            .iter()
            .filter(|(_, d)| *d == digest)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Every manifest digest named, once each.
    pub fn digests(&self) -> Vec<String> {
        let mut out: Vec<String> = self.names.values().cloned().collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The names file and its lock.
#[derive(Debug, Clone)]
pub struct TagFile {
    path: PathBuf,
    lock: PathBuf,
}

impl TagFile {
    pub fn new(dir: &Path) -> TagFile {
        TagFile {
            path: dir.join("repositories.json"),
            lock: dir.join("lock"),
        }
    }

    pub fn read(&self) -> Result<Tags> {
        Tags::load(&self.path)
    }

    /// Takes the store's lock for a read-modify-write or a collection.
    pub fn lock(&self) -> Result<Lock> {
        Lock::exclusive(&self.lock)
    }

    /// Applies `change` under the lock and writes the result.
    pub fn update<T>(&self, change: impl FnOnce(&mut Tags) -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        self.update_locked(change)
    }

    /// As `update`, for a caller that already holds the lock.
    pub fn update_locked<T>(&self, change: impl FnOnce(&mut Tags) -> Result<T>) -> Result<T> {
        let mut tags = self.read()?;
        let out = change(&mut tags)?;
        let mut body = serde_json::to_vec_pretty(&tags)?;
        body.push(b'\n');
        write_atomic(&self.path, &body)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(out)
    }
}
