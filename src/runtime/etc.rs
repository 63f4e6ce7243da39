//! The pod's /etc files, written once per pod in its run directory and
//! bind-mounted into every container: the kubelet's /etc/hosts,
//! /etc/hostname and containerd's /etc/resolv.conf.

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

/// The kubelet's managed hosts file (kubelet_pods.go
/// managedHostsFileContent), with the HostAliases block.
pub fn hosts_file(pod: &Pod, pod_ips: &[String], host_hosts: &str) -> String {
    let spec = pod.spec.as_ref();
    let mut out = String::new();
    if spec.and_then(|s| s.host_network).unwrap_or(false) {
        out.push_str("# Kubernetes-managed hosts file (host network).\n");
        out.push_str(host_hosts);
        if !host_hosts.is_empty() && !host_hosts.ends_with('\n') {
            out.push('\n');
        }
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
            .and_then(|s| s.subdomain.clone())
            .filter(|s| !s.is_empty());
        for ip in pod_ips.iter().filter(|ip| !ip.is_empty()) {
            match &subdomain {
                Some(sub) => {
                    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                    out.push_str(&format!(
                        "{ip}\t{host}.{sub}.{ns}.svc.cluster.local\t{host}\n"
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

/// A parsed resolv.conf: what the CRI passes to the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

pub fn parse_resolv_conf(text: &str) -> DnsConfig {
    let mut dns = DnsConfig::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.servers.extend(words.next().map(str::to_string)),
            // `domain` and `search` override each other; the last wins.
            Some("search") | Some("domain") => dns.searches = words.map(str::to_string).collect(),
            Some("options") => dns.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    dns
}

/// The pod's resolver configuration for its dnsPolicy and dnsConfig. With
/// no cluster DNS, ClusterFirst falls back to Default, as the kubelet does
/// when it has no clusterDNS configured.
pub fn pod_dns(pod: &Pod, host_resolv_conf: &str) -> DnsConfig {
    let spec = pod.spec.as_ref();
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let mut dns = if policy == "None" {
        DnsConfig::default()
    } else {
        parse_resolv_conf(host_resolv_conf)
    };
    if let Some(config) = spec.and_then(|s| s.dns_config.as_ref()) {
        for server in config.nameservers.iter().flatten() {
            if !dns.servers.contains(server) {
                dns.servers.push(server.clone());
            }
        }
        for search in config.searches.iter().flatten() {
            if !dns.searches.contains(search) {
                dns.searches.push(search.clone());
            }
        }
        for option in config.options.iter().flatten() {
            let text = match &option.value {
                Some(v) => format!("{}:{v}", option.name.as_deref().unwrap_or("")),
                None => option.name.clone().unwrap_or_default(),
            };
            let name = option.name.as_deref().unwrap_or("");
            dns.options.retain(|o| o.split(':').next() != Some(name));
            dns.options.push(text);
        }
    }
    dns
}

/// containerd's resolv.conf template.
pub fn resolv_conf(dns: &DnsConfig) -> String {
    let mut out = String::new();
    if !dns.searches.is_empty() {
        out.push_str(&format!("search {}\n", dns.searches.join(" ")));
    }
    for server in &dns.servers {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !dns.options.is_empty() {
        out.push_str(&format!("options {}\n", dns.options.join(" ")));
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
        let text = hosts_file(&pod, &["10.200.0.5".to_string()], "");
        assert_eq!(
            text,
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.200.0.5\thostaliases-pod\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\tbar.remote\n"
        );
    }

    #[test]
    fn host_network_keeps_the_hosts_file() {
        let pod = pod(serde_json::json!({"containers": [], "hostNetwork": true}));
        assert_eq!(
            hosts_file(&pod, &[], "127.0.0.1 localhost"),
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
        );
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

    #[test]
    fn dns_policy_and_config_merge() {
        let host = "# c\nnameserver 1.1.1.1\nsearch example.com\noptions ndots:1 edns0\n";
        let default = pod(serde_json::json!({"containers": []}));
        assert_eq!(
            resolv_conf(&pod_dns(&default, host)),
            "search example.com\nnameserver 1.1.1.1\noptions ndots:1 edns0\n"
        );
        let none = pod(serde_json::json!({
            "containers": [],
            "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["192.0.2.1"], "searches": ["ns1.svc.cluster-domain.example"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
        }));
        assert_eq!(
            resolv_conf(&pod_dns(&none, host)),
            "search ns1.svc.cluster-domain.example\nnameserver 192.0.2.1\noptions ndots:2 edns0\n"
        );
        let merged = pod(serde_json::json!({
            "containers": [], "dnsPolicy": "Default",
            "dnsConfig": {"options": [{"name": "ndots", "value": "5"}]}
        }));
        assert_eq!(pod_dns(&merged, host).options, vec!["edns0", "ndots:5"]);
    }
}
