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
//!
//! The leases a pod holds are found without reading every lease of its
//! root (an ADD first frees what the pod's last attempt left, so each
//! ADD did, and read more the more pods the root had): the root keeps
//! them by pod too, `<root>/cni/leases-by-pod/<network>/<uid>/<ip>`, an
//! empty file made before the lease and removed after it, so that a
//! crash between leaves a note naming no lease of the pod, which reads as
//! nothing held. A root whose leases were made before this index existed
//! gets it made from its leases, once, under the node's lock.

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
    /// The state root's leases by pod
    /// (`<root>/cni/leases-by-pod/pod`; see the module documentation).
    pub by_pod: &'a Path,
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

/// The pod a lease names: its first line.
fn owner(lease: &Path) -> Option<String> {
    let text = fs::read_to_string(lease).ok()?;
    Some(text.lines().next().unwrap_or_default().trim().to_string())
}

/// Whether `id` can name a directory of the index by pod: a uid is.
fn is_plain_name(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains('/') && !id.contains('\0')
}

impl Pool<'_> {
    fn lease(&self, ip: Ipv4Addr) -> PathBuf {
        self.leases.join(ip.to_string())
    }

    /// The note of `id`'s lease of `ip` in the index by pod.
    fn note(&self, id: &str, ip: Ipv4Addr) -> PathBuf {
        self.by_pod.join(id).join(ip.to_string())
    }

    fn write_note(&self, id: &str, ip: Ipv4Addr) -> Result<()> {
        let dir = self.by_pod.join(id);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let note = self.note(id, ip);
        fs::File::create(&note).with_context(|| format!("creating {}", note.display()))?;
        Ok(())
    }

    /// Removes the note of `id`'s lease of `ip` unless that lease still
    /// names `id`, and `id`'s directory once it is empty. Under the lock.
    fn forget_note(&self, id: &str, ip: Ipv4Addr) {
        if owner(&self.lease(ip)).as_deref() == Some(id) {
            return;
        }
        let _ = fs::remove_file(self.note(id, ip));
        let _ = fs::remove_dir(self.by_pod.join(id));
    }

    /// Makes the index by pod from the leases of a root that has none
    /// (made before it existed, or new), under the lock: in a directory
    /// beside it, renamed into place once complete, so that a reader
    /// without the lock finds it whole or not at all (and then reads
    /// every lease).
    fn index_by_pod(&self, _lock: &Lock) -> Result<()> {
        if self.by_pod.is_dir() {
            return Ok(());
        }
        let parent = self.by_pod.parent().unwrap_or(Path::new("/"));
        let name = self
            .by_pod
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let making = parent.join(format!(".{name}.{}", std::process::id()));
        let _ = fs::remove_dir_all(&making);
        let staged = Pool {
            by_pod: &making,
            ..*self
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&making)
            .with_context(|| format!("creating {}", making.display()))?;
        for (ip, id) in self.scan() {
            if is_plain_name(&id) {
                staged.write_note(&id, ip)?;
            }
        }
        fs::rename(&making, self.by_pod)
            .with_context(|| format!("creating {}", self.by_pod.display()))
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
        let noted = is_plain_name(lease.id);
        if noted {
            self.index_by_pod(&lock)?;
        }
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
            // Noted under the pod before the lease exists.
            if noted {
                self.write_note(id, ip)?;
            }
            // A lease of this root without an entry (a reboot emptied
            // /run) stays taken until that pod's DEL.
            if lock.take(&ip.to_string(), &self.lease(ip), content.as_bytes())? {
                let _ = write_in_place(&marker, ip);
                return Ok(ip);
            }
            if noted {
                self.forget_note(id, ip);
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
            // After the lease: a crash between leaves a note of nothing.
            if is_plain_name(id) {
                self.forget_note(id, *ip);
            }
        }
        Ok(())
    }

    /// The addresses whose lease in this root names `id`: those its notes
    /// in the index by pod name, or, in a root without that index (its
    /// leases were all made before it), every lease read as host-local's
    /// release by container id reads them.
    pub fn held_by(&self, id: &str) -> Vec<Ipv4Addr> {
        let mut held: Vec<Ipv4Addr> = if is_plain_name(id) && self.by_pod.is_dir() {
            let Ok(notes) = fs::read_dir(self.by_pod.join(id)) else {
                return Vec::new();
            };
            notes
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|ip| owner(&self.lease(*ip)).as_deref() == Some(id))
                .collect()
        } else {
            self.scan()
                .into_iter()
                .filter_map(|(ip, owner)| (owner == id).then_some(ip))
                .collect()
        };
        held.sort();
        held
    }

    /// Every lease of this root: its address (of any subnet: podCIDR may
    /// have changed since) and the pod it names.
    fn scan(&self) -> Vec<(Ipv4Addr, String)> {
        let Ok(entries) = fs::read_dir(self.leases) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
                Some((ip, owner(&e.path())?))
            })
            .collect()
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
        a_by_pod: PathBuf,
        b_by_pod: PathBuf,
    }

    impl Node {
        fn new() -> Node {
            let dir = tempfile::tempdir().unwrap();
            let path = |name: &str| dir.path().join(name);
            Node {
                index: path("node"),
                a: path("a"),
                b: path("b"),
                a_by_pod: path("a-by-pod"),
                b_by_pod: path("b-by-pod"),
                _dir: dir,
            }
        }

        /// The pools of roots a and b.
        fn pools(&self) -> (Pool<'_>, Pool<'_>) {
            (self.pool(&self.a), self.pool(&self.b))
        }

        fn pool<'a>(&'a self, leases: &'a Path) -> Pool<'a> {
            let by_pod = if leases == self.a {
                &self.a_by_pod
            } else {
                &self.b_by_pod
            };
            Pool {
                node: &self.index,
                leases,
                by_pod,
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
    fn a_pods_leases_are_found_through_its_notes_without_reading_the_others() {
        let node = Node::new();
        let (a, by_pod) = (&node.a, &node.a_by_pod);
        let pool = node.pool(a);
        let s = subnet("10.9.0.0/29");
        let x = pool.allocate(&s, &lease("x")).unwrap();
        let y = pool.allocate(&s, &lease("y")).unwrap();
        assert!(by_pod.join("x").join(x.to_string()).is_file());
        assert_eq!(pool.held_by("x"), [x]);
        // A lease naming x that x's notes do not name is not read: what x
        // holds is what its notes say (and its lease confirms).
        fs::write(a.join("10.9.0.6"), "x\r\neth0\r\nvethtest").unwrap();
        assert_eq!(pool.held_by("x"), [x]);
        fs::remove_file(a.join("10.9.0.6")).unwrap();
        // A note whose lease names another pod, or none: nothing held.
        fs::File::create(by_pod.join("x").join(y.to_string())).unwrap();
        fs::File::create(by_pod.join("x").join("10.9.0.5")).unwrap();
        assert_eq!(pool.held_by("x"), [x]);
        assert_eq!(pool.release("x").unwrap(), [x]);
        assert!(!a.join(x.to_string()).exists());
        assert!(!by_pod.join("x").join(x.to_string()).exists());
        assert_eq!(pool.held_by("x"), Vec::<Ipv4Addr>::new());
        assert_eq!(pool.held_by("y"), [y]);
        assert_eq!(pool.release("y").unwrap(), [y]);
        assert!(!by_pod.join("y").exists(), "an empty pod's notes stay");
    }

    #[test]
    fn a_crash_between_the_note_and_the_lease_holds_nothing() {
        let node = Node::new();
        let (a, by_pod) = (&node.a, &node.a_by_pod);
        let pool = node.pool(a);
        let s = subnet("10.9.0.0/30"); // .2 only
        let ip = pool.allocate(&s, &lease("x")).unwrap();
        // As if the lease had not been written yet when the process died.
        let lock = lock(&node.index).unwrap();
        lock.release(&ip.to_string(), &a.join(ip.to_string()), "x")
            .unwrap();
        drop(lock);
        assert!(by_pod.join("x").join(ip.to_string()).exists());
        assert_eq!(pool.held_by("x"), Vec::<Ipv4Addr>::new());
        // The address is free, and the next ADD of x takes it again.
        assert_eq!(pool.allocate(&s, &lease("x")).unwrap(), ip);
        assert_eq!(pool.held_by("x"), [ip]);
    }

    #[test]
    fn a_root_whose_leases_predate_the_index_by_pod_gets_it_from_them() {
        let node = Node::new();
        let (a, by_pod) = (&node.a, &node.a_by_pod);
        let pool = node.pool(a);
        let s = subnet("10.9.0.0/29");
        let old = pool.allocate(&s, &lease("old")).unwrap();
        // Leases made by a build without the index.
        fs::remove_dir_all(by_pod).unwrap();
        assert_eq!(pool.held_by("old"), [old], "read from every lease");
        let new = pool.allocate(&s, &lease("new")).unwrap();
        assert!(by_pod.join("old").join(old.to_string()).is_file());
        assert_eq!(pool.held_by("old"), [old]);
        assert_eq!(pool.held_by("new"), [new]);
        let left = fs::read_dir(by_pod.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .count();
        assert_eq!(left, 0, "a directory left from making the index");
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
