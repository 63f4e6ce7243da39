//! The node configuration file: a subset of the kubelet's
//! `KubeletConfiguration` (`kubelet.config.k8s.io/v1beta1`), with the
//! kubelet's field names, read from `<root>/config.yaml` (the kubelet's is
//! `/var/lib/kubelet/config.yaml`) or from `--config FILE` / `POD_CONFIG`.
//!
//! Decoding is strict, as for manifests: a field `pod` does not know is an
//! error naming the file and the field, never silently dropped. A missing
//! file is the defaults.
//!
//! Unlike the kubelet, `seccompDefault` is on unless set to false: pod
//! confines by default, as podman does.
//!
//! `hostnameOverride` is the kubelet's `--hostname-override` flag, which
//! its configuration file lacks, under the name kops and KubeEdge give it
//! in theirs: the node's name (and its `kubernetes.io/hostname` label)
//! instead of the machine's hostname, lower-cased as the kubelet does.
//!
//! DNS is the kubelet's: no `clusterDNS` unless set (ClusterFirst pods
//! then fall back to Default, with the kubelet's MissingClusterDNS
//! event), no `clusterDomain`, and `resolvConf` `/etc/resolv.conf` (the
//! empty string: no base file).
//!
//! `evictionHard` is the kubelet's map of hard eviction thresholds
//! (`memory.available: 100Mi`, `nodefs.available: 10%`, ...); set, it
//! replaces the defaults whole, as the kubelet's does.
//! `podMaxInUnschedulablePodsDuration` is the scheduler's: how long a pod
//! stays unschedulable before it is tried again whatever happened.
//!
//! `maxPods` is the kubelet's: how many pods the node takes (its `pods`
//! capacity), 110 unless set; the scheduler leaves the rest Pending
//! (`Too many pods`).
//!
//! The pod network's settings are `pod`'s own (the kubelet leaves CNI to
//! the container runtime, whose options these are): `cniConfDir`,
//! `cniBinDirs`, `cniPluginTimeout`; `podCIDR` is the kubelet's
//! standalone-mode field, the subnet of the default network.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::api::decode::strict::{self, StrictError};
use crate::api::decode::yaml;
use crate::store::Store;

pub const API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";
pub const KIND: &str = "KubeletConfiguration";

/// What the file says, with its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// The hard eviction thresholds (`evictionHard`; absent: the
    /// kubelet's defaults, see `pressure`).
    pub eviction_hard: super::pressure::Thresholds,
    /// How long a pod waits unschedulable before the scheduler tries it
    /// again whatever happened (`podMaxInUnschedulablePodsDuration`, the
    /// scheduler's setting, 5m).
    pub unschedulable_retry: std::time::Duration,
    /// How many pods the node takes (`maxPods`, the kubelet's 110).
    pub max_pods: i64,
    /// Containers without a seccomp profile get RuntimeDefault.
    pub seccomp_default: bool,
    /// Sysctls (or `prefix*` patterns) beyond the kubelet's safe set that
    /// pods may set; each must be namespaced.
    pub allowed_unsafe_sysctls: Vec<String>,
    /// Where `Localhost` seccomp profiles live (`<root>/seccomp`, as the
    /// kubelet's `<root-dir>/seccomp`).
    pub seccomp_profile_root: PathBuf,
    /// The node's name instead of the hostname (lower-cased, a DNS-1123
    /// subdomain).
    pub hostname_override: Option<String>,
    /// The cluster DNS servers ClusterFirst pods use.
    pub cluster_dns: Vec<std::net::IpAddr>,
    /// The cluster's domain: ClusterFirst search paths, pod hostnames.
    pub cluster_domain: String,
    /// The resolver file pods' DNS starts from; empty: none.
    pub resolv_conf: String,
    /// The pod network (see [`Network`]).
    pub network: Network,
}

/// Where the pod network comes from (see `crate::network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The first `*.conf`, `*.conflist` or `*.json` file here (by name) is
    /// the network; with none, `pod`'s default network.
    pub conf_dir: PathBuf,
    /// Where plugins are looked up, in order (CNI_PATH).
    pub bin_dirs: Vec<PathBuf>,
    /// The longest one plugin execution may take before it is killed.
    pub plugin_timeout: std::time::Duration,
    /// The default network's subnet.
    pub pod_cidr: String,
}

