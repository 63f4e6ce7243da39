//! The pod's resolver configuration, as the kubelet's DNS configurer forms
//! it (pkg/kubelet/network/dns/dns.go `GetPodDNS`) from the node's
//! `clusterDNS`, `clusterDomain` and `resolvConf`, the pod's dnsPolicy
//! and dnsConfig, and written out with containerd's resolv.conf template.
//!
//! One deliberate difference: the kubelet merges dnsConfig options through
//! a Go map, so their order changes from one sandbox to the next; here the
//! file's order is kept, an option the pod overrides stays in its place
//! and a new one goes last.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

use crate::api::validation::{
    MAX_DNS_NAMESERVERS as MAX_NAMESERVERS, MAX_DNS_SEARCH_LIST_CHARS as MAX_SEARCH_LIST_CHARS,
    MAX_DNS_SEARCH_PATHS as MAX_SEARCH_PATHS,
};

/// The longest search path the kubelet keeps (DNS1123SubdomainMaxLength:
/// glibc 2.28 aborts on longer ones).
const MAX_SEARCH_PATH_CHARS: usize = 253;

/// The kubelet reads at most this much of the resolv.conf (ReadAtMost).
const MAX_RESOLV_CONF_BYTES: u64 = 10 << 20;

/// A parsed resolv.conf: what the CRI passes to the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

impl DnsConfig {
    fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.searches.is_empty() && self.options.is_empty()
    }
}

/// What the node configuration says about DNS.
#[derive(Debug, Clone, Copy)]
pub struct NodeDns<'a> {
    pub cluster_dns: &'a [IpAddr],
    pub cluster_domain: &'a str,
    /// The text of the node's `resolvConf` file; None when `resolvConf`
    /// is the empty string (no base file: the node's own resolver).
    pub resolv_conf: Option<&'a str>,
    /// The node's address is IPv6 (the fallback nameserver is `::1`).
    pub ipv6_node: bool,
}

/// A warning event the kubelet records on the pod while forming its DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub reason: &'static str,
    pub message: String,
}

/// The kubelet's `parseResolvConf`: nameservers accumulate, the last
/// `search` line and the last `options` line win, `#` starts a comment
/// line; a search path's trailing dot is dropped. A `nameserver` line
/// without an address is an error, as there.
pub fn parse_resolv_conf(text: &str) -> Result<DnsConfig, String> {
    let mut dns = DnsConfig::default();
    let mut errors = Vec::new();
    for line in text.split('\n') {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.first() {
            Some(&"nameserver") => match fields.get(1) {
                Some(server) => dns.servers.push(server.to_string()),
                None => errors.push("nameserver list is empty "),
            },
            Some(&"search") => {
                dns.searches = fields[1..]
                    .iter()
                    .map(|s| s.strip_suffix('.').unwrap_or(s).to_string())
                    .collect();
            }
            Some(&"options") => dns.options = fields[1..].iter().map(|s| s.to_string()).collect(),
            _ => {}
        }
    }
    match errors.len() {
        0 => Ok(dns),
        // utilerrors.NewAggregate: one error as itself, more in brackets.
        1 => Err(errors[0].to_string()),
        _ => Err(format!("[{}]", errors.join(", "))),
    }
}

