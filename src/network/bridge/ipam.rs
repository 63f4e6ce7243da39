//! The built-in network's addresses, allocated node-wide.
//!
//! Every state root on the machine whose pods use the default network
//! shares one bridge (`pod0`) and so one subnet: an allocator per root
//! (what host-local with a `dataDir` under each root was) could hand one
//! address to two pods. So the allocation is made in the node's index
//! ([`crate::store::node_index`], shared with the user namespace ranges):
//! `<node>/leases/<ip>`, a symbolic link to the lease that holds the
//! address, under `<node>/lock`. The lease itself stays with the pod's
//! state root, in host-local's layout (`<root>/cni/networks/pod/<ip>`
//! holding `<container id>\r\n<ifname>`), where `delete` finds it with the
//! rest of the pod, after a crash or a reboot.
//!
//! An index entry whose lease is gone (released, or its whole state root
//! removed) reads as free: nothing can keep an address once the root that
//! held it is gone. The index lives in /run: after a reboot there is no
//! bridge, no veth and so no address in use, and a lease file a pod left
//! in its root is freed by that pod's DEL without touching an index
//! entry another pod has since been given (an entry is removed only once
//! the lease it points to is gone).

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::store::node_index::{Locked, NodeIndex};

/// An IPv4 subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// Parses `10.244.0.0/16`; host bits are cleared, as host-local does.
    pub fn parse(text: &str) -> Result<Subnet, String> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not an address/prefix length"))?;
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 30)
            .ok_or_else(|| format!("{text:?}: the prefix length must be at most 30"))?;
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Ok(Subnet {
            network: Ipv4Addr::from(u32::from(address) & mask),
            prefix,
        })
    }

    /// The bridge's address, the pods' gateway: the subnet's first.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The addresses pods get: after the gateway, before the broadcast.
    fn range(&self) -> (u32, u32) {
        let first = u32::from(self.network);
        let size = 1u32 << (32 - u32::from(self.prefix));
        (first + 2, first + size - 2)
    }

    /// Whether `ip` is one of the addresses pods get.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let (first, last) = self.range();
        (first..=last).contains(&u32::from(ip))
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Where one pod's addresses are: the node's index and the pod's root.
pub struct Pool<'a> {
    /// The node-wide directory of the bridge (`/run/pod-network/pod0`).
    pub node: &'a Path,
    /// The state root's lease directory (`<root>/cni/networks/pod`).
    pub leases: &'a Path,
}

/// Who takes an address: the pod (its container id), its interface and
/// its host veth.
pub struct Lease<'a> {
    pub id: &'a str,
    pub ifname: &'a str,
    pub veth: &'a str,
}

/// The node-wide lock, held while it lives: the index's (the masquerade
/// rules have one of their own, taken after it: `masquerade::collect`).
pub(super) type Lock = Locked;

/// The node's index of addresses: `<node>/leases/<ip>` → the lease, under
/// `<node>/lock`.
fn index(node: &Path) -> NodeIndex {
    NodeIndex {
        entries: node.join("leases"),
        lock: node.join("lock"),
    }
}

pub(super) fn lock(node: &Path) -> Result<Lock> {
    index(node).lock()
}

/// What a live index entry says about its address.
#[derive(Debug, PartialEq, Eq)]
pub struct InUse {
    pub ip: Ipv4Addr,
    /// The lease holding it.
    pub lease: PathBuf,
    /// The pod (container id) the lease names.
    pub id: String,
    /// The host veth of the pod holding it (None: a lease written before
    /// leases named it).
    pub veth: Option<String>,
}

/// The node's addresses in use (index entries whose lease exists), for
/// the node's GC, which holds the lock; dangling entries (the lease
/// freed, or its whole state root removed) are removed.
pub(super) fn in_use(lock: &Lock) -> Vec<InUse> {
    let mut found = Vec::new();
    for (key, lease) in lock.live() {
        let Ok(ip) = key.parse::<Ipv4Addr>() else {
            continue;
        };
        // What a lease file holds: host-local's `<id>\r\n<ifname>`, and
        // the pod's host veth on a third line (for the node's GC, which
        // finds the veths no lease names; absent from leases written
        // before it was).
        let Ok(text) = fs::read_to_string(&lease) else {
            continue;
        };
        let mut lines = text.lines().map(str::trim);
        let id = lines.next().unwrap_or_default().to_string();
        let veth = lines.nth(1).filter(|v| !v.is_empty()).map(str::to_string);
        found.push(InUse {
            ip,
            lease,
            id,
            veth,
        });
    }
    found.sort_by_key(|u| u.ip);
    found
}

