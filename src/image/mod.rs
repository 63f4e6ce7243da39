//! Images: a content-addressed store, archive loading, imports and registry
//! pulls, and the layer unpacker.
//!
//! The contract the rest of `pod` relies on: `ImageStore::open(
//! store.images_dir())`, `ImageStore::ensure(reference, policy)` returning
//! an [`Image`] whose `layers` are unpacked directories to stack as overlay
//! lower layers, and whose `config` is the OCI image configuration
//! (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal, ExposedPorts).
//!
//! Layout of `<root>/images`:
//!
//! ```text
//! blobs/sha256/<hex>       manifests, configs and layer tarballs, by digest
//! layers/<hex>/diff        a layer unpacked, named by its diff_id
//! layers/<hex>/size        bytes of its uncompressed tarball
//! repositories.json        names → manifest digests
//! lock                     taken to change names and to collect garbage
//! tmp/                     staging for blobs and layers
//! tmp/partial/<hex>        a blob download cut off, continued by the next
//! ```

pub mod archive;
mod auth;
pub(crate) mod blobs;
mod download;
pub mod gc;
pub mod import;
mod manifest_fetch;
mod platform;
pub mod progress;
pub mod reference;
pub mod registries_conf;
mod registry;
mod tags;
mod tar_guard;
pub mod unpack;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use oci_spec::image::{ImageConfiguration, ImageManifest};

use blobs::{BlobError, Blobs};
pub use progress::Progress;
pub use reference::Reference;
use registries_conf::RegistriesConf;
use tags::{TagFile, Tags};

/// Kubernetes' imagePullPolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// An image ready to run.
#[derive(Debug, Clone)]
pub struct Image {
    /// The reference as normalised (`docker.io/library/busybox:latest`).
    pub name: String,
    /// `sha256:<hex>` of the config blob, as `docker images` shows IDs.
    pub id: String,
    /// The manifest digest (`sha256:…`), for imageID in container status.
    pub digest: String,
    /// Unpacked layer directories, lowest first.
    pub layers: Vec<PathBuf>,
    /// The OCI image configuration.
    pub config: ImageConfiguration,
    /// Bytes of the image as stored: its config and its layers as the
    /// manifest gives them (compressed). The kubelet's Pulled event
    /// reports this size, which it takes from the runtime.
    pub size: u64,
}

/// Why an image could not be made available: the kubelet's waiting
/// reasons.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// ErrImageNeverPull
    #[error("Container image \"{0}\" is not present with pull policy of Never")]
    NeverPull(String),
    /// InvalidImageName, in the kubelet's words (applyDefaultImageTag
    /// around parsers.ParseImageName).
    #[error("Failed to apply default image tag \"{0}\": couldn't parse image name \"{0}\": {1}")]
    InvalidName(String, String),
    /// ErrImagePull
    #[error("{0}")]
    Pull(String),
}

/// An image as stored: a manifest, its config, and the names pointing at
/// it.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The manifest digest.
    pub digest: String,
    pub manifest: ImageManifest,
    /// The config digest: the image ID.
    pub id: String,
    pub config: ImageConfiguration,
    /// Normalised names pointing at this manifest, sorted.
    pub names: Vec<String>,
}

impl StoredImage {
    /// The layers' diff_ids, lowest first.
    pub fn diff_ids(&self) -> &[String] {
        self.config.rootfs().diff_ids()
    }

    /// `<repository>@<manifest digest>` for every repository named.
    pub fn repo_digests(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .map(|r| format!("{}@{}", r.repository(), self.digest))
            .collect();
        out.dedup();
        out
    }

    /// The config's and the layers' sizes as the manifest records them:
    /// what a runtime reports as the image's size (containerd's CRI
    /// counts the manifest descriptors' sizes too, not the unpacked bytes).
    pub fn content_size(&self) -> u64 {
        let layers: u64 = self.manifest.layers().iter().map(|l| l.size()).sum();
        self.manifest.config().size() + layers
    }
}

/// The image store under `<root>/images`.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    blobs: Blobs,
    tags: TagFile,
}

