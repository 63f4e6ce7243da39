//! The cells of kubectl's node table (printers.go `printNode`): STATUS
//! from the Ready condition and `spec.unschedulable`, ROLES from the
//! role labels, and the wide columns.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Node;

/// `node-role.kubernetes.io/<role>` (any value) names a role.
const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// `kubernetes.io/role=<role>`, the older form.
const ROLE_LABEL: &str = "kubernetes.io/role";

/// `Ready`, `NotReady` or `Unknown`, then `,SchedulingDisabled` when
/// cordoned.
pub fn status(node: &Node) -> String {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().rev().find(|c| c.type_ == "Ready"));
    let mut words = vec![match ready {
        Some(c) if c.status == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    }];
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        words.push("SchedulingDisabled".into());
    }
    words.join(",")
}

/// `findNodeRoles`: sorted, unique.
pub fn role_list(node: &Node) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for (key, value) in node.metadata.labels.iter().flatten() {
        if let Some(role) = key.strip_prefix(ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == ROLE_LABEL && !value.is_empty() {
            roles.insert(value.clone());
        }
    }
    roles.into_iter().collect()
}

/// The ROLES cell: the roles joined by commas, or `<none>`.
pub fn roles(node: &Node) -> String {
    let roles = role_list(node);
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

pub fn kubelet_version(node: &Node) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.kubelet_version.clone())
        .unwrap_or_default()
}

/// INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
pub fn wide(node: &Node) -> [String; 5] {
    let status = node.status.as_ref();
    let address = |kind: &str| {
        status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == kind))
            .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
    };
    let info = status.and_then(|s| s.node_info.as_ref());
    let or_unknown = |f: fn(&k8s_openapi::api::core::v1::NodeSystemInfo) -> &String| {
        info.map(f)
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| "<unknown>".into())
    };
    [
        address("InternalIP"),
        address("ExternalIP"),
        or_unknown(|i| &i.os_image),
        or_unknown(|i| &i.kernel_version),
        or_unknown(|i| &i.container_runtime_version),
    ]
}
