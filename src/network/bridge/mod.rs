//! The default network built in: what the CNI list of [`super::default_list`]
//! does (bridge `pod0`, an address from `podCIDR`, the default route
//! through the bridge, masquerade, host ports), done by `pod` itself over
//! netlink when the node has no CNI configuration of its own. The bridge
//! plugin's exec, its per-pod iptables chain for `ipMasq` and host-local's
//! exec were most of a pod's network time (ADD ~42 ms, DEL ~82 ms);
//! these are a few netlink messages and files.
//!
//! What it makes, per pod: a veth pair, its host end (`veth` and 11 hex
//! digits of a hash of the state root and the pod's uid, so that DEL
//! finds it without any record) on the bridge, its pod end `eth0` made
//! directly in the pod's namespace with the address and the default
//! route; a lease ([`ipam`], node-wide); a record of the attachment in
//! the CNI cache directory under libcni's name for it
//! (`<root>/cni/results/pod-<uid>-eth0`, of its own kind, which the CNI
//! client skips). Per node: the bridge with the gateway address, and one
//! masquerade rule per subnet ([`masquerade`]). Host ports are the one
//! part left to CNI: a pod that has some gets portmap run for it
//! ([`hostports`]), with this attachment's result as its `prevResult`.
//!
//! IPv6 pod CIDRs keep the CNI list.

mod hostports;
pub mod ipam;
mod link;
pub mod masquerade;

use std::collections::BTreeSet;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

pub use hostports::add as add_host_ports;
use ipam::{Pool, Subnet};

/// Where the node-wide state of each bridge lives (`<dir>/<bridge>`):
/// the address index and its lock, the masquerade markers. /run, as the
/// bridge itself does not outlive a reboot.
pub const NODE_DIR: &str = "/run/pod-network";

const KIND: &str = "podBridgeV1";

/// What ADD did, for DEL and for anyone reading the cache directory.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    kind: String,
    container_id: String,
    if_name: String,
    network_name: String,
    netns: PathBuf,
    bridge: String,
    host_veth: String,
    /// The CNI result the bridge plugin would have given.
    result: Value,
}

/// One pod's attachment to the built-in network.
pub struct Attach<'a> {
    pub root: &'a Path,
    pub cache_dir: &'a Path,
    pub bridge: &'a str,
    pub network: &'a str,
    pub subnet: Subnet,
    pub uid: &'a str,
    pub ifname: &'a str,
    /// The pinned namespace.
    pub netns: &'a Path,
}

fn node_dir(bridge: &str) -> PathBuf {
    Path::new(NODE_DIR).join(bridge)
}

fn lease_dir(root: &Path, network: &str) -> PathBuf {
    super::ipam_dir(root).join(network)
}

/// The root's leases by pod ([`ipam`]): beside host-local's data
/// directory, not in it.
fn by_pod_dir(root: &Path, network: &str) -> PathBuf {
    root.join("cni").join("leases-by-pod").join(network)
}

fn record_path(cache_dir: &Path, network: &str, uid: &str, ifname: &str) -> PathBuf {
    cache_dir.join(format!("{network}-{uid}-{ifname}"))
}

/// The host end's name: the kernel's limit is 15 bytes.
pub fn host_veth(root: &Path, uid: &str) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(root.as_os_str().as_encoded_bytes());
    hash.update([0]);
    hash.update(uid.as_bytes());
    let digest = hex::encode(hash.finalize());
    format!("veth{}", &digest[..11])
}

