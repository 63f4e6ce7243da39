//! The links of the built-in network, made over rtnetlink: the node's
//! bridge, and one veth pair per pod whose inner end is made directly in
//! the pod's namespace as `eth0` (as the CNI bridge plugin's does), with
//! its address and default route.
//!
//! rtnetlink is asynchronous: each operation runs on a current-thread
//! runtime of its own, on a short-lived thread when the caller already
//! runs one (the supervisor's teardown does).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use anyhow::{Context, Result, anyhow};
use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::{InfoBridgePort, InfoData, InfoVeth, LinkAttribute};
use rtnetlink::{Handle, LinkBridge, LinkBridgePort, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::ipam::Subnet;

/// Runs `work` with a netlink handle in the caller's network namespace
/// and, given `pod_netns`, one in that namespace.
pub fn run<T, F, Fut>(pod_netns: Option<&OwnedFd>, work: F) -> Result<T>
where
    T: Send,
    F: FnOnce(Handle, Option<Handle>) -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    let inner = || -> Result<T> {
        // The pod's socket first, made in the pod's namespace.
        let pod_socket = pod_netns.map(socket_in).transpose()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("starting a netlink runtime")?;
        runtime.block_on(async move {
            let (connection, host, _) =
                rtnetlink::new_connection().context("opening a netlink socket")?;
            tokio::spawn(connection);
            let pod = match pod_socket {
                Some(fd) => {
                    // SAFETY: a netlink socket this process just made.
                    let socket =
                        unsafe { rtnetlink::sys::TokioSocket::from_raw_fd(fd.into_raw_fd()) };
                    let (connection, handle, _) = rtnetlink::from_socket(socket);
                    tokio::spawn(connection);
                    Some(handle)
                }
                None => None,
            };
            work(host, pod).await
        })
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(inner)
                .join()
                .map_err(|_| anyhow!("the netlink thread panicked"))?
        })
    } else {
        inner()
    }
}

/// A netlink socket in the namespace of `netns`, made by this thread
/// after entering that namespace, which it then leaves (a socket belongs
/// to its creator's namespace for good). Not on a thread made for it:
/// its spawn, and its wait for a core while the supervisor prepares the
/// containers beside the ADD, cost 0.3 to 10 ms.
fn socket_in(netns: &OwnedFd) -> Result<OwnedFd> {
    use nix::sched::{CloneFlags, setns};
    let home = std::fs::File::open("/proc/thread-self/ns/net")
        .context("opening this thread's network namespace")?;
    setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
        .context("entering the pod's network namespace")?;
    let socket = rtnetlink::sys::Socket::new(rtnetlink::sys::constants::NETLINK_ROUTE);
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        // Going on in the pod's namespace would put the host's links,
        // rules and the plugins this thread runs in it: stop here (the
        // pod is adopted or cleaned up as after any crash).
        eprintln!("pod: leaving a pod's network namespace: {e}");
        std::process::abort();
    }
    let socket = socket.context("opening a netlink socket in the pod's network namespace")?;
    // SAFETY: the socket's descriptor, owned from here on.
    Ok(unsafe { OwnedFd::from_raw_fd(socket.into_raw_fd()) })
}

/// The errno of a netlink error answer.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

/// The index of the link `name`, None if there is none.
pub async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = handle.link().get().match_name(name).execute();
    match links.try_next().await {
        Ok(link) => Ok(link.map(|l| l.header.index)),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("looking up link {name}")),
    }
}

/// The bridge `name` up with `gateway/prefix` on it, made if missing;
/// returns its index and whether it was made now.
pub async fn ensure_bridge(handle: &Handle, name: &str, subnet: &Subnet) -> Result<(u32, bool)> {
    let mut made = false;
    let index = match index_of(handle, name).await? {
        Some(index) => index,
        None => {
            match handle
                .link()
                .add(LinkBridge::new(name).up().build())
                .execute()
                .await
            {
                Ok(()) => made = true,
                // Another pod made it first.
                Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                Err(e) => return Err(e).with_context(|| format!("creating bridge {name}")),
            }
            index_of(handle, name)
                .await?
                .ok_or_else(|| anyhow!("bridge {name} vanished after its creation"))?
        }
    };
    let gateway = IpAddr::V4(subnet.gateway());
    let mut addresses = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    let mut present = false;
    while let Some(address) = addresses
        .try_next()
        .await
        .context("listing the bridge's addresses")?
    {
        use rtnetlink::packet_route::address::AddressAttribute;
        present |= address.header.prefix_len == subnet.prefix
            && address
                .attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Address(ip) if *ip == gateway));
    }
    if !present {
        match handle
            .address()
            .add(index, gateway, subnet.prefix)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if errno(&e) == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("adding {gateway}/{} to {name}", subnet.prefix));
            }
        }
    }
    if made {
        // Up again: a bridge made up with no port may read as down.
        handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .with_context(|| format!("setting {name} up"))?;
    }
    Ok((index, made))
}

