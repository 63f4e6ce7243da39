//! The pod network through CNI, with Debian's reference plugins: pod IPs,
//! pod-to-pod traffic, the default network, a user's network, and what is
//! left on the host after deletion (veths, addresses, iptables rules,
//! pinned namespaces, cache entries).
//!
//! Each test that sends traffic runs on a bridge and subnet of its own,
//! named by the test (so two runs of the suite at once would collide, as
//! they would on any fixed name); traffic only goes to the pods the test
//! made.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::net::{Bridge, leases};
use common::pods::{create, delete_and_check_clean, jsonpath, leftovers, wait_log, wait_until};
use common::{Env, import_busybox};

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// Writes a bridge network named `name` on bridge `bridge` with addresses
/// from `subnet` (host-local, its data under the test's directory) and
/// portmap, as the environment's only CNI configuration. Plugins never
/// delete their bridge: the returned guard does.
fn bridge_network(env: &Env, name: &str, bridge: &'static str, subnet: &str) -> Bridge {
    let conflist = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {
                "type": "bridge", "bridge": bridge, "isGateway": true, "hairpinMode": true,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                         "dataDir": ipam_dir(env)}
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    std::fs::write(
        env.cni_conf_dir().join("10-test.conflist"),
        serde_json::to_string_pretty(&conflist).unwrap(),
    )
    .unwrap();
    Bridge(bridge)
}

fn ipam_dir(env: &Env) -> PathBuf {
    env.dir.path().join("ipam")
}

