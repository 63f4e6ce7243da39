//! The resources the server serves, with what discovery says of each
//! (kind, scope, verbs, short names) and where the store keeps them. One
//! table: discovery, routing and the openapi documents all read it, so a
//! resource is served everywhere or nowhere.

use crate::api::Kind;

/// Where a resource's objects come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backing {
    /// A kind of the store (`Store::get`, `Store::list`).
    Kind(Kind),
    /// The events every pod's supervisor records (core/v1 Event).
    CoreEvents,
    /// The same events in the events.k8s.io/v1 form.
    Events,
}

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// The plural in the URL: `pods`.
    pub name: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// `pods/log` and the like.
    pub subresources: &'static [Subresource],
    pub backing: Backing,
}

/// A subresource (`pods/log`): discovery lists it with its own verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    /// The group and version of the kind its requests and responses are,
    /// when not the resource's own (an Eviction is policy/v1; kubectl
    /// drain evicts only when discovery says so, else it deletes).
    pub group_version: Option<(&'static str, &'static str)>,
    /// The kind its responses are.
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// The verbs served: reads, and writes (`write.rs`) for the stored kinds.
const READ: &[&str] = &["get", "list", "watch"];
const READ_WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// The node is this machine: changed (labels, taints), never made or
/// removed through the API.
const NODE: &[&str] = &["get", "list", "patch", "update", "watch"];

pub const RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        name: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        verbs: READ_WRITE,
        short_names: &["po"],
        categories: &["all"],
        subresources: &[
            // The streams (`stream/`): a WebSocket upgrade is a GET, a
            // SPDY one a POST, so the API server lists both verbs.
            Subresource {
                name: "attach",
                group_version: None,
                kind: "PodAttachOptions",
                verbs: &["create", "get"],
            },
            Subresource {
                name: "eviction",
                group_version: Some(("policy", "v1")),
                kind: "Eviction",
                verbs: &["create"],
            },
            Subresource {
                name: "exec",
                group_version: None,
                kind: "PodExecOptions",
                verbs: &["create", "get"],
            },
            Subresource {
                name: "log",
                group_version: None,
                kind: "Pod",
                verbs: &["get"],
            },
            Subresource {
                name: "portforward",
                group_version: None,
                kind: "PodPortForwardOptions",
                verbs: &["create", "get"],
            },
            Subresource {
                name: "status",
                group_version: None,
                kind: "Pod",
                verbs: &["get", "patch", "update"],
            },
        ],
        backing: Backing::Kind(Kind::Pod),
    },
    Resource {
        group: "",
        version: "v1",
        name: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        verbs: NODE,
        short_names: &["no"],
        categories: &[],
        subresources: &[],
        backing: Backing::Kind(Kind::Node),
    },
    Resource {
        group: "",
        version: "v1",
        name: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        verbs: READ_WRITE,
        short_names: &["ns"],
        categories: &[],
        subresources: &[],
        backing: Backing::Kind(Kind::Namespace),
    },
    Resource {
        group: "",
        version: "v1",
        name: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        verbs: READ_WRITE,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        backing: Backing::Kind(Kind::ConfigMap),
    },
    Resource {
        group: "",
        version: "v1",
        name: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        verbs: READ_WRITE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        backing: Backing::Kind(Kind::Secret),
    },
    Resource {
        group: "",
        version: "v1",
        name: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        verbs: READ,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        backing: Backing::CoreEvents,
    },
    Resource {
        group: "events.k8s.io",
        version: "v1",
        name: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        verbs: READ,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        backing: Backing::Events,
    },
    Resource {
        group: "settings.k8s.io",
        version: "v1alpha1",
        name: "podpresets",
        singular: "podpreset",
        kind: "PodPreset",
        namespaced: true,
        verbs: READ_WRITE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        backing: Backing::Kind(Kind::PodPreset),
    },
];

/// The resource `group/version/name` names, if served.
pub fn find(group: &str, version: &str, name: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.name == name)
}

/// The groups other than core, in discovery's order, each with its one
/// version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// The resources of one group version.
pub fn of(group: &str, version: &str) -> impl Iterator<Item = &'static Resource> {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

impl Resource {
    /// `v1` or `events.k8s.io/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_store_kind_is_served_once() {
        for kind in [
            Kind::Pod,
            Kind::Node,
            Kind::Namespace,
            Kind::ConfigMap,
            Kind::Secret,
            Kind::PodPreset,
        ] {
            let served: Vec<_> = RESOURCES
                .iter()
                .filter(|r| r.backing == Backing::Kind(kind))
                .collect();
            assert_eq!(served.len(), 1, "{kind}");
            assert_eq!(served[0].api_version(), kind.api_version());
            assert_eq!(served[0].kind, kind.to_string());
            assert_eq!(served[0].namespaced, kind.namespaced());
        }
        assert_eq!(
            groups(),
            vec![("events.k8s.io", "v1"), ("settings.k8s.io", "v1alpha1")]
        );
    }
}
