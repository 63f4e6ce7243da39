//! The kubelet's admission of a pod (pkg/kubelet/lifecycle admit
//! handlers): checks made once, before anything of the pod is created. A
//! pod refused here is Failed with the handler's reason and
//! `Pod was rejected: <message>`, as the kubelet's `rejectPod` says, and
//! nothing of it runs.
//!
//! Two handlers matter on one node: the sysctl allowlist (the kubelet's
//! safe set plus the node's `allowedUnsafeSysctls`; a sysctl that is not
//! namespaced can never be allowed, so a pod cannot reach the host's
//! `kernel.core_pattern`) and AppArmor (a pod asking for a confining
//! profile on a host without AppArmor is refused rather than run
//! unconfined).

use k8s_openapi::api::core::v1::Pod;

use super::config::NodeConfig;

/// Why the kubelet refuses a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The pod's status.reason (`SysctlForbidden`, `AppArmor`,
    /// `OutOfcpu`, ...).
    pub reason: String,
    /// The handler's message; the pod's status.message is
    /// [`Rejection::status_message`].
    pub message: String,
}

impl Rejection {
    /// The pod's status.message, as the kubelet's `rejectPod` writes it.
    pub fn status_message(&self) -> String {
        format!("Pod was rejected: {}", self.message)
    }
}

/// The admit handlers in the kubelet's order.
pub fn admit(pod: &Pod, config: &NodeConfig) -> Result<(), Rejection> {
    admit_sysctls(pod, config)?;
    admit_app_armor(pod, apparmor_enabled())
}

/// The kubelet's safe sysctls (pkg/kubelet/sysctl/safe_sysctls.go): namespaced,
/// and with no effect on other pods. (Its kernel-version gates, 3.16 and
/// 4.5, are below any kernel pod runs on.)
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
];

/// The namespace that isolates a sysctl (component-helpers'
/// `NamespacedBy`), or None when it is node-global.
pub fn namespaced_by(sysctl: &str) -> Option<&'static str> {
    if sysctl == "kernel.sem" {
        return Some("ipc");
    }
    const PREFIXES: [(&str, &str); 4] = [
        ("kernel.shm", "ipc"),
        ("kernel.msg", "ipc"),
        ("fs.mqueue.", "ipc"),
        ("net.", "net"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| sysctl.starts_with(prefix))
        .map(|(_, ns)| *ns)
}

/// `net/ipv4/conf/eth0.100/forwarding` → `net.ipv4.conf.eth0/100.forwarding`
/// (`ConvertSysctlVariableToDotsSeparator`): a name whose first separator
/// is a slash has its dots and slashes swapped.
pub fn to_dots(sysctl: &str) -> String {
    match sysctl.find(['.', '/']) {
        Some(i) if sysctl.as_bytes()[i] == b'/' => sysctl
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => sysctl.to_string(),
    }
}

/// A node's allowedUnsafeSysctls entry, checked as the kubelet's
/// `NewAllowlist` does (it refuses to start on a bad one).
pub fn check_allowlist_entry(pattern: &str) -> Result<(), String> {
    let valid = !pattern.is_empty()
        && pattern.len() <= 253
        && pattern
            .trim_end_matches('*')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && pattern.matches('*').count() <= 1
        && pattern.trim_end_matches('*').len() + 1 >= pattern.len();
    if !valid {
        return Err(format!(
            "sysctl {pattern:?} must have at most 253 characters and be a sysctl name, optionally ending in *"
        ));
    }
    let dotted = to_dots(pattern);
    match dotted.strip_suffix('*') {
        Some(prefix) if namespaced_by(prefix).is_none() => Err(format!(
            "the sysctls {dotted:?} are not known to be namespaced"
        )),
        None if namespaced_by(&dotted).is_none() => Err(format!(
            "the sysctl {dotted:?} are not known to be namespaced"
        )),
        _ => Ok(()),
    }
}