/// The cached attachments (file names) of the environment.
fn cached(env: &Env) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(env.root().join("cni").join("results")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Interfaces enslaved to `bridge`.
fn ports_of(bridge: &str) -> usize {
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// iptables rules (every table) that name `id`.
fn rules_naming(id: &str) -> Vec<String> {
    let out = Command::new("iptables-save").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_string)
        .collect()
}

/// Deletes the pods and waits until the host holds nothing of them.
fn delete_all_and_check_clean(env: &Env, names: &[&str], uids: &[&str]) {
    let mut args = vec!["delete", "pod", "--grace-period=2"];
    args.extend(names);
    env.ok(&args);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left: Vec<String> = uids.iter().flat_map(|u| leftovers(env, u)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {left:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn wait_ip(env: &Env, name: &str) -> String {
    wait_until(env, name, "a pod IP", || {
        let ip = jsonpath(env, name, "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    })
}

fn in_subnet(ip: &str, prefix: &str) -> bool {
    ip.starts_with(prefix)
}

#[test]
fn two_pods_reach_each_other_by_pod_ip_and_siblings_over_localhost() {
    let env = env();
    let _bridge = bridge_network(&env, "twopods", "podt-two", "10.246.1.0/24");
    let server = create(
        &env,
        "server",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: server}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && echo served-by-server > /www/index.html && exec httpd -f -p 8080 -h /www"]
  - name: sibling
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "until wget -qO- http://127.0.0.1:8080/; do sleep 0.2; done; echo sibling-done; exec sleep 3600"]
"#,
    );
    let server_ip = wait_ip(&env, "server");
    assert!(in_subnet(&server_ip, "10.246.1."), "{server_ip}");
    assert_eq!(
        jsonpath(&env, "server", "{.status.podIPs[*].ip}"),
        server_ip
    );
    assert!(!jsonpath(&env, "server", "{.status.hostIP}").is_empty());
    assert!(!jsonpath(&env, "server", "{.status.hostIPs[0].ip}").is_empty());
    let log = wait_log(&env, "server", &server, "sibling", "sibling-done");
    assert!(log.contains("served-by-server"), "{log}");
    let hosts = env.ok(&["exec", "server", "-c", "httpd", "--", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("\n{server_ip}\tserver\n")),
        "{hosts}"
    );

    let client = create(
        &env,
        "client",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: wget
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "until wget -qO- http://{server_ip}:8080/; do sleep 0.2; done; echo client-done; exec sleep 3600"]
"#
        ),
    );
    let client_ip = wait_ip(&env, "client");
    assert_ne!(client_ip, server_ip);
    let log = wait_log(&env, "client", &client, "wget", "client-done");
    assert!(log.contains("served-by-server"), "{log}");
    assert_eq!(leases(&ipam_dir(&env).join("twopods")).len(), 2);
    assert_eq!(ports_of("podt-two"), 2);
    assert_eq!(cached(&env).len(), 2);

    // Two at once.
    delete_all_and_check_clean(&env, &["server", "client"], &[&server, &client]);
    assert_eq!(ports_of("podt-two"), 0, "veths left on the bridge");
    assert_eq!(
        leases(&ipam_dir(&env).join("twopods")),
        Vec::<String>::new()
    );
    assert_eq!(cached(&env), Vec::<String>::new());
}

#[test]
fn with_no_configuration_the_default_network_is_used() {
    let env = env();
    let uid = create(
        &env,
        "dflt",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: dflt}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, "3600"]
"#,
    );
    let ip = wait_ip(&env, "dflt");
    assert!(in_subnet(&ip, "10.244."), "{ip}");
    // The lease is kept under the state root, not /var/lib/cni, and the
    // node's index (one for every root on the machine) points to it.
    let ipam = env.root().join("cni").join("networks").join("pod");
    assert_eq!(leases(&ipam), vec![ip.clone()]);
    let entry = Path::new("/run/pod-network/pod0/leases").join(&ip);
    assert_eq!(std::fs::read_link(&entry).unwrap(), ipam.join(&ip));
    assert_eq!(cached(&env), [format!("pod-{uid}-eth0")]);
    let pinned = env.run_root().join("pods").join(&uid).join("netns");
    let inside = Command::new("nsenter")
        .arg(format!("--net={}", pinned.display()))
        .args(["ip", "-o", "-4", "addr", "show", "eth0"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&inside.stdout).contains(&format!("inet {ip}/16")),
        "{inside:?}"
    );
    assert!(ports_of("pod0") >= 1);
    // One masquerade rule for the node's pod subnet, none per pod.
    let masquerade = rules_naming("pod network pod0 10.244.0.0/16");
    assert_eq!(masquerade.len(), 1, "{masquerade:#?}");
    assert!(
        masquerade[0].contains("-s 10.244.0.0/16 ! -d 10.244.0.0/16")
            && masquerade[0].ends_with("-j MASQUERADE"),
        "{masquerade:#?}"
    );
    assert_eq!(rules_naming(&uid), Vec::<String>::new(), "a rule per pod");

    delete_and_check_clean(&env, "dflt", &uid);
    assert_eq!(leases(&ipam), Vec::<String>::new());
    assert!(
        std::fs::symlink_metadata(&entry).is_err(),
        "index entry left"
    );
    assert_eq!(cached(&env), Vec::<String>::new());
    assert_eq!(rules_naming(&uid), Vec::<String>::new());
    assert!(!pinned.exists());
}

#[test]
fn a_users_network_in_the_configuration_directory_is_used() {
    let env = env();
    std::fs::write(
        env.cni_conf_dir().join("50-ptp.conf"),
        serde_json::json!({
            "cniVersion": "0.4.0", "name": "userptp", "type": "ptp",
            "ipam": {"type": "host-local", "subnet": "10.246.2.0/24", "dataDir": ipam_dir(&env)}
        })
        .to_string(),
    )
    .unwrap();
    let uid = create(
        &env,
        "ptp",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: ptp}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, "3600"]
"#,
    );
    let ip = wait_ip(&env, "ptp");
    assert!(in_subnet(&ip, "10.246.2."), "{ip}");
    assert_eq!(leases(&ipam_dir(&env).join("userptp")), vec![ip.clone()]);
    assert_eq!(cached(&env), [format!("userptp-{uid}-eth0")]);
    delete_and_check_clean(&env, "ptp", &uid);
    assert_eq!(
        leases(&ipam_dir(&env).join("userptp")),
        Vec::<String>::new()
    );
    assert_eq!(cached(&env), Vec::<String>::new());
    // ptp's host end carries the gateway address: gone with the pod.
    let addrs = Command::new("ip")
        .args(["-o", "-4", "addr"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&addrs.stdout).contains("10.246.2.1/"));
}

#[test]
fn a_host_network_pod_makes_no_cni_call() {
    let env = env();
    // A network whose plugin does not exist: any call to it would fail.
    std::fs::write(
        env.cni_conf_dir().join("10-none.conflist"),
        r#"{"cniVersion":"1.0.0","name":"none","plugins":[{"type":"no-such-plugin"}]}"#,
    )
    .unwrap();
    let uid = create(
        &env,
        "hostnet",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
    command: [sleep, "3600"]
"#,
    );
    let ip = wait_ip(&env, "hostnet");
    assert_eq!(ip, jsonpath(&env, "hostnet", "{.status.hostIP}"));
    wait_until(&env, "hostnet", "Running", || {
        (jsonpath(&env, "hostnet", "{.status.phase}") == "Running").then_some(())
    });
    assert_eq!(cached(&env), Vec::<String>::new());
    assert!(
        !env.run_root()
            .join("pods")
            .join(&uid)
            .join("netns")
            .exists()
    );
    delete_and_check_clean(&env, "hostnet", &uid);
}

