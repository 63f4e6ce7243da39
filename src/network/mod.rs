//! The pod network, the way the kubelet gets one: through CNI ([`cni`]).
//!
//! After the pause process made the pod's network namespace, [`attach`]
//! pins it to a file in the pod's run directory (a bind mount of
//! `/proc/<pause>/ns/net`, as containerd pins its sandboxes' namespaces)
//! and runs ADD of the node's network on it; [`detach`] runs DEL from the
//! cached attachment, from the supervisor or from `delete` after the
//! supervisor died, while the pinned namespace still exists or after it
//! is gone (the plugins then free what lives outside it: the address,
//! iptables rules).
//!
//! The network is the first configuration file of the node's
//! `cniConfDir` (`/etc/cni/net.d`); with none, `pod`'s own default
//! network ([`default_list`]): a `pod0` bridge, host-local addresses from
//! `podCIDR` (10.244.0.0/16) kept under the state root, masquerade for
//! traffic leaving the node, and portmap for host ports. The pause
//! process brings `lo` up itself, so no loopback plugin is needed.

mod bridge;
pub mod cni;
pub mod gc;
mod netns;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Map, Value, json};

use crate::node::config::Network;
use crate::store::Store;
use cni::{Attachment, Cancel, NetworkList};

/// The interface the pod's address is on, as the kubelet names it.
pub const IFNAME: &str = "eth0";
/// The default network's bridge.
pub const DEFAULT_BRIDGE: &str = "pod0";
/// The default network's name.
pub const DEFAULT_NETWORK: &str = "pod";

/// The attachment cache (libcni's `/var/lib/cni/results`).
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join("cni").join("results")
}

/// host-local's data directory for the default network (its `dataDir`;
/// the reference plugins' default is /var/lib/cni/networks).
pub fn ipam_dir(root: &Path) -> PathBuf {
    root.join("cni").join("networks")
}

/// Where a pod's network namespace is pinned.
pub fn netns_path(run_dir: &Path) -> PathBuf {
    run_dir.join("netns")
}

/// `pod`'s network when the node has no configuration of its own.
pub fn default_list(config: &Network, root: &Path) -> NetworkList {
    let v6 = config.pod_cidr.contains(':');
    let list = json!({
        "cniVersion": "1.0.0",
        "name": DEFAULT_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": DEFAULT_BRIDGE,
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": config.pod_cidr}]],
                    "routes": [{"dst": if v6 { "::/0" } else { "0.0.0.0/0" }}],
                    "dataDir": ipam_dir(root),
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    NetworkList::from_list(list).expect("the default network list is valid")
}

/// The node's network: the configuration directory's, else the default.
pub fn network(config: &Network, root: &Path) -> Result<NetworkList, String> {
    Ok(match cni::config::load_dir(&config.conf_dir)? {
        Some((_, list)) => list,
        None => default_list(config, root),
    })
}

/// The port mappings portmap is given: the containers' ports with a
/// hostPort, in the CRI's shape (protocol in lower case).
pub fn port_mappings(pod: &Pod) -> Vec<Value> {
    let spec = pod.spec.as_ref();
    spec.map(|s| s.containers.iter())
        .into_iter()
        .flatten()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|h| h > 0))
        .map(|p| {
            let mut m = Map::new();
            m.insert("hostPort".into(), json!(p.host_port));
            m.insert("containerPort".into(), json!(p.container_port));
            let protocol = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
            m.insert("protocol".into(), json!(protocol));
            if let Some(ip) = p.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
                m.insert("hostIP".into(), json!(ip));
            }
            Value::Object(m)
        })
        .collect()
}

/// Joins the pod (whose pause process is `pause`) to the node's network;
/// returns its addresses. A failure reads as containerd's.
pub fn attach(
    store: &Store,
    config: &Network,
    pod: &Pod,
    pause: i32,
    cancel: &Cancel,
) -> Result<Vec<IpAddr>> {
    let uid = pod
        .metadata
        .uid
        .as_deref()
        .ok_or_else(|| anyhow!("pod has no metadata.uid"))?;
    attach_uid(store, config, pod, uid, pause, cancel)
        .with_context(|| format!("failed to setup network for sandbox {uid:?}"))
}

