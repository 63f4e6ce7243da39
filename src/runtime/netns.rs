//! Sockets in the pod's network namespace, for the supervisor's httpGet
//! and tcpSocket probes and hooks and for `pod port-forward`: a socket
//! belongs to the namespace it was created in, so one thread that entered
//! the pod's namespace creates them and the caller's async loop connects
//! them (the rest of the process stays in its own namespace). No tool is
//! needed in the container's image.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::mpsc;

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;

type Job = (bool, oneshot::Sender<io::Result<OwnedFd>>);

/// A handle on the thread that lives in the pod's network namespace.
#[derive(Debug, Clone)]
pub struct NetNs {
    jobs: mpsc::Sender<Job>,
}

impl NetNs {
    /// Enters the network namespace `ns` (an open /proc/<pid>/ns/net) on a
    /// thread of its own. `None` stays in the supervisor's namespace (the
    /// host's: hostNetwork pods).
    pub fn start(ns: Option<OwnedFd>) -> io::Result<NetNs> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (entered_tx, entered_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("pod-netns".into())
            .spawn(move || {
                if let Some(ns) = ns {
                    let entered = nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(io::Error::from);
                    let failed = entered.is_err();
                    let _ = entered_tx.send(entered);
                    if failed {
                        return;
                    }
                } else {
                    let _ = entered_tx.send(Ok(()));
                }
                for (v6, reply) in rx {
                    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
                    let family = if v6 {
                        AddressFamily::Inet6
                    } else {
                        AddressFamily::Inet
                    };
                    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
                    let made = socket(family, SockType::Stream, flags, None);
                    let _ = reply.send(made.map_err(io::Error::from));
                }
            })?;
        entered_rx
            .recv()
            .map_err(|_| io::Error::other("the network namespace thread died"))??;
        Ok(NetNs { jobs })
    }

    /// Connects to `addr` from inside the pod's network namespace.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.socket(addr.is_ipv6()).await?.connect(addr).await
    }

    /// A TCP socket (IPv6 or IPv4) of the pod's network namespace, not
    /// connected yet: for callers that word a failure of `socket` apart
    /// from one of `connect`, as Go's dialer does.
    pub async fn socket(&self, v6: bool) -> io::Result<TcpSocket> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((v6, tx))
            .map_err(|_| io::Error::other("the network namespace thread is gone"))?;
        let fd = rx
            .await
            .map_err(|_| io::Error::other("the network namespace thread is gone"))??;
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
}