impl Network {
    pub const DEFAULT_CONF_DIR: &str = "/etc/cni/net.d";
    pub const DEFAULT_BIN_DIRS: [&str; 2] = ["/usr/lib/cni", "/opt/cni/bin"];
    /// The kubeadm custom (flannel's default), which podman's 10.88/16
    /// does not meet.
    pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/16";
    /// Long enough for a plugin that takes an IPAM lease; short enough
    /// that a hung one is seen as failed.
    pub const DEFAULT_PLUGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

    fn defaults() -> Network {
        Network {
            conf_dir: PathBuf::from(Network::DEFAULT_CONF_DIR),
            bin_dirs: Network::DEFAULT_BIN_DIRS
                .iter()
                .map(PathBuf::from)
                .collect(),
            plugin_timeout: Network::DEFAULT_PLUGIN_TIMEOUT,
            pod_cidr: Network::DEFAULT_POD_CIDR.to_string(),
        }
    }
}

/// The scheduler's `podMaxInUnschedulablePodsDuration`.
pub const DEFAULT_UNSCHEDULABLE_RETRY: std::time::Duration = std::time::Duration::from_secs(300);

/// The kubelet's default `resolvConf`.
pub const DEFAULT_RESOLV_CONF: &str = "/etc/resolv.conf";

/// The wire form: the kubelet's field names, everything optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    api_version: Option<String>,
    kind: Option<String>,
    seccomp_default: Option<bool>,
    allowed_unsafe_sysctls: Option<Vec<String>>,
    hostname_override: Option<String>,
    #[serde(rename = "clusterDNS")]
    cluster_dns: Option<Vec<String>>,
    cluster_domain: Option<String>,
    resolv_conf: Option<String>,
    cni_conf_dir: Option<PathBuf>,
    cni_bin_dirs: Option<Vec<PathBuf>>,
    cni_plugin_timeout: Option<String>,
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
    eviction_hard: Option<std::collections::BTreeMap<String, String>>,
    pod_max_in_unschedulable_pods_duration: Option<String>,
    max_pods: Option<i32>,
}

impl NodeConfig {
    /// The defaults for a node whose state root is `root`.
    pub fn defaults(root: &Path) -> NodeConfig {
        NodeConfig {
            eviction_hard: super::pressure::Thresholds::default(),
            unschedulable_retry: DEFAULT_UNSCHEDULABLE_RETRY,
            max_pods: crate::node::object::MAX_PODS,
            seccomp_default: true,
            allowed_unsafe_sysctls: Vec::new(),
            seccomp_profile_root: root.join("seccomp"),
            hostname_override: None,
            cluster_dns: Vec::new(),
            cluster_domain: String::new(),
            resolv_conf: DEFAULT_RESOLV_CONF.into(),
            network: Network::defaults(),
        }
    }

    /// Reads `path` (absent: the defaults) for the node rooted at `root`.
    /// The node configuration of a state directory: its `--config` file,
    /// else `<root>/config.yaml` (the defaults when there is no file).
    pub fn of(store: &Store) -> Result<NodeConfig> {
        NodeConfig::load(&store.node_config_path(), store.root())
    }

