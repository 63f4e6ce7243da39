//! The Node object through the binary: `get nodes` and `describe node`
//! as snapshots, NotFound for another name, label and annotate on it,
//! and DiskPressure from a real filesystem filled past the kubelet's
//! threshold. The state root is a 64 MiB tmpfs, so the filesystem's
//! figures are the same on every machine; cpu, memory and the machine's
//! identity are masked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Env, pods};

const NAME: &str = "snap-node";

/// A tmpfs mounted on the environment's root, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .status()
            .expect("running mount");
        assert!(status.success(), "mounting a tmpfs on {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// An environment on a tmpfs: the fields drop in order, so the
/// environment deletes its pods before the root is unmounted.
struct NodeEnv {
    env: Env,
    _tmpfs: Tmpfs,
}

impl std::ops::Deref for NodeEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

/// An environment whose root is a fresh 64 MiB tmpfs and whose node is
/// named by the node configuration.
fn env() -> NodeEnv {
    let env = Env::new();
    let tmpfs = Tmpfs::mount(&env.root(), "64m");
    std::fs::write(
        env.root().join("config.yaml"),
        format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nhostnameOverride: {NAME}\n"
        ),
    )
    .unwrap();
    NodeEnv { env, _tmpfs: tmpfs }
}

fn transcript(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    format!(
        "$ pod {}\n{}{}[exit {}]",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

macro_rules! snapshot {
    ($env:expr, $args:expr) => {
        insta::with_settings!({filters => vec![
            // AGE cells: seconds, one digit or two on a loaded machine. A
            // one-digit age padded in its column loses one space, so that
            // the column reads the same whichever it was.
            (r"\b\ds  ", "[AGE] "),
            (r"\b\d{1,2}s\b", "[AGE]"),
            (r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", "[DATE]"),
            (r#""\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ""#, "[TIME]"),
            (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[UID]"),
            (r"\b[0-9a-f]{32}\b", "[MACHINE-ID]"),
            (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "[IP]"),
            (r"(cpu: +)\d+", "${1}[CPUS]"),
            (r"(memory: +)\d+Ki", "${1}[MEMORY]"),
            (r"(Kernel Version: +)\S+", "${1}[KERNEL]"),
            (r"(OS Image: +).+", "${1}[OS]"),
            (r"(?i)(arch(?:itecture)?[=:] *)(amd64|arm64)", "${1}[ARCH]"),
            (r"(System UUID: +)\S*", "${1}[UUID]"),
        ]}, {
            insta::assert_snapshot!(transcript(&$env, $args));
        });
    };
}

#[test]
fn get_nodes() {
    let env = env();
    snapshot!(env, &["get", "nodes"]);
    snapshot!(env, &["get", "no", NAME, "--show-labels"]);
    snapshot!(env, &["get", "node", "other"]);
    snapshot!(env, &["get", "nodes", "-o", "name"]);
    snapshot!(env, &["get", "nodes", "-l", "disktype=ssd"]);
    snapshot!(
        env,
        &[
            "get",
            "node",
            NAME,
            "-o",
            "jsonpath={.status.capacity.ephemeral-storage} {.status.allocatable.ephemeral-storage} {.status.nodeInfo.containerRuntimeVersion}"
        ]
    );
    // The columns of -o wide are machine facts: checked, not snapshotted.
    let wide = env.ok(&["get", "nodes", "-o", "wide", "-A"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ]
    );
    assert!(
        wide.lines()
            .nth(1)
            .unwrap()
            .starts_with("snap-node   Ready")
    );
}

#[test]
fn describe_node_and_its_labels() {
    let env = env();
    assert_eq!(
        env.ok(&["label", "node", NAME, "disktype=ssd"]),
        "node/snap-node labeled\n"
    );
    assert_eq!(
        env.ok(&["annotate", "nodes", NAME, "rack=4"]),
        "node/snap-node annotated\n"
    );
    snapshot!(env, &["get", "nodes", "-l", "disktype=ssd"]);
    snapshot!(env, &["describe", "node", NAME]);
    let err = env.fails(&["label", "node", NAME, "disktype=hdd"]);
    assert_eq!(
        err,
        "error: 'disktype' already has a value (ssd), and --overwrite is false\n"
    );
    assert_eq!(
        env.ok(&["label", "node", NAME, "disktype-"]),
        "node/snap-node unlabeled\n"
    );
    // The kubelet's own labels come back whatever a user does.
    env.ok(&["label", "node", NAME, "kubernetes.io/hostname-"]);
    let labels = env.ok(&[
        "get",
        "node",
        NAME,
        "-o",
        "jsonpath={.metadata.labels.kubernetes\\.io/hostname}",
    ]);
    assert_eq!(labels, NAME);
    let err = env.fails(&["label", "node", "other", "a=b"]);
    assert_eq!(
        err,
        "Error from server (NotFound): nodes \"other\" not found\n"
    );
    // The record is root's alone.
    use std::os::unix::fs::PermissionsExt;
    let record = env.root().join("nodes").join(format!("{NAME}.json"));
    let mode = std::fs::metadata(record).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

fn condition(env: &Env, type_: &str) -> String {
    env.ok(&[
        "get",
        "node",
        NAME,
        "-o",
        &format!(
            "jsonpath={{.status.conditions[?(@.type==\"{type_}\")].status}} {{.status.conditions[?(@.type==\"{type_}\")].reason}}"
        ),
    ])
}

#[test]
fn disk_pressure_is_measured_on_the_state_roots_filesystem() {
    let env = env();
    assert_eq!(
        condition(&env, "DiskPressure"),
        "False KubeletHasNoDiskPressure"
    );
    // 56 of 64 MiB: under 15% left, the imagefs.available threshold of
    // a node whose images share the root's filesystem.
    let filler = env.root().join("filler");
    std::fs::write(&filler, vec![1u8; 56 << 20]).unwrap();
    assert_eq!(
        condition(&env, "DiskPressure"),
        "True KubeletHasDiskPressure"
    );
    // The node controller's taint keeps new pods away, and the kubelet
    // says what turned.
    assert_eq!(
        env.ok(&["get", "node", NAME, "-o", "jsonpath={.spec.taints}"]),
        r#"[{"effect":"NoSchedule","key":"node.kubernetes.io/disk-pressure"}]"#
    );
    let describe = env.ok(&["describe", "node", NAME]);
    assert!(
        describe.contains("Taints:             node.kubernetes.io/disk-pressure:NoSchedule\n"),
        "{describe}"
    );
    let event = describe
        .lines()
        .find(|l| l.contains("NodeHasDiskPressure"))
        .unwrap_or_else(|| panic!("no NodeHasDiskPressure event:\n{describe}"));
    let words: Vec<&str> = event.split_whitespace().collect();
    assert_eq!(
        (words[0], words[1], words[3], &words[4..].join(" ")[..]),
        (
            "Normal",
            "NodeHasDiskPressure",
            "kubelet",
            "Node snap-node status is now: NodeHasDiskPressure"
        ),
        "{event}"
    );
    let transition = |env: &Env| {
        env.ok(&[
            "get",
            "node",
            NAME,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"DiskPressure\")].lastTransitionTime}",
        ])
    };
    let first = transition(&env);
    assert_eq!(transition(&env), first, "kept while the status holds");
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        condition(&env, "DiskPressure"),
        "False KubeletHasNoDiskPressure"
    );
    assert_eq!(condition(&env, "Ready"), "True KubeletReady");
    assert_eq!(
        env.ok(&["get", "node", NAME, "-o", "jsonpath={.spec.taints}"]),
        ""
    );
    let describe = env.ok(&["describe", "node", NAME]);
    // The turn back repeats the first event, which counts it.
    assert!(
        describe
            .lines()
            .any(|l| l.contains("NodeHasNoDiskPressure") && l.contains(" (x2 over ")),
        "{describe}"
    );
}

#[test]
fn pods_run_on_the_named_node_and_describe_lists_them() {
    let env = env();
    common::import_busybox(&env.root());
    pods::create(
        &env,
        "sleeper",
        "apiVersion: v1
kind: Pod
metadata:
  name: sleeper
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, '300']
    resources:
      requests: {cpu: 100m, memory: 16Mi}
      limits: {memory: 32Mi}
",
    );
    pods::wait_until(&env, "sleeper", "Running", || {
        (pods::jsonpath(&env, "sleeper", "{.status.phase}") == "Running").then_some(())
    });
    assert_eq!(pods::jsonpath(&env, "sleeper", "{.spec.nodeName}"), NAME);
    let describe = env.ok(&["describe", "node", NAME]);
    assert!(
        describe.contains("Non-terminated Pods:          (1 in total)"),
        "{describe}"
    );
    let row = describe
        .lines()
        .find(|l| l.contains("sleeper"))
        .unwrap_or_else(|| panic!("no row for the pod:\n{describe}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..2], ["default", "sleeper"], "{row}");
    assert_eq!(cells[2], "100m");
    assert_eq!(cells[4], "0");
    assert_eq!(cells[6], "16Mi");
    assert_eq!(cells[8], "32Mi");
    env.ok(&["delete", "pod", "sleeper", "--force", "--grace-period=0"]);
    let describe = env.ok(&["describe", "node", NAME]);
    assert!(describe.contains("(0 in total)"), "{describe}");
}

#[test]
fn taint_node_as_kubectl_does() {
    let env = env();
    let taint = |args: &[&str]| {
        let mut all = vec!["taint"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert_eq!(
        taint(&["node", NAME, "dedicated=gpu:NoSchedule"]),
        "node/snap-node tainted\n"
    );
    assert_eq!(
        taint(&["node", NAME, "dedicated=cpu:NoSchedule"]),
        "error: node snap-node already has dedicated taint(s) with same effect(s) and --overwrite is false\n"
    );
    assert_eq!(
        taint(&["nodes", NAME, "dedicated=cpu:NoSchedule", "--overwrite"]),
        "node/snap-node modified\n"
    );
    assert_eq!(
        taint(&["no", NAME, "evict:NoExecute"]),
        "node/snap-node tainted\n"
    );
    let taints = env.ok(&["get", "node", NAME, "-o", "jsonpath={.spec.taints[*].key}"]);
    assert_eq!(taints, "evict dedicated");
    assert_eq!(
        taint(&["node", NAME, "a=b:Sometimes"]),
        "error: invalid taint effect: Sometimes, unsupported taint effect; see 'pod taint --help'\n"
    );
    assert_eq!(
        taint(&["pod", "x", "a:NoSchedule"]),
        "error: invalid resource type pod, only node types are supported\n"
    );
    assert_eq!(
        taint(&["node", "other", "a:NoSchedule"]),
        "Error from server (NotFound): nodes \"other\" not found\n"
    );
    assert_eq!(
        taint(&["node", NAME, "dedicated:NoSchedule-"]),
        "node/snap-node untainted\n"
    );
    assert_eq!(
        taint(&["node", NAME, "dedicated-"]),
        "error: taint \"dedicated\" not found\n"
    );
    assert_eq!(
        taint(&["node", "-l", "kubernetes.io/os=linux", "evict-"]),
        "node/snap-node untainted\n"
    );
    let describe = env.ok(&["describe", "node", NAME]);
    assert!(
        describe.contains("Taints:             <none>"),
        "{describe}"
    );
}

#[test]
fn a_node_manifest_gets_what_a_one_node_cluster_answers() {
    let env = env();
    let same = env.manifest(
        "same.yaml",
        &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {NAME}\n"),
    );
    let err = env.fails(&["create", "-f", same.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "Error from server (AlreadyExists): error when creating \"{}\": nodes \"{NAME}\" already exists\n",
            same.display()
        )
    );
    // Another name would be a Node no kubelet ever runs: refused, and the
    // rest of the file is still created.
    let other = env.manifest(
        "other.yaml",
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: other\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    );
    let out = env.run(&["create", "-f", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/cm created\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error from server (Forbidden): error when creating \"{}\": nodes \"other\" is forbidden: pod's one node is this machine, \"{NAME}\", registered by pod itself; no kubelet would ever run a Node named \"other\"\n",
            other.display()
        )
    );
    let err = env.fails(&["create", "-f", same.to_str().unwrap(), "--dry-run=server"]);
    assert!(err.contains("(AlreadyExists)"), "{err}");
    assert_eq!(
        env.ok(&["get", "nodes", "-o", "name"]),
        format!("node/{NAME}\n")
    );
}
