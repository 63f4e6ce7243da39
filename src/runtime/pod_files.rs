//! The pod's own files, made by [`PodRuntime::prepare`]: its private
//! directories, the kubelet-format /etc files, the pod's /dev/shm and its
//! volumes (and their refresh after an `apply`).

use std::path::Path;

use anyhow::{Context, Result};

use super::{PodRuntime, dns, etc, is_safe_name, spec, state, volumes};
use crate::store::Store;

impl PodRuntime {
    /// Creates the pod's run directory, /etc files, /dev/shm and volumes
    /// (after [`PodRuntime::prepare`]; its DNS warnings are kept for
    /// [`PodRuntime::take_dns_warnings`]). Idempotent. Needs no pause
    /// process: callable while one starts.
    pub fn prepare_files(&mut self) -> Result<()> {
        for dir in [&self.run_dir, &self.writable_dir] {
            private_dir(dir)?;
        }
        let etc = self.etc_dir();
        std::fs::create_dir_all(&etc).with_context(|| format!("creating {}", etc.display()))?;
        let hostname = if self.host_network() {
            self.node.node_name.clone()
        } else {
            etc::hostname(&self.pod)
        };
        let mut files = vec![
            ("hostname", format!("{hostname}\n")),
            ("resolv.conf", self.resolv_conf()?),
        ];
        // A pod on the pod network gets its /etc/hosts once the network's
        // ADD has given it its addresses (`write_hosts`), before any
        // container starts: written here as well, it would be made twice,
        // and each new file on the state disk costs a create.
        if self.host_network() {
            files.push(("hosts", self.hosts_file(&[])?));
        }
        for (name, text) in files {
            crate::store::write_volatile(&etc.join(name), text.as_bytes())?;
        }
        if !self.host_ipc() {
            let shm = self.shm_dir();
            std::fs::create_dir_all(&shm)?;
            if !state::is_mount_point(&shm) {
                nix::mount::mount(
                    Some("shm"),
                    &shm,
                    Some("tmpfs"),
                    nix::mount::MsFlags::MS_NOSUID
                        | nix::mount::MsFlags::MS_NODEV
                        | nix::mount::MsFlags::MS_NOEXEC,
                    Some("mode=1777,size=65536k"),
                )
                .with_context(|| format!("mounting the pod's /dev/shm at {}", shm.display()))?;
            }
        }
        volumes::prepare(&self.volume_context())?;
        Ok(())
    }

    /// The kubelet's /etc/hosts for the pod's IPs (written once the
    /// network gave them, before the containers start, as the kubelet
    /// writes it when it makes a container). A host-network pod's is the
    /// node's own file, which must be readable, as for the kubelet.
    fn hosts_file(&self, pod_ips: &[String]) -> Result<String> {
        let host_hosts = if self.host_network() {
            std::fs::read_to_string("/etc/hosts").context("reading the node's /etc/hosts")?
        } else {
            String::new()
        };
        let domain = &self.node_config.cluster_domain;
        Ok(etc::hosts_file(&self.pod, pod_ips, domain, &host_hosts))
    }

    /// The kubelet's DNS for the pod, in containerd's resolv.conf; keeps
    /// the warnings for the supervisor. An unreadable `resolvConf` fails
    /// the sandbox, as for the kubelet.
    fn resolv_conf(&mut self) -> Result<String> {
        let config = &self.node_config;
        let base = dns::read_resolv_conf(&config.resolv_conf).map_err(anyhow::Error::msg)?;
        let node = dns::NodeDns {
            cluster_dns: &config.cluster_dns,
            cluster_domain: &config.cluster_domain,
            resolv_conf: base.as_deref(),
            ipv6_node: self.ipv6_node,
        };
        let (pod_dns, warnings) = dns::pod_dns(&self.pod, &node).map_err(anyhow::Error::msg)?;
        self.dns_warnings = warnings;
        Ok(match dns::resolv_conf(&pod_dns) {
            Some(text) => text,
            // Nothing to say: containerd copies the host's file.
            None => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        })
    }

    /// The warning events (reason, message) the kubelet records while
    /// forming the pod's DNS in `prepare`; each is handed out once.
    pub fn take_dns_warnings(&mut self) -> Vec<dns::Warning> {
        std::mem::take(&mut self.dns_warnings)
    }

    pub(super) fn volume_context(&self) -> volumes::Context<'_> {
        volumes::Context {
            store: &self.store,
            pod: &self.pod,
            run_dir: &self.run_dir,
            node: &self.node,
            id_base: self.range.map(|r| r.first),
        }
    }

    /// Writes the pod's /etc/hosts with its addresses, once the network
    /// gave it some (the kubelet writes it with the pod IPs); again for a
    /// sandbox made anew. In place, the same file truncated and written:
    /// the inits held during the ADD have it mounted already
    /// (`ready_container`), and their programs, which run after this,
    /// read what is written here. No program of the pod runs meanwhile.
    pub fn write_hosts(&self, pod_ips: &[String]) -> Result<()> {
        use std::io::Write;
        let text = self.hosts_file(pod_ips)?;
        let path = self.etc_dir().join("hosts");
        let mut file = self.open_hosts()?;
        file.set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The pod's /etc/hosts file, made (empty, 0644) if it is not there
    /// yet: a held init mounts it before the network's ADD gave its
    /// content.
    pub(super) fn open_hosts(&self) -> Result<std::fs::File> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = self.etc_dir().join("hosts");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            anyhow::bail!("{} is not a regular file", path.display());
        }
        // The umask may have taken bits of the mode of a new one.
        if meta.len() == 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        Ok(file)
    }
}

/// A pod's directory under either root: 0700, so that what is below
/// (0777 emptyDirs, 0644 secret files, setuid files a container made)
/// stays out of host users' reach even if a root is opened up.
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", dir.display()))
}

/// Rewrites the configMap, secret and projected volumes of the running
/// pods that show `object` (a ConfigMap or Secret), after it was updated
/// (`apply`). Pods that are not running have nothing to refresh.
pub fn refresh_volumes(store: &Store, object: &crate::api::Object) -> Result<()> {
    use crate::api::Object;
    let (is_config_map, name) = match object {
        Object::ConfigMap(_) => (true, object.name()),
        Object::Secret(_) => (false, object.name()),
        Object::Pod(_) | Object::Namespace(_) | Object::PodPreset(_) | Object::Node(_) => {
            return Ok(());
        }
    };
    for stored in store.list(crate::api::Kind::Pod, Some(object.namespace()))? {
        let Object::Pod(pod) = stored else { continue };
        if !volumes::references(&pod, is_config_map, name) {
            continue;
        }
        let Some(uid) = pod.metadata.uid.as_deref().filter(|u| is_safe_name(u)) else {
            continue;
        };
        let run_dir = store.pod_run_dir(uid);
        if !run_dir.exists() {
            continue;
        }
        let node = spec::NodeFacts::of_this_machine(store);
        volumes::refresh(&volumes::Context {
            store,
            pod: &pod,
            run_dir: &run_dir,
            node: &node,
            // Refreshed volumes are idmapped ones: ids as on disk.
            id_base: None,
        })?;
    }
    Ok(())
}
