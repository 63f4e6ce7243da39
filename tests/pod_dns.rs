//! The kubelet's DNS for real pods (issue 16): the /etc/resolv.conf and
//! /etc/hosts a container reads for each dnsPolicy, with the node's
//! clusterDNS / clusterDomain / resolvConf from the node configuration,
//! and the kubelet's warning events in `pod describe`. Each test points
//! the node at its own resolv.conf, so the host's never matters.

mod common;

use common::pods::{create, wait_log};
use common::{Env, import_busybox};

/// The node's resolver file of these tests.
const NODE_RESOLV: &str = "# written by the test\nnameserver 192.0.2.53\nsearch corp.example lab.example.\noptions ndots:1 edns0\n";

fn env(config: &str) -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    let resolv = env.dir.path().join("resolv.conf");
    std::fs::write(&resolv, NODE_RESOLV).unwrap();
    env.node_config(&format!("resolvConf: {}\n{config}", resolv.display()));
    env
}

/// A pod whose container prints its resolv.conf and hosts file and exits.
fn pod_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n{spec}  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname; echo end']\n"
    )
}

/// Runs the pod and returns (resolv.conf, hosts, hostname) as seen inside.
fn files_of(env: &Env, name: &str, spec: &str) -> (String, String, String) {
    let uid = create(env, name, &pod_yaml(name, spec));
    let log = wait_log(env, name, &uid, "c", "end\n");
    let mut parts = log.trim_end_matches("end\n").split("---\n");
    let resolv = parts.next().unwrap().to_string();
    let hosts = parts.next().unwrap().to_string();
    let hostname = parts.next().unwrap().to_string();
    (resolv, hosts, hostname)
}

/// The pod's events as `pod describe` prints them: (type, reason, message).
fn described_events(env: &Env, name: &str) -> Vec<(String, String, String)> {
    let text = env.ok(&["describe", "pod", name]);
    let events = text.split("Events:").nth(1).unwrap_or_default();
    events
        .lines()
        .skip(3)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            // Type, Reason, Age, From, Message...
            (words.len() >= 5).then(|| {
                let from = line.find(&format!(" {} ", words[3])).unwrap() + words[3].len() + 1;
                let at = from + line[from..].find(words[4]).unwrap();
                (
                    words[0].to_string(),
                    words[1].to_string(),
                    line[at..].to_string(),
                )
            })
        })
        .collect()
}

fn warnings(env: &Env, name: &str) -> Vec<(String, String)> {
    described_events(env, name)
        .into_iter()
        .filter(|(t, _, _)| t == "Warning")
        .map(|(_, r, m)| (r, m))
        .collect()
}

#[test]
fn cluster_first_without_cluster_dns_falls_back_to_the_nodes_file_with_the_event() {
    let env = env("");
    let (resolv, hosts, hostname) = files_of(&env, "plain", "");
    assert_eq!(
        resolv,
        "search corp.example lab.example\nnameserver 192.0.2.53\noptions ndots:1 edns0\n"
    );
    assert!(
        hosts.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"),
        "{hosts}"
    );
    assert_eq!(hostname, "plain\n");
    let uid = env.ok(&["get", "pod", "plain", "-o", "jsonpath={.metadata.uid}"]);
    assert_eq!(
        warnings(&env, "plain"),
        [(
            "MissingClusterDNS".to_string(),
            format!(
                "pod: \"plain_default({uid})\". kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy."
            )
        )]
    );
}

#[test]
fn cluster_dns_gives_the_cluster_search_list_and_ndots() {
    let env = env("clusterDNS: [10.96.0.10]\nclusterDomain: cluster.local\n");
    let (resolv, _, _) = files_of(&env, "first", "");
    assert_eq!(
        resolv,
        "search default.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.96.0.10\noptions ndots:5\n"
    );
    assert_eq!(warnings(&env, "first"), []);

    // On the host's network ClusterFirst is Default, and
    // ClusterFirstWithHostNet the cluster's; both see the node's hosts
    // file and name.
    let (resolv, hosts, hostname) = files_of(&env, "hostnet", "  hostNetwork: true\n");
    assert_eq!(
        resolv,
        "search corp.example lab.example\nnameserver 192.0.2.53\noptions ndots:1 edns0\n"
    );
    let node_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert_eq!(
        hosts,
        format!("# Kubernetes-managed hosts file (host network).\n{node_hosts}")
    );
    let node_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(hostname, node_name);
    let (resolv, _, _) = files_of(
        &env,
        "hostnet-cluster",
        "  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet\n",
    );
    assert!(resolv.starts_with("search default.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.96.0.10\n"), "{resolv}");
}

