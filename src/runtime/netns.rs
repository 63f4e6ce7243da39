//! Sockets in the pod's network namespace, for the supervisor's httpGet
//! and tcpSocket probes and hooks and for `pod port-forward`: a socket
//! belongs to the namespace it was created in, so the calling thread
//! enters the pod's namespace for the one `socket` call and goes back
//! (setns of a network namespace is allowed in a process with threads and
//! moves only the caller), and the caller's async loop connects it. No
//! tool is needed in the container's image, and no thread waits in the
//! pod's namespace: a parked thread cost every pod its kernel stack, its
//! task and its stack pages while most pods never probe.
//!
//! A thread that cannot go back would make every later socket the pod's,
//! so the supervisor aborts then (a new supervisor adopts the pod). A
//! long-lived process serving many pods (`pod serve`'s port-forward)
//! must not: [`NetNs::start_apart`] makes each socket on a short thread
//! of its own that enters the pod's namespace and ends there, never
//! coming back (some 50 µs a socket, against a dial's round trips).

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use nix::sched::CloneFlags;
use tokio::net::{TcpSocket, TcpStream};

/// Where the sockets are made: the pod's network namespace (and the one to
/// go back to), or the supervisor's own (hostNetwork pods).
#[derive(Debug, Clone)]
pub struct NetNs {
    switch: Option<Arc<Switch>>,
}

#[derive(Debug)]
struct Switch {
    pod: OwnedFd,
    /// The namespace the caller goes back to; `None`: sockets are made on
    /// a thread of their own, which ends in the pod's.
    home: Option<OwnedFd>,
}

impl NetNs {
    /// Sockets of the network namespace `ns` (an open /proc/<pid>/ns/net),
    /// checked by entering it once. `None` stays in the caller's namespace
    /// (the host's: hostNetwork pods).
    pub fn start(ns: Option<OwnedFd>) -> io::Result<NetNs> {
        let Some(pod) = ns else {
            return Ok(NetNs { switch: None });
        };
        let home = OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/net")?);
        let netns = NetNs {
            switch: Some(Arc::new(Switch {
                pod,
                home: Some(home),
            })),
        };
        netns.inside(|| Ok(()))?;
        Ok(netns)
    }

    /// As [`NetNs::start`], but each socket is made on a thread of its
    /// own that enters the pod's namespace and ends there: the caller's
    /// threads never switch, so nothing can leave one in the pod's
    /// namespace (for `pod serve`, which must not abort).
    pub fn start_apart(ns: Option<OwnedFd>) -> io::Result<NetNs> {
        let Some(pod) = ns else {
            return Ok(NetNs { switch: None });
        };
        let netns = NetNs {
            switch: Some(Arc::new(Switch { pod, home: None })),
        };
        netns.inside(|| Ok(()))?;
        Ok(netns)
    }

    /// Runs `make` with the calling thread in the pod's namespace (or on
    /// a thread that is, see [`NetNs::start_apart`]).
    fn inside<T: Send>(&self, make: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        let Some(switch) = &self.switch else {
            return make();
        };
        let Some(home) = &switch.home else {
            return std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .name("pod-netns".into())
                    .stack_size(64 * 1024)
                    .spawn_scoped(scope, || {
                        nix::sched::setns(&switch.pod, CloneFlags::CLONE_NEWNET)?;
                        make()
                    })?
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the socket thread panicked")))
            });
        };
        nix::sched::setns(&switch.pod, CloneFlags::CLONE_NEWNET)?;
        let made = make();
        if let Err(e) = nix::sched::setns(home, CloneFlags::CLONE_NEWNET) {
            // Every later socket and child of this thread would be the
            // pod's: going on is not an option.
            eprintln!("pod: leaving the pod's network namespace: {e}");
            std::process::abort();
        }
        made
    }

    /// Connects to `addr` from inside the pod's network namespace.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.socket(addr.is_ipv6()).await?.connect(addr).await
    }

    /// A TCP socket (IPv6 or IPv4) of the pod's network namespace, not
    /// connected yet: for callers that word a failure of `socket` apart
    /// from one of `connect`, as Go's dialer does.
    pub async fn socket(&self, v6: bool) -> io::Result<TcpSocket> {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
        let family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
        let fd = self.inside(|| Ok(socket(family, SockType::Stream, flags, None)?))?;
        Ok(TcpSocket::from_std_stream(std::net::TcpStream::from(fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connects_in_the_current_namespace() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"hi").unwrap();
        });
        let ns = NetNs::start(None).unwrap();
        let mut stream = ns.connect(addr).await.unwrap();
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"hi");
        stream.shutdown().await.unwrap();
    }

    /// The socket is the given namespace's and the caller comes back: in a
    /// new network namespace (its loopback down) 127.0.0.1 is unreachable,
    /// while the same address reaches the listener in the caller's. Needs
    /// root.
    #[tokio::test]
    async fn makes_the_socket_in_the_given_namespace_and_comes_back() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let other = std::thread::spawn(|| {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).unwrap();
            OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/net").unwrap())
        })
        .join()
        .unwrap();
        let here = || std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let before = here();
        let apart = NetNs::start_apart(Some(other.try_clone().unwrap())).unwrap();
        let ns = NetNs::start(Some(other)).unwrap();
        let refused = ns.connect(addr).await.unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::ENETUNREACH), "{refused}");
        assert_eq!(here(), before);
        let refused = apart.connect(addr).await.unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::ENETUNREACH), "{refused}");
        assert_eq!(here(), before);
        NetNs::start(None).unwrap().connect(addr).await.unwrap();
        assert_eq!(here(), before);
    }
}
