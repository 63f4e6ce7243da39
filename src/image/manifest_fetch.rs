//! Reading a manifest (or an index) from a registry, its size capped.
//!
//! oci-client reads a manifest response whole into memory, however long
//! it is, so a hostile registry could answer with gigabytes (or an
//! endless body) and take the puller down. Here the GET is ours: the
//! token comes from oci-client (which keeps it for the blob requests),
//! the body is read chunk by chunk and refused past
//! [`MAX_MANIFEST_SIZE`], as containerd refuses it.

use anyhow::{Result, anyhow, bail};
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::blobs::digest_of;

/// The largest manifest, index or image config accepted: containerd's
/// `MaxManifestSize` (core/remotes/docker/resolver.go), `4 * 1048 * 1048`
/// bytes (sic: 4,393,216). Its reasoning: 128 layers of at most 256
/// bytes each make a large manifest 32 KB; 4 MB leaves room for large
/// annotations, and large metadata belongs in blobs of its own.
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1048 * 1048;

/// How much of an error response is read for its message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// GETs the manifest `reference` names (a tag or a digest) from its
/// registry, accepting `accepted` media types; returns its bytes, checked
/// against the reference's digest and the registry's
/// `Docker-Content-Digest` when either is given. The error is a few words,
/// for the caller to prefix.
pub async fn fetch(
    client: &Client,
    http: &reqwest::Client,
    scheme: &str,
    reference: &Reference,
    auth: &RegistryAuth,
    accepted: &[&str],
) -> Result<Vec<u8>> {
    // As oci-client itself does before a request, an authentication that
    // fails leaves the request anonymous; the registry's answer says why.
    let token = client
        .auth(reference, auth, RegistryOperation::Pull)
        .await
        .ok()
        .flatten();
    let object = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_string();
    let url = format!(
        "{scheme}://{}/v2/{}/manifests/{object}",
        reference.resolve_registry(),
        reference.repository()
    );
    let mut request = http.get(&url).header("Accept", accepted.join(", "));
    request = match (token, auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        (None, _) => request,
    };
    let mut response = request.send().await.map_err(describe)?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        let body = read_capped(&mut response, MAX_ERROR_BODY)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        return Err(describe(status_error(status, &body, &url)));
    }
    if let Some(len) = response.content_length()
        && len > MAX_MANIFEST_SIZE
    {
        bail!("rejecting {len} byte manifest (the limit is {MAX_MANIFEST_SIZE} bytes)");
    }
    let header_digest = response
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("sha256:"))
        .map(str::to_string);
    let body = read_capped(&mut response, MAX_MANIFEST_SIZE)
        .await?
        .ok_or_else(|| {
            anyhow!("rejecting a manifest of more than {MAX_MANIFEST_SIZE} bytes (the limit)")
        })?;
    for expected in reference
        .digest()
        .into_iter()
        .chain(header_digest.as_deref())
    {
        let actual = digest_of(&body);
        if expected.starts_with("sha256:") && actual != expected {
            bail!("manifest digest mismatch: expected {expected}, got {actual}");
        }
    }
    Ok(body)
}

/// The body, or None when it is longer than `limit` (reading stops
/// there).
async fn read_capped(response: &mut reqwest::Response, limit: u64) -> Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// What a non-200 answer means, as oci-client tells it for its own
/// requests (so the messages stay those of the blob requests).
fn status_error(status: reqwest::StatusCode, body: &[u8], url: &str) -> OciDistributionError {
    let body = body.to_vec();
    match status {
        reqwest::StatusCode::UNAUTHORIZED => OciDistributionError::UnauthorizedError {
            url: url.to_string(),
        },
        s if s.is_success() => OciDistributionError::SpecViolationError(format!(
            "Expected HTTP Status {}, got {s} instead",
            reqwest::StatusCode::OK
        )),
        s if s.is_client_error() => match serde_json::from_slice::<OciEnvelope>(&body) {
            Ok(envelope) => OciDistributionError::RegistryError {
                envelope,
                url: url.to_string(),
            },
            Err(_) => OciDistributionError::ServerError {
                code: s.as_u16(),
                url: url.to_string(),
                message: String::from_utf8_lossy(&body).into_owned(),
            },
        },
        s => OciDistributionError::ServerError {
            code: s.as_u16(),
            url: url.to_string(),
            message: String::from_utf8_lossy(&body).into_owned(),
        },
    }
}

fn describe(error: impl Into<OciDistributionError>) -> anyhow::Error {
    anyhow!(super::registry::describe(&error.into()))
}
