//! Picking this machine's image out of a multi-platform index (OCI image
//! index or Docker manifest list): linux and this architecture.

use anyhow::{Result, bail};
use oci_spec::image::{Descriptor, ImageIndex};

/// Media types of indexes.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Whether a manifest document is an index (by its mediaType, or by having
/// `manifests` rather than `layers`).
pub fn is_index(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        layers: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(p) => match p.media_type.as_deref() {
            Some(OCI_INDEX | DOCKER_LIST) => true,
            Some(_) => false,
            None => p.manifests.is_some() && p.layers.is_none(),
        },
        Err(_) => false,
    }
}

/// The entry for linux on this architecture (for arm64 preferring variant
/// v8 or none, as containerd does).
pub fn select(index: &ImageIndex) -> Result<Descriptor> {
    let arch = super::go_arch();
    let matching: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| {
            d.platform().as_ref().is_some_and(|p| {
                p.os().to_string() == "linux" && p.architecture().to_string() == arch
            })
        })
        .collect();
    let preferred = matching.iter().find(|d| {
        let variant = d.platform().as_ref().and_then(|p| p.variant().clone());
        arch != "arm64" || matches!(variant.as_deref(), None | Some("v8"))
    });
    match preferred.or(matching.first()) {
        Some(d) => Ok((*d).clone()),
        None => {
            let available: Vec<String> = index
                .manifests()
                .iter()
                .filter_map(|d| d.platform().as_ref())
                .map(|p| format!("{}/{}", p.os(), p.architecture()))
                .collect();
            bail!(
                "no image for linux/{arch} in the manifest list (it has: {})",
                if available.is_empty() {
                    "no platforms".to_string()
                } else {
                    available.join(", ")
                }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_linux_on_this_arch() {
        let arch = super::super::go_arch();
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                 "digest": format!("sha256:{}", "1".repeat(64)), "size": 1,
                 "platform": {"architecture": "s390x", "os": "linux"}},
                {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                 "digest": format!("sha256:{}", "2".repeat(64)), "size": 1,
                 "platform": {"architecture": arch, "os": "windows"}},
                {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                 "digest": format!("sha256:{}", "3".repeat(64)), "size": 1,
                 "platform": {"architecture": arch, "os": "linux"}},
            ]
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert!(is_index(&bytes));
        let index = ImageIndex::from_reader(&bytes[..]).unwrap();
        assert_eq!(
            select(&index).unwrap().digest().to_string(),
            format!("sha256:{}", "3".repeat(64))
        );
        let only_s390: ImageIndex = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "manifests": [doc["manifests"][0].clone()]
        }))
        .unwrap();
        let err = select(&only_s390).unwrap_err().to_string();
        assert!(err.contains("it has: linux/s390x"), "{err}");
    }
}
