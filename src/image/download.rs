//! Downloading one blob so that a broken connection costs only what was in
//! flight. Bytes are appended to `tmp/partial/<hex>`, which outlives a
//! failed attempt and a failed pull; the next attempt (a retry in this
//! pull, or a later `pod image pull`) asks for the rest with
//! `Range: bytes=N-`, and starts over if the registry answers with the
//! whole blob instead. The finished file enters the store only if its
//! sha256 and size are the manifest's; a resumed file that is wrong is
//! thrown away and the blob fetched once more from the start.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use futures_util::StreamExt;
use indicatif::HumanBytes;
use oci_client::client::BlobResponse;
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference};

use super::blobs::{BlobError, Blobs};
use super::progress::BlobProgress;

/// Tries per blob for a broken connection, waiting 0.5 s, 1 s, 2 s, 4 s
/// in between.
const ATTEMPTS: u32 = 5;

/// Fetches blob `digest` of `size` bytes from `reference`'s repository
/// into `blobs`, verified.
pub async fn fetch(
    client: &Client,
    reference: &Reference,
    blobs: &Blobs,
    digest: &str,
    size: u64,
    bar: &BlobProgress,
) -> Result<()> {
    let mut partial = Partial::lock(blobs.partial_path(digest)?).await?;
    // Another pull may have finished this blob while we waited.
    if blobs.contains(digest) {
        bar.skipped();
        return Ok(());
    }
    if partial.len > size {
        partial.discard()?;
    }
    let mut refetched = false;
    loop {
        let resumed = download_rest(client, reference, &mut partial, digest, size, bar).await?;
        match blobs.adopt(&partial.path, digest, size) {
            Ok(()) => {
                bar.done();
                return Ok(());
            }
            Err(e @ (BlobError::Mismatch { .. } | BlobError::Size { .. })) => {
                // The bytes kept from before may be what is wrong (a
                // corrupted or foreign partial file); never keep them.
                partial.discard()?;
                if !resumed || refetched {
                    return Err(e.into());
                }
                bar.restarting("verification failed");
                refetched = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Downloads what `partial` lacks, retrying a broken connection; returns
/// whether the file was continued with a ranged request, i.e. whether its
/// start came from an earlier request (or an earlier pull).
async fn download_rest(
    client: &Client,
    reference: &Reference,
    partial: &mut Partial,
    digest: &str,
    size: u64,
    bar: &BlobProgress,
) -> Result<bool> {
    let mut resumed = false;
    let mut attempt = 1;
    loop {
        if partial.len >= size {
            // Complete (or too long): verification decides.
            return Ok(resumed);
        }
        match transfer(client, reference, partial, digest, size, bar, &mut resumed).await {
            Ok(()) => return Ok(resumed),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Broken(_)) if attempt < ATTEMPTS && partial.len < size => {
                tokio::time::sleep(Duration::from_millis(500 << (attempt - 1))).await;
                attempt += 1;
            }
            Err(Failure::Broken(e)) if partial.len < size => {
                return Err(e.context(format!(
                    "gave up after {ATTEMPTS} attempts, keeping {} for the next pull",
                    HumanBytes(partial.len)
                )));
            }
            // The body was all there; the error is oci-client's digest
            // check of a whole response, which verification repeats.
            Err(Failure::Broken(_)) => return Ok(resumed),
        }
    }
}

/// Why a request failed: a connection that may work if tried again, or
/// anything else (an HTTP error status, a full disk).
enum Failure {
    Broken(anyhow::Error),
    Fatal(anyhow::Error),
}

/// One request: the blob from `partial.len` on, appended to it. Never
/// more than `size` bytes in all: a registry that sends more (by mistake,
/// or to fill the disk) fails the pull at the first byte too many.
async fn transfer(
    client: &Client,
    reference: &Reference,
    partial: &mut Partial,
    digest: &str,
    size: u64,
    bar: &BlobProgress,
    resumed: &mut bool,
) -> Result<(), Failure> {
    let offset = partial.len;
    let response = if offset == 0 {
        client.pull_blob_stream(reference, digest).await
    } else {
        match client
            .pull_blob_stream_partial(reference, digest, offset, None)
            .await
        {
            Ok(BlobResponse::Partial(stream)) => {
                *resumed = true;
                bar.resuming(offset);
                Ok(stream)
            }
            Ok(BlobResponse::Full(stream)) => {
                partial.discard().map_err(Failure::Fatal)?;
                bar.restarting("the registry sent the whole blob");
                Ok(stream)
            }
            Err(e) => Err(e),
        }
    };
    let mut stream = response.map_err(|e| {
        let text = super::registry::describe(&e);
        if is_broken_connection(&e) {
            Failure::Broken(anyhow!(text))
        } else {
            Failure::Fatal(anyhow!(text))
        }
    })?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure::Broken(e.into()))?;
        if partial.len + chunk.len() as u64 > size {
            partial.discard().map_err(Failure::Fatal)?;
            return Err(Failure::Fatal(anyhow!(
                "blob {digest}: the registry sent more than the {size} bytes the manifest declares"
            )));
        }
        partial.append(&chunk).map_err(Failure::Fatal)?;
        bar.advance(chunk.len());
    }
    Ok(())
}

/// Errors worth another request: the connection, not the registry's
/// answer (5xx answers count: proxies give them for a lost upstream).
fn is_broken_connection(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(_) | OciDistributionError::IoError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code >= 500,
        _ => false,
    }
}

/// The partial file of one blob, locked so that two pulls of the same
/// blob (or one layer listed twice) do not write it at once.
struct Partial {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Partial {
    async fn lock(path: PathBuf) -> Result<Partial> {
        let dir = path.parent().expect("a partial path has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // Polled, not blocking: the pull runs on one thread, and the
        // holder may be another task of it.
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("locking {}", path.display())),
            }
        }
        let len = file
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        Ok(Partial { file, path, len })
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Empties the file for a download from 0. It stays (empty, until a
    /// prune) rather than being removed, since another pull may have it
    /// open, waiting for the lock.
    fn discard(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .with_context(|| format!("truncating {}", self.path.display()))?;
        self.len = 0;
        Ok(())
    }
}
