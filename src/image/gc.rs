//! Removing images and collecting what no image references any more.
//!
//! Writers (pulls, loads, imports) hold the store's collection lock shared
//! while they add blobs and layers; `rm` and `prune` hold it exclusively,
//! so a collection never deletes the blobs of an image half-stored.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{ImageStore, Reference, StoredImage};
use crate::api::ApiError;

/// A flock on `<images>/gc.lock`, shared or exclusive.
#[derive(Debug)]
pub struct CollectionLock {
    _file: File,
}

impl CollectionLock {
    fn take(store: &ImageStore, exclusive: bool) -> Result<CollectionLock> {
        let path = store.root().join("gc.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening lock {}", path.display()))?;
        let op = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(&file, op).with_context(|| format!("locking {}", path.display()))?;
        Ok(CollectionLock { _file: file })
    }

    /// Held while adding content.
    pub fn writer(store: &ImageStore) -> Result<CollectionLock> {
        CollectionLock::take(store, false)
    }

    /// Held while removing content.
    pub fn collector(store: &ImageStore) -> Result<CollectionLock> {
        CollectionLock::take(store, true)
    }
}

/// A pod's use of an image: `namespace/name` and the reference its spec
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodImage {
    pub pod: String,
    pub image: String,
}

/// The images named by stored pods (`<root>/pods/<ns>/<name>/pod.json`),
/// in containers, init containers and ephemeral containers.
pub fn pod_images(pods_dir: &Path) -> Result<Vec<PodImage>> {
    let mut out = Vec::new();
    for namespace in read_dir_names(pods_dir)? {
        for name in read_dir_names(&pods_dir.join(&namespace))? {
            let path = pods_dir.join(&namespace).join(&name).join("pod.json");
            let Ok(bytes) = fs::read(&path) else { continue };
            // A newer build's record may name images in a way this one
            // cannot see: pruning must not guess.
            crate::store::format::check(&path, &bytes)?;
            let Ok(pod) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                let containers = pod["spec"][list].as_array().into_iter().flatten();
                for image in containers.filter_map(|c| c["image"].as_str()) {
                    out.push(PodImage {
                        pod: format!("{namespace}/{name}"),
                        image: image.to_string(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn read_dir_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// What `rm` or `prune` did, in podman's words.
#[derive(Debug, Default)]
pub struct Removal {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

impl ImageStore {
    /// The first pod using `image` by a name in `names` (or any name when
    /// the image is going away entirely).
    fn user_of(
        &self,
        image: &StoredImage,
        removed_names: &[String],
        whole_image: bool,
        pods: &[PodImage],
    ) -> Option<PodImage> {
        pods.iter()
            .find(|p| match Reference::parse(&p.image) {
                Ok(r) => {
                    let name = r.to_string();
                    removed_names.contains(&name)
                        || (whole_image
                            && (image.names.contains(&name)
                                || r.digest.as_deref() == Some(image.digest.as_str())))
                }
                Err(_) => false,
            })
            .cloned()
    }

    /// `pod image rm`: a name untags (and deletes the image when it was
    /// the last name); an ID or digest deletes the image with all its
    /// names. Refuses images pods use unless `force`.
    pub fn remove(&self, text: &str, force: bool, pods: &[PodImage]) -> Result<Removal> {
        let _gc = CollectionLock::collector(self)?;
        let image = self.find(text)?.ok_or_else(|| ApiError::NotFound {
            resource: "images".into(),
            name: text.into(),
        })?;
        let by_name = Reference::parse(text)
            .ok()
            .map(|r| r.to_string())
            .filter(|n| image.names.contains(n));
        let removed: Vec<String> = match &by_name {
            Some(name) => vec![name.clone()],
            None => image.names.clone(),
        };
        let whole = removed.len() == image.names.len();
        if !force && let Some(user) = self.user_of(&image, &removed, whole, pods) {
            return Err(ApiError::Refused {
                reason: "Conflict".into(),
                message: format!(
                    "image \"{}\" is in use by pod {} (use --force to remove it anyway)",
                    user.image, user.pod
                ),
            }
            .into());
        }
        self.tags.update(|tags| {
            for name in &removed {
                tags.names.remove(name);
            }
            Ok(())
        })?;
        let mut removal = Removal {
            untagged: removed,
            ..Removal::default()
        };
        if whole {
            removal.deleted.push(image.id.clone());
        }
        removal.reclaimed = self.collect()?;
        Ok(removal)
    }

    /// `pod image prune`: with `all`, removes every image no pod uses;
    /// always removes blobs and layers no stored image references.
    pub fn prune(&self, all: bool, pods: &[PodImage]) -> Result<Removal> {
        let _gc = CollectionLock::collector(self)?;
        let mut removal = Removal::default();
        if all {
            for image in self.list()? {
                if self.user_of(&image, &image.names, true, pods).is_some() {
                    continue;
                }
                self.tags.update(|tags| {
                    for name in &image.names {
                        tags.names.remove(name);
                    }
                    Ok(())
                })?;
                removal.untagged.extend(image.names.iter().cloned());
                removal.deleted.push(image.id.clone());
            }
        }
        removal.reclaimed = self.collect()?;
        Ok(removal)
    }

    /// Deletes blobs and layer directories no named image references;
    /// returns the bytes freed. The caller holds the collection lock.
    fn collect(&self) -> Result<u64> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for image in self.list()? {
            blobs.insert(image.digest.clone());
            blobs.insert(image.id.clone());
            for layer in image.manifest.layers() {
                blobs.insert(layer.digest().to_string());
            }
            for diff_id in image.diff_ids() {
                layers.insert(self.layer_dir(diff_id)?);
            }
        }
        let mut freed = 0;
        for digest in self.blobs.list()? {
            if !blobs.contains(&digest) {
                freed += self.blobs.size(&digest);
                self.blobs.remove(&digest)?;
            }
        }
        let layers_dir = self.root.join("layers");
        for entry in fs::read_dir(&layers_dir)? {
            let path = entry?.path();
            if !layers.contains(&path) {
                freed += fs::read_to_string(path.join("size"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .unwrap_or(0);
                fs::remove_dir_all(&path)
                    .with_context(|| format!("removing layer {}", path.display()))?;
            }
        }
        // Staging left by writers that died; none is running while the
        // collector holds the lock.
        for entry in fs::read_dir(self.tmp())? {
            let path = entry?.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
        Ok(freed)
    }
}