/// ADD: returns the CNI-shaped result (the pod's address on `eth0`).
pub fn attach(a: &Attach<'_>) -> Result<Value> {
    let netns: OwnedFd = std::fs::File::open(a.netns)
        .with_context(|| format!("opening {}", a.netns.display()))?
        .into();
    let node = node_dir(a.bridge);
    let (leases, by_pod) = (lease_dir(a.root, a.network), by_pod_dir(a.root, a.network));
    let pool = Pool {
        node: &node,
        leases: &leases,
        by_pod: &by_pod,
    };
    let host = host_veth(a.root, a.uid);
    let lease = ipam::Lease {
        id: a.uid,
        ifname: a.ifname,
        veth: &host,
    };
    let ip = pool.allocate(&a.subnet, &lease)?;
    let gateway = a.subnet.gateway();
    let prefix = a.subnet.prefix;
    let (bridge, subnet, ifname) = (a.bridge, a.subnet, a.ifname);
    let netns = &netns;
    let made = link::run(Some(netns), |handle, pod| {
        let host = host.clone();
        async move {
            let pod = pod.expect("a handle in the pod's namespace");
            let (index, made) = link::ensure_bridge(&handle, bridge, &subnet).await?;
            link::add_veth(&handle, index, &host, ifname, netns).await?;
            link::configure_pod(&pod, ifname, ip, prefix, gateway).await?;
            Ok(made)
        }
    })?;
    // (tests/network_builtin.rs: a crash here leaves a lease and a veth,
    // and no record.)
    crate::fault::point("network-add-linked");
    masquerade::ensure(&node, a.bridge, &a.subnet, made)?;
    let result = json!({
        "cniVersion": "1.0.0",
        "interfaces": [
            {"name": a.bridge},
            {"name": host},
            {"name": a.ifname, "sandbox": a.netns},
        ],
        "ips": [{"address": format!("{ip}/{prefix}"), "gateway": gateway.to_string(), "interface": 2}],
        "routes": [{"dst": "0.0.0.0/0", "gw": gateway.to_string()}],
        "dns": {},
    });
    let record = Record {
        kind: KIND.into(),
        container_id: a.uid.into(),
        if_name: a.ifname.into(),
        network_name: a.network.into(),
        netns: a.netns.into(),
        bridge: a.bridge.into(),
        host_veth: host,
        result: result.clone(),
    };
    let path = record_path(a.cache_dir, a.network, a.uid, a.ifname);
    let bytes = serde_json::to_vec(&record).context("encoding the attachment")?;
    // Not fsynced: after a reboot DEL finds the lease by the pod's uid
    // and the veth is gone with the namespace anyway.
    crate::store::write_volatile(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(result)
}

fn read_record(path: &Path) -> Option<Record> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        .filter(|r| r.kind == KIND)
}

/// The result of the pod's attachment if it is still in place (CHECK's
/// role, for a supervisor that adopts a running sandbox): its record,
/// its host veth on the bridge, its lease naming the pod.
pub fn check(
    root: &Path,
    cache_dir: &Path,
    network: &str,
    uid: &str,
    ifname: &str,
) -> Option<Value> {
    let record = read_record(&record_path(cache_dir, network, uid, ifname))?;
    let master = std::fs::read_link(
        Path::new("/sys/class/net")
            .join(&record.host_veth)
            .join("master"),
    );
    if master.ok()?.file_name()? != record.bridge.as_str() {
        return None;
    }
    let node = node_dir(&record.bridge);
    let (leases, by_pod) = (lease_dir(root, network), by_pod_dir(root, network));
    let pool = Pool {
        node: &node,
        leases: &leases,
        by_pod: &by_pod,
    };
    let address = record.result["ips"][0]["address"]
        .as_str()?
        .split('/')
        .next()?;
    pool.held_by(uid)
        .iter()
        .any(|ip| ip.to_string() == address)
        .then_some(record.result)
}

