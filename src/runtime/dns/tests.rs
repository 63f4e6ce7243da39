//! The kubelet's DNS rules, one table row each (the cases of
//! pkg/kubelet/network/dns/dns_test.go in spirit).

use std::net::IpAddr;

use super::*;

fn pod(spec: serde_json::Value) -> Pod {
    let mut spec = spec;
    spec["containers"] = serde_json::json!([]);
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": spec,
    }))
    .unwrap()
}

const HOST: &str = "# the node's\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. lab.example\noptions ndots:1 edns0\n";

const MISSING: &str = "pod: \"web_shop(u-1)\". kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.";

struct Node {
    cluster_dns: Vec<IpAddr>,
    domain: &'static str,
    resolv: Option<&'static str>,
}

fn plain() -> Node {
    Node {
        cluster_dns: vec![],
        domain: "",
        resolv: Some(HOST),
    }
}

fn cluster() -> Node {
    Node {
        cluster_dns: vec!["10.96.0.10".parse().unwrap()],
        domain: "cluster.local",
        resolv: Some(HOST),
    }
}

fn form(pod: &Pod, node: &Node) -> (String, Vec<String>) {
    let node = NodeDns {
        cluster_dns: &node.cluster_dns,
        cluster_domain: node.domain,
        resolv_conf: node.resolv,
        ipv6_node: false,
    };
    let (dns, warnings) = pod_dns(pod, &node).unwrap();
    let text = resolv_conf(&dns).unwrap_or_default();
    let warnings = warnings
        .iter()
        .map(|w| format!("{}: {}", w.reason, w.message))
        .collect();
    (text, warnings)
}

const HOST_RESOLV: &str = "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions ndots:1 edns0\n";

