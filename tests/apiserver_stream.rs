//! The streaming subresources of `pod serve` driven by the real kubectl
//! 1.32: exec (streams apart, exit codes, stdin to its end, a terminal),
//! attach, port-forward; each over WebSocket (the v5 channel protocol,
//! kubectl's default) and over SPDY/3.1 (its fallback, what older
//! clients speak: `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`,
//! `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`). Each test has its own state
//! directory and server, killed by its pid at the end.

mod common;

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Env;
use common::served::{Served, serve, serve_running};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How kubectl carries exec and attach.
#[derive(Clone, Copy)]
enum Via {
    WebSocket,
    Spdy,
}

impl Via {
    /// The value of `KUBECTL_REMOTE_COMMAND_WEBSOCKETS`: with `false`
    /// kubectl speaks SPDY only, with no WebSocket attempt first.
    fn websockets(self) -> &'static str {
        match self {
            Via::WebSocket => "true",
            Via::Spdy => "false",
        }
    }

    /// kubectl against `served`, exec and attach carried this way.
    fn kubectl(self, served: &Served) -> std::process::Command {
        let mut cmd = served.kubectl_cmd();
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", self.websockets());
        cmd
    }

    fn run(self, served: &Served, args: &[&str]) -> std::process::Output {
        self.kubectl(served).args(args).output().unwrap()
    }
}

/// stdout and stderr arrive apart; the command's exit code is kubectl's,
/// with its words; a program that cannot be run is 126.
#[test]
fn kubectl_exec_splits_streams_and_passes_exit_codes() {
    exec_splits_streams_and_passes_exit_codes(Via::WebSocket);
}

/// The same over SPDY: the exit code comes in the error stream's
/// `Status` (protocol v4).
#[test]
fn kubectl_exec_over_spdy_splits_streams_and_passes_exit_codes() {
    exec_splits_streams_and_passes_exit_codes(Via::Spdy);
}

