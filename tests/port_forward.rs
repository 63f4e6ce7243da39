//! `pod port-forward` against real pods: a busybox httpd in the pod's
//! network namespace, reached from the host's loopback through the
//! forwarder, with kubectl's output and errors. Traffic goes only to
//! 127.0.0.1/::1 and into the pods these tests made.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::pods::{create, jsonpath, wait_until};
use common::{Env, import_busybox};

/// The port httpd listens on inside the pods: the host's loopback must
/// not have it, so that reaching it proves the connection went into the
/// pod's network namespace.
const POD_PORT: u16 = 8081;

const BODY: &str = "hello from the pod";

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// A running pod `name` with busybox httpd on POD_PORT (named `http`)
/// serving BODY, and a UDP-only port 53 (named `dns`). No port is
/// unnamed.
fn web(env: &Env, name: &str) {
    create(
        env,
        name,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir /www && echo '{BODY}' > /www/index.html && exec httpd -f -p {POD_PORT} -h /www"]
    ports:
    - name: http
      containerPort: {POD_PORT}
    - name: dns
      containerPort: 53
      protocol: UDP
    readinessProbe:
      tcpSocket:
        port: http
      periodSeconds: 1
"#
        ),
    );
    // Ready, not only Running: httpd listens (a refused connection would
    // end the session).
    wait_until(env, name, "httpd to listen", || {
        (jsonpath(env, name, "{.status.containerStatuses[0].ready}") == "true").then_some(())
    });
}

/// A `pod port-forward` running in the background; its stdout lines are
/// read as they come. Killed (it is our child) when dropped.
struct Forward {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Forward {
    fn start(env: &Env, args: &[&str]) -> Forward {
        let mut child = env
            .pod()
            .arg("port-forward")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting pod port-forward");
        let lines = common::lines(child.stdout.take().unwrap());
        Forward {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next `count` lines of stdout.
    fn next_lines(&mut self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("timed out waiting for output; so far: {got:?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let out = self.finish();
                    panic!("port-forward ended early: {got:?}\n{out:?}")
                }
            }
        }
        self.seen.extend(got.iter().cloned());
        got
    }

    /// The rest of stdout, once the command has ended (up to 20 s).
    fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(60)) {
            rest.push(line);
        }
        rest
    }

    fn interrupt(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }

    /// Waits (up to 20 s) for the command to end: its exit code and stderr.
    fn finish(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                panic!("port-forward did not end");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The local port of `Forwarding from 127.0.0.1:PORT -> REMOTE`.
fn forwarded_port(line: &str, remote: u16) -> u16 {
    let rest = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .unwrap_or_else(|| panic!("not a forwarding line: {line:?}"));
    let (port, to) = rest.split_once(" -> ").unwrap();
    assert_eq!(to, remote.to_string(), "{line}");
    port.parse().unwrap()
}

/// GET / through `addr`: the response, headers and body.
fn get(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// A local port nobody listens on right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn twenty_concurrent_connections_reach_the_pod_from_a_random_local_port() {
    let env = env();
    web(&env, "web");
    // The pod's port is not the host's: what answers below is in the pod.
    assert!(
        TcpStream::connect(("127.0.0.1", POD_PORT)).is_err(),
        "something on the host listens on {POD_PORT}; the test cannot tell it from the pod"
    );

    let mut forward = Forward::start(&env, &["web", &format!(":{POD_PORT}")]);
    let v6 = has_ipv6_loopback();
    let first = forward.next_lines(1);
    let port = forwarded_port(&first[0], POD_PORT);
    if v6 {
        // The random port chosen on 127.0.0.1 is the one of ::1 too.
        assert_eq!(
            forward.next_lines(1),
            [format!("Forwarding from [::1]:{port} -> {POD_PORT}")]
        );
    }

    // All twenty are connected (and so dialled in the pod) before any of
    // them sends its request.
    let barrier = Arc::new(Barrier::new(20));
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                barrier.wait();
                stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).unwrap();
                response
            })
        })
        .collect();
    for client in clients {
        let response = client.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with(&format!("{BODY}\n")), "{response}");
    }
    let mut connections = 20;
    if v6 {
        let response = get(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)));
        assert!(response.ends_with(&format!("{BODY}\n")), "{response}");
        connections += 1;
    }
    let handled = forward.next_lines(connections);
    assert!(
        handled
            .iter()
            .all(|l| *l == format!("Handling connection for {port}")),
        "{handled:?}"
    );

    // Ctrl-C ends it quietly and successfully, listeners closed.
    forward.interrupt();
    assert_eq!(forward.finish(), (Some(0), String::new()));
    assert!(forward.rest().is_empty());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_named_port_on_a_chosen_address_and_port() {
    let env = env();
    web(&env, "named");
    let local = free_port();
    let mut forward = Forward::start(
        &env,
        &[
            "pod/named",
            &format!("{local}:http"),
            "--address",
            "127.0.0.1",
        ],
    );
    assert_eq!(
        forward.next_lines(1),
        [format!("Forwarding from 127.0.0.1:{local} -> {POD_PORT}")]
    );
    let response = get(SocketAddr::from(([127, 0, 0, 1], local)));
    assert!(response.ends_with(&format!("{BODY}\n")), "{response}");
    assert_eq!(
        forward.next_lines(1),
        [format!("Handling connection for {local}")]
    );
    // Only the address asked for.
    if has_ipv6_loopback() {
        assert!(TcpStream::connect(("::1", local)).is_err());
    }
}

