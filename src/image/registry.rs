//! Pulling from registries (OCI distribution / Docker Registry v2) with
//! oci-client: manifest lists and OCI indexes resolved to linux and this
//! architecture, Docker schema 2 and OCI manifests, anonymous bearer
//! tokens or basic auth from auth.json, layers fetched in parallel and
//! verified against their digests. Blobs already stored are not fetched
//! again, and a blob cut off half-way continues where it stopped
//! (download.rs).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_spec::image::{ImageIndex, ImageManifest};

use super::blobs::{Blobs, digest_of};
use super::gc::CollectionLock;
use super::manifest_fetch::{self, MAX_MANIFEST_SIZE};
use super::progress::{BlobProgress, Progress};
use super::registries_conf::{Endpoint, RegistriesConf};
use super::{ImageStore, Reference, StoredImage, auth, platform};

/// The manifest media types we ask for (schema 1 is not among them).
const ACCEPTED: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// How many blobs download at once.
const PARALLEL_DOWNLOADS: usize = 4;

/// The names an image reference may mean: itself when qualified, else one
/// per unqualified-search registry.
pub fn candidates(text: &str, conf: &RegistriesConf) -> Result<Vec<Reference>> {
    if Reference::is_qualified(text) {
        return Ok(vec![Reference::parse(text)?]);
    }
    conf.search_registries()
        .iter()
        .map(|registry| {
            let full = if registry == super::reference::DOCKER_HUB {
                text.to_string()
            } else {
                format!("{registry}/{text}")
            };
            Reference::parse(&full).map_err(|e| anyhow!("{full}: {e}"))
        })
        .collect()
}

/// Pulls the first of `candidates` some registry has, trying each one's
/// mirrors before its location. Blocks the calling thread.
pub fn pull(
    store: &ImageStore,
    candidates: &[Reference],
    conf: &RegistriesConf,
    progress: &Progress,
) -> Result<StoredImage> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the pull's runtime")?;
                runtime.block_on(pull_any(store, candidates, conf, progress))
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the pull thread panicked")))
    })
}

