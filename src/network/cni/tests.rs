//! The client against plugins written as shell scripts that log what
//! they were given and answer as the spec says.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use super::*;

/// A plugin that appends `<command> <stdin>` to `<dir>/log` and prints
/// `answer` (with `$n` replaced by its name).
fn plugin(dir: &Path, name: &str, answer: &str) {
    let path = dir.join(name);
    let log = dir.join("log");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nin=$(cat)\necho \"{name} $CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME $CNI_ARGS $in\" >> {}\nprintf '%s' '{answer}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn runtime(dir: &Path) -> Runtime {
    let mut caps = Map::new();
    caps.insert(
        "portMappings".into(),
        json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
    );
    Runtime {
        container_id: "uid-1".into(),
        netns: "/run/pod/pods/uid-1/netns".into(),
        ifname: "eth0".into(),
        args: vec![("K8S_POD_NAME".into(), "web".into())],
        capability_args: caps,
        bin_dirs: vec![dir.join("missing"), dir.to_path_buf()],
        timeout: Duration::from_secs(10),
    }
}

/// The log's lines as (plugin, command, stdin).
fn calls(dir: &Path) -> Vec<(String, String, Value)> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut parts = line.splitn(6, ' ');
            let name = parts.next().unwrap().to_string();
            let command = parts.next().unwrap().to_string();
            // GC is about no one attachment: it gets none of these.
            let want: [&str; 3] = if command == "GC" {
                ["", "", ""]
            } else {
                ["uid-1", "eth0", "K8S_POD_NAME=web"]
            };
            for field in want {
                assert_eq!(parts.next(), Some(field));
            }
            (
                name,
                command,
                serde_json::from_str(parts.next().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn list(version: &str) -> NetworkList {
    NetworkList::from_list(json!({
        "cniVersion": version, "name": "testnet",
        "plugins": [
            {"type": "main", "ipam": {"type": "host-local"}},
            {"type": "ports", "capabilities": {"portMappings": true}}
        ]
    }))
    .unwrap()
}

const MAIN_RESULT: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.9.0.2/24"}]}"#;

#[test]
fn add_chains_results_del_reverses_with_the_cached_result_and_check_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    plugin(dir.path(), "main", MAIN_RESULT);
    plugin(dir.path(), "ports", MAIN_RESULT);
    let rt = runtime(dir.path());
    let attachment = add(&cache, &list("1.0.0"), &rt, None).unwrap();
    let main: Value = serde_json::from_str(MAIN_RESULT).unwrap();
    assert_eq!(attachment.result.as_ref(), Some(&main));

    let seen = calls(dir.path());
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].0.as_str(), seen[0].1.as_str()), ("main", "ADD"));
    assert_eq!(seen[0].2["name"], "testnet");
    assert!(seen[0].2.get("prevResult").is_none());
    assert!(seen[0].2.get("runtimeConfig").is_none());
    assert_eq!((seen[1].0.as_str(), seen[1].1.as_str()), ("ports", "ADD"));
    assert_eq!(seen[1].2["prevResult"], main);
    assert_eq!(
        seen[1].2["runtimeConfig"]["portMappings"][0]["hostPort"],
        8080
    );

    // Another process finds it in the cache and checks, then deletes it.
    let cached = Attachment::find(&cache, "uid-1");
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].result.as_ref(), Some(&main));
    assert!(check(&cached[0], None).unwrap());
    del(&cache, &cached[0]).unwrap();
    let seen = calls(dir.path());
    let order: Vec<(&str, &str)> = seen[2..]
        .iter()
        .map(|(n, c, _)| (n.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("main", "CHECK"),
            ("ports", "CHECK"),
            ("ports", "DEL"),
            ("main", "DEL")
        ]
    );
    for (_, _, stdin) in &seen[2..] {
        assert_eq!(stdin["prevResult"], main);
    }
    assert!(Attachment::find(&cache, "uid-1").is_empty());
}

#[test]
fn a_failed_add_names_the_plugin_and_leaves_the_attachment_for_del() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    plugin(dir.path(), "main", MAIN_RESULT);
    let fail = dir.path().join("ports");
    std::fs::write(
        &fail,
        "#!/bin/sh\ncat >/dev/null\necho '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"no ports today\"}'\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = add(&cache, &list("1.0.0"), &runtime(dir.path()), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin type=\"ports\" name=\"testnet\" failed (add): no ports today"
    );
    let cached = Attachment::find(&cache, "uid-1");
    assert_eq!(cached.len(), 1);
    assert!(cached[0].result.is_none());
    std::fs::remove_file(&fail).unwrap();
    let err = del(&cache, &cached[0]).unwrap_err().to_string();
    assert!(
        err.starts_with("plugin type=\"ports\" name=\"testnet\" failed (delete): failed to find plugin \"ports\" in path ["),
        "{err}"
    );
    assert_eq!(
        Attachment::find(&cache, "uid-1").len(),
        1,
        "kept for a later DEL"
    );
}

#[test]
fn old_versions_get_no_check_and_no_prev_result_on_del_and_gc_needs_1_1() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    plugin(dir.path(), "main", MAIN_RESULT);
    plugin(dir.path(), "ports", MAIN_RESULT);
    let rt = runtime(dir.path());
    let old = add(&cache, &list("0.3.1"), &rt, None).unwrap();
    assert!(!check(&old, None).unwrap());
    del(&cache, &old).unwrap();
    let seen = calls(dir.path());
    assert!(
        seen[2..]
            .iter()
            .all(|(_, c, s)| c == "DEL" && s.get("prevResult").is_none())
    );

    assert!(!gc(&list("1.0.0"), &[], &rt.bin_dirs, rt.timeout).unwrap());
    let kept = add(&cache, &list("1.1.0"), &rt, None).unwrap();
    let mut disabled = list("1.1.0");
    disabled.disable_gc = true;
    assert!(!gc(&disabled, &[Valid::of(&kept)], &rt.bin_dirs, rt.timeout).unwrap());
    assert!(
        gc(
            &list("1.1.0"),
            &[Valid::of(&kept)],
            &rt.bin_dirs,
            rt.timeout
        )
        .unwrap()
    );
    let seen = calls(dir.path());
    let gcs: Vec<&Value> = seen
        .iter()
        .filter(|(_, c, _)| c == "GC")
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(gcs.len(), 2);
    assert_eq!(
        gcs[0]["cni.dev/valid-attachments"],
        json!([{"containerID": "uid-1", "ifname": "eth0"}])
    );
}

#[test]
fn versions_compare_numerically() {
    assert!(Version::parse("0.4.0").unwrap() > Version::parse("0.3.1").unwrap());
    assert!(Version::parse("1.0.0").unwrap() < Version::parse("1.1").unwrap());
    assert!(Version::parse("1.10.0").unwrap() > Version::parse("1.9.0").unwrap());
    assert!(Version::parse("x").is_err());
    assert!(Version::parse("1.0.0.0").is_err());
}
