//! The projected serviceAccountToken: a JWT (HS256) signed with the
//! node-local key (see the module documentation of [`super`]).

use std::os::unix::fs::PermissionsExt;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::{Context, make_dir};
use crate::store::Store;

/// A JWT for the pod's service account, signed with the node-local key.
pub(super) fn service_account_token(
    cx: &Context<'_>,
    audience: &str,
    expiry: i64,
) -> Result<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = signing_key(cx.store)?;
    let now = jiff::Timestamp::now().as_second();
    let account = cx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".to_string());
    let ns = cx.namespace();
    let audiences: Vec<&str> = if audience.is_empty() {
        vec!["https://kubernetes.default.svc.cluster.local"]
    } else {
        vec![audience]
    };
    let claims = serde_json::json!({
        "aud": audiences,
        "exp": now + expiry,
        "iat": now,
        "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": format!("system:serviceaccount:{ns}:{account}"),
        "kubernetes.io": {
            "namespace": ns,
            "pod": {"name": cx.pod_name(), "uid": cx.pod.metadata.uid.clone().unwrap_or_default()},
            "serviceaccount": {"name": account},
        },
    });
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64.encode(serde_json::to_vec(&claims)?);
    let signing_input = format!("{header}.{body}");
    let signature = b64.encode(hmac_sha256(&key, signing_input.as_bytes()));
    Ok(format!("{signing_input}.{signature}"))
}

/// The node-local token signing key, created (32 random bytes, mode 0600)
/// on first use.
fn signing_key(store: &Store) -> Result<Vec<u8>> {
    let path = store.root().join("serviceaccount/signing.key");
    if let Ok(key) = std::fs::read(&path)
        && key.len() >= 32
    {
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    getrandom(&mut key)?;
    if let Some(parent) = path.parent() {
        make_dir(parent, 0o700)?;
    }
    crate::store::write_atomic(&path, &key)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    // Another pod may have raced us: use whatever won.
    Ok(std::fs::read(&path)?)
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)?;
    Ok(())
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