async fn pull_any(
    store: &ImageStore,
    candidates: &[Reference],
    conf: &RegistriesConf,
    progress: &Progress,
) -> Result<StoredImage> {
    let _gc = CollectionLock::writer(store)?;
    let mut errors = Vec::new();
    for candidate in candidates {
        let endpoints = match conf.endpoints(candidate) {
            Ok(endpoints) => endpoints,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        progress.line(&format!("Trying to pull {candidate}..."));
        for endpoint in &endpoints {
            match pull_from(store, candidate, endpoint, progress).await {
                Ok(image) => return Ok(image),
                Err(e) => {
                    if endpoint.mirror {
                        progress.line(&format!(
                            "mirror {}/{} failed, trying the next source: {e:#}",
                            endpoint.host, endpoint.repository
                        ));
                    }
                    errors.push(e);
                }
            }
        }
    }
    // The last error is the registry's own (mirrors come first); with
    // several search registries, name them all.
    match errors.len() {
        0 => bail!("no registry to pull from"),
        1 => Err(errors.pop().expect("one error")),
        _ if candidates.len() == 1 => Err(errors.pop().expect("an error")),
        _ => bail!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{e:#}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// The HTTP client for manifests (manifest_fetch.rs), with oci-client's
/// timeouts.
fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")
}

fn client_for(endpoint: &Endpoint) -> oci_client::Client {
    let protocol = if endpoint.insecure {
        ClientProtocol::HttpsExcept(vec![endpoint.host.clone()])
    } else {
        ClientProtocol::Https
    };
    oci_client::Client::new(ClientConfig {
        protocol,
        max_concurrent_download: PARALLEL_DOWNLOADS,
        connect_timeout: Some(Duration::from_secs(15)),
        read_timeout: Some(Duration::from_secs(60)),
        ..ClientConfig::default()
    })
}

fn oci_reference(endpoint: &Endpoint, tag_or_digest: &str) -> oci_client::Reference {
    if tag_or_digest.starts_with("sha256:") {
        oci_client::Reference::with_digest(
            endpoint.host.clone(),
            endpoint.repository.clone(),
            tag_or_digest.to_string(),
        )
    } else {
        oci_client::Reference::with_tag(
            endpoint.host.clone(),
            endpoint.repository.clone(),
            tag_or_digest.to_string(),
        )
    }
}

async fn pull_from(
    store: &ImageStore,
    candidate: &Reference,
    endpoint: &Endpoint,
    progress: &Progress,
) -> Result<StoredImage> {
    let client = client_for(endpoint);
    let auth = match auth::lookup(&endpoint.host, &endpoint.repository)? {
        Some(c) => RegistryAuth::Basic(c.username, c.password),
        None => RegistryAuth::Anonymous,
    };
    let source = format!("{}/{}", endpoint.host, endpoint.repository);
    let wanted = candidate.tag_or_digest();
    let reference = oci_reference(endpoint, wanted);
    let http = http_client()?;
    let scheme = if endpoint.insecure { "http" } else { "https" };
    let manifest = |reference: oci_client::Reference| {
        let (client, http, auth) = (&client, &http, &auth);
        async move { manifest_fetch::fetch(client, http, scheme, &reference, auth, ACCEPTED).await }
    };
    let bytes = manifest(reference.clone())
        .await
        .map_err(|e| anyhow!("reading manifest {wanted} in {source}: {e:#}"))?;
    if let Some(digest) = &candidate.digest {
        verify(&bytes, digest, "manifest")?;
    }
    let manifest_bytes = if platform::is_index(&bytes) {
        let index = ImageIndex::from_reader(&bytes[..]).context("parsing the manifest list")?;
        let chosen = platform::select(&index)?.digest().to_string();
        let bytes = manifest(oci_reference(endpoint, &chosen))
            .await
            .map_err(|e| anyhow!("reading manifest {chosen} in {source}: {e:#}"))?;
        verify(&bytes, &chosen, "manifest")?;
        bytes
    } else {
        bytes
    };
    let probe: serde_json::Value =
        serde_json::from_slice(&manifest_bytes).context("parsing the manifest")?;
    if probe["schemaVersion"] == 1 {
        bail!("{source}:{wanted} has a schema 1 manifest, which is not supported");
    }
    let manifest =
        ImageManifest::from_reader(&manifest_bytes[..]).context("parsing the manifest")?;
    // The config is read whole into memory, as a manifest is: the same cap.
    let config_size = manifest.config().size();
    if config_size > MAX_MANIFEST_SIZE {
        bail!(
            "{source}:{wanted}: rejecting {config_size} byte image config {} (the limit is {MAX_MANIFEST_SIZE} bytes)",
            manifest.config().digest()
        );
    }

    let mut tasks = tokio::task::JoinSet::new();
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL_DOWNLOADS));
    let blobs = std::iter::once(("config", manifest.config()))
        .chain(manifest.layers().iter().map(|l| ("blob", l)));
    for (kind, descriptor) in blobs {
        let digest = descriptor.digest().to_string();
        let bar = progress.blob(kind, &digest, descriptor.size());
        if store.blobs().contains(&digest) {
            bar.skipped();
            continue;
        }
        let job = download(
            client.clone(),
            reference.clone(),
            store.blobs().clone(),
            digest,
            descriptor.size(),
            bar,
        );
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await?;
            job.await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result
            .map_err(|e| anyhow!("download task: {e}"))?
            .with_context(|| format!("pulling from {source}"))?;
    }
    progress.line("Writing manifest to image destination");
    store.commit(&manifest_bytes, std::slice::from_ref(candidate))
}

fn verify(bytes: &[u8], digest: &str, what: &str) -> Result<()> {
    let actual = digest_of(bytes);
    if actual != digest {
        bail!("{what} digest mismatch: expected {digest}, got {actual}");
    }
    Ok(())
}

async fn download(
    client: oci_client::Client,
    reference: oci_client::Reference,
    blobs: Blobs,
    digest: String,
    size: u64,
    bar: BlobProgress,
) -> Result<()> {
    let result = super::download::fetch(&client, &reference, &blobs, &digest, size, &bar).await;
    if result.is_err() {
        bar.failed();
    }
    result.with_context(|| format!("blob {digest}"))
}

/// A registry error in a few words (`manifest unknown`, `unauthorized`),
/// not oci-client's debug-like text.
pub(super) fn describe(error: &OciDistributionError) -> String {
    match error {
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .map(|e| {
                if e.message.is_empty() {
                    format!("{:?}", e.code).to_lowercase()
                } else {
                    e.message.clone()
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        OciDistributionError::ImageManifestNotFoundError(_) => "manifest unknown".into(),
        OciDistributionError::UnauthorizedError { .. } => {
            "unauthorized: authentication required".into()
        }
        OciDistributionError::ServerError { code, message, .. } => {
            if message.is_empty() {
                format!("HTTP status {code}")
            } else {
                format!("HTTP status {code}: {}", message.trim())
            }
        }
        OciDistributionError::RequestError(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, conf: &str) -> Vec<String> {
        let conf = RegistriesConf::parse(conf).unwrap();
        candidates(text, &conf)
            .unwrap()
            .iter()
            .map(Reference::to_string)
            .collect()
    }

    #[test]
    fn unqualified_names_follow_the_search_list() {
        assert_eq!(names("busybox", ""), ["docker.io/library/busybox:latest"]);
        assert_eq!(
            names(
                "busybox:1.36",
                "unqualified-search-registries = [\"quay.io\", \"docker.io\"]"
            ),
            ["quay.io/busybox:1.36", "docker.io/library/busybox:1.36"]
        );
        assert_eq!(
            names("quay.io/x/y", "unqualified-search-registries = [\"a.io\"]"),
            ["quay.io/x/y:latest"]
        );
    }
}