/// Reads the node's `resolvConf` file as the kubelet does (an error is
/// Go's `open <path>: <reason>`), or None for `resolvConf: ""`.
pub fn read_resolv_conf(path: &str) -> Result<Option<String>, String> {
    use std::io::Read;
    if path.is_empty() {
        return Ok(None);
    }
    let go_error = |op: &str, e: std::io::Error| {
        let reason = match e.raw_os_error() {
            Some(errno) => go_errno_text(errno),
            None => e.to_string(),
        };
        format!("{op} {path}: {reason}")
    };
    let file = std::fs::File::open(path).map_err(|e| go_error("open", e))?;
    let mut bytes = Vec::new();
    file.take(MAX_RESOLV_CONF_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| go_error("read", e))?;
    if bytes.len() as u64 > MAX_RESOLV_CONF_BYTES {
        return Err("the read limit is reached".into());
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Go's text for an errno: the C library's, starting lower case.
fn go_errno_text(errno: i32) -> String {
    let text = nix::errno::Errno::from_raw(errno).desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `format.Pod`: how the kubelet names a pod in its messages.
fn pod_desc(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

enum PodDnsType {
    Cluster,
    Host,
    None,
}

fn dns_type(pod: &Pod) -> PodDnsType {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    match spec.and_then(|s| s.dns_policy.as_deref()).unwrap_or("") {
        "None" => PodDnsType::None,
        "ClusterFirstWithHostNet" => PodDnsType::Cluster,
        // ClusterFirst on the host's network is Default.
        "ClusterFirst" if host_network => PodDnsType::Host,
        "Default" => PodDnsType::Host,
        // ClusterFirst, and (as the kubelet does for a policy the API
        // server would have refused) anything else.
        _ => PodDnsType::Cluster,
    }
}

/// The kubelet's `GetPodDNS`: the pod's resolver configuration and the
/// warning events it records while forming it. An error is the
/// kubelet's failure to read or parse the node's resolv.conf; the
/// sandbox is not created then.
pub fn pod_dns(pod: &Pod, node: &NodeDns) -> Result<(DnsConfig, Vec<Warning>), String> {
    let mut warnings = Vec::new();
    let mut dns = match node.resolv_conf {
        Some(text) => parse_resolv_conf(text)?,
        None => DnsConfig::default(),
    };
    let mut host = false;
    match dns_type(pod) {
        PodDnsType::None => dns = DnsConfig::default(),
        PodDnsType::Cluster if !node.cluster_dns.is_empty() => {
            // The cluster DNS server is the pod's only nameserver: it
            // forwards what it cannot answer itself.
            dns.servers = node.cluster_dns.iter().map(IpAddr::to_string).collect();
            dns.searches = cluster_searches(dns.searches, pod, node.cluster_domain);
            dns.options = vec!["ndots:5".to_string()];
        }
        PodDnsType::Cluster => {
            let message = "kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.";
            warnings.push(Warning {
                reason: "MissingClusterDNS",
                message: format!("pod: \"{}\". {message}", pod_desc(pod)),
            });
            host = true;
        }
        PodDnsType::Host => host = true,
    }
    // With no resolvConf the node's own resolver, as bind's library does
    // when it has no nameserver.
    if host && node.resolv_conf.is_none() {
        let local = if node.ipv6_node { "::1" } else { "127.0.0.1" };
        dns.servers.push(local.to_string());
        dns.searches = vec![".".to_string()];
    }
    if let Some(config) = pod.spec.as_ref().and_then(|s| s.dns_config.as_ref()) {
        dns.servers
            .extend(config.nameservers.iter().flatten().cloned());
        dns.servers = omit_duplicates(dns.servers);
        dns.searches
            .extend(config.searches.iter().flatten().cloned());
        dns.searches = omit_duplicates(dns.searches);
        let pod_options = config.options.iter().flatten().map(|o| {
            let name = o.name.clone().unwrap_or_default();
            (name, o.value.clone().unwrap_or_default())
        });
        dns.options = merge_options(&dns.options, pod_options);
    }
    dns.servers = fit_nameservers(dns.servers, &mut warnings);
    dns.searches = fit_searches(dns.searches, &mut warnings);
    Ok((dns, warnings))
}

/// `<ns>.svc.<domain> svc.<domain> <domain>`, then the node's own.
fn cluster_searches(host: Vec<String>, pod: &Pod, domain: &str) -> Vec<String> {
    if domain.is_empty() {
        return host;
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let mut searches = vec![
        format!("{ns}.svc.{domain}"),
        format!("svc.{domain}"),
        domain.to_string(),
    ];
    searches.extend(host);
    omit_duplicates(searches)
}

/// `mergeDNSOptions`: one option per name, the pod's value over the
/// file's; `name` alone when the value is empty.
fn merge_options(existing: &[String], pod: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let mut merged: Vec<(String, String)> = Vec::new();
    let existing = existing.iter().map(|o| match o.split_once(':') {
        Some((name, value)) => (name.to_string(), value.to_string()),
        None => (o.clone(), String::new()),
    });
    for (name, value) in existing.chain(pod) {
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => merged.push((name, value)),
        }
    }
    merged
        .into_iter()
        .map(|(name, value)| match value.is_empty() {
            true => name,
            false => format!("{name}:{value}"),
        })
        .collect()
}

fn omit_duplicates(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

fn fit_nameservers(mut servers: Vec<String>, warnings: &mut Vec<Warning>) -> Vec<String> {
    if servers.len() > MAX_NAMESERVERS {
        servers.truncate(MAX_NAMESERVERS);
        warnings.push(Warning {
            reason: "DNSConfigForming",
            message: format!(
                "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
                servers.join(" ")
            ),
        });
    }
    servers
}

fn fit_searches(mut searches: Vec<String>, warnings: &mut Vec<Warning>) -> Vec<String> {
    let mut exceeded = false;
    if searches.len() > MAX_SEARCH_PATHS {
        searches.truncate(MAX_SEARCH_PATHS);
        exceeded = true;
    }
    let before = searches.len();
    searches.retain(|s| s.len() <= MAX_SEARCH_PATH_CHARS);
    exceeded |= searches.len() != before;
    // Whole paths are cut from the end until the line fits.
    let mut line = searches.join(" ").len();
    while line > MAX_SEARCH_LIST_CHARS {
        let last = searches.pop().expect("a line this long has a path");
        line = line.saturating_sub(last.len() + 1);
        exceeded = true;
    }
    if exceeded {
        warnings.push(Warning {
            reason: "DNSConfigForming",
            message: format!(
                "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
                searches.join(" ")
            ),
        });
    }
    searches
}

/// containerd's resolv.conf template. An empty configuration is `None`:
/// containerd copies the host's /etc/resolv.conf then.
pub fn resolv_conf(dns: &DnsConfig) -> Option<String> {
    if dns.is_empty() {
        return None;
    }
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
    Some(out)
}

#[cfg(test)]
mod tests;