#[test]
fn policies() {
    let missing = format!("MissingClusterDNS: {MISSING}");
    let cluster_resolv = "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.96.0.10\noptions ndots:5\n";
    #[rustfmt::skip]
    let rows: Vec<(&str, serde_json::Value, Node, &str, Vec<&str>)> = vec![
        ("ClusterFirst without cluster DNS is Default, with the event",
         serde_json::json!({"dnsPolicy": "ClusterFirst"}), plain(), HOST_RESOLV, vec![&missing]),
        ("ClusterFirst with cluster DNS: its server alone, cluster searches first, ndots:5",
         serde_json::json!({"dnsPolicy": "ClusterFirst"}), cluster(), cluster_resolv, vec![]),
        ("ClusterFirst with cluster DNS but no domain keeps the node's searches",
         serde_json::json!({"dnsPolicy": "ClusterFirst"}),
         Node { domain: "", ..cluster() },
         "search corp.example lab.example\nnameserver 10.96.0.10\noptions ndots:5\n", vec![]),
        ("ClusterFirst on the host network is Default, without the event",
         serde_json::json!({"dnsPolicy": "ClusterFirst", "hostNetwork": true}), cluster(), HOST_RESOLV, vec![]),
        ("ClusterFirstWithHostNet on the host network uses the cluster DNS",
         serde_json::json!({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": true}), cluster(), cluster_resolv, vec![]),
        ("ClusterFirstWithHostNet without cluster DNS falls back, with the event",
         serde_json::json!({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": true}), plain(), HOST_RESOLV, vec![&missing]),
        ("Default is the node's file, whatever the cluster",
         serde_json::json!({"dnsPolicy": "Default"}), cluster(), HOST_RESOLV, vec![]),
        ("Default without resolvConf is the node's own resolver",
         serde_json::json!({"dnsPolicy": "Default"}), Node { resolv: None, ..plain() },
         "search .\nnameserver 127.0.0.1\n", vec![]),
        ("ClusterFirst without cluster DNS nor resolvConf: the event and the node's resolver",
         serde_json::json!({"dnsPolicy": "ClusterFirst"}), Node { resolv: None, ..plain() },
         "search .\nnameserver 127.0.0.1\n", vec![&missing]),
        ("None is dnsConfig alone",
         serde_json::json!({"dnsPolicy": "None", "dnsConfig": {
             "nameservers": ["192.0.2.1"], "searches": ["ns1.svc.cluster-domain.example", "my.dns.search.suffix"],
             "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}),
         cluster(),
         "search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 192.0.2.1\noptions ndots:2 edns0\n", vec![]),
        ("dnsConfig is appended without duplicates; its options override by name",
         serde_json::json!({"dnsPolicy": "Default", "dnsConfig": {
             "nameservers": ["192.0.2.54", "192.0.2.1"], "searches": ["lab.example", "x.example"],
             "options": [{"name": "ndots", "value": "3"}, {"name": "edns0", "value": ""}, {"name": "single-request"}]}}),
         plain(),
         "search corp.example lab.example x.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 192.0.2.1\noptions ndots:3 edns0 single-request\n", vec![]),
        ("dnsConfig on ClusterFirst adds to the cluster's",
         serde_json::json!({"dnsPolicy": "ClusterFirst", "dnsConfig": {"searches": ["svc.cluster.local", "extra.example"], "options": [{"name": "ndots", "value": "2"}]}}),
         cluster(),
         "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example extra.example\nnameserver 10.96.0.10\noptions ndots:2\n", vec![]),
        ("more than 3 nameservers: the first 3, with the event",
         serde_json::json!({"dnsPolicy": "Default", "dnsConfig": {"nameservers": ["192.0.2.1", "192.0.2.2"]}}),
         plain(),
         "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 192.0.2.1\noptions ndots:1 edns0\n",
         vec!["DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 192.0.2.53 192.0.2.54 192.0.2.1"]),
    ];
    for (what, spec, node, want, events) in rows {
        let (text, warnings) = form(&pod(spec), &node);
        assert_eq!(text, want, "{what}");
        assert_eq!(warnings, events, "{what}");
    }
}

#[test]
fn search_limits() {
    // 30 node searches + 3 cluster ones = 33 paths: the 33rd goes.
    let host_search: Vec<String> = (0..30).map(|i| format!("d{i}.example")).collect();
    let host = format!("nameserver 192.0.2.53\nsearch {}\n", host_search.join(" "));
    let node = Node {
        resolv: Some(Box::leak(host.into_boxed_str())),
        ..cluster()
    };
    let (text, warnings) = form(
        &pod(serde_json::json!({"dnsPolicy": "ClusterFirst"})),
        &node,
    );
    let mut kept = vec![
        "shop.svc.cluster.local".to_string(),
        "svc.cluster.local".into(),
        "cluster.local".into(),
    ];
    kept.extend(host_search[..29].iter().cloned());
    assert!(
        text.starts_with(&format!("search {}\n", kept.join(" "))),
        "{text}"
    );
    assert_eq!(
        warnings,
        [format!(
            "DNSConfigForming: Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            kept.join(" ")
        )]
    );

    // A path over 253 characters is dropped; the line is cut to 2048
    // characters by whole paths from its end.
    let long = "a".repeat(254);
    let paths: Vec<String> = (0..10).map(|i| format!("{i}{}", "b".repeat(249))).collect();
    let mut searches = vec![long];
    searches.extend(paths.iter().cloned());
    let spec = serde_json::json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["192.0.2.1"], "searches": searches}});
    let (text, warnings) = form(&pod(spec), &plain());
    // Eight 250-character paths and their spaces are 2007 characters;
    // a ninth would make 2258.
    let kept = paths[..8].join(" ");
    assert_eq!(kept.len(), 2007);
    assert_eq!(text, format!("search {kept}\nnameserver 192.0.2.1\n"));
    assert_eq!(
        warnings,
        [format!(
            "DNSConfigForming: Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {kept}"
        )]
    );
}

#[test]
fn parse_like_the_kubelet() {
    let text = "; not a comment to the kubelet\n  # a comment\nnameserver 1.1.1.1\nsearch a.example. b\ndomain ignored.example\nsearch c.example\noptions ndots:2\noptions rotate\nnameserver 8.8.8.8 9.9.9.9\n";
    assert_eq!(
        parse_resolv_conf(text).unwrap(),
        DnsConfig {
            servers: vec!["1.1.1.1".into(), "8.8.8.8".into()],
            searches: vec!["c.example".into()],
            options: vec!["rotate".into()],
        }
    );
    assert_eq!(
        parse_resolv_conf("search a.example.\n").unwrap().searches,
        ["a.example"]
    );
    assert_eq!(
        parse_resolv_conf("nameserver\n").unwrap_err(),
        "nameserver list is empty "
    );
    assert_eq!(
        parse_resolv_conf("nameserver\nnameserver\n").unwrap_err(),
        "[nameserver list is empty , nameserver list is empty ]"
    );
}

#[test]
fn a_bad_node_file_fails_the_pod() {
    let node = Node {
        resolv: Some("nameserver\n"),
        ..plain()
    };
    let node = NodeDns {
        cluster_dns: &node.cluster_dns,
        cluster_domain: node.domain,
        resolv_conf: node.resolv,
        ipv6_node: false,
    };
    let pod = pod(serde_json::json!({"dnsPolicy": "Default"}));
    assert_eq!(
        pod_dns(&pod, &node).unwrap_err(),
        "nameserver list is empty "
    );
    // An unreadable file is Go's error for it (the kubelet reads it for
    // every policy, None included).
    assert_eq!(
        read_resolv_conf("/nonexistent/resolv.conf").unwrap_err(),
        "open /nonexistent/resolv.conf: no such file or directory"
    );
    assert_eq!(read_resolv_conf("").unwrap(), None);
}

#[test]
fn an_ipv6_node_resolves_on_its_own_v6_loopback() {
    let node = NodeDns {
        cluster_dns: &[],
        cluster_domain: "",
        resolv_conf: None,
        ipv6_node: true,
    };
    let (dns, _) = pod_dns(&pod(serde_json::json!({"dnsPolicy": "Default"})), &node).unwrap();
    assert_eq!(dns.servers, ["::1"]);
}

#[test]
fn nothing_to_say_leaves_the_file_to_the_runtime() {
    let node = NodeDns {
        cluster_dns: &[],
        cluster_domain: "",
        resolv_conf: Some("# empty\n"),
        ipv6_node: false,
    };
    let (dns, _) = pod_dns(&pod(serde_json::json!({"dnsPolicy": "Default"})), &node).unwrap();
    assert_eq!(resolv_conf(&dns), None);
}