impl ImageStore {
    /// Opens the store, creating its directories when missing.
    pub fn open(root: &Path) -> Result<ImageStore> {
        for dir in ["blobs/sha256", "layers", "tmp"] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir)
                .with_context(|| format!("creating image store {}", dir.display()))?;
        }
        Ok(ImageStore {
            root: root.to_path_buf(),
            blobs: Blobs::new(root.join("blobs"), root.join("tmp")),
            tags: TagFile::new(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The directory of the layer with diff_id `diff_id`.
    fn layer_dir(&self, diff_id: &str) -> Result<PathBuf> {
        let hex = diff_id
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| anyhow!("unsupported layer diff_id {diff_id:?}"))?;
        Ok(self.root.join("layers").join(hex))
    }

    /// The image for `reference` if stored. Accepts names (normalised as
    /// Docker does), `name@digest`, and image IDs or their prefixes.
    pub fn resolve(&self, reference: &str) -> Result<Option<Image>> {
        let Some(stored) = self.find(reference)? else {
            return Ok(None);
        };
        let name = match Reference::parse(reference) {
            Ok(r) if stored.names.contains(&r.to_string()) => r.to_string(),
            _ => stored
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| stored.id.clone()),
        };
        self.image(&stored, name).map(Some)
    }

    /// Makes `reference` available according to `policy`, pulling when
    /// needed. Blocks; call it from a blocking thread in async code.
    pub fn ensure(&self, reference: &str, policy: PullPolicy) -> Result<Image, PullError> {
        self.ensure_with(reference, policy, &Progress::quiet())
    }

    /// `ensure`, reporting the pull's progress.
    pub fn ensure_with(
        &self,
        reference: &str,
        policy: PullPolicy,
        progress: &Progress,
    ) -> Result<Image, PullError> {
        let invalid = |e: &dyn std::fmt::Display| {
            PullError::InvalidName(reference.to_string(), e.to_string())
        };
        Reference::parse(reference).map_err(|e| invalid(&e))?;
        let pull_error = |e: anyhow::Error| PullError::Pull(format!("{e:#}"));
        let conf = RegistriesConf::load().map_err(pull_error)?;
        let candidates = registry::candidates(reference, &conf).map_err(|e| invalid(&e))?;
        if policy != PullPolicy::Always {
            for candidate in &candidates {
                let name = candidate.to_string();
                if let Some(image) = self.resolve(&name).map_err(pull_error)? {
                    return Ok(image);
                }
            }
        }
        if policy == PullPolicy::Never {
            return Err(PullError::NeverPull(reference.to_string()));
        }
        let stored = registry::pull(self, &candidates, &conf, progress).map_err(pull_error)?;
        let name = candidates
            .iter()
            .map(Reference::to_string)
            .find(|n| stored.names.contains(n))
            .unwrap_or_else(|| stored.names.first().cloned().unwrap_or_default());
        self.image(&stored, name).map_err(pull_error)
    }

    /// `pod image pull`: always asks the registry, fetching only the blobs
    /// not stored yet.
    pub fn pull(&self, reference: &str, progress: &Progress) -> Result<Image> {
        self.ensure_with(reference, PullPolicy::Always, progress)
            .map_err(|e| anyhow!("{e}"))
    }

    /// The stored image `text` names: a name, `name@digest`, a manifest
    /// digest, or an image ID (or a unique prefix of one, at least 3 hex
    /// digits, as podman accepts).
    pub fn find(&self, text: &str) -> Result<Option<StoredImage>> {
        let tags = self.tags.read()?;
        if let Ok(reference) = Reference::parse(text) {
            if let Some(digest) = tags.names.get(&reference.to_string()) {
                return self.load(digest, &tags).map(Some);
            }
            // `name@digest` of a manifest stored under another name.
            if let Some(digest) = &reference.digest
                && tags.digests().contains(digest)
            {
                return self.load(digest, &tags).map(Some);
            }
        }
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if hex.len() < 3 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Ok(None);
        }
        let mut found: Option<StoredImage> = None;
        for digest in tags.digests() {
            let image = self.load(&digest, &tags)?;
            let matches = image.id["sha256:".len()..].starts_with(hex)
                || image.digest["sha256:".len()..].starts_with(hex);
            if matches {
                if let Some(other) = &found
                    && other.id != image.id
                {
                    bail!("{text}: image ID prefix is ambiguous");
                }
                found = Some(image);
            }
        }
        Ok(found)
    }

    /// Every stored image, newest first.
    pub fn list(&self) -> Result<Vec<StoredImage>> {
        let tags = self.tags.read()?;
        let mut out = Vec::new();
        for digest in tags.digests() {
            out.push(self.load(&digest, &tags)?);
        }
        out.sort_by(|a, b| {
            b.config
                .created()
                .cmp(a.config.created())
                .then_with(|| a.names.cmp(&b.names))
        });
        Ok(out)
    }

    /// Bytes of an image's layers, uncompressed.
    pub fn size(&self, image: &StoredImage) -> u64 {
        image
            .diff_ids()
            .iter()
            .filter_map(|d| self.layer_dir(d).ok())
            .filter_map(|dir| fs::read_to_string(dir.join("size")).ok())
            .filter_map(|s| s.trim().parse::<u64>().ok())
            .sum()
    }

    fn load(&self, digest: &str, tags: &Tags) -> Result<StoredImage> {
        let manifest_bytes = self
            .blobs
            .read(digest)
            .with_context(|| format!("reading manifest {digest}"))?;
        let manifest = ImageManifest::from_reader(&manifest_bytes[..])
            .with_context(|| format!("parsing manifest {digest}"))?;
        let id = manifest.config().digest().to_string();
        let config_bytes = self
            .blobs
            .read(&id)
            .with_context(|| format!("reading image config {id}"))?;
        let config = ImageConfiguration::from_reader(&config_bytes[..])
            .with_context(|| format!("parsing image config {id}"))?;
        Ok(StoredImage {
            digest: digest.to_string(),
            manifest,
            id,
            config,
            names: tags.names_of(digest),
        })
    }

    /// The runnable form of a stored image; unpacks layers missing on disk.
    fn image(&self, stored: &StoredImage, name: String) -> Result<Image> {
        let layers = self
            .unpack_layers(&stored.manifest, &stored.config)
            .with_context(|| format!("image {name}"))?;
        Ok(Image {
            name,
            id: stored.id.clone(),
            digest: stored.digest.clone(),
            layers,
            config: stored.config.clone(),
            size: stored.content_size(),
        })
    }

    /// Unpacks (once) every layer of a manifest whose blobs are stored,
    /// checking each against the config's diff_ids; returns the layer
    /// directories, lowest first.
    fn unpack_layers(
        &self,
        manifest: &ImageManifest,
        config: &ImageConfiguration,
    ) -> Result<Vec<PathBuf>> {
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            bail!(
                "image has {} layers but its config lists {} diff_ids",
                manifest.layers().len(),
                diff_ids.len()
            );
        }
        manifest
            .layers()
            .iter()
            .zip(diff_ids)
            .map(|(layer, diff_id)| {
                self.unpack_layer(layer.digest().as_ref(), Some(diff_id))
                    .map(|(_, dir)| dir)
            })
            .collect()
    }

    /// Unpacks the stored layer blob `blob` into `layers/<diff_id>/diff`
    /// unless already there, and returns that directory. With `expected`
    /// None (an import), the diff_id is learnt while unpacking. Returns
    /// the diff_id and the directory.
    fn unpack_layer(&self, blob: &str, expected: Option<&String>) -> Result<(String, PathBuf)> {
        if let Some(diff_id) = expected {
            let dir = self.layer_dir(diff_id)?.join("diff");
            if dir.is_dir() {
                return Ok((diff_id.clone(), dir));
            }
        }
        let staging = tempfile::Builder::new()
            .prefix(".layer-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .tempdir_in(self.tmp())
            .context("creating a layer staging directory")?;
        let diff = staging.path().join("diff");
        fs::create_dir(&diff)?;
        let file = self.blobs.open(blob)?;
        let unpacked = unpack::unpack(io::BufReader::new(file), &diff)
            .with_context(|| format!("layer {blob}"))?;
        if let Some(expected) = expected
            && *expected != unpacked.diff_id
        {
            bail!(
                "layer {blob}: content does not match the config (diff_id {expected}, got {})",
                unpacked.diff_id
            );
        }
        fs::write(staging.path().join("size"), format!("{}\n", unpacked.size))?;
        let target = self.layer_dir(&unpacked.diff_id)?;
        let renamed = rustix::fs::renameat_with(
            rustix::fs::CWD,
            staging.path(),
            rustix::fs::CWD,
            &target,
            rustix::fs::RenameFlags::NOREPLACE,
        );
        match renamed {
            // Another writer unpacked the same layer meanwhile.
            Ok(()) | Err(rustix::io::Errno::EXIST | rustix::io::Errno::NOTEMPTY) => {}
            Err(e) => {
                return Err(io::Error::from(e))
                    .with_context(|| format!("storing layer {}", target.display()));
            }
        }
        Ok((unpacked.diff_id, target.join("diff")))
    }

    /// Stores an image whose config and layer blobs are already stored:
    /// unpacks its layers, stores the manifest and points `names` at it.
    pub(crate) fn commit(&self, manifest_bytes: &[u8], names: &[Reference]) -> Result<StoredImage> {
        let manifest = ImageManifest::from_reader(manifest_bytes).context("parsing manifest")?;
        let config_digest = manifest.config().digest().to_string();
        let limit = manifest_fetch::MAX_MANIFEST_SIZE;
        if manifest.config().size() > limit {
            bail!(
                "rejecting {} byte image config {config_digest} (the limit is {limit} bytes)",
                manifest.config().size()
            );
        }
        let config = ImageConfiguration::from_reader(&self.blobs.read(&config_digest)?[..])
            .context("parsing image config")?;
        self.unpack_layers(&manifest, &config)
            .with_context(|| match names.first() {
                Some(name) => format!("image {name}"),
                None => "image".to_string(),
            })?;
        let digest = self.blobs.put_bytes(manifest_bytes)?;
        self.tags.update(|tags| {
            for name in names {
                tags.names.insert(name.to_string(), digest.clone());
            }
            Ok(())
        })?;
        let tags = self.tags.read()?;
        self.load(&digest, &tags)
    }

    /// Stores a layer blob from a reader (import, archives), returning its
    /// digest.
    pub(crate) fn put_blob(
        &self,
        reader: impl io::Read,
        expected: Option<&str>,
    ) -> Result<String, BlobError> {
        self.blobs.put(reader, expected)
    }
}

/// This machine's architecture in the Go names images use.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
