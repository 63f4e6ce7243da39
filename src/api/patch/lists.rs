//! How each list of a stored kind merges: the `patchStrategy` /
//! `patchMergeKey` tags of k8s.io/api (strategic merge patch) and the
//! `listType` / `listMapKey` markers (server-side apply), for the fields
//! of the kinds `pod` serves. A list named nowhere here is atomic: a patch
//! or an apply replaces it whole, as upstream does for untagged lists.

use crate::api::Kind;

/// How server-side apply sees a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Owned and replaced as a whole.
    Atomic,
    /// Scalars, each owned on its own (`v:"x"`).
    Set,
    /// Objects identified by these fields (`k:{"name":"c"}`).
    Map(&'static [&'static str]),
}

/// One list's merge rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct List {
    /// The strategic merge patch's key (`patchMergeKey`), for lists of
    /// objects with `patchStrategy: merge`.
    pub merge_key: Option<&'static str>,
    /// `patchStrategy: merge` on a list of scalars: a patch adds to it.
    pub merge_scalars: bool,
    /// `patchStrategy: merge,retainKeys`: the items are unions (a volume's
    /// source) and `$retainKeys` clears the members left out.
    pub retain_keys: bool,
    pub list_type: ListType,
}

const ATOMIC: List = List {
    merge_key: None,
    merge_scalars: false,
    retain_keys: false,
    list_type: ListType::Atomic,
};

const fn keyed(key: &'static str, keys: &'static [&'static str]) -> List {
    List {
        merge_key: Some(key),
        merge_scalars: false,
        retain_keys: false,
        list_type: ListType::Map(keys),
    }
}

const fn retaining(key: &'static str, keys: &'static [&'static str]) -> List {
    List {
        retain_keys: true,
        ..keyed(key, keys)
    }
}

const SET: List = List {
    merge_key: None,
    merge_scalars: true,
    retain_keys: false,
    list_type: ListType::Set,
};

/// The rules of the list at `path` (field names from the object's root,
/// list indices left out) in an object of `kind`.
pub fn list(kind: Kind, path: &[&str]) -> List {
    match path {
        ["metadata", "finalizers"] => return SET,
        ["metadata", "ownerReferences"] => return keyed("uid", &["uid"]),
        ["metadata", "managedFields"] => return ATOMIC,
        _ => {}
    }
    match kind {
        Kind::Pod => pod_list(path),
        Kind::Node => match path {
            ["spec", "podCIDRs"] => SET,
            ["status", "conditions"] | ["status", "addresses"] => keyed("type", &["type"]),
            _ => ATOMIC,
        },
        Kind::PodPreset => match path {
            ["spec", "env"] => keyed("name", &["name"]),
            ["spec", "volumes"] => retaining("name", &["name"]),
            ["spec", "volumeMounts"] => keyed("mountPath", &["mountPath"]),
            _ => ATOMIC,
        },
        Kind::ConfigMap | Kind::Secret | Kind::Namespace => ATOMIC,
    }
}

fn pod_list(path: &[&str]) -> List {
    // The three container lists share their items' rules.
    if let [
        "spec",
        "containers" | "initContainers" | "ephemeralContainers",
        rest @ ..,
    ] = path
    {
        return match rest {
            [] => keyed("name", &["name"]),
            ["ports"] => keyed("containerPort", &["containerPort", "protocol"]),
            ["env"] => keyed("name", &["name"]),
            ["volumeMounts"] => keyed("mountPath", &["mountPath"]),
            ["volumeDevices"] => keyed("devicePath", &["devicePath"]),
            ["resources", "claims"] => List {
                merge_key: None,
                ..keyed("name", &["name"])
            },
            _ => ATOMIC,
        };
    }
    match path {
        ["spec", "volumes"] => retaining("name", &["name"]),
        ["spec", "imagePullSecrets"] => keyed("name", &["name"]),
        ["spec", "hostAliases"] => keyed("ip", &["ip"]),
        ["spec", "topologySpreadConstraints"] => {
            keyed("topologyKey", &["topologyKey", "whenUnsatisfiable"])
        }
        ["spec", "schedulingGates"] => keyed("name", &["name"]),
        ["spec", "resourceClaims"] => retaining("name", &["name"]),
        ["status", "conditions"] => keyed("type", &["type"]),
        ["status", "podIPs"] | ["status", "hostIPs"] => keyed("ip", &["ip"]),
        ["status", "resourceClaimStatuses"] => retaining("name", &["name"]),
        _ => ATOMIC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_schemas_tags() {
        let key = |path: &[&str]| list(Kind::Pod, path).merge_key;
        assert_eq!(key(&["spec", "containers"]), Some("name"));
        assert_eq!(key(&["spec", "initContainers", "env"]), Some("name"));
        assert_eq!(
            key(&["spec", "ephemeralContainers", "volumeMounts"]),
            Some("mountPath")
        );
        assert_eq!(key(&["spec", "containers", "ports"]), Some("containerPort"));
        assert_eq!(key(&["spec", "imagePullSecrets"]), Some("name"));
        // Tolerations carry no patch strategy: a patch replaces them.
        assert_eq!(list(Kind::Pod, &["spec", "tolerations"]), ATOMIC);
        assert_eq!(list(Kind::Pod, &["spec", "containers", "args"]), ATOMIC);
        assert!(list(Kind::Pod, &["spec", "volumes"]).retain_keys);
        assert_eq!(
            list(Kind::Pod, &["spec", "containers", "ports"]).list_type,
            ListType::Map(&["containerPort", "protocol"])
        );
        assert_eq!(list(Kind::Secret, &["metadata", "finalizers"]), SET);
    }
}