/// The veth pair of a pod: `host` on the bridge, up, hairpin on (so a pod
/// reaches itself through a host port), and `ifname` made in the pod's
/// namespace (down: [`configure_pod`] sets it up).
///
/// Two things of the kernel's put RCU grace periods on this path, each
/// 1-5 ms here: a veth made without a queue count gets one per possible
/// CPU, and the kernel then cuts each end down to one queue, waiting for
/// a grace period per end; and a link looked up (RTM_GETLINK) first runs
/// its pending link-state event, which deactivates a veth whose peer is
/// down with another grace period. So both ends are made with one queue,
/// as they end up anyway, and the host end is found by its name, never
/// looked up.
pub async fn add_veth(
    handle: &Handle,
    bridge: u32,
    host: &str,
    ifname: &str,
    pod_netns: &OwnedFd,
) -> Result<()> {
    let peer = rtnetlink::LinkMessageBuilder::<LinkUnspec>::new()
        .name(ifname.to_string())
        .setns_by_fd(pod_netns.as_raw_fd())
        .append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1))
        .build();
    let message = LinkVeth::new(host, ifname)
        .controller(bridge)
        .up()
        .append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1))
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    handle
        .link()
        .add(message)
        .execute()
        .await
        .with_context(|| format!("creating the veth pair {host}/{ifname}"))?;
    handle
        .link()
        .set_port(
            LinkBridgePort::new(0)
                .name(host.to_string())
                .append_info_data(InfoBridgePort::HairpinMode(true))
                .build(),
        )
        .execute()
        .await
        .with_context(|| format!("setting hairpin mode on {host}"))
}

/// In the pod's namespace: `address/prefix` on `ifname`, the default
/// route through `gateway`, and `lo` up.
pub async fn configure_pod(
    pod: &Handle,
    ifname: &str,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<()> {
    // Listed, not looked up one by one (see `add_veth`): the pod's
    // namespace holds `lo` and `ifname`.
    let links = indexes(pod).await?;
    let index_in_pod = |name: &str| links.iter().find(|(n, _)| n == name).map(|(_, i)| *i);
    let index = index_in_pod(ifname)
        .ok_or_else(|| anyhow!("no {ifname} in the pod's network namespace"))?;
    pod.address()
        .add(index, IpAddr::V4(address), prefix)
        .execute()
        .await
        .with_context(|| format!("adding {address}/{prefix} to {ifname}"))?;
    // Up before the route (one through a down link is refused). Not at
    // its creation: a veth end opened before its peer exists fails with
    // ENOTCONN.
    pod.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .with_context(|| format!("setting {ifname} up"))?;
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .output_interface(index)
        .build();
    pod.route()
        .add(route)
        .execute()
        .await
        .with_context(|| format!("adding the default route through {gateway}"))?;
    if let Some(lo) = index_in_pod("lo") {
        pod.link()
            .set(LinkUnspec::new_with_index(lo).up().build())
            .execute()
            .await
            .context("setting lo up")?;
    }
    Ok(())
}

/// The name and index of every link in the handle's namespace (a dump,
/// which runs no pending link-state event, unlike a lookup).
async fn indexes(handle: &Handle) -> Result<Vec<(String, u32)>> {
    let mut found = Vec::new();
    let mut links = handle.link().get().execute();
    while let Some(link) = links.try_next().await.context("listing links")? {
        let name = link.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        });
        if let Some(name) = name {
            found.push((name, link.header.index));
        }
    }
    Ok(found)
}

/// Deletes the link `name` (a veth goes with its peer); a missing one is
/// fine.
pub async fn delete(handle: &Handle, name: &str) -> Result<()> {
    let mut message = rtnetlink::packet_route::link::LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    match handle.link().del_with_message(message).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting link {name}")),
    }
}
