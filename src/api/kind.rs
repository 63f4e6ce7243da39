//! The kinds `pod` stores and the names kubectl users type for them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    ConfigMap,
    Secret,
    Namespace,
    PodPreset,
    /// The one machine: cluster-scoped, built by `node` (not stored as
    /// the others are), never created or deleted by a user.
    Node,
}

/// The namespaced kinds, in the order `get all`-style listings use (and
/// the order a namespace's deletion removes them).
pub const ALL: [Kind; 4] = [Kind::Pod, Kind::ConfigMap, Kind::Secret, Kind::PodPreset];

impl Kind {
    /// The resource name in the API server's messages (`pods "x" not
    /// found`), with the group for kinds outside the core group.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
            Kind::Namespace => "namespaces",
            Kind::PodPreset => "podpresets.settings.k8s.io",
            Kind::Node => "nodes",
        }
    }

    /// The plural without the group: the kind's directory in the store.
    pub fn plural(self) -> &'static str {
        self.resource().split('.').next().unwrap_or_default()
    }

    /// The name the name printer and kubectl's messages use (`pod/x`,
    /// `podpreset.settings.k8s.io/x`).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
            Kind::Node => "node",
            Kind::Namespace => "namespace",
            Kind::PodPreset => "podpreset.settings.k8s.io",
        }
    }

    /// Whether objects of the kind live in a namespace (a Namespace and a
    /// Node do not).
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::Node)
    }

    /// The manifest's `apiVersion` of the kind.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::PodPreset => "settings.k8s.io/v1alpha1",
            _ => "v1",
        }
    }

    /// Parses what a user types: `pods`, `pod`, `po`, `Pod`, `configmaps`,
    /// `cm`, `secrets`, `ns`, also with a group suffix such as `pods.v1`.
    pub fn parse(word: &str) -> Result<Kind, UnknownKind> {
        let lower = word.to_ascii_lowercase();
        let base = lower.split('.').next().unwrap_or("");
        match base {
            "pod" | "pods" | "po" => Ok(Kind::Pod),
            "configmap" | "configmaps" | "cm" => Ok(Kind::ConfigMap),
            "secret" | "secrets" => Ok(Kind::Secret),
            "namespace" | "namespaces" | "ns" => Ok(Kind::Namespace),
            // The old API gave PodPresets no short name.
            "podpreset" | "podpresets" => Ok(Kind::PodPreset),
            "node" | "nodes" | "no" => Ok(Kind::Node),
            _ => Err(UnknownKind(word.to_string())),
        }
    }

    /// Parses a manifest's `apiVersion` and `kind` (case-sensitive).
    pub fn from_manifest(api_version: &str, kind: &str) -> Option<Kind> {
        let kind = match kind {
            "Pod" => Kind::Pod,
            "ConfigMap" => Kind::ConfigMap,
            "Secret" => Kind::Secret,
            "Namespace" => Kind::Namespace,
            "PodPreset" => Kind::PodPreset,
            "Node" => Kind::Node,
            _ => return None,
        };
        (kind.api_version() == api_version).then_some(kind)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Pod => "Pod",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
            Kind::Namespace => "Namespace",
            Kind::PodPreset => "PodPreset",
            Kind::Node => "Node",
        })
    }
}

/// kubectl: `error: the server doesn't have a resource type "x"`.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server doesn't have a resource type \"{0}\" (pod stores pods (po), configmaps (cm), secrets, namespaces (ns), nodes (no) and podpresets)"
)]
pub struct UnknownKind(pub String);