    pub fn load(path: &Path, root: &Path) -> Result<NodeConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(NodeConfig::defaults(root));
            }
            Err(e) => bail!(
                "failed to load node config file, path: {}, error: {e}",
                path.display()
            ),
        };
        NodeConfig::parse(&text, root).map_err(|e| {
            anyhow::anyhow!(
                "failed to load node config file, path: {}, error: {e}",
                path.display()
            )
        })
    }

    /// Decodes the file's text.
    pub fn parse(text: &str, root: &Path) -> Result<NodeConfig, String> {
        let mut documents = yaml::to_json(text).map_err(|e| e.to_string())?;
        let value = match documents.len() {
            0 => serde_json::Value::Null,
            1 => documents.remove(0),
            n => return Err(format!("expected one document, found {n}")),
        };
        if value.is_null() {
            return Ok(NodeConfig::defaults(root));
        }
        if !value.is_object() {
            return Err("expected a KubeletConfiguration object".into());
        }
        let wire: Wire = strict::from_value(value).map_err(|e| match e {
            StrictError::UnknownFields(_) | StrictError::WrongType(_) => e.to_string(),
        })?;
        match (wire.api_version.as_deref(), wire.kind.as_deref()) {
            (Some(API_VERSION), Some(KIND)) => {}
            (version, kind) => {
                return Err(format!(
                    "apiVersion {:?} kind {:?}: expected apiVersion {API_VERSION:?} kind {KIND:?}",
                    version.unwrap_or_default(),
                    kind.unwrap_or_default()
                ));
            }
        }
        let allowed = wire.allowed_unsafe_sysctls.unwrap_or_default();
        for (i, pattern) in allowed.iter().enumerate() {
            super::admission::check_allowlist_entry(pattern)
                .map_err(|e| format!("allowedUnsafeSysctls[{i}]: {e}"))?;
        }
        let hostname_override = match wire.hostname_override {
            None => None,
            Some(name) => Some(
                super::facts::check_name(&name).map_err(|e| format!("hostnameOverride: {e}"))?,
            ),
        };
        let mut cluster_dns = Vec::new();
        for (i, server) in wire.cluster_dns.unwrap_or_default().iter().enumerate() {
            let ip = server
                .parse()
                .map_err(|_| format!("clusterDNS[{i}]: {server:?} is not a valid IP address"))?;
            cluster_dns.push(ip);
        }
        let cluster_domain = wire.cluster_domain.unwrap_or_default();
        // It ends up in every ClusterFirst pod's search line.
        let domain = cluster_domain.strip_suffix('.').unwrap_or(&cluster_domain);
        if !domain.is_empty()
            && let Some(message) = crate::api::validation::names::dns1123_subdomain(domain).first()
        {
            return Err(format!("clusterDomain: {cluster_domain:?}: {message}"));
        }
        let mut network = Network::defaults();
        if let Some(dir) = wire.cni_conf_dir {
            network.conf_dir = absolute_dir("cniConfDir", dir)?;
        }
        if let Some(dirs) = wire.cni_bin_dirs {
            if dirs.is_empty() {
                return Err("cniBinDirs: Required value: at least one directory".into());
            }
            network.bin_dirs = dirs
                .into_iter()
                .enumerate()
                .map(|(i, d)| absolute_dir(&format!("cniBinDirs[{i}]"), d))
                .collect::<Result<_, _>>()?;
        }
        if let Some(text) = wire.cni_plugin_timeout {
            let timeout = crate::duration::parse(&text)
                .map_err(|e| format!("cniPluginTimeout: Invalid value: {text:?}: {e}"))?;
            if timeout.is_zero() {
                return Err(format!(
                    "cniPluginTimeout: Invalid value: {text:?}: must be greater than 0"
                ));
            }
            network.plugin_timeout = timeout;
        }
        if let Some(cidr) = wire.pod_cidr {
            check_cidr(&cidr).map_err(|e| format!("podCIDR: Invalid value: {cidr:?}: {e}"))?;
            network.pod_cidr = cidr;
        }
        let eviction_hard = match &wire.eviction_hard {
            Some(map) => super::pressure::Thresholds::parse(map)?,
            None => super::pressure::Thresholds::default(),
        };
        let unschedulable_retry = match wire.pod_max_in_unschedulable_pods_duration {
            None => DEFAULT_UNSCHEDULABLE_RETRY,
            Some(text) => {
                let d = crate::duration::parse(&text).map_err(|e| {
                    format!("podMaxInUnschedulablePodsDuration: Invalid value: {text:?}: {e}")
                })?;
                if d.is_zero() {
                    return Err(format!(
                        "podMaxInUnschedulablePodsDuration: Invalid value: {text:?}: must be greater than 0"
                    ));
                }
                d
            }
        };
        let max_pods = match wire.max_pods {
            None => crate::node::object::MAX_PODS,
            // The kubelet's words.
            Some(n) if n < 0 => {
                return Err(format!(
                    "invalid configuration: maxPods (--max-pods) {n} must not be a negative number"
                ));
            }
            Some(n) => i64::from(n),
        };
        Ok(NodeConfig {
            eviction_hard,
            unschedulable_retry,
            max_pods,
            seccomp_default: wire.seccomp_default.unwrap_or(true),
            allowed_unsafe_sysctls: allowed,
            seccomp_profile_root: root.join("seccomp"),
            hostname_override,
            cluster_dns,
            cluster_domain,
            resolv_conf: wire
                .resolv_conf
                .unwrap_or_else(|| DEFAULT_RESOLV_CONF.into()),
            network,
        })
    }
}

