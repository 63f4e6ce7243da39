//! The pod's /etc files, written once per pod in its run directory and
//! bind-mounted into every container: the kubelet's /etc/hosts and
//! /etc/hostname (resolv.conf is [`super::dns`]'s).

use k8s_openapi::api::core::v1::Pod;

/// The pod's hostname: spec.hostname or the pod name, cut to 63
/// characters without a trailing `-` or `.` as the kubelet does.
pub fn hostname(pod: &Pod) -> String {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default();
    if name.len() <= 63 {
        return name;
    }
    name[..63].trim_end_matches(['-', '.']).to_string()
}

/// The kubelet's hosts file (kubelet_pods.go): for a pod on the host's
/// network the node's file under its own header
/// (`nodeHostsFileContent`), otherwise the managed file with a line per
/// pod IP (`managedHostsFileContent`; with a subdomain the name is
/// `<hostname>.<subdomain>.<ns>.svc.<clusterDomain>`, as
/// `GeneratePodHostNameAndDomain` makes it); then the HostAliases block.
pub fn hosts_file(pod: &Pod, pod_ips: &[String], cluster_domain: &str, host_hosts: &str) -> String {
    let spec = pod.spec.as_ref();
    let mut out = String::new();
    if spec.and_then(|s| s.host_network).unwrap_or(false) {
        out.push_str("# Kubernetes-managed hosts file (host network).\n");
        out.push_str(host_hosts);
    } else {
        out.push_str("# Kubernetes-managed hosts file.\n");
        out.push_str("127.0.0.1\tlocalhost\n");
        out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
        out.push_str("fe00::0\tip6-localnet\n");
        out.push_str("fe00::0\tip6-mcastprefix\n");
        out.push_str("fe00::1\tip6-allnodes\n");
        out.push_str("fe00::2\tip6-allrouters\n");
        let host = hostname(pod);
        let subdomain = spec
            .and_then(|s| s.subdomain.as_deref())
            .filter(|s| !s.is_empty());
        for ip in pod_ips.iter().filter(|ip| !ip.is_empty()) {
            match subdomain {
                Some(sub) => {
                    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                    out.push_str(&format!(
                        "{ip}\t{host}.{sub}.{ns}.svc.{cluster_domain}\t{host}\n"
                    ));
                }
                None => out.push_str(&format!("{ip}\t{host}\n")),
            }
        }
    }
    let aliases = spec.and_then(|s| s.host_aliases.as_ref());
    if let Some(aliases) = aliases.filter(|a| !a.is_empty()) {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let hostnames = alias.hostnames.clone().unwrap_or_default();
            out.push_str(&format!("{}\t{}\n", alias.ip, hostnames.join("\t")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "hostaliases-pod", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn hosts_file_with_aliases_matches_the_kubelet() {
        let pod = pod(serde_json::json!({
            "containers": [],
            "hostAliases": [
                {"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]},
                {"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]}
            ]
        }));
        let text = hosts_file(&pod, &["10.200.0.5".to_string()], "cluster.local", "");
        assert_eq!(
            text,
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.200.0.5\thostaliases-pod\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\n"
        );
    }

    #[test]
    fn host_network_keeps_the_nodes_file_as_it_is() {
        let plain = pod(serde_json::json!({"containers": [], "hostNetwork": true}));
        // The node's file is copied byte for byte, even without its last
        // newline, and the pod IPs (the node's) add no line.
        assert_eq!(
            hosts_file(&plain, &["192.0.2.7".into()], "", "127.0.0.1 localhost"),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost"
        );
        let aliased = pod(serde_json::json!({
            "containers": [], "hostNetwork": true,
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.remote"]}]
        }));
        assert_eq!(
            hosts_file(&aliased, &[], "", "127.0.0.1 localhost\n::1 localhost\n"),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n::1 localhost\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\n"
        );
    }

    #[test]
    fn a_subdomain_gives_the_cluster_name_for_every_pod_ip() {
        let pod = pod(serde_json::json!({
            "containers": [], "hostname": "web", "subdomain": "backend"
        }));
        let ips = ["10.244.0.5".to_string(), "fd00::5".to_string()];
        let text = hosts_file(&pod, &ips, "cluster.local", "");
        assert!(text.ends_with(
            "fe00::2\tip6-allrouters\n10.244.0.5\tweb.backend.default.svc.cluster.local\tweb\nfd00::5\tweb.backend.default.svc.cluster.local\tweb\n"
        ), "{text}");
        // A kubelet without clusterDomain leaves the name ending in a dot.
        let text = hosts_file(&pod, &ips[..1], "", "");
        assert!(
            text.ends_with("10.244.0.5\tweb.backend.default.svc.\tweb\n"),
            "{text}"
        );
        // No pod IP, no line.
        let text = hosts_file(&pod, &[], "cluster.local", "");
        assert!(text.ends_with("fe00::2\tip6-allrouters\n"), "{text}");
    }

    #[test]
    fn hostname_prefers_spec_and_is_cut() {
        assert_eq!(
            hostname(&pod(serde_json::json!({"containers": []}))),
            "hostaliases-pod"
        );
        assert_eq!(
            hostname(&pod(serde_json::json!({"containers": [], "hostname": "h"}))),
            "h"
        );
        let long = format!("{}-x", "a".repeat(62));
        assert_eq!(
            hostname(&pod(
                serde_json::json!({"containers": [], "hostname": long})
            )),
            "a".repeat(62)
        );
    }
}