/// Writes `ip` over the marker of the last address taken, padded to the
/// longest address's width, never truncating it: on ext4 mounted
/// `discard` (this machine's /run is on its root disk) truncating frees
/// the file's block and discards it synchronously, about a millisecond
/// on the ADD's path. Readers trim the padding.
fn write_in_place(marker: &Path, ip: Ipv4Addr) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(marker)?;
    file.write_all_at(format!("{ip:<15}").as_bytes(), 0)
}

impl Pool<'_> {
    fn lease(&self, ip: Ipv4Addr) -> PathBuf {
        self.leases.join(ip.to_string())
    }

    /// Takes a free address for `id`: the one after the last taken on the
    /// node (host-local's round robin, so a freed address is not handed
    /// out again at once), wrapping round the range.
    pub fn allocate(&self, subnet: &Subnet, lease: &Lease<'_>) -> Result<Ipv4Addr> {
        let lock = lock(self.node)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.leases)
            .with_context(|| format!("creating {}", self.leases.display()))?;
        let (first, last) = subnet.range();
        let marker = self
            .node
            .join(format!("last_reserved_ip.{}", subnet.network));
        let previous = fs::read_to_string(&marker)
            .ok()
            .and_then(|t| t.trim().parse::<Ipv4Addr>().ok())
            .map(u32::from)
            .filter(|ip| (first..=last).contains(ip));
        let start = match previous {
            Some(ip) if ip < last => ip + 1,
            _ => first,
        };
        let Lease { id, ifname, veth } = lease;
        let content = format!("{id}\r\n{ifname}\r\n{veth}");
        let count = u64::from(last - first) + 1;
        for n in 0..count {
            let ip = first + ((u64::from(start - first) + n) % count) as u32;
            let ip = Ipv4Addr::from(ip);
            // A lease of this root without an entry (a reboot emptied
            // /run) stays taken until that pod's DEL.
            if lock.take(&ip.to_string(), &self.lease(ip), content.as_bytes())? {
                let _ = write_in_place(&marker, ip);
                return Ok(ip);
            }
        }
        bail!(
            "no IP addresses available in range set: {}-{}",
            Ipv4Addr::from(first),
            Ipv4Addr::from(last)
        )
    }

    /// Frees the addresses `id` holds in this root: its lease files, and
    /// the index entries that point to them. Returns what was freed.
    #[cfg(test)]
    pub fn release(&self, id: &str) -> Result<Vec<Ipv4Addr>> {
        let held = self.held_by(id);
        self.release_held(id, &held)?;
        Ok(held)
    }

    /// Frees `held` (what [`Pool::held_by`] found for `id`, read before
    /// the lock was taken): a lease given to another pod since stays, and
    /// so does its index entry.
    pub fn release_held(&self, id: &str, held: &[Ipv4Addr]) -> Result<()> {
        if held.is_empty() {
            return Ok(());
        }
        let lock = lock(self.node)?;
        for ip in held {
            lock.release(&ip.to_string(), &self.lease(*ip), id)?;
        }
        Ok(())
    }

    /// The addresses whose lease in this root names `id` (host-local's
    /// release by container id reads them all the same way).
    pub fn held_by(&self, id: &str) -> Vec<Ipv4Addr> {
        let Ok(entries) = fs::read_dir(self.leases) else {
            return Vec::new();
        };
        let owner = |path: &Path| {
            let text = fs::read_to_string(path).ok()?;
            Some(text.lines().next().unwrap_or_default().trim().to_string())
        };
        let mut held: Vec<Ipv4Addr> = entries
            .flatten()
            .filter_map(|e| {
                // Any subnet: podCIDR may have changed since.
                let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
                (owner(&e.path()).as_deref() == Some(id)).then_some(ip)
            })
            .collect();
        held.sort();
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(id: &str) -> Lease<'_> {
        Lease {
            id,
            ifname: "eth0",
            veth: "vethtest",
        }
    }

    fn subnet(text: &str) -> Subnet {
        Subnet::parse(text).unwrap()
    }

    /// One node's index and the lease directories of two state roots on
    /// it (a and b), in a temporary directory.
    struct Node {
        _dir: tempfile::TempDir,
        index: PathBuf,
        a: PathBuf,
        b: PathBuf,
    }

    impl Node {
        fn new() -> Node {
            let dir = tempfile::tempdir().unwrap();
            let path = |name: &str| dir.path().join(name);
            Node {
                index: path("node"),
                a: path("a"),
                b: path("b"),
                _dir: dir,
            }
        }

        /// The pools of roots a and b.
        fn pools(&self) -> (Pool<'_>, Pool<'_>) {
            (self.pool(&self.a), self.pool(&self.b))
        }

        fn pool<'a>(&'a self, leases: &'a Path) -> Pool<'a> {
            Pool {
                node: &self.index,
                leases,
            }
        }
    }

    #[test]
    fn a_subnet_gives_its_gateway_and_a_range_after_it() {
        let s = subnet("10.244.7.9/16");
        assert_eq!(s.to_string(), "10.244.0.0/16");
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 244, 0, 1));
        assert!(!s.contains(Ipv4Addr::new(10, 244, 0, 1)));
        assert!(s.contains(Ipv4Addr::new(10, 244, 0, 2)));
        assert!(s.contains(Ipv4Addr::new(10, 244, 255, 254)));
        assert!(!s.contains(Ipv4Addr::new(10, 244, 255, 255)));
        assert!(Subnet::parse("10.0.0.0/31").is_err());
        assert!(Subnet::parse("fd00::/64").is_err());
        assert!(Subnet::parse("10.0.0.0").is_err());
    }

    #[test]
    fn two_roots_on_one_node_never_share_an_address() {
        let node = Node::new();
        let (pa, pb) = node.pools();
        let a = &node.a;
        let s = subnet("10.9.0.0/29"); // .2 to .6: five addresses
        let mut got = Vec::new();
        for i in 0..5 {
            let pool = if i % 2 == 0 { &pa } else { &pb };
            got.push(pool.allocate(&s, &lease(&format!("id{i}"))).unwrap());
        }
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 5, "{got:?}");
        let full = pa.allocate(&s, &lease("id5")).unwrap_err().to_string();
        assert_eq!(
            full,
            "no IP addresses available in range set: 10.9.0.2-10.9.0.6"
        );
        // Released in b: free for a, and the next one round robin.
        assert_eq!(pb.release("id1").unwrap(), vec![Ipv4Addr::new(10, 9, 0, 3)]);
        assert_eq!(
            pa.allocate(&s, &lease("id5")).unwrap(),
            Ipv4Addr::new(10, 9, 0, 3)
        );
        assert_eq!(
            fs::read_to_string(a.join("10.9.0.3")).unwrap(),
            "id5\r\neth0\r\nvethtest"
        );
        // A release by the wrong id frees nothing.
        assert_eq!(pa.release("nobody").unwrap(), Vec::<Ipv4Addr>::new());
    }

    #[test]
    fn a_removed_root_frees_its_addresses_and_after_a_reboot_a_root_keeps_its_own() {
        let node = Node::new();
        let (pa, pb) = node.pools();
        let a = &node.a;
        let s = subnet("10.9.0.0/30"); // .2 only
        assert_eq!(
            pa.allocate(&s, &lease("x")).unwrap(),
            Ipv4Addr::new(10, 9, 0, 2)
        );
        assert!(pb.allocate(&s, &lease("y")).is_err());
        fs::remove_dir_all(a).unwrap();
        assert_eq!(
            pb.allocate(&s, &lease("y")).unwrap(),
            Ipv4Addr::new(10, 9, 0, 2)
        );
        // The node's index is lost (a reboot empties /run, and no veth
        // survived it): b's own lease keeps the address from b's pods
        // until its pod's DEL; another root may take it, and that DEL
        // then leaves the new owner's entry alone.
        fs::remove_dir_all(&node.index).unwrap();
        assert!(pb.allocate(&s, &lease("z")).is_err());
        assert_eq!(
            pa.allocate(&s, &lease("z")).unwrap(),
            Ipv4Addr::new(10, 9, 0, 2)
        );
        assert_eq!(pb.release("y").unwrap(), vec![Ipv4Addr::new(10, 9, 0, 2)]);
        assert_eq!(
            fs::read_link(node.index.join("leases/10.9.0.2")).unwrap(),
            a.join("10.9.0.2")
        );
        assert!(pb.allocate(&s, &lease("w")).is_err());
    }

    #[test]
    fn the_index_in_use_names_each_leases_veth_and_loses_its_dangling_entries() {
        let node = Node::new();
        let a = &node.a;
        let pool = node.pool(a);
        let s = subnet("10.9.0.0/29");
        let first = pool.allocate(&s, &lease("x")).unwrap();
        let second = pool.allocate(&s, &lease("y")).unwrap();
        // A lease written before leases named their veth.
        fs::write(a.join(second.to_string()), "y\r\neth0").unwrap();
        let third = pool.allocate(&s, &lease("z")).unwrap();
        fs::remove_file(a.join(third.to_string())).unwrap();
        let lock = lock(&node.index).unwrap();
        let used = in_use(&lock);
        assert_eq!(
            used,
            [
                InUse {
                    ip: first,
                    lease: a.join(first.to_string()),
                    id: "x".into(),
                    veth: Some("vethtest".into()),
                },
                InUse {
                    ip: second,
                    lease: a.join(second.to_string()),
                    id: "y".into(),
                    veth: None,
                },
            ]
        );
        assert!(!node.index.join("leases").join(third.to_string()).exists());
    }

    #[test]
    fn a_stale_lease_freed_after_its_address_moved_on_leaves_the_new_owner_alone() {
        let node = Node::new();
        let (pa, pb) = node.pools();
        let (a, b) = (&node.a, &node.b);
        let s = subnet("10.9.0.0/30");
        pa.allocate(&s, &lease("old")).unwrap();
        // The index is lost and the lease file of a is left, then b's
        // entry takes the address (a's lease was not yet known to it).
        fs::remove_dir_all(&node.index).unwrap();
        let file = a.join("10.9.0.2");
        let kept = fs::read(&file).unwrap();
        fs::remove_file(&file).unwrap();
        pb.allocate(&s, &lease("new")).unwrap();
        fs::write(&file, kept).unwrap();
        pa.release("old").unwrap();
        assert_eq!(
            fs::read_link(node.index.join("leases/10.9.0.2")).unwrap(),
            b.join("10.9.0.2")
        );
        assert!(pa.allocate(&s, &lease("other")).is_err());
    }
    #[test]
    fn a_release_arriving_after_the_address_moved_on_leaves_the_new_pods_entry() {
        let node = Node::new();
        let (pa, pb) = node.pools();
        let a = &node.a;
        let s = subnet("10.9.0.0/30"); // .2 only
        let ip = pa.allocate(&s, &lease("one")).unwrap();
        // Two DELs of pod one (its supervisor's and `delete`'s) each read
        // what it holds; the first frees it, and pod two of the same root
        // is given the address before the second takes the lock.
        let held = pa.held_by("one");
        pa.release_held("one", &held).unwrap();
        assert_eq!(pa.allocate(&s, &lease("two")).unwrap(), ip);
        pa.release_held("one", &held).unwrap();
        assert_eq!(
            fs::read_to_string(a.join("10.9.0.2")).unwrap(),
            "two\r\neth0\r\nvethtest"
        );
        assert_eq!(
            fs::read_link(node.index.join("leases/10.9.0.2")).unwrap(),
            a.join("10.9.0.2")
        );
        // So no other root is given pod two's address.
        assert!(pb.allocate(&s, &lease("three")).is_err());
    }
}
