//! `pod port-forward`: local ports relayed to ports of a pod, as kubectl
//! and the kubelet do it together.
//!
//! Where kubectl streams each connection to the kubelet and the container
//! runtime dials `localhost:PORT` inside the pod's network namespace
//! (containerd's CRI PortForward), this process does both ends: it
//! listens on the local addresses, and connects from inside the pod's
//! network namespace (sockets made by a thread that entered it,
//! `runtime::netns`) to 127.0.0.1, then ::1. No tool runs in the pod and
//! nothing is exec'd in a container; a hostNetwork pod is dialled in the
//! host's namespace.
//!
//! The session ends cleanly on Ctrl-C, and with kubectl's `lost
//! connection to pod` when the pod's sandbox (the pause process, watched
//! through a pidfd) goes away, or when a connection cannot be made in the
//! pod: kubectl closes its whole stream then, after logging the runtime's
//! error. A connection the pod resets ends alone (kubectl ends the session
//! there too, its issue 1169; nothing is gained by copying that). A
//! `Forwarding from` or `Handling connection for` line that finds the
//! reader of stdout gone ends it with [`ReaderGone`], so the CLI dies of
//! SIGPIPE there, as kubectl does.

mod listen;
pub mod ports;
mod wording;

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncWriteExt, Interest, unix::AsyncFd};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::process::signal_pipe::SignalPipe;
use crate::runtime::PodRuntime;
use crate::runtime::netns::NetNs;
use crate::store::Store;
use crate::terminal::ReaderGone;
use ports::ForwardedPort;
use wording::{errno_text, klog_error};

/// kubectl's `ErrLostConnectionToPod`.
const LOST: &str = "lost connection to pod";