fn attach_uid(
    store: &Store,
    config: &Network,
    pod: &Pod,
    uid: &str,
    pause: i32,
    cancel: &Cancel,
) -> Result<Vec<IpAddr>> {
    gc::once_per_boot(store, config);
    let path = netns_path(&store.pod_run_dir(uid));
    let cache = cache_dir(store.root());
    // The pod's cached attachments, read once: for the check of a sandbox
    // set up before, and for the DEL of what it left.
    let attachments = Attachment::find(&cache, uid);
    if let Some(addresses) = keep_if_checked(store, uid, pause, &path, &attachments, cancel) {
        return Ok(addresses);
    }
    // What an interrupted or failed ADD left is undone first, as the
    // kubelet tears a failed sandbox down before it makes the next.
    del_found(store, uid, false, attachments)?;
    let choice = choose(config, store.root()).map_err(|e| anyhow!(e))?;
    netns::pin(pause, &path)?;
    let meta = &pod.metadata;
    let args = vec![
        ("IgnoreUnknown".to_string(), "1".to_string()),
        (
            "K8S_POD_NAMESPACE".into(),
            meta.namespace.clone().unwrap_or_default(),
        ),
        ("K8S_POD_NAME".into(), meta.name.clone().unwrap_or_default()),
        ("K8S_POD_INFRA_CONTAINER_ID".into(), uid.to_string()),
        ("K8S_POD_UID".into(), uid.to_string()),
    ];
    let mut capability_args = Map::new();
    let mappings = port_mappings(pod);
    if !mappings.is_empty() {
        capability_args.insert("portMappings".into(), Value::Array(mappings));
    }
    let runtime = cni::Runtime {
        container_id: uid.to_string(),
        netns: path,
        ifname: IFNAME.to_string(),
        args,
        capability_args,
        bin_dirs: config.bin_dirs.clone(),
        timeout: config.plugin_timeout,
    };
    let hold = gc::adding(store.root(), cancel)?;
    let started = std::time::Instant::now();
    let (kind, added) = match choice {
        Choice::Cni(list) => (
            "cni",
            cni::add(&cache, &list, &runtime, Some(cancel))
                .map(|attachment| attachment.result.unwrap_or(Value::Null))
                .map_err(anyhow::Error::from),
        ),
        Choice::Builtin(subnet) => (
            "builtin",
            attach_builtin(store, &cache, subnet, &runtime, cancel),
        ),
    };
    note_time("ADD", kind, uid, started);
    let added = added.and_then(|result| {
        let addresses = cni::result::pod_addresses(&result, IFNAME).map_err(|e| anyhow!(e))?;
        // containerd's refusal of a network that gave the pod nothing.
        if addresses.is_empty() {
            anyhow::bail!("failed to find network info for sandbox {uid:?}");
        }
        Ok(addresses)
    });
    drop(hold);
    if added.is_err() && !cancel.is_cancelled() {
        // As containerd does: what a failed ADD made is undone at once,
        // not left holding an address through the back-off. (A cancelled
        // one is undone by the teardown that cancelled it.)
        let _ = detach_uid(store, uid);
    }
    added
}

/// The network a pod joins.
enum Choice {
    /// A CNI network list: the node's configuration, or the default list
    /// for an IPv6 `podCIDR`.
    Cni(NetworkList),
    /// The default network, built in ([`bridge`]).
    Builtin(bridge::ipam::Subnet),
}

fn choose(config: &Network, root: &Path) -> Result<Choice, String> {
    if let Some((_, list)) = cni::config::load_dir(&config.conf_dir)? {
        return Ok(Choice::Cni(list));
    }
    if config.pod_cidr.contains(':') {
        return Ok(Choice::Cni(default_list(config, root)));
    }
    let subnet =
        bridge::ipam::Subnet::parse(&config.pod_cidr).map_err(|e| format!("podCIDR: {e}"))?;
    Ok(Choice::Builtin(subnet))
}

