//! Patches of stored objects, as the API server applies them for PATCH:
//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge
//! patch, each on the object's JSON. Decoding the result into the typed
//! object and the update rules come after (`api::update`).

pub mod json;
pub mod lists;
pub mod merge;
pub mod strategic;

use serde_json::Value;

use crate::api::Kind;

/// The content types of PATCH, by their media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    /// Server-side apply: the body is the applied configuration.
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Why a patch could not be applied: a body that is not a patch (400
/// BadRequest) or a patch that does not apply to the object (422, as the
/// server answers a failing JSON patch operation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(String),
}

/// Applies a JSON, merge or strategic merge patch (`body`, the request's
/// bytes) to `original`, an object of `kind` as JSON.
pub fn apply(
    kind: Kind,
    patch_type: PatchType,
    original: &Value,
    body: &[u8],
) -> Result<Value, PatchError> {
    let parse = || {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| PatchError::BadRequest(format!("error decoding patch: {e}")))
    };
    match patch_type {
        PatchType::Json => json::apply(original, body),
        PatchType::Merge => Ok(merge::apply(original, &parse()?)),
        PatchType::Strategic => strategic::apply(kind, original, &parse()?),
        PatchType::Apply => Err(PatchError::BadRequest(
            "an apply patch is merged by the field manager, not as a patch".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            (
                "application/merge-patch+json; charset=utf-8",
                Some(PatchType::Merge),
            ),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::Strategic),
            ),
            ("application/apply-patch+yaml", Some(PatchType::Apply)),
            ("application/json", None),
        ];
        for (content_type, want) in cases {
            assert_eq!(
                PatchType::from_content_type(content_type),
                want,
                "{content_type}"
            );
        }
    }
}