/// How long one connect in the pod may take (containerd's dial timeout).
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Forwards `ports` (kubectl's forms, port names already resolved by
/// [`ports::resolve`]) on `addresses` until Ctrl-C or the pod goes away.
pub fn run(store: &Store, pod: &Pod, ports: &[String], addresses: &[String]) -> Result<()> {
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default();
    if phase != "Running" {
        bail!("unable to forward port because pod is not running. Current status={phase}");
    }
    let addresses = ports::parse_addresses(addresses).map_err(anyhow::Error::msg)?;
    let mut ports = ports::parse_ports(ports).map_err(anyhow::Error::msg)?;
    let sandbox =
        Sandbox::open(store, pod).map_err(|e| anyhow!("error upgrading connection: {e:#}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let result = runtime.block_on(async {
        // Before the first `Forwarding from`: whoever reads it may press
        // Ctrl-C at once.
        let mut interrupt = SignalPipe::new(libc::SIGINT).context("handling SIGINT")?;
        let listeners = listen::listen_all(
            &addresses,
            &mut ports,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )?;
        if listeners.is_empty() {
            bail!(
                "unable to listen on any of the requested ports: {}",
                ports::go_list(&ports)
            );
        }
        let sandbox = Arc::new(sandbox);
        let (ended_tx, mut ended) = mpsc::unbounded_channel();
        for (listener, port) in listeners {
            let listener = TcpListener::from_std(listener).context("listening")?;
            tokio::spawn(accept(listener, port, sandbox.clone(), ended_tx.clone()));
        }
        let exited = sandbox.watch_exit()?;
        tokio::select! {
            _ = interrupt.recv() => Ok(()),
            _ = exited.readable() => Err(anyhow!(LOST)),
            Some(why) = ended.recv() => Err(match why {
                Ended::Lost => anyhow!(LOST),
                Ended::ReaderGone => ReaderGone.into(),
            }),
        }
    });
    // Open connections end with the process; nothing waits for them.
    runtime.shutdown_background();
    result
}

/// Why a connection's task ends the whole session.
enum Ended {
    /// The connection could not be made in the pod.
    Lost,
    /// `Handling connection for …` found the reader of stdout gone.
    ReaderGone,
}

/// The pod's end: its network namespace, and its pause process (`pod
/// serve` dials through it too, for kubectl's port-forward).
pub struct Sandbox {
    /// What the runtime's messages call the sandbox: the pod's uid.
    pub id: String,
    /// The namespace as the runtime's messages name it.
    ns_path: String,
    netns: NetNs,
    /// A pidfd of the pause process: readable once it has exited.
    exited: OwnedFd,
}

impl Sandbox {
    pub fn open(store: &Store, pod: &Pod) -> Result<Sandbox> {
        let runtime = PodRuntime::open(store, pod)?;
        let not_running = || anyhow!("the pod's sandbox is not running");
        let pid = runtime.sandbox_pid().ok_or_else(not_running)?;
        let exited = rustix::process::Pid::from_raw(pid)
            .ok_or_else(not_running)
            .and_then(|p| {
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                    .map_err(|_| not_running())
            })?;
        let host = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
        let (ns, ns_path) = if host {
            (None, "host".to_string())
        } else {
            let path = format!("/proc/{pid}/ns/net");
            let file = std::fs::File::open(&path).map_err(|_| not_running())?;
            (Some(OwnedFd::from(file)), path)
        };
        // Still the same pause process (start time and pid): the pidfd and
        // the namespace are its, not those of a process that took its pid.
        if runtime.sandbox_pid() != Some(pid) {
            return Err(not_running());
        }
        // Sockets made on threads of their own: `pod serve` dials
        // through this too, and must never be left in a pod's namespace.
        let netns = NetNs::start_apart(ns).context("entering the pod's network namespace")?;
        Ok(Sandbox {
            id: pod.metadata.uid.clone().unwrap_or_default(),
            ns_path,
            netns,
            exited,
        })
    }

    /// A hostNetwork pod's sandbox whose pause process is `pid`, a child
    /// of the test: dials go to the host's loopback, and the session ends
    /// when the child does.
    #[cfg(test)]
    pub fn host_network_of(pid: u32) -> Sandbox {
        let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
        Sandbox {
            id: "sandbox-of-the-test".to_string(),
            ns_path: "host".to_string(),
            netns: NetNs::start_apart(None).expect("the host's namespace"),
            exited: rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
                .expect("a pidfd of the test's child"),
        }
    }

    /// The sandbox's pause process, readable once it has exited: the pod
    /// was deleted or its sandbox died, and every session through it ends.
    pub fn watch_exit(&self) -> Result<AsyncFd<OwnedFd>> {
        let pidfd = self.exited.try_clone()?;
        // SAFETY: the AsyncFd owns its duplicate of the pidfd, which stays
        // open and the same descriptor until the AsyncFd is dropped.
        let exited = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }?;
        Ok(exited)
    }

    /// containerd's `dialLocalhost`: 127.0.0.1, then ::1, in the pod.
    /// The error is the runtime's, as the kubelet passes it on.
    pub async fn dial(&self, port: u16) -> Result<TcpStream, String> {
        let v4 = match self
            .dial_one(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
        {
            Ok(stream) => return Ok(stream),
            Err(e) => e,
        };
        let v6 = match self
            .dial_one(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
            .await
        {
            Ok(stream) => return Ok(stream),
            Err(e) => e,
        };
        Err(format!(
            "failed to execute portforward in network namespace \"{}\": failed to connect to \
             localhost:{port} inside namespace \"{}\", IPv4: {v4} IPv6 {v6} ",
            self.ns_path, self.id
        ))
    }

    /// One connect, its failure worded as Go's dialer words it.
    async fn dial_one(&self, addr: SocketAddr) -> Result<TcpStream, String> {
        let net = if addr.is_ipv6() { "tcp6" } else { "tcp4" };
        let socket = self
            .netns
            .socket(addr.is_ipv6())
            .await
            .map_err(|e| format!("dial {net} {addr}: socket: {}", errno_text(&e)))?;
        match tokio::time::timeout(DIAL_TIMEOUT, socket.connect(addr)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(format!("dial {net} {addr}: connect: {}", errno_text(&e))),
            Err(_) => Err(format!("dial {net} {addr}: i/o timeout")),
        }
    }
}

/// Takes the connections of one listener, each in a task of its own.
async fn accept(
    listener: TcpListener,
    port: ForwardedPort,
    sandbox: Arc<Sandbox>,
    ended: mpsc::UnboundedSender<Ended>,
) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                tokio::spawn(handle(conn, port, sandbox.clone(), ended.clone()));
            }
            Err(e) => {
                // client-go stops taking connections on this listener here;
                // running out of descriptors passes, so wait and go on.
                eprintln!(
                    "{}",
                    klog_error(&format!(
                        "error accepting connection on port {}: {}",
                        port.local,
                        errno_text(&e)
                    ))
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One local connection: dialled in the pod, then relayed both ways.
async fn handle(
    conn: TcpStream,
    port: ForwardedPort,
    sandbox: Arc<Sandbox>,
    ended: mpsc::UnboundedSender<Ended>,
) {
    let said = writeln!(
        std::io::stdout().lock(),
        "Handling connection for {}",
        port.local
    );
    if ReaderGone::check(said).is_err() {
        let _ = ended.send(Ended::ReaderGone);
        return;
    }
    match sandbox.dial(port.remote).await {
        Ok(remote) => relay(conn, remote).await,
        Err(why) => {
            eprintln!(
                "{}",
                klog_error(&format!(
                    "an error occurred forwarding {} -> {}: error forwarding port {} to pod {}, \
                     uid : {why}",
                    port.local, port.remote, port.remote, sandbox.id
                ))
            );
            let _ = ended.send(Ended::Lost);
        }
    }
}

/// Copies both ways, with client-go's ending: the local side's end of
/// input is passed on (a half close) and the relay waits for the pod's
/// answer; once the pod's side has ended, or the local side failed,
/// both are closed.
async fn relay(mut local: TcpStream, mut remote: TcpStream) {
    let (mut local_read, mut local_write) = local.split();
    let (mut remote_read, mut remote_write) = remote.split();
    let up = async {
        let copied = tokio::io::copy(&mut local_read, &mut remote_write).await;
        let _ = remote_write.shutdown().await;
        copied
    };
    let down = async {
        let _ = tokio::io::copy(&mut remote_read, &mut local_write).await;
        let _ = local_write.shutdown().await;
    };
    tokio::pin!(up, down);
    tokio::select! {
        () = &mut down => {}
        copied = &mut up => {
            if copied.is_ok() {
                down.await;
            }
        }
    }
}
