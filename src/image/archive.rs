//! `pod image load`: docker-archive (`docker save`) and oci-archive
//! (`podman save --format oci-archive`, `skopeo copy oci-archive:…`)
//! tarballs, plain or compressed, from a file or stdin.
//!
//! The archive is unpacked with the hostile-input-safe layer unpacker into
//! a scratch directory, its files are read with links confined to that
//! directory, and every blob is verified as it enters the store.

use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use oci_spec::image::{ImageIndex, ImageManifest};
use serde::Deserialize;
use serde_json::json;

use super::gc::CollectionLock;
use super::platform;
use super::unpack::{self, Compression};
use super::{ImageStore, Reference};

/// One entry of a docker-archive's `manifest.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Loads every image of the archive in `reader`; returns the names loaded.
pub fn load(store: &ImageStore, reader: impl Read) -> Result<Vec<String>> {
    let _gc = CollectionLock::writer(store)?;
    let scratch = tempfile::Builder::new()
        .prefix(".load-")
        .tempdir_in(store.tmp())
        .context("creating a scratch directory")?;
    let dir = scratch.path();
    unpack::unpack(reader, dir).context("reading the archive")?;
    if dir.join("manifest.json").is_file() {
        load_docker(store, dir)
    } else if dir.join("index.json").is_file() {
        load_oci(store, dir)
    } else {
        bail!("not a docker-archive or oci-archive: it has neither manifest.json nor index.json")
    }
}

/// Reads a JSON file of the archive (an index, a manifest, a config), no
/// larger than a registry may send one.
fn read(dir: &Path, rel: &str) -> Result<Vec<u8>> {
    let limit = super::manifest_fetch::MAX_MANIFEST_SIZE;
    let mut bytes = Vec::new();
    unpack::open_beneath(dir, rel)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading {rel} in the archive"))?;
    if bytes.len() as u64 > limit {
        bail!("{rel} in the archive is more than {limit} bytes (the limit)");
    }
    Ok(bytes)
}

fn parse_name(text: &str) -> Result<Reference> {
    Reference::parse(text).map_err(|e| anyhow!("image name {text:?} in the archive: {e}"))
}

fn load_docker(store: &ImageStore, dir: &Path) -> Result<Vec<String>> {
    let entries: Vec<DockerEntry> =
        serde_json::from_slice(&read(dir, "manifest.json")?).context("parsing manifest.json")?;
    let mut loaded = Vec::new();
    for entry in entries {
        let names = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|n| parse_name(n))
            .collect::<Result<Vec<_>>>()?;
        if names.is_empty() {
            bail!(
                "image {} in the archive has no name (RepoTags)",
                entry.config
            );
        }
        let config = read(dir, &entry.config)?;
        let config_digest = store.blobs().put_bytes(&config)?;
        let mut layers = Vec::new();
        for layer in &entry.layers {
            let mut file = io::BufReader::new(
                unpack::open_beneath(dir, layer)
                    .with_context(|| format!("reading {layer} in the archive"))?,
            );
            let compression = Compression::detect(io::BufRead::fill_buf(&mut file)?);
            let digest = store.put_blob(file, None)?;
            layers.push(json!({
                "mediaType": compression.oci_media_type(),
                "digest": digest,
                "size": store.blobs().size(&digest),
            }));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": layers,
        });
        // commit's errors name the image.
        store.commit(&serde_json::to_vec(&manifest)?, &names)?;
        loaded.extend(names.iter().map(Reference::to_string));
    }
    Ok(loaded)
}

/// `blobs/<algorithm>/<hex>` of an OCI layout.
fn blob_path(digest: &str) -> Result<String> {
    super::reference::parse_digest(digest)
        .map(|d| d.replacen(':', "/", 1))
        .map(|d| format!("blobs/{d}"))
        .map_err(|_| anyhow!("unsupported digest {digest:?} in the archive"))
}

/// Reads a blob of the layout, checking it is what its digest says.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    let bytes = read(dir, &blob_path(digest)?)?;
    let actual = super::blobs::digest_of(&bytes);
    if actual != digest {
        bail!("blob {digest} in the archive is corrupt (its content is {actual})");
    }
    Ok(bytes)
}

fn load_oci(store: &ImageStore, dir: &Path) -> Result<Vec<String>> {
    let index =
        ImageIndex::from_reader(&read(dir, "index.json")?[..]).context("parsing index.json")?;
    let mut loaded = Vec::new();
    for descriptor in index.manifests() {
        let annotations = descriptor.annotations().clone().unwrap_or_default();
        let name = annotations
            .get("io.containerd.image.name")
            .or_else(|| annotations.get("org.opencontainers.image.ref.name"))
            .ok_or_else(|| {
                anyhow!(
                    "image {} in the archive has no name (org.opencontainers.image.ref.name)",
                    descriptor.digest()
                )
            })?;
        let name = parse_name(name)?;
        let mut digest = descriptor.digest().to_string();
        let mut bytes = read_blob(dir, &digest)?;
        if platform::is_index(&bytes) {
            let nested = ImageIndex::from_reader(&bytes[..])
                .with_context(|| format!("parsing image index {digest}"))?;
            let chosen = platform::select(&nested)?;
            digest = chosen.digest().to_string();
            bytes = read_blob(dir, &digest)?;
        }
        let manifest = ImageManifest::from_reader(&bytes[..])
            .with_context(|| format!("parsing manifest {digest}"))?;
        let blobs = std::iter::once(manifest.config()).chain(manifest.layers());
        for blob in blobs {
            let blob_digest = blob.digest().to_string();
            if store.blobs().contains(&blob_digest) {
                continue;
            }
            let file = unpack::open_beneath(dir, &blob_path(&blob_digest)?)
                .with_context(|| format!("reading blob {blob_digest} in the archive"))?;
            // Checked before a byte is copied: a blob bigger than the
            // manifest says is refused, not stored and then found wrong.
            let len = file
                .metadata()
                .with_context(|| format!("reading blob {blob_digest} in the archive"))?
                .len();
            // (A smaller one fails its digest check.)
            if len > blob.size() {
                bail!(
                    "blob {blob_digest} in the archive is {len} bytes, more than the {} the manifest declares",
                    blob.size()
                );
            }
            store
                .put_blob(file, Some(&blob_digest))
                .with_context(|| format!("blob {blob_digest} in the archive"))?;
        }
        store.commit(&bytes, std::slice::from_ref(&name))?;
        loaded.push(name.to_string());
    }
    if loaded.is_empty() {
        bail!("the archive's index.json lists no images");
    }
    Ok(loaded)
}