/// The rules of the iptables chains that rules naming `id` jump to
/// (portmap's per-pod chains carry no comment themselves).
fn chains_of(id: &str) -> Vec<String> {
    let out = Command::new("iptables-save").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let chains: Vec<String> = text
        .lines()
        .filter(|l| l.contains(id))
        .filter_map(|l| l.split(" -j ").nth(1))
        .map(|c| c.split_whitespace().next().unwrap_or_default().to_string())
        .filter(|c| c.starts_with("CNI-"))
        .collect();
    text.lines()
        .filter(|l| chains.iter().any(|c| l.starts_with(&format!("-A {c} "))))
        .map(str::to_string)
        .collect()
}

#[test]
fn host_ports_are_published_through_portmap() {
    let env = env();
    let _bridge = bridge_network(&env, "hostports", "podt-hp", "10.246.5.0/24");
    let file = env.manifest(
        "hp.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
    - {containerPort: 80, hostPort: 38473}
  - name: dns
    image: busybox
    imagePullPolicy: Never
    command: [sleep, "3600"]
    ports:
    - {containerPort: 5353, hostPort: 38474, protocol: UDP, hostIP: 127.0.0.1}
    - {containerPort: 9999, hostPort: 38475, protocol: SCTP}
"#,
    );
    let out = env.run(&["create", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("hostPort"),
        "no warning any more: {out:?}"
    );
    let uid = env.ok(&["get", "pod", "hp", "-o", "jsonpath={.metadata.uid}"]);
    let ip = wait_ip(&env, "hp");
    // From the host, on loopback.
    let body = wait_until(&env, "hp", "an answer on 127.0.0.1:38473", || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect("127.0.0.1:38473").ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .ok()?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.contains("via-host-port").then_some(text)
    });
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    // The UDP mapping, on the host address it names.
    let rules = chains_of(&uid);
    assert!(
        rules.iter().any(|r| r.contains("-d 127.0.0.1/32")
            && r.contains("-p udp")
            && r.contains("--dport 38474")
            && r.contains(&format!("--to-destination {ip}:5353"))),
        "{rules:#?}"
    );
    // And its traffic: busybox has no UDP server, so the echo runs in the
    // pod's network namespace (its pinned file), on the container port.
    let pin = env.run_root().join("pods").join(&uid).join("netns");
    let echo = udp_echo_in(&pin, 5353);
    let answer = wait_until(&env, "hp", "a UDP answer on 127.0.0.1:38474", || {
        // A new socket (a new source port) each time: a conntrack entry
        // of an earlier try is never reused.
        let client = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        client
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .ok()?;
        client.send_to(b"ping over udp", "127.0.0.1:38474").ok()?;
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).ok()?;
        Some((buf[..n].to_vec(), from))
    });
    assert_eq!(answer.0, b"echo: ping over udp");
    assert_eq!(answer.1, "127.0.0.1:38474".parse().unwrap());
    let peers = echo.stop();
    // The echo saw the host (masqueraded to the bridge's address), never
    // 127.0.0.1, which cannot leave the host's namespace.
    assert!(!peers.is_empty());
    assert!(
        peers
            .iter()
            .all(|p| p.ip().to_string().starts_with("10.246.5.")),
        "{peers:?}"
    );
    // SCTP: this kernel has no SCTP sockets (CONFIG_IP_SCTP unset) but
    // netfilter matches it; the mapping is published as portmap writes
    // it, and no SCTP traffic can be sent.
    assert!(
        rules.iter().any(|r| r.contains("-p sctp")
            && r.contains("--dport 38475")
            && r.contains(&format!("--to-destination {ip}:9999"))),
        "{rules:#?}"
    );
    assert!(
        rules.iter().any(|r| r.contains("-p tcp")
            && r.contains("--dport 38473")
            && r.contains(&format!("--to-destination {ip}:80"))),
        "{rules:#?}"
    );
    delete_and_check_clean(&env, "hp", &uid);
    assert_eq!(rules_naming(&uid), Vec::<String>::new());
    assert_eq!(chains_of(&uid), Vec::<String>::new());
    assert!(std::net::TcpStream::connect("127.0.0.1:38473").is_err());
}

/// A UDP echo (it answers `echo: ` and what it got) in the network
/// namespace pinned at `netns`, on `port`, until stopped.
struct UdpEcho {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<std::net::SocketAddr>>,
}

fn udp_echo_in(netns: &Path, port: u16) -> UdpEcho {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ns = std::fs::File::open(netns).unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        // setns(2) moves this thread alone into the pod's namespace.
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let socket = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut peers = Vec::new();
        let mut buf = [0u8; 64];
        while !stopped.load(Ordering::SeqCst) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let mut answer = b"echo: ".to_vec();
                answer.extend_from_slice(&buf[..n]);
                let _ = socket.send_to(&answer, from);
                peers.push(from);
            }
        }
        peers
    });
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    UdpEcho { stop, thread }
}

impl UdpEcho {
    /// Stops it; the addresses it answered.
    fn stop(self) -> Vec<std::net::SocketAddr> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}