#[test]
fn the_session_ends_when_the_pod_goes_away() {
    let env = env();
    web(&env, "going");
    let mut forward = Forward::start(&env, &["going", &format!(":{POD_PORT}")]);
    let port = forwarded_port(&forward.next_lines(1)[0], POD_PORT);
    // An open connection does not keep the session alive.
    let _open = TcpStream::connect(("127.0.0.1", port)).unwrap();
    env.ok(&["delete", "pod", "going", "--grace-period=1"]);
    let (code, stderr) = forward.finish();
    assert_eq!(
        (code, stderr.as_str()),
        (Some(1), "error: lost connection to pod\n")
    );
}

#[test]
fn a_refused_connection_in_the_pod_ends_the_session_with_the_runtimes_error() {
    let env = env();
    web(&env, "refused");
    let uid = jsonpath(&env, "refused", "{.metadata.uid}");
    // Nothing listens on 8082 in the pod.
    let mut forward = Forward::start(&env, &["refused", ":8082"]);
    let port = forwarded_port(&forward.next_lines(1)[0], 8082);
    let _conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (code, stderr) = forward.finish();
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    // klog's header, then client-go's and containerd's words.
    let (header, message) = lines[0].split_once("] ").unwrap();
    assert!(
        header.starts_with('E') && header.ends_with(" portforward.go:413"),
        "{header}"
    );
    let expected = format!(
        "an error occurred forwarding {port} -> 8082: error forwarding port 8082 to pod {uid}, \
         uid : failed to execute portforward in network namespace \\\"/proc/"
    );
    assert!(
        message.starts_with(&format!("\"Unhandled Error\" err=\"{expected}")),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "/ns/net\\\": failed to connect to localhost:8082 inside namespace \\\"{uid}\\\", \
             IPv4: dial tcp4 127.0.0.1:8082: connect: connection refused \
             IPv6 dial tcp6 [::1]:8082: connect: connection refused \""
        )),
        "{message}"
    );
    assert_eq!(lines[1], "error: lost connection to pod");
}

#[test]
fn bad_arguments_get_kubectls_errors() {
    let env = env();
    web(&env, "args");
    let fails = |args: &[&str]| {
        let mut all = vec!["port-forward"];
        all.extend(args);
        env.fails(&all)
    };
    let usage = "error: TYPE/NAME and list of ports are required for port-forward; see 'pod port-forward --help'\n";
    assert_eq!(fails(&[]), usage);
    assert_eq!(fails(&["args"]), usage);
    assert_eq!(
        fails(&["nosuch", "80"]),
        "Error from server (NotFound): pods \"nosuch\" not found\n"
    );
    assert_eq!(
        fails(&["args", "8080:https"]),
        "error: Pod 'args' does not have a named port 'https'\n"
    );
    assert_eq!(
        fails(&["args", "dns"]),
        "error: UDP protocol is not supported for dns\n"
    );
    // kubectl looks an empty remote up as a port name first: with every
    // container port named, that is the error.
    assert_eq!(
        fails(&["args", "8080:"]),
        "error: Pod 'args' does not have a named port ''\n"
    );
    assert_eq!(fails(&["args", "0"]), "error: remote port must be > 0\n");
    assert_eq!(
        fails(&["args", "70000:80"]),
        "error: error parsing local port '70000': strconv.ParseUint: parsing \"70000\": \
         value out of range\n"
    );
    assert_eq!(
        fails(&["args", "80", "--address", "localhost,example.com"]),
        "error: example.com is not a valid IP\n"
    );

    // A local port already taken, on the one address asked for.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = taken.local_addr().unwrap().port();
    let out = env.run(&[
        "port-forward",
        "args",
        &format!("{p}:{POD_PORT}"),
        "--address=127.0.0.1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Unable to listen on port {p}: Listeners failed to create with the following errors: \
             [unable to create listener: Error listen tcp4 127.0.0.1:{p}: bind: address already \
             in use]\nerror: unable to listen on any of the requested ports: [{{{p} {POD_PORT}}}]\n"
        )
    );

    // A pod that does not run (its image is missing and never pulled).
    create(
        &env,
        "pending",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: pending
spec:
  containers:
  - name: app
    image: example.invalid/none:1
    imagePullPolicy: Never
"#,
    );
    assert_eq!(
        fails(&["pending", "80"]),
        "error: unable to forward port because pod is not running. Current status=Pending\n"
    );
}
