//! Images: a content-addressed store, archive loading, imports and registry
//! pulls, and the layer unpacker.
//!
//! The contract the rest of `pod` relies on (the image issue fills it in):
//! `ImageStore::open(store.images_dir())`, `ImageStore::ensure(reference,
//! policy, progress)` returning an [`Image`] whose `layers` are unpacked
//! directories to stack as overlay lower layers, and whose `config` is the
//! OCI image configuration (Entrypoint, Cmd, Env, WorkingDir, User,
//! StopSignal, ExposedPorts).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

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
    pub config: oci_spec::image::ImageConfiguration,
}

/// Why an image could not be made available: the kubelet's waiting
/// reasons.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// ErrImageNeverPull
    #[error("Container image \"{0}\" is not present with pull policy of Never")]
    NeverPull(String),
    /// InvalidImageName
    #[error("Failed to apply default image tag \"{0}\": {1}")]
    InvalidName(String, String),
    /// ErrImagePull
    #[error("{0}")]
    Pull(String),
}

/// The image store under `<root>/images`.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore> {
        Ok(ImageStore {
            root: root.to_path_buf(),
        })
    }

    /// The image for `reference` if stored.
    pub fn resolve(&self, reference: &str) -> Result<Option<Image>> {
        bail!(
            "image store not implemented yet ({reference}, {})",
            self.root.display()
        )
    }

    /// Makes `reference` available according to `policy`, pulling when
    /// needed.
    pub fn ensure(&self, reference: &str, policy: PullPolicy) -> Result<Image, PullError> {
        let _ = policy;
        Err(PullError::Pull(format!(
            "image store not implemented yet: {reference}"
        )))
    }
}
