//! Running probe and lifecycle-hook actions from outside the container:
//! exec through the runtime, httpGet, tcpSocket and grpc over sockets made
//! in the pod's network namespace. Messages are the kubelet's.
//!
//! httpGet uses a small HTTP/1.1 client of its own: a probe needs one GET
//! and the status line, which is less code than wiring hyper's client
//! (hyper, http, http-body, hyper-util) for it; HTTPS wraps the same
//! exchange in TLS that accepts any certificate, as the kubelet's does.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::grpc;
use super::reaper::{Exit, Reaper};
use super::tls;
use crate::runtime::netns::NetNs;
use crate::runtime::{PodRuntime, Stdio};

/// The kubelet's User-Agent for HTTP and gRPC probes.
pub const USER_AGENT: &str = "kube-probe/1.34";

/// Output kept from an exec action, like the kubelet's 10 KiB limit.
const MAX_OUTPUT: usize = 10 * 1024;

/// What actions run against: one container of the pod.
#[derive(Clone)]
pub struct Target {
    pub runtime: Rc<RefCell<PodRuntime>>,
    pub reaper: Rc<Reaper>,
    pub netns: NetNs,
    pub container: Container,
    /// Where httpGet and tcpSocket go when they name no host.
    pub pod_ip: IpAddr,
}

impl Target {
    pub fn new(
        runtime: Rc<RefCell<PodRuntime>>,
        reaper: Rc<Reaper>,
        netns: NetNs,
        container: Container,
    ) -> Target {
        Target {
            runtime,
            reaper,
            netns,
            container,
            pod_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

/// A probe's verdict.
pub type Outcome = Result<(), String>;

/// Runs one probe attempt.
pub async fn probe(target: &Target, probe: &Probe) -> Outcome {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let argv = exec.command.clone().unwrap_or_default();
        let (exit, output) = exec_in(target, &argv, Some(timeout)).await?;
        return match exit {
            Exit::Code(0) => Ok(()),
            _ => Err(output),
        };
    }
    if let Some(http) = &probe.http_get {
        let code = http_get(target, http, timeout).await?;
        return if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        };
    }
    if let Some(tcp) = &probe.tcp_socket {
        return tcp_connect(target, tcp, timeout).await;
    }
    if let Some(grpc) = &probe.grpc {
        let port = u16::try_from(grpc.port).map_err(|_| format!("invalid port {}", grpc.port))?;
        let addr = SocketAddr::new(target.pod_ip, port);
        let service = grpc.service.as_deref().unwrap_or("");
        return grpc::check(|| target.netns.connect(addr), addr, service, timeout).await;
    }
    Err("probe has no action".into())
}

/// Runs a lifecycle hook; the error is the kubelet's event message.
pub async fn hook(target: &Target, handler: &LifecycleHandler, pod: &str) -> Outcome {
    let name = &target.container.name;
    if let Some(exec) = &handler.exec {
        let argv = exec.command.clone().unwrap_or_default();
        return match exec_in(target, &argv, None).await {
            Ok((Exit::Code(0), _)) => Ok(()),
            Ok((exit, output)) => Err(format!(
                "Exec lifecycle hook ({argv:?}) for Container {name:?} in Pod {pod:?} failed - error: command '{}' exited with {}: {output}, message: {output:?}",
                argv.join(" "),
                exit.code()
            )),
            Err(e) => Err(format!(
                "Exec lifecycle hook ({argv:?}) for Container {name:?} in Pod {pod:?} failed - error: {e}, message: \"\""
            )),
        };
    }
    if let Some(http) = &handler.http_get {
        // The kubelet gives HTTP hooks no timeout of their own; the grace
        // period bounds preStop, and postStart has none.
        let code = http_get(target, http, Duration::from_secs(3600)).await;
        return match code {
            Ok(code) if (200..400).contains(&code) => Ok(()),
            Ok(code) => Err(format!(
                "HTTP lifecycle hook ({}) for Container {name:?} in Pod {pod:?} failed - error: HTTP probe failed with statuscode: {code}, message: \"\"",
                http.path.as_deref().unwrap_or("")
            )),
            Err(e) => Err(format!(
                "HTTP lifecycle hook ({}) for Container {name:?} in Pod {pod:?} failed - error: {e}, message: \"\"",
                http.path.as_deref().unwrap_or("")
            )),
        };
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64)).await;
        return Ok(());
    }
    // tcpSocket hooks are accepted by the API but do nothing in the kubelet.
    Ok(())
}