/// ADD on the built-in default network, then portmap for a pod with
/// host ports.
fn attach_builtin(
    store: &Store,
    cache: &Path,
    subnet: bridge::ipam::Subnet,
    runtime: &cni::Runtime,
    cancel: &Cancel,
) -> Result<Value> {
    let result = bridge::attach(&bridge::Attach {
        root: store.root(),
        cache_dir: cache,
        bridge: DEFAULT_BRIDGE,
        network: DEFAULT_NETWORK,
        subnet,
        uid: &runtime.container_id,
        ifname: IFNAME,
        netns: &runtime.netns,
    })?;
    if !runtime.capability_args.is_empty() {
        bridge::add_host_ports(cache, runtime, &result, Some(cancel))?;
    }
    Ok(result)
}

/// A sandbox whose network was set up before (a supervisor that finds
/// the pod's pause process running with its namespace pinned): the
/// cached attachment is kept, as a restarted runtime keeps a running
/// sandbox's network, when it is the pause process's namespace and CHECK
/// passes (or the list's version has no CHECK); else it is redone.
fn keep_if_checked(
    store: &Store,
    uid: &str,
    pause: i32,
    path: &Path,
    attachments: &[Attachment],
    cancel: &Cancel,
) -> Option<Vec<IpAddr>> {
    let cache = cache_dir(store.root());
    if let Some(result) = bridge::check(store.root(), &cache, DEFAULT_NETWORK, uid, IFNAME) {
        // The built-in network's part is in place; its host ports' portmap
        // (a CNI attachment of its own, if any) is checked below.
        if netns::is_of(path, pause) && check_all(attachments, uid, cancel) {
            let addresses = cni::result::pod_addresses(&result, IFNAME).ok()?;
            return (!addresses.is_empty()).then_some(addresses);
        }
        return None;
    }
    let [attachment] = attachments else {
        return None;
    };
    let result = attachment.result.as_ref()?;
    if attachment.netns != path || !netns::is_of(path, pause) {
        return None;
    }
    if let Err(e) = cni::check(attachment, Some(cancel)) {
        eprintln!(
            "Warning: the network of sandbox {uid:?} failed its check, setting it up again: {e}"
        );
        return None;
    }
    let addresses = cni::result::pod_addresses(result, IFNAME).ok()?;
    (!addresses.is_empty()).then_some(addresses)
}

/// CHECK of every cached CNI attachment of `uid` (none: true).
fn check_all(attachments: &[Attachment], uid: &str, cancel: &Cancel) -> bool {
    attachments.iter().all(|attachment| {
        cni::check(attachment, Some(cancel))
            .inspect_err(|e| {
                eprintln!(
                    "Warning: the network of sandbox {uid:?} failed its check, setting it up again: {e}"
                )
            })
            .is_ok()
    })
}

/// Runs DEL for every cached attachment of the pod `uid` and unpins its
/// network namespace. Works with the pod's processes gone, its namespace
/// gone, from any process.
pub fn detach(store: &Store, uid: &str) -> Result<()> {
    del(store, uid, true).with_context(|| format!("failed to destroy network for sandbox {uid:?}"))
}

/// The node's network GC now, whatever it did before (`pod up`: the
/// node's start, or a user asking for it); its errors are reported.
pub fn gc_now(store: &Store) {
    let collected = crate::node::config::NodeConfig::of(store)
        .and_then(|config| gc::now(store, &config.network));
    if let Err(e) = collected {
        eprintln!("Warning: the network's garbage collection: {e:#}");
    }
}

/// Retries the DELs that failed before, of pods that are gone, when due
/// (see [`gc`]); a supervisor calls it at its pod's end, once it has
/// answered, so that no `delete` waits for it.
pub fn retry_failed_dels(store: &Store) {
    gc::retry_failed(store);
}

/// DEL of the pod `uid`'s attachments, whose namespace may be set up
/// again (a failed or interrupted ADD).
fn detach_uid(store: &Store, uid: &str) -> Result<()> {
    del(store, uid, false)
}

