//! The kinds `pod` stores and the names kubectl users type for them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    ConfigMap,
    Secret,
}

/// The kinds in the order `get all`-style listings use.
pub const ALL: [Kind; 3] = [Kind::Pod, Kind::ConfigMap, Kind::Secret];

impl Kind {
    /// The plural lower-case resource name kubectl uses in messages
    /// (`pods "x" not found`).
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
        }
    }

    /// The singular lower-case name used by the name printer (`pod/x`).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
        }
    }

    /// Parses what a user types: `pods`, `pod`, `po`, `Pod`, `configmaps`,
    /// `cm`, `secrets`, also with a group suffix such as `pods.v1`.
    pub fn parse(word: &str) -> Result<Kind, UnknownKind> {
        let lower = word.to_ascii_lowercase();
        let base = lower.split('.').next().unwrap_or("");
        match base {
            "pod" | "pods" | "po" => Ok(Kind::Pod),
            "configmap" | "configmaps" | "cm" => Ok(Kind::ConfigMap),
            "secret" | "secrets" => Ok(Kind::Secret),
            _ => Err(UnknownKind(word.to_string())),
        }
    }

    /// Parses a manifest's `kind:` field, which is case-sensitive.
    pub fn from_manifest(kind: &str) -> Option<Kind> {
        match kind {
            "Pod" => Some(Kind::Pod),
            "ConfigMap" => Some(Kind::ConfigMap),
            "Secret" => Some(Kind::Secret),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Pod => "Pod",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        })
    }
}

/// kubectl: `error: the server doesn't have a resource type "x"`.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server doesn't have a resource type \"{0}\" (pod stores pods (po), configmaps (cm) and secrets)"
)]
pub struct UnknownKind(pub String);
