//! Probes and hooks that reach servers inside the pod's network namespace
//! which the busybox image cannot provide: HTTPS (openssl's s_server,
//! self-signed). The servers run in the pod's namespace, entered through
//! its pause process, on 127.0.0.1 where probes without a host go.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, import_busybox};
use serde_json::Value;

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// `pod create -f` of a pod `name` with `spec`, with a short back-off.
fn create(env: &Env, name: &str, spec: &str) {
    let yaml = format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}");
    let file = env.manifest(&format!("{name}.yaml"), &yaml);
    let out = env
        .pod()
        .env("POD_BACKOFF_INITIAL", "1s")
        .env("POD_BACKOFF_MAX", "2s")
        .args(["create", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pod_json(env: &Env, name: &str) -> Value {
    serde_json::from_str(&env.ok(&["get", "pod", name, "-o", "json"])).unwrap()
}

/// Polls until `check` holds; panics with the pod's status and events
/// after `secs` seconds.
fn until(env: &Env, name: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let pod = pod_json(env, name);
        if check(&pod) {
            return pod;
        }
        if Instant::now() > deadline {
            panic!(
                "condition not reached in {secs}s; pod:\n{}\n{}",
                serde_json::to_string_pretty(&pod["status"]).unwrap(),
                String::from_utf8_lossy(&env.run(&["describe", "pod", name]).stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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

/// The network namespace of pod `name`: its pause process's.
fn pod_netns(env: &Env, name: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pod = pod_json(env, name);
        if let Some(uid) = pod["metadata"]["uid"].as_str() {
            let path = env.run_root().join("pods").join(uid).join("processes.json");
            let processes: Value = std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            if let Some(pid) = processes["pause"]["pid"].as_i64() {
                return PathBuf::from(format!("/proc/{pid}/ns/net"));
            }
        }
        assert!(Instant::now() < deadline, "pod {name} has no pause process");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    create(
        &env,
        "secure",
        "  terminationGracePeriodSeconds: 10\n  containers:\n  - name: app\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n    ports:\n    - {name: https, containerPort: 8443}\n    readinessProbe:\n      httpGet: {scheme: HTTPS, path: /index.html, port: https}\n      periodSeconds: 1\n    lifecycle:\n      preStop:\n        httpGet: {scheme: HTTPS, path: /pre-stop.html, port: 8443}\n",
    );
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "ok\n").unwrap();
    std::fs::write(www.path().join("pre-stop.html"), "bye\n").unwrap();
    let _server = tls_server(www.path(), &pod_netns(&env, "secure"), 8443);

    until(&env, "secure", 15, |p| container(p, "app")["ready"] == true);
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
    let wanted = "Readiness probe failed: Get \"https://127.0.0.1:8443/healthz\": dial tcp 127.0.0.1:8443: connect: connection refused";
    let deadline = Instant::now() + Duration::from_secs(15);
    while !event_messages(&env, "closed", "Unhealthy").contains(&wanted.to_string()) {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            event_messages(&env, "closed", "Unhealthy")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(container(&pod_json(&env, "closed"), "app")["ready"], false);
}