/// A directory setting: an absolute path.
fn absolute_dir(field: &str, dir: PathBuf) -> Result<PathBuf, String> {
    if dir.is_absolute() {
        Ok(dir)
    } else {
        Err(format!(
            "{field}: Invalid value: {:?}: must be an absolute path",
            dir.display().to_string()
        ))
    }
}

/// Checks a CIDR (`10.244.0.0/16`, `fd00::/64`).
fn check_cidr(text: &str) -> Result<(), String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or("expected an address/prefix length")?;
    let address: std::net::IpAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IP address"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(n) if n <= max => Ok(()),
        _ => Err(format!("prefix length {prefix} is out of range")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NodeConfig, String> {
        NodeConfig::parse(text, Path::new("/var/lib/pod"))
    }

    const HEAD: &str = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";

    #[test]
    fn defaults_confine() {
        let config = parse("").unwrap();
        assert!(config.seccomp_default);
        assert!(config.allowed_unsafe_sysctls.is_empty());
        assert_eq!(
            config.seccomp_profile_root,
            Path::new("/var/lib/pod/seccomp")
        );
        assert_eq!(parse(HEAD).unwrap(), config);
    }

    #[test]
    fn fields_use_the_kubelets_names() {
        let config = parse(&format!(
            "{HEAD}seccompDefault: false\nallowedUnsafeSysctls: [kernel.msgmax, 'net.core.*']\n"
        ))
        .unwrap();
        assert!(!config.seccomp_default);
        assert_eq!(
            config.allowed_unsafe_sysctls,
            ["kernel.msgmax", "net.core.*"]
        );
    }

    #[test]
    fn dns_fields_use_the_kubelets_names_and_defaults() {
        let config = parse(HEAD).unwrap();
        assert!(config.cluster_dns.is_empty());
        assert_eq!(config.cluster_domain, "");
        assert_eq!(config.resolv_conf, "/etc/resolv.conf");
        let config = parse(&format!(
            "{HEAD}clusterDNS: [10.96.0.10, 'fd00::a']\nclusterDomain: cluster.local\nresolvConf: ''\n"
        ))
        .unwrap();
        assert_eq!(
            config.cluster_dns,
            [
                "10.96.0.10".parse::<std::net::IpAddr>().unwrap(),
                "fd00::a".parse().unwrap()
            ]
        );
        assert_eq!(config.cluster_domain, "cluster.local");
        assert_eq!(config.resolv_conf, "");
        assert_eq!(
            parse(&format!("{HEAD}clusterDNS: [10.96.0.10, kube-dns]\n")).unwrap_err(),
            "clusterDNS[1]: \"kube-dns\" is not a valid IP address"
        );
        let err = parse(&format!("{HEAD}clusterDomain: 'Cluster Local'\n")).unwrap_err();
        assert!(
            err.starts_with("clusterDomain: \"Cluster Local\": a lowercase RFC 1123 subdomain"),
            "{err}"
        );
        assert!(parse(&format!("{HEAD}clusterDomain: cluster.local.\n")).is_ok());
    }

    #[test]
    fn network_settings_have_defaults_and_are_checked() {
        let config = parse("").unwrap();
        assert_eq!(config.network.conf_dir, Path::new("/etc/cni/net.d"));
        assert_eq!(
            config.network.bin_dirs,
            [Path::new("/usr/lib/cni"), Path::new("/opt/cni/bin")]
        );
        assert_eq!(config.network.pod_cidr, "10.244.0.0/16");
        let config = parse(&format!(
            "{HEAD}cniConfDir: /x/net.d\ncniBinDirs: [/x/bin]\ncniPluginTimeout: 2s\npodCIDR: 10.9.0.0/24\n"
        ))
        .unwrap();
        assert_eq!(config.network.conf_dir, Path::new("/x/net.d"));
        assert_eq!(config.network.bin_dirs, [Path::new("/x/bin")]);
        assert_eq!(
            config.network.plugin_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(config.network.pod_cidr, "10.9.0.0/24");
        for (text, want) in [
            (
                "cniConfDir: net.d",
                "cniConfDir: Invalid value: \"net.d\": must be an absolute path",
            ),
            (
                "cniBinDirs: []",
                "cniBinDirs: Required value: at least one directory",
            ),
            (
                "cniBinDirs: [/a, b]",
                "cniBinDirs[1]: Invalid value: \"b\": must be an absolute path",
            ),
            (
                "cniPluginTimeout: 0s",
                "cniPluginTimeout: Invalid value: \"0s\": must be greater than 0",
            ),
            (
                "podCIDR: 10.9.0.0",
                "podCIDR: Invalid value: \"10.9.0.0\": expected an address/prefix length",
            ),
            (
                "podCIDR: 10.9.0.0/33",
                "podCIDR: Invalid value: \"10.9.0.0/33\": prefix length 33 is out of range",
            ),
        ] {
            assert_eq!(parse(&format!("{HEAD}{text}\n")).unwrap_err(), want);
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_named() {
        assert_eq!(
            parse(&format!("{HEAD}seccompDefaults: true\n")).unwrap_err(),
            "strict decoding error: unknown field \"seccompDefaults\""
        );
        let err = parse(&format!("{HEAD}seccompDefault: [1]\n")).unwrap_err();
        assert!(err.contains("seccompDefault"), "{err}");
        let err = parse("apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert!(err.contains("KubeletConfiguration"), "{err}");
        assert!(parse("- a\n").is_err());
    }

    #[test]
    fn the_hostname_override_is_lower_cased_and_must_be_a_node_name() {
        let config = parse(&format!("{HEAD}hostnameOverride: ' Box-1.Lan '\n")).unwrap();
        assert_eq!(config.hostname_override.as_deref(), Some("box-1.lan"));
        let err = parse(&format!("{HEAD}hostnameOverride: 'a_b'\n")).unwrap_err();
        assert!(
            err.starts_with("hostnameOverride: node name \"a_b\": a lowercase RFC 1123 subdomain"),
            "{err}"
        );
        let err = parse(&format!("{HEAD}hostnameOverride: ''\n")).unwrap_err();
        assert_eq!(err, "hostnameOverride: empty hostname is invalid");
    }

    #[test]
    fn node_global_sysctls_cannot_be_allowed() {
        let err = parse(&format!(
            "{HEAD}allowedUnsafeSysctls: [kernel.core_pattern]\n"
        ))
        .unwrap_err();
        assert_eq!(
            err,
            "allowedUnsafeSysctls[0]: the sysctl \"kernel.core_pattern\" are not known to be namespaced"
        );
        let err = parse(&format!("{HEAD}allowedUnsafeSysctls: ['kernel.*']\n")).unwrap_err();
        assert!(err.contains("not known to be namespaced"), "{err}");
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_a_bad_one_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        assert_eq!(
            NodeConfig::load(&path, dir.path()).unwrap(),
            NodeConfig::defaults(dir.path())
        );
        std::fs::write(&path, format!("{HEAD}bogus: 1\n")).unwrap();
        let err = NodeConfig::load(&path, dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "failed to load node config file, path: {}, error: strict decoding error: unknown field \"bogus\"",
                path.display()
            )
        );
    }

    #[test]
    fn max_pods_is_the_kubelets_110_unless_set() {
        assert_eq!(parse(HEAD).unwrap().max_pods, 110);
        assert_eq!(
            parse(&format!("{HEAD}maxPods: 600\n")).unwrap().max_pods,
            600
        );
        assert_eq!(
            parse(&format!("{HEAD}maxPods: -1\n")).unwrap_err(),
            "invalid configuration: maxPods (--max-pods) -1 must not be a negative number"
        );
        assert!(parse(&format!("{HEAD}maxPods: many\n")).is_err());
    }

    #[test]
    fn eviction_hard_and_the_unschedulable_retry() {
        let config = parse(HEAD).unwrap();
        assert_eq!(
            config.eviction_hard,
            crate::node::pressure::Thresholds::default()
        );
        assert_eq!(
            config.unschedulable_retry,
            std::time::Duration::from_secs(300)
        );
        let config = parse(&format!(
            "{HEAD}evictionHard:\n  memory.available: 1Gi\n  nodefs.available: 100%\npodMaxInUnschedulablePodsDuration: 2s\n"
        ))
        .unwrap();
        assert_eq!(config.eviction_hard.0.len(), 1);
        assert_eq!(config.eviction_hard.reserved_memory(4 << 30), 1 << 30);
        assert_eq!(
            config.unschedulable_retry,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(
            parse(&format!("{HEAD}evictionHard: {{memory.free: 1Gi}}\n")).unwrap_err(),
            "evictionHard: unsupported eviction signal memory.free"
        );
        assert!(
            parse(&format!("{HEAD}podMaxInUnschedulablePodsDuration: 0s\n"))
                .unwrap_err()
                .ends_with("must be greater than 0")
        );
    }
}