fn exec_splits_streams_and_passes_exit_codes(via: Via) {
    let served = serve_running("web", common::pods::SLEEPER);

    let out = via.run(
        &served,
        &[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(text(&out.stdout), "out\n", "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "err\ncommand terminated with exit code 3\n"
    );
    assert_eq!(out.status.code(), Some(3));

    let out = via.run(&served, &["exec", "web", "-c", "app", "--", "true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // Arguments keep their spaces and order.
    let out = via.run(&served, &["exec", "web", "--", "echo", "a  b", "c"]);
    assert_eq!(text(&out.stdout), "a  b c\n", "{}", text(&out.stderr));

    let out = via.run(&served, &["exec", "web", "--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("command terminated with exit code 126"),
        "{}",
        text(&out.stderr)
    );

    let out = via.run(&served, &["exec", "web", "-c", "nosuch", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("container nosuch not found in pod web"),
        "{}",
        text(&out.stderr)
    );
}

/// `exec -i`: what kubectl reads reaches the process, and the end of it
/// too (cat returns, the command goes on).
#[test]
fn kubectl_exec_i_passes_stdin_to_its_end() {
    exec_i_passes_stdin_to_its_end(Via::WebSocket);
}

/// The same over SPDY: stdin's end is the stdin stream's FIN.
#[test]
fn kubectl_exec_i_over_spdy_passes_stdin_to_its_end() {
    exec_i_passes_stdin_to_its_end(Via::Spdy);
}

fn exec_i_passes_stdin_to_its_end(via: Via) {
    let served = serve_running("web", common::pods::SLEEPER);
    let mut child = via
        .kubectl(&served)
        .args(["exec", "-i", "web", "--", "sh", "-c", "cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // More than one message's worth, in several writes.
    let mut sent = String::new();
    for i in 0..2000 {
        sent.push_str(&format!("line {i}\n"));
    }
    stdin.write_all(sent.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{sent}done\n"));
}

/// `exec -it` in a real terminal (tmux): the process has a pty of its
/// own, sized like the caller's window and resized with it; its exit code
/// is kubectl's.
#[test]
fn kubectl_exec_it_gets_a_terminal_sized_like_the_callers() {
    exec_it_gets_a_terminal_sized_like_the_callers(Via::WebSocket);
}

/// The same over SPDY: window sizes come on the resize stream.
#[test]
fn kubectl_exec_it_over_spdy_gets_a_terminal_sized_like_the_callers() {
    exec_it_gets_a_terminal_sized_like_the_callers(Via::Spdy);
}

fn exec_it_gets_a_terminal_sized_like_the_callers(via: Via) {
    let served = serve_running("web", common::pods::SLEEPER);
    let cache = served.env.dir.path().join("kube-cache");
    let kubeconfig = served.kubeconfig.to_str().unwrap().to_string();
    let terminal = common::Terminal::start(
        served.env.dir.path(),
        &[(
            "KUBECTL_REMOTE_COMMAND_WEBSOCKETS",
            std::path::Path::new(via.websockets()),
        )],
        &[
            "kubectl",
            "--kubeconfig",
            &kubeconfig,
            "--cache-dir",
            cache.to_str().unwrap(),
            "exec",
            "-it",
            "web",
            "--",
            "sh",
        ],
        100,
        30,
    );
    terminal.expect("/ # ");
    terminal.type_text("tty; stty size; echo marker-$((6*7))\r");
    let screen = terminal.expect("marker-42");
    assert!(screen.contains("/dev/pts/"), "{screen}");
    assert!(screen.contains("30 100"), "{screen}");
    terminal.resize(120, 40);
    terminal.type_text("stty size; echo resized-$((6*7))\r");
    terminal.wait_for("the new size", Duration::from_secs(60), |s| {
        s.contains("resized-42") && s.contains("40 120")
    });
    terminal.type_text("exit 5\r");
    terminal.wait_for("kubectl to exit", Duration::from_secs(60), |s| {
        s.contains("[exited ")
    });
    assert_eq!(terminal.exit_status(), Some(5), "{}", terminal.screen());
}

const READER: &str = "apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    stdin: true
    command: [sh, -c, 'echo ready; read line; echo \"got $line\"; echo bye >&2']
    imagePullPolicy: Never
";

/// `attach -i`: the main process reads what kubectl sends and its output
/// comes back on the right streams; its end ends the session.
#[test]
fn kubectl_attach_joins_the_main_process() {
    attach_joins_the_main_process(Via::WebSocket);
}

#[test]
fn kubectl_attach_over_spdy_joins_the_main_process() {
    attach_joins_the_main_process(Via::Spdy);
}

fn attach_joins_the_main_process(via: Via) {
    let served = serve_running("reader", READER);
    // Attached once the process waits for its line: what it printed
    // before is in its log, not in the session.
    common::pods::wait_until(&served.env, "reader", "its first line", || {
        text(&served.env.run(&["logs", "reader"]).stdout)
            .contains("ready")
            .then_some(())
    });
    let mut child = via
        .kubectl(&served)
        .args(["attach", "-i", "reader"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello over the socket\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "got hello over the socket\n");
    assert!(text(&out.stderr).contains("bye\n"), "{}", text(&out.stderr));
}

const TICKER: &str = "apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done']
    imagePullPolicy: Never
";

/// `attach` without stdin: the running process's output as it comes.
#[test]
fn kubectl_attach_follows_output() {
    attach_follows_output(Via::WebSocket);
}

#[test]
fn kubectl_attach_over_spdy_follows_output() {
    attach_follows_output(Via::Spdy);
}

fn attach_follows_output(via: Via) {
    let served = serve_running("ticker", TICKER);
    let mut child = via
        .kubectl(&served)
        .args(["attach", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = common::lines(child.stdout.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("attach printed only {seen:?}"),
        }
    }
    // Our own child, by its pid.
    let _ = child.kill();
    let _ = child.wait();
    for line in &seen {
        assert!(line.starts_with("tick "), "{seen:?}");
    }
    let numbers: Vec<u64> = seen.iter().map(|l| l[5..].parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
}

const HTTPD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: httpd
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir /www && echo hello from the pod > /www/index.html && yes 0123456789 | head -c 300000 > /www/big && exec httpd -f -p 8081 -h /www']
    readinessProbe:
      tcpSocket:
        port: 8081
      periodSeconds: 1
";

/// One HTTP/1.0 request through the forwarded port: the whole answer.
fn http_get(port: u16, path: &str) -> String {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut answer).unwrap();
    text(&answer)
}

/// A server over an environment where the httpd pod runs and listens.
fn httpd() -> (Served, String) {
    let env = Env::new();
    common::import_busybox(&env.root());
    common::pods::create(&env, "httpd", HTTPD);
    common::pods::wait_until(&env, "httpd", "httpd to listen", || {
        (common::pods::jsonpath(&env, "httpd", "{.status.containerStatuses[0].ready}") == "true")
            .then_some(())
    });
    let uid = common::pods::jsonpath(&env, "httpd", "{.metadata.uid}");
    (serve(env), uid)
}

/// The local port of kubectl port-forward's first line (`Forwarding
/// from 127.0.0.1:NNNNN -> REMOTE`), read as it comes; its stdout then
/// keeps being read so that kubectl never blocks on it.
fn forwarded_port(child: &mut std::process::Child, remote: u16) -> u16 {
    let rx = common::lines(child.stdout.take().unwrap());
    let line = rx
        .recv_timeout(Duration::from_secs(90))
        .expect("kubectl port-forward said nothing");
    line.strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.strip_suffix(&format!(" -> {remote}")))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"))
}

/// `port-forward`: a local port reaches the pod's httpd (on a port the
/// host's loopback does not have), connection after connection, answers
/// larger than a frame whole.
#[test]
fn kubectl_port_forward_reaches_the_pods_port() {
    port_forward_reaches_the_pods_port("true");
}

/// kubectl's fallback, SPDY/3.1 on the upgraded connection itself, as
/// older clients and kubectl with WebSockets switched off speak it.
#[test]
fn kubectl_port_forward_over_spdy_reaches_the_pods_port() {
    port_forward_reaches_the_pods_port("false");
}

fn port_forward_reaches_the_pods_port(websockets: &str) {
    let (served, _) = httpd();
    let mut child = served
        .kubectl_cmd()
        .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets)
        .args(["port-forward", "pod/httpd", ":8081"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = forwarded_port(&mut child, 8081);
    let answers: Vec<String> = (0..3).map(|_| http_get(port, "/index.html")).collect();
    let big = http_get(port, "/big");
    // Our own child, by its pid.
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
        assert!(
            answer.ends_with("\r\n\r\nhello from the pod\n"),
            "{answer:?}"
        );
    }
    let body = big
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    assert_eq!(body.len(), 300000, "{}", text(&out.stderr));
    assert!(body.starts_with("0123456789\n0123456789\n"));
}

/// A port nothing listens on in the pod: the kubelet's error on the
/// error stream, which kubectl prints before it ends the session as it
/// ends it against a cluster (`pod port-forward` prints the same words).
#[test]
fn kubectl_port_forward_reports_a_refused_port_and_ends() {
    let (served, uid) = httpd();
    let mut child = served
        .kubectl_cmd()
        .args(["port-forward", "pod/httpd", ":8082"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = forwarded_port(&mut child, 8082);
    let _conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    let message = lines[0]
        .split_once("] ")
        .map(|(_, m)| m)
        .unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "\"Unhandled Error\" err=\"an error occurred forwarding {port} -> 8082: error \
             forwarding port 8082 to pod {uid}, uid : failed to execute portforward in network \
             namespace \\\"/proc/"
        )),
        "{stderr}"
    );
    assert!(
        message.ends_with(&format!(
            "/ns/net\\\": failed to connect to localhost:8082 inside namespace \\\"{uid}\\\", \
             IPv4: dial tcp4 127.0.0.1:8082: connect: connection refused \
             IPv6 dial tcp6 [::1]:8082: connect: connection refused \""
        )),
        "{stderr}"
    );
    assert_eq!(lines[1], "error: lost connection to pod");
}

/// Deleting the pod ends a port-forward session, as it ends `pod
/// port-forward`: kubectl exits 1 with `lost connection to pod`, a
/// connection left open or not.
#[test]
fn kubectl_port_forward_ends_when_the_pod_is_deleted() {
    port_forward_ends_when_the_pod_is_deleted("true");
}

#[test]
fn kubectl_port_forward_over_spdy_ends_when_the_pod_is_deleted() {
    port_forward_ends_when_the_pod_is_deleted("false");
}

fn port_forward_ends_when_the_pod_is_deleted(websockets: &str) {
    let (served, _) = httpd();
    let mut child = served
        .kubectl_cmd()
        .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets)
        .args(["port-forward", "pod/httpd", ":8081"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = forwarded_port(&mut child, 8081);
    let answer = http_get(port, "/index.html");
    assert!(answer.ends_with("hello from the pod\n"), "{answer:?}");
    let _open = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    served
        .env
        .ok(&["delete", "pod", "httpd", "--grace-period=1"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            // Our own child, by its pid.
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "kubectl port-forward still ran 60 s after the delete: {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stderr).as_str()),
        (Some(1), "error: lost connection to pod\n")
    );
}