/// The sysctl allowlist handler (pkg/kubelet/sysctl/allowlist.go).
fn admit_sysctls(pod: &Pod, config: &NodeConfig) -> Result<(), Rejection> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(());
    };
    let sysctls = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.sysctls.as_deref())
        .unwrap_or_default();
    let host_net = spec.host_network == Some(true);
    let host_ipc = spec.host_ipc == Some(true);
    for sysctl in sysctls {
        if let Err(why) = allowed(&sysctl.name, config, host_net, host_ipc) {
            return Err(Rejection {
                reason: "SysctlForbidden".into(),
                message: format!("forbidden sysctl: {why}"),
            });
        }
    }
    Ok(())
}

/// `validateSysctl`: exact names first, then `prefix*` patterns.
fn allowed(name: &str, config: &NodeConfig, host_net: bool, host_ipc: bool) -> Result<(), String> {
    let sysctl = to_dots(name);
    let patterns = SAFE_SYSCTLS
        .iter()
        .copied()
        .chain(config.allowed_unsafe_sysctls.iter().map(String::as_str))
        .map(to_dots);
    let (exact, prefixes): (Vec<String>, Vec<String>) = patterns.partition(|p| !p.ends_with('*'));
    let matched = if exact.contains(&sysctl) {
        namespaced_by(&sysctl)
    } else {
        prefixes
            .iter()
            .map(|p| p.trim_end_matches('*'))
            .find(|p| sysctl.starts_with(p))
            .and_then(namespaced_by)
    };
    match matched {
        None => Err(format!("{sysctl:?} not allowlisted")),
        Some("ipc") if host_ipc => Err(format!("{sysctl:?} not allowed with host ipc enabled")),
        Some("net") if host_net => Err(format!("{sysctl:?} not allowed with host net enabled")),
        Some(_) => Ok(()),
    }
}

/// Whether this host enforces AppArmor (runc's `apparmor.IsEnabled`, which
/// the kubelet's validator calls).
pub fn apparmor_enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.starts_with(b"Y"))
}