/// DEL of whatever the built-in network holds for the pod `uid` in this
/// root: from its record, or, with none (a crash during ADD, a record
/// lost at a reboot), from the veth's name and the leases naming the
/// pod. Nothing held is nothing done (false).
///
/// `ending`: the pod's namespace is going away (its pause process killed,
/// its pin removed by the caller), and the veth pair goes with it: the
/// kernel unregisters the devices of a dying namespace in its own worker.
/// Deleting the veth here would put the same unregistering (an RCU grace
/// period or more: 30-70 ms on a loaded machine) on the delete's path.
/// The address is freed at once all the same: round robin hands it out
/// again only after the rest of the subnet.
pub fn detach(
    root: &Path,
    cache_dir: &Path,
    network: &str,
    uid: &str,
    ifname: &str,
    ending: bool,
) -> Result<bool> {
    let path = record_path(cache_dir, network, uid, ifname);
    let record = read_record(&path);
    let bridge = record
        .as_ref()
        .map_or(super::DEFAULT_BRIDGE, |r| r.bridge.as_str());
    let node = node_dir(bridge);
    let (leases, by_pod) = (lease_dir(root, network), by_pod_dir(root, network));
    let pool = Pool {
        node: &node,
        leases: &leases,
        by_pod: &by_pod,
    };
    let held = pool.held_by(uid);
    if record.is_none() && held.is_empty() {
        return Ok(false);
    }
    let host = record
        .as_ref()
        .map_or_else(|| host_veth(root, uid), |r| r.host_veth.clone());
    if !ending {
        // The veth first: the address is free only once nothing has it,
        // and the namespace may get a new eth0.
        link::run(None, |handle, _| async move {
            link::delete(&handle, &host).await
        })?;
    }
    pool.release_held(uid, &held)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// The pods (uids) the built-in network holds something for in this
/// root: a record in `cache_dir`, or a lease (a crash during ADD leaves
/// one before any record).
pub fn held_uids(root: &Path, cache_dir: &Path, network: &str) -> BTreeSet<String> {
    let mut uids = BTreeSet::new();
    let prefix = format!("{network}-");
    for entry in std::fs::read_dir(cache_dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.starts_with(&prefix))
            && let Some(record) = read_record(&entry.path())
        {
            uids.insert(record.container_id);
        }
    }
    let leases = lease_dir(root, network);
    for entry in std::fs::read_dir(&leases).into_iter().flatten().flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path())
            && let Some(id) = text.lines().next().map(str::trim)
            && !id.is_empty()
        {
            uids.insert(id.to_string());
        }
    }
    uids
}

/// What the node-wide part of a GC removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NodeCollected {
    /// Host veths on the bridge that no lease names.
    pub veths: Vec<String>,
    /// Subnets whose masquerade rule went (no pod has an address in them).
    pub subnets: Vec<String>,
}

/// The node-wide part of the GC, for every state root at once: the host
/// veths on `bridge` that no address of the node's index belongs to
/// (their pod's lease freed while its namespace lived on, or their state
/// root removed), the index's dangling entries, and the masquerade rules
/// of subnets no pod has an address in but `keep` (the node's podCIDR:
/// its rule is the node's, as the bridge is, and the next ADD needs it).
///
/// An ADD takes its address, whose lease names its veth, before it makes
/// the veth, and a DEL deletes the veth before it frees the address; so
/// a veth listed before the index is read, that no lease names, is no
/// live pod's.
pub fn collect_node(bridge: &str, keep: Option<&Subnet>) -> Result<NodeCollected> {
    let mut collected = NodeCollected::default();
    let ports: Vec<String> =
        std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
    let node = node_dir(bridge);
    if !node.exists() {
        return Ok(collected);
    }
    let in_use = {
        let lock = ipam::lock(&node)?;
        ipam::in_use(&lock)
    };
    let mut named = BTreeSet::new();
    for used in in_use {
        match used.veth {
            Some(veth) => {
                named.insert(veth);
            }
            // A lease written before leases named their veth: its name is
            // made again from the lease's state root (`<root>/cni/
            // networks/<network>/<ip>`), as given with or without a
            // trailing slash (which the hash sees).
            None => {
                if let Some(root) = used.lease.ancestors().nth(4) {
                    named.insert(host_veth(root, &used.id));
                    let mut slashed = root.as_os_str().to_os_string();
                    slashed.push("/");
                    named.insert(host_veth(Path::new(&slashed), &used.id));
                }
            }
        }
    }
    let stale: Vec<String> = ports
        .into_iter()
        .filter(|p| p.starts_with("veth") && !named.contains(p))
        .collect();
    if !stale.is_empty() {
        let names = stale.clone();
        link::run(None, |handle, _| async move {
            for name in &names {
                link::delete(&handle, name).await?;
            }
            Ok(())
        })?;
        collected.veths = stale;
    }
    let removed = masquerade::collect(&node, bridge, |subnet| {
        // Read again under the lock the rule is removed with.
        Some(subnet) == keep
            || std::fs::read_dir(node.join("leases"))
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().exists())
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .any(|ip| subnet.contains(ip))
    })?;
    collected.subnets = removed.iter().map(ToString::to_string).collect();
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_veth_is_named_by_root_and_uid_within_the_kernels_limit() {
        let a = host_veth(Path::new("/r1"), "uid");
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("veth"));
        assert_eq!(a, host_veth(Path::new("/r1"), "uid"));
        assert_ne!(a, host_veth(Path::new("/r2"), "uid"));
        assert_ne!(a, host_veth(Path::new("/r1"), "uie"));
    }
}