/// DEL; `ending`: the pod's namespace goes (its pause process was killed
/// and the pin is removed here), and the built-in network's veth pair with
/// it, by the kernel, off the caller's path.
fn del(store: &Store, uid: &str, ending: bool) -> Result<()> {
    let attachments = Attachment::find(&cache_dir(store.root()), uid);
    del_found(store, uid, ending, attachments)
}

/// [`del`] of the pod's cached attachments `attachments`, as read by the
/// caller.
fn del_found(store: &Store, uid: &str, ending: bool, attachments: Vec<Attachment>) -> Result<()> {
    let cache = cache_dir(store.root());
    // A pin whose namespace is gone (unmounted, or the run directory of a
    // crashed pod) must read as missing to the plugins: they then free
    // what lives outside it, where an empty file would fail them.
    netns::forget_if_dead(&netns_path(&store.pod_run_dir(uid)))?;
    let started = std::time::Instant::now();
    let mut failed = None;
    let cni_work = !attachments.is_empty();
    for attachment in attachments {
        match cni::del(&cache, &attachment) {
            Ok(()) => gc::del_done(store.root(), &attachment),
            Err(e) => {
                // Kept cached, and retried later (see `gc`).
                gc::del_failed(store.root(), &attachment, &e);
                failed.get_or_insert(e);
            }
        }
    }
    let mut failed = failed.map(anyhow::Error::from);
    // The built-in network's part (after its host ports' portmap above).
    let builtin = bridge::detach(store.root(), &cache, DEFAULT_NETWORK, uid, IFNAME, ending);
    let builtin_work = match builtin {
        Ok(did) => {
            // (A retried DEL that found nothing left is done too.)
            gc::builtin_del_done(store.root(), uid);
            did
        }
        Err(e) => {
            // Noted and retried as a plugin's DEL is.
            gc::builtin_del_failed(store.root(), uid, &e);
            failed.get_or_insert(e);
            true
        }
    };
    if cni_work || builtin_work {
        let kind = if builtin_work { "builtin" } else { "cni" };
        note_time("DEL", kind, uid, started);
    }
    netns::unpin(&netns_path(&store.pod_run_dir(uid)))?;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// With `POD_NETWORK_TIMES` set to a file, each ADD and each DEL that
/// had something to delete appends a line to it, `{"op", "network"
/// ("builtin" or "cni"), "uid", "seconds"}`: the network's own time,
/// apart from the rest of a create or a delete (the bench's 10d/10e).
fn note_time(op: &str, network: &str, uid: &str, started: std::time::Instant) {
    let Some(path) = std::env::var_os("POD_NETWORK_TIMES") else {
        return;
    };
    let line = json!({
        "op": op,
        "network": network,
        "uid": uid,
        "seconds": started.elapsed().as_secs_f64(),
    });
    // One write of a line to an O_APPEND file: lines of processes
    // writing at once do not mix.
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        eprintln!("Warning: writing {}: {e}", Path::new(&path).display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_network_is_a_bridge_with_addresses_under_the_state_root() {
        let mut config = crate::node::config::NodeConfig::defaults(Path::new("/r")).network;
        let list = default_list(&config, Path::new("/r"));
        assert_eq!(list.name, "pod");
        assert_eq!(list.plugin_type(0), "bridge");
        assert_eq!(list.plugins[0]["bridge"], "pod0");
        assert_eq!(list.plugins[0]["ipam"]["dataDir"], "/r/cni/networks");
        assert_eq!(
            list.plugins[0]["ipam"]["ranges"],
            json!([[{"subnet": "10.244.0.0/16"}]])
        );
        assert_eq!(list.plugin_type(1), "portmap");
        config.pod_cidr = "fd00:10::/64".into();
        let list = default_list(&config, Path::new("/r"));
        assert_eq!(list.plugins[0]["ipam"]["routes"], json!([{"dst": "::/0"}]));
    }

    #[test]
    fn host_ports_become_port_mappings() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [
                {"name": "a", "ports": [
                    {"containerPort": 80, "hostPort": 8080},
                    {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"},
                    {"containerPort": 9090}
                ]}
            ]}
        }))
        .unwrap();
        assert_eq!(
            port_mappings(&pod),
            [
                json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}),
                json!({"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}),
            ]
        );
    }
}
