//! Probes and hooks that reach servers inside the pod's network namespace
//! which the busybox image cannot provide: HTTPS (openssl's s_server,
//! self-signed) and gRPC health (a server written here with h2). The
//! servers run in the pod's namespace, entered through its pause process,
//! on 127.0.0.1 where probes without a host go.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{Env, import_busybox, pods};
use serde_json::Value;

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// Creates pod `name` with `spec`; returns its uid.
fn create(env: &Env, name: &str, spec: &str) -> String {
    let yaml = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}");
    pods::create(env, name, &yaml)
}

fn pod_json(env: &Env, name: &str) -> Value {
    serde_json::from_str(&env.ok(&["get", "pod", name, "-o", "json"])).unwrap()
}

/// Polls the pod until `check` holds; returns the pod.
fn until(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    pods::wait_until(env, name, what, || {
        let pod = pod_json(env, name);
        check(&pod).then_some(pod)
    })
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or(&Value::Null)
}

/// Event messages with `reason`, latest version of each event.
fn event_messages(env: &Env, name: &str, reason: &str) -> Vec<String> {
    let path = env
        .root()
        .join("pods/default")
        .join(name)
        .join("events.jsonl");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["reason"] == reason)
        .filter_map(|e| e["message"].as_str().map(String::from))
        .collect();
    out.dedup();
    out
}

/// The network namespace of pod `name` (uid `uid`): its pause process's.
fn pod_netns(env: &Env, name: &str, uid: &str) -> PathBuf {
    let path = env.run_root().join("pods").join(uid).join("processes.json");
    pods::wait_until(env, name, "the pause process", || {
        let processes: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let pid = processes["(pause)"]["pid"].as_i64()?;
        Some(PathBuf::from(format!("/proc/{pid}/ns/net")))
    })
}

