//! The Kubernetes documentation's Pod manifests (tests/conformance/
//! k8s-examples, described by its README and INDEX.tsv) through `pod create
//! --dry-run=client`: decoding, defaulting and validation as the API server
//! does them. The valid examples pass; the historical invalid ones fail
//! naming the field, or the line and column, at fault.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/conformance/k8s-examples"
);
const INVALID_DIR: &str = "_historical-invalid";
const STORED_KINDS: [&str; 3] = ["Pod", "ConfigMap", "Secret"];

/// One row of INDEX.tsv: the kinds a file holds and the notes on it.
struct Entry {
    kinds: Vec<String>,
    notes: String,
}

fn index() -> BTreeMap<String, Entry> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("INDEX.tsv")).expect("INDEX.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            let entry = Entry {
                kinds: columns
                    .get(1)?
                    .split(',')
                    .map(|k| k.trim().to_string())
                    .collect(),
                notes: columns.get(7).unwrap_or(&"").to_string(),
            };
            Some((columns[0].to_string(), entry))
        })
        .collect()
}

fn manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reading the corpus")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            manifests(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(CORPUS)
        .expect("inside the corpus")
        .display()
        .to_string()
}

/// `pod create --dry-run=client -f FILE`, run from the corpus directory so
/// messages name the file as the index does.
fn dry_run(env: &common::Env, file: &Path) -> Output {
    env.pod()
        .current_dir(CORPUS)
        .args(["create", "--dry-run=client", "-f"])
        .arg(file)
        .output()
        .expect("running pod")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The documents of a multi-document file, each as its own text.
fn documents(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            out.push(String::new());
        } else {
            let last = out.last_mut().expect("one document at least");
            last.push_str(line);
            last.push('\n');
        }
    }
    out.retain(|doc| {
        doc.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    out
}

#[test]
fn every_valid_example_decodes_defaults_and_validates() {
    let env = common::Env::new();
    let index = index();
    let mut files = Vec::new();
    manifests(Path::new(CORPUS), &mut files);
    let mut failures = Vec::new();
    let mut pods_accepted = 0;
    let mut checked = 0;
    for file in files
        .iter()
        .filter(|f| !relative(f).starts_with(INVALID_DIR))
    {
        let name = relative(file);
        let entry = index
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not in INDEX.tsv"));
        checked += 1;
        // "expected: rejected on create (<the server's message>)"
        if let Some(rest) = entry.notes.split("rejected on create (").nth(1) {
            let message = rest.split(')').next().unwrap_or(rest);
            let out = dry_run(&env, file);
            if out.status.success() || !text(&out.stderr).contains(message) {
                failures.push(format!(
                    "{name}: expected a rejection with {message:?}, got {:?} {}",
                    out.status,
                    text(&out.stderr)
                ));
            }
            continue;
        }
        if entry
            .kinds
            .iter()
            .any(|k| k.contains("not a Kubernetes object"))
        {
            let out = dry_run(&env, file);
            if out.status.success()
                || !text(&out.stderr).contains("[apiVersion not set, kind not set]")
            {
                failures.push(format!(
                    "{name}: a non-object must be refused, got {}",
                    text(&out.stderr)
                ));
            }
            continue;
        }
        if entry
            .kinds
            .iter()
            .all(|k| STORED_KINDS.contains(&k.as_str()))
        {
            let out = dry_run(&env, file);
            let stdout = text(&out.stdout);
            if !out.status.success() {
                failures.push(format!("{name}: {}", text(&out.stderr).trim()));
            } else if stdout.lines().count() != entry.kinds.len() {
                failures.push(format!(
                    "{name}: expected {} objects, got:\n{stdout}",
                    entry.kinds.len()
                ));
            }
            pods_accepted += stdout.lines().filter(|l| l.starts_with("pod/")).count();
            continue;
        }
        // Kinds pod does not store (PersistentVolumeClaim, ResourceClaim…):
        // each document on its own; those must be refused by kind and the
        // pods beside them must pass.
        let docs = documents(&std::fs::read_to_string(file).expect("reading a manifest"));
        assert_eq!(
            docs.len(),
            entry.kinds.len(),
            "{name}: documents vs INDEX kinds"
        );
        for (doc, kind) in docs.iter().zip(&entry.kinds) {
            let part = env.dir.path().join("part.yaml");
            std::fs::write(&part, doc).expect("writing a document");
            let out = dry_run(&env, &part);
            if STORED_KINDS.contains(&kind.as_str()) {
                if out.status.success() {
                    pods_accepted += text(&out.stdout)
                        .lines()
                        .filter(|l| l.starts_with("pod/"))
                        .count();
                } else {
                    failures.push(format!("{name} ({kind}): {}", text(&out.stderr).trim()));
                }
            } else if out.status.success()
                || !text(&out.stderr).contains(&format!("no matches for kind \"{kind}\""))
            {
                failures.push(format!(
                    "{name} ({kind}): expected the kind to be refused, got {}",
                    text(&out.stderr)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} files:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 171 files hold a Pod (pod-rs.yaml two); fields.yaml is rejected.
    assert_eq!(pods_accepted, 171, "pods accepted");
}

#[test]
fn historical_invalid_examples_fail_naming_what_is_wrong() {
    let env = common::Env::new();
    let expected = [
        (
            "pods/inject/pod-multiple-secret-env-variable.yaml",
            "error converting YAML to JSON: yaml: line 15, column 1: found a tab character that violates indentation",
        ),
        (
            "pods/inject/pod-single-secret-env-variable.yaml",
            "error validating data: apiVersion not set",
        ),
        (
            "pods/pod-with-node-affinity.yaml",
            "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal array into Go struct field spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution of type v1.NodeSelector",
        ),
        (
            "pods/probe/grpc-liveness.yaml",
            "strict decoding error: unknown field \"spec.containers[0].livenessProbe.gRPC\"",
        ),
        (
            "pods/restart-policy/restart-all-containers.yaml",
            "strict decoding error: unknown field \"spec.initContainers[1].restartPolicyRules[0].onExit\"",
        ),
    ];
    let mut files = Vec::new();
    manifests(&Path::new(CORPUS).join(INVALID_DIR), &mut files);
    assert_eq!(
        files.len(),
        expected.len(),
        "every negative case has an expectation"
    );
    for (name, message) in expected {
        let file = Path::new(CORPUS).join(INVALID_DIR).join(name);
        let out = dry_run(&env, &file);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: nothing is created");
        assert!(
            stderr.contains(message),
            "{name}: expected {message:?} in:\n{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{name}: one line:\n{stderr}");
    }
}

#[test]
fn dry_run_shows_the_defaulted_object() {
    let env = common::Env::new();
    let out = env
        .pod()
        .current_dir(CORPUS)
        .args([
            "create",
            "--dry-run=client",
            "-o",
            "json",
            "-f",
            "pods/simple-pod.yaml",
        ])
        .output()
        .expect("running pod");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pod: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    let container = &spec["containers"][0];
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert_eq!(pod["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert_eq!(pod["status"]["phase"], "Pending");
}