#[test]
fn none_and_default_with_dns_config_and_the_limits_events() {
    let env = env("clusterDNS: [10.96.0.10]\nclusterDomain: cluster.local\n");
    let (resolv, _, _) = files_of(
        &env,
        "none",
        "  dnsPolicy: None\n  dnsConfig:\n    nameservers: [192.0.2.1]\n    searches: [ns1.svc.cluster-domain.example, my.dns.search.suffix]\n    options: [{name: ndots, value: '2'}, {name: edns0}]\n",
    );
    assert_eq!(
        resolv,
        "search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 192.0.2.1\noptions ndots:2 edns0\n"
    );
    assert_eq!(warnings(&env, "none"), []);

    // The node's one nameserver and the pod's three are four: the kubelet
    // keeps three and says so.
    let (resolv, _, _) = files_of(
        &env,
        "many",
        "  dnsPolicy: Default\n  dnsConfig:\n    nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3]\n    options: [{name: ndots, value: '3'}]\n",
    );
    assert_eq!(
        resolv,
        "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions ndots:3 edns0\n"
    );
    assert_eq!(
        warnings(&env, "many"),
        [(
            "DNSConfigForming".to_string(),
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 192.0.2.53 192.0.2.1 192.0.2.2".to_string()
        )]
    );
}

#[test]
fn an_unreadable_resolv_conf_fails_the_sandbox_with_the_kubelets_error() {
    let env = env("");
    std::fs::remove_file(env.dir.path().join("resolv.conf")).unwrap();
    let path = env.dir.path().join("resolv.conf");
    let uid = create(&env, "broken", &pod_yaml("broken", ""));
    let wanted = format!(
        "Failed to create pod sandbox: open {}: no such file or directory",
        path.display()
    );
    common::pods::wait_until(&env, "broken", "FailedCreatePodSandBox", || {
        warnings(&env, "broken")
            .into_iter()
            .find(|(r, m)| r == "FailedCreatePodSandBox" && *m == wanted)
    });
    let status = env.ok(&["get", "pod", "broken", "--no-headers"]);
    assert!(status.contains("ContainerCreating"), "{status}");
    // The pause process started beside the pod's files is not left
    // behind by their failure (a retry may have one starting at any one
    // moment, never the same one for long).
    let mut left = sandbox_processes(&uid);
    for _ in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let now = sandbox_processes(&uid);
        left.retain(|pid| now.contains(pid));
    }
    assert!(left.is_empty(), "pause processes left running: {left:?}");
}

/// The processes in the pod's sandbox cgroup (its pause process's).
fn sandbox_processes(uid: &str) -> Vec<i32> {
    let sandbox = format!("/pod/{uid}/.sandbox");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            cgroup.lines().any(|line| line.ends_with(&sandbox))
        })
        .collect()
}

#[test]
fn the_api_servers_dns_and_host_network_messages() {
    let env = Env::new();
    let cases = [
        (
            "  dnsPolicy: None\n  dnsConfig: {searches: [a.example]}\n",
            "The Pod \"bad\" is invalid: spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None\n",
        ),
        (
            "  dnsConfig: {nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4]}\n",
            "The Pod \"bad\" is invalid: spec.dnsConfig.nameservers: Invalid value: []string{\"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", \"192.0.2.4\"}: must not have more than 3 nameservers\n",
        ),
        (
            "  hostNetwork: true\n",
            "The Pod \"bad\" is invalid: spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true\n",
        ),
    ];
    for (spec, wanted) in cases {
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n{spec}  containers:\n  - name: c\n    image: busybox\n    ports: [{{containerPort: 80, hostPort: {}}}]\n",
            if spec.contains("hostNetwork") {
                8080
            } else {
                80
            }
        );
        let file = env.manifest("bad.yaml", &yaml);
        assert_eq!(env.fails(&["create", "-f", file.to_str().unwrap()]), wanted);
        env.fails(&["get", "pod", "bad"]);
    }
}

#[test]
fn the_hosts_file_has_the_pod_ip_line_of_the_kubelet() {
    let env = env("clusterDomain: cluster.local\n");
    let (_, hosts, hostname) = files_of(
        &env,
        "named",
        "  hostname: web\n  subdomain: backend\n  hostAliases: [{ip: 192.0.2.9, hostnames: [a.example, b.example]}]\n",
    );
    let ip = common::pods::jsonpath(&env, "named", "{.status.podIP}");
    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "pod IP {ip:?}");
    assert_eq!(
        hosts,
        format!(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n{ip}\tweb.backend.default.svc.cluster.local\tweb\n\n# Entries added by HostAliases.\n192.0.2.9\ta.example\tb.example\n"
        )
    );
    assert_eq!(hostname, "web\n");
}