/// A process of the test, killed by its pid when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// openssl's s_server with a fresh self-signed certificate, in the network
/// namespace `netns`, serving the files of `dir` (`-WWW`) on
/// 127.0.0.1:`port`; it logs `FILE:<name>` to `dir/server.log` for every
/// file served.
fn tls_server(dir: &Path, netns: &Path, port: u16) -> Server {
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=pod-test",
        ])
        .args(["-days", "1", "-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("running openssl (apt-get install openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args([
            "openssl", "s_server", "-WWW", "-cert", "cert.pem", "-key", "key.pem",
        ])
        .arg("-accept")
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("running nsenter (util-linux)");
    Server(child)
}

#[test]
fn https_probes_and_hooks_accept_a_self_signed_certificate() {
    let env = env();
    let uid = create(
        &env,
        "secure",
        "  terminationGracePeriodSeconds: 10\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    ports:\n    - {name: https, containerPort: 8443}\n    readinessProbe:\n      httpGet: {scheme: HTTPS, path: /index.html, port: https}\n      periodSeconds: 1\n    lifecycle:\n      preStop:\n        httpGet: {scheme: HTTPS, path: /pre-stop.html, port: 8443}\n",
    );
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "ok\n").unwrap();
    std::fs::write(www.path().join("pre-stop.html"), "bye\n").unwrap();
    let _server = tls_server(www.path(), &pod_netns(&env, "secure", &uid), 8443);

    until(&env, "secure", "app ready", |p| {
        container(p, "app")["ready"] == true
    });
    let log = || std::fs::read_to_string(www.path().join("server.log")).unwrap();
    assert!(log().contains("FILE:index.html"), "{}", log());
    assert!(!log().contains("FILE:pre-stop.html"), "{}", log());

    // The preStop hook speaks TLS to the same server before the container
    // is stopped.
    env.ok(&["delete", "pod", "secure"]);
    assert!(log().contains("FILE:pre-stop.html"), "{}", log());
}

#[test]
fn an_https_probe_against_a_closed_port_names_the_https_url() {
    let env = env();
    create(
        &env,
        "closed",
        "  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    readinessProbe:\n      httpGet: {scheme: HTTPS, path: /healthz, port: 8443}\n      periodSeconds: 1\n",
    );
    until_unhealthy(
        &env,
        "closed",
        "Readiness probe failed: Get \"https://127.0.0.1:8443/healthz\": dial tcp 127.0.0.1:8443: connect: connection refused",
    );
    assert_eq!(container(&pod_json(&env, "closed"), "app")["ready"], false);
}

/// Check's path; anything else is answered Unimplemented.
const CHECK: &str = "/grpc.health.v1.Health/Check";

/// A gRPC health server (grpc.health.v1.Health/Check) made with h2, on
/// 127.0.0.1:`port` in a network namespace, answering from a table of
/// services' serving statuses the test changes as it goes. Unknown
/// services get NotFound "unknown service", as grpc-go's health server.
struct HealthServer {
    statuses: Arc<Mutex<HashMap<String, u8>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const SERVING: u8 = 1;
const NOT_SERVING: u8 = 2;

impl HealthServer {
    fn start(netns: &Path, port: u16, statuses: &[(&str, u8)]) -> HealthServer {
        let statuses = Arc::new(Mutex::new(
            statuses
                .iter()
                .map(|(s, v)| (s.to_string(), *v))
                .collect::<HashMap<_, _>>(),
        ));
        let ns = std::fs::File::open(netns).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (listening, listened) = std::sync::mpsc::channel();
        let table = statuses.clone();
        let thread = std::thread::spawn(move || {
            // Only this thread moves into the pod's namespace; the socket
            // it makes stays there.
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("entering the pod's network namespace");
            let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
            listener.set_nonblocking(true).unwrap();
            listening.send(()).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    _ = serve(listener, table) => {}
                }
            });
        });
        listened.recv().unwrap();
        HealthServer {
            statuses,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn set(&self, service: &str, status: u8) {
        self.statuses
            .lock()
            .unwrap()
            .insert(service.to_string(), status);
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

async fn serve(listener: tokio::net::TcpListener, statuses: Arc<Mutex<HashMap<String, u8>>>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let statuses = statuses.clone();
        tokio::spawn(async move {
            let Ok(mut connection) = h2::server::handshake(socket).await else {
                return;
            };
            while let Some(Ok((request, respond))) = connection.accept().await {
                tokio::spawn(answer(request, respond, statuses.clone()));
            }
        });
    }
}

async fn answer(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<bytes::Bytes>,
    statuses: Arc<Mutex<HashMap<String, u8>>>,
) {
    let path = request.uri().path().to_string();
    let mut body = request.into_body();
    let mut data = Vec::new();
    while let Some(Ok(chunk)) = body.data().await {
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let failed = |code: u32, message: &str| {
        http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", code.to_string())
            .header("grpc-message", message.replace(' ', "%20"))
            .body(())
            .unwrap()
    };
    if path != CHECK {
        let _ = respond.send_response(failed(12, &format!("unknown method {path}")), true);
        return;
    }
    // 5-byte prefix; then HealthCheckRequest, whose only field is the
    // service name (tag 0x0a, one length byte for the names used here).
    let message = &data[5..];
    let service = match message {
        [] => String::new(),
        [0x0a, len, name @ ..] if *len as usize == name.len() => {
            String::from_utf8(name.to_vec()).unwrap()
        }
        other => panic!("unexpected HealthCheckRequest {other:?}"),
    };
    let status = statuses.lock().unwrap().get(&service).copied();
    let Some(status) = status else {
        let _ = respond.send_response(failed(5, "unknown service"), true);
        return;
    };
    let head = http::Response::builder()
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let Ok(mut stream) = respond.send_response(head, false) else {
        return;
    };
    let reply = bytes::Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]);
    let _ = stream.send_data(reply, false);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    let _ = stream.send_trailers(trailers);
}

/// Waits until pod `name` has an Unhealthy event whose message is `wanted`.
fn until_unhealthy(env: &Env, name: &str, wanted: &str) {
    pods::wait_until(env, name, wanted, || {
        let messages = event_messages(env, name, "Unhealthy");
        messages.iter().any(|m| m == wanted).then_some(())
    });
}

#[test]
fn grpc_probes_follow_the_health_servers_answers() {
    let env = env();
    let uid = create(
        &env,
        "grpc",
        "  terminationGracePeriodSeconds: 2\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    readinessProbe:\n      grpc: {port: 9090}\n      periodSeconds: 1\n      failureThreshold: 1\n    livenessProbe:\n      grpc: {port: 9090, service: live}\n      initialDelaySeconds: 2\n      timeoutSeconds: 20\n      periodSeconds: 1\n      failureThreshold: 1\n  - name: unknown\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    readinessProbe:\n      grpc: {port: 9090, service: nope}\n      periodSeconds: 1\n  - name: closed\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    readinessProbe:\n      grpc: {port: 9091}\n      periodSeconds: 1\n",
    );
    // The liveness probe's time limit is long: one answer slowed past it
    // by a loaded machine would restart the container before its time.
    let server = HealthServer::start(
        &pod_netns(&env, "grpc", &uid),
        9090,
        &[("", SERVING), ("live", SERVING)],
    );

    // SERVING: ready, and not restarted.
    let pod = until(&env, "grpc", "app ready", |p| {
        container(p, "app")["ready"] == true
    });
    assert_eq!(container(&pod, "app")["restartCount"], 0);

    // Readiness NOT_SERVING: not ready, with the kubelet's message.
    server.set("", NOT_SERVING);
    until(&env, "grpc", "app not ready", |p| {
        container(p, "app")["ready"] == false
    });
    until_unhealthy(
        &env,
        "grpc",
        "Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")",
    );

    // Liveness NOT_SERVING: the container is restarted.
    server.set("live", NOT_SERVING);
    until(&env, "grpc", "a restart of app", |p| {
        container(p, "app")["restartCount"].as_i64() >= Some(1)
    });
    until_unhealthy(
        &env,
        "grpc",
        "Liveness probe failed: service unhealthy (responded with \"NOT_SERVING\")",
    );
    assert!(
        event_messages(&env, "grpc", "Killing")
            .contains(&"Container app failed liveness probe, will be restarted".to_string())
    );

    // Serving again: the restarted container becomes ready.
    server.set("", SERVING);
    server.set("live", SERVING);
    until(&env, "grpc", "app ready again", |p| {
        container(p, "app")["ready"] == true
    });

    // A service the server does not know, and a port nobody listens on.
    until_unhealthy(
        &env,
        "grpc",
        "Readiness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service",
    );
    until_unhealthy(
        &env,
        "grpc",
        "Readiness probe failed: timeout: failed to connect service \"127.0.0.1:9091\" within 1s: context deadline exceeded",
    );
    let pod = pod_json(&env, "grpc");
    assert_eq!(container(&pod, "unknown")["ready"], false);
    assert_eq!(container(&pod, "closed")["ready"], false);
}