/// The annotation prefix of the deprecated per-container AppArmor profile.
pub const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The AppArmor admit handler (pkg/kubelet/lifecycle/handlers.go with
/// pkg/security/apparmor/validate.go).
fn admit_app_armor(pod: &Pod, host_enabled: bool) -> Result<(), Rejection> {
    if host_enabled || !apparmor_required(pod) {
        return Ok(());
    }
    Err(Rejection {
        reason: "AppArmor".into(),
        message: "Cannot enforce AppArmor: AppArmor is not enabled on the host".into(),
    })
}

/// Whether any part of the pod asks for an AppArmor profile other than
/// unconfined (the validator's `isRequired`).
pub fn apparmor_required(pod: &Pod) -> bool {
    let confining = |t: Option<&str>| t.is_some_and(|t| t != "Unconfined");
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let pod_level = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.app_armor_profile.as_ref())
        .map(|p| p.type_.as_str());
    if confining(pod_level) {
        return true;
    }
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    let in_containers = containers.into_iter().any(|c| {
        confining(
            c.security_context
                .as_ref()
                .and_then(|sc| sc.app_armor_profile.as_ref())
                .map(|p| p.type_.as_str()),
        )
    });
    in_containers
        || pod
            .metadata
            .annotations
            .iter()
            .flatten()
            .any(|(k, v)| k.starts_with(APPARMOR_ANNOTATION_PREFIX) && v != "unconfined")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    fn with_sysctls(names: &[&str], host_network: bool) -> Pod {
        let sysctls: Vec<_> = names
            .iter()
            .map(|n| serde_json::json!({"name": n, "value": "1"}))
            .collect();
        pod(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {
                "hostNetwork": host_network,
                "securityContext": {"sysctls": sysctls},
                "containers": [{"name": "c"}],
            },
        }))
    }

    fn config(allowed: &[&str]) -> NodeConfig {
        NodeConfig {
            allowed_unsafe_sysctls: allowed.iter().map(|s| s.to_string()).collect(),
            ..NodeConfig::defaults(Path::new("/var/lib/pod"))
        }
    }

    #[test]
    fn safe_sysctls_pass_and_others_are_forbidden() {
        let node = config(&[]);
        assert_eq!(
            admit_sysctls(
                &with_sysctls(
                    &["net.ipv4.ping_group_range", "kernel.shm_rmid_forced"],
                    false
                ),
                &node
            ),
            Ok(())
        );
        let refused =
            admit_sysctls(&with_sysctls(&["kernel.core_pattern"], false), &node).unwrap_err();
        assert_eq!(refused.reason, "SysctlForbidden");
        assert_eq!(
            refused.status_message(),
            "Pod was rejected: forbidden sysctl: \"kernel.core_pattern\" not allowlisted"
        );
        let refused =
            admit_sysctls(&with_sysctls(&["net.core.somaxconn"], false), &node).unwrap_err();
        assert_eq!(
            refused.message,
            "forbidden sysctl: \"net.core.somaxconn\" not allowlisted"
        );
    }

    #[test]
    fn unsafe_sysctls_need_the_node_allowlist() {
        let node = config(&["net.core.*", "kernel.msgmax"]);
        let ok = with_sysctls(
            &["net.core.somaxconn", "kernel.msgmax", "net/ipv4/ip_forward"],
            false,
        );
        assert_eq!(
            admit_sysctls(&ok, &node).unwrap_err().message,
            "forbidden sysctl: \"net.ipv4.ip_forward\" not allowlisted"
        );
        let ok = with_sysctls(&["net.core.somaxconn", "kernel.msgmax"], false);
        assert_eq!(admit_sysctls(&ok, &node), Ok(()));
        // The host's network namespace is not the pod's to change.
        let host = with_sysctls(&["net.ipv4.ping_group_range"], true);
        assert_eq!(
            admit_sysctls(&host, &node).unwrap_err().message,
            "forbidden sysctl: \"net.ipv4.ping_group_range\" not allowed with host net enabled"
        );
    }

    #[test]
    fn slashes_are_dots() {
        assert_eq!(
            to_dots("net/ipv4/conf/eth0.100/forwarding"),
            "net.ipv4.conf.eth0/100.forwarding"
        );
        assert_eq!(to_dots("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
        assert_eq!(namespaced_by("kernel.sem"), Some("ipc"));
        assert_eq!(namespaced_by("kernel.core_pattern"), None);
        assert_eq!(namespaced_by("fs.mqueue.msg_max"), Some("ipc"));
        assert!(check_allowlist_entry("net.*").is_ok());
        assert!(check_allowlist_entry("kernel.*").is_err());
        assert!(check_allowlist_entry("net.*.x").is_err());
        assert!(check_allowlist_entry("").is_err());
    }

    #[test]
    fn apparmor_is_refused_where_the_host_has_none() {
        let unconfined = pod(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}]},
        }));
        assert_eq!(admit_app_armor(&unconfined, false), Ok(()));
        let cases = [
            serde_json::json!({
                "metadata": {"name": "p"},
                "spec": {"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "c"}]},
            }),
            serde_json::json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "x"}}}]},
            }),
            serde_json::json!({
                "metadata": {"name": "p", "annotations": {"container.apparmor.security.beta.kubernetes.io/c": "runtime/default"}},
                "spec": {"containers": [{"name": "c"}]},
            }),
        ];
        for case in cases {
            let refused = admit_app_armor(&pod(case.clone()), false).unwrap_err();
            assert_eq!(refused.reason, "AppArmor");
            assert_eq!(
                refused.status_message(),
                "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host"
            );
            assert_eq!(admit_app_armor(&pod(case), true), Ok(()));
        }
    }
}