/// Runs `argv` in the container; returns how it ended and its output.
async fn exec_in(
    target: &Target,
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<(Exit, String), String> {
    if argv.is_empty() {
        return Err("no command given".into());
    }
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string());
    let (out_r, out_w) = pipe()?;
    let err_w: OwnedFd = out_w.try_clone().map_err(|e| e.to_string())?;
    let stdio = Stdio::Pipes {
        stdin: None,
        stdout: out_w,
        stderr: err_w,
    };
    let started = target
        .runtime
        .borrow()
        .exec(&target.container.name, argv, stdio)
        .map_err(|e| format!("{e:#}"))?;
    let exited = target.reaper.wait(started.pid);
    let mut reader =
        tokio::net::unix::pipe::Receiver::from_owned_fd(out_r).map_err(|e| e.to_string())?;
    let run = async {
        let mut output = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if output.len() < MAX_OUTPUT {
                output.extend_from_slice(&buf[..n.min(MAX_OUTPUT - output.len())]);
            }
        }
        let exit = exited.await.unwrap_or(Exit::Signal(libc::SIGKILL));
        (exit, String::from_utf8_lossy(&output).into_owned())
    };
    match timeout {
        None => Ok(run.await),
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(done) => Ok(done),
            Err(_) => {
                // kill(2) on the pid we started; not reaped yet
                // because nobody else waits for it.
                let _ = crate::process::kill(started.pid, libc::SIGKILL);
                Err(format!("command {:?} timed out", argv.join(" ")))
            }
        },
    }
}

/// Resolves a port given by number or by the container's port name.
fn port(container: &Container, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => {
            if let Ok(n) = name.parse::<u16>() {
                return Ok(n);
            }
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("couldn't find port: {name} in {}", container.name))
        }
    }
}

fn host(target: &Target, host: Option<&str>) -> Result<IpAddr, String> {
    match host.filter(|h| !h.is_empty()) {
        None => Ok(target.pod_ip),
        Some("localhost") => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Some(h) => h
            .parse()
            .map_err(|_| format!("host {h:?}: only IP addresses are supported")),
    }
}

fn dial_error(addr: SocketAddr, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        _ => format!("connect: {e}"),
    };
    format!("dial tcp {addr}: {reason}")
}

async fn tcp_connect(target: &Target, tcp: &TCPSocketAction, timeout: Duration) -> Outcome {
    let addr = SocketAddr::new(
        host(target, tcp.host.as_deref())?,
        port(&target.container, &tcp.port)?,
    );
    match tokio::time::timeout(timeout, target.netns.connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(dial_error(addr, &e)),
        Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
    }
}

/// One GET; returns the response's status code.
async fn http_get(target: &Target, http: &HTTPGetAction, timeout: Duration) -> Result<u16, String> {
    let scheme = http.scheme.as_deref().unwrap_or("HTTP");
    let addr = SocketAddr::new(
        host(target, http.host.as_deref())?,
        port(&target.container, &http.port)?,
    );
    let mut path = http.path.clone().unwrap_or_default();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let https = scheme.eq_ignore_ascii_case("HTTPS");
    let url = format!("{}://{addr}{path}", if https { "https" } else { "http" });
    let request = request(http, addr, &path);
    let exchange = async {
        let stream = target
            .netns
            .connect(addr)
            .await
            .map_err(|e| format!("Get {url:?}: {}", dial_error(addr, &e)))?;
        let code = if https {
            let stream = tls::connect(stream, addr.ip())
                .await
                .map_err(|e| format!("Get {url:?}: {e}"))?;
            status_of(stream, &request).await
        } else {
            status_of(stream, &request).await
        };
        code.map_err(|e| format!("Get {url:?}: {e}"))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// Sends `request` and reads the response's status line.
async fn status_of<S>(mut stream: S, request: &str) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    status_code(&head).ok_or_else(|| "malformed HTTP response".to_string())
}

fn request(http: &HTTPGetAction, addr: SocketAddr, path: &str) -> String {
    let headers = http.http_headers.clone().unwrap_or_default();
    let has = |name: &str| headers.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    let mut out = format!("GET {path} HTTP/1.1\r\n");
    if !has("Host") {
        out.push_str(&format!("Host: {addr}\r\n"));
    }
    if !has("User-Agent") {
        out.push_str(&format!("User-Agent: {USER_AGENT}\r\n"));
    }
    if !has("Accept") {
        out.push_str("Accept: */*\r\n");
    }
    for h in &headers {
        out.push_str(&format!("{}: {}\r\n", h.name, h.value));
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// The status code of an HTTP/1.x status line.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split(' ');
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, HTTPHeader};

    #[test]
    fn named_ports_resolve_through_the_container() {
        let c = Container {
            name: "web".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(port(&c, &IntOrString::String("http".into())), Ok(8080));
        assert_eq!(port(&c, &IntOrString::Int(80)), Ok(80));
        assert_eq!(
            port(&c, &IntOrString::String("admin".into())),
            Err("couldn't find port: admin in web".into())
        );
    }

    #[test]
    fn requests_carry_the_probe_headers() {
        let http = HTTPGetAction {
            path: Some("/healthz".into()),
            port: IntOrString::Int(8080),
            http_headers: Some(vec![HTTPHeader {
                name: "X-Custom".into(),
                value: "Awesome".into(),
            }]),
            ..Default::default()
        };
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            request(&http, addr, "/healthz"),
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: kube-probe/1.34\r\nAccept: */*\r\nX-Custom: Awesome\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 500 Internal\r\nX: y"), Some(500));
        assert_eq!(status_code(b"SSH-2.0\r\n"), None);
    }
}
