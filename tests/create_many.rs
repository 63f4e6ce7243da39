//! `pod create -f` of a file with many objects: supervisors start side by
//! side, yet the output keeps the order of the documents, and a failed
//! object is reported in its place without stopping the others, as
//! kubectl does.

mod common;

use common::Env;

/// A pod that needs no image: `Never` pulls an image nobody has, so its
/// supervisor starts and stays up cheaply (ErrImageNeverPull).
fn pod(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: c
    image: example.invalid/absent:1
    imagePullPolicy: Never
{extra}"
    )
}

#[test]
fn many_pods_in_one_file_report_in_document_order() {
    let env = Env::new();
    // More pods than the CLI starts before it waits for the first.
    let names: Vec<String> = (0..40).map(|i| format!("p{i:02}")).collect();
    let mut docs: Vec<String> = names.iter().map(|n| pod(n, "")).collect();
    // A field a single node leaves aside: create warns about it.
    docs[20] = pod("p20", "  imagePullSecrets: [{name: registry}]\n");
    docs.insert(
        10,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n".into(),
    );
    // A second p05: AlreadyExists, reported where it stands.
    docs.insert(30, pod("p05", ""));
    let file = env.manifest("many.yaml", &docs.join("---\n"));
    let out = env.run(&["create", "-f", file.to_str().unwrap()]);

    let mut expected: Vec<String> = names.iter().map(|n| format!("pod/{n} created")).collect();
    expected.insert(10, "configmap/settings created".into());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        expected
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Warning:"))
        .collect();
    assert_eq!(
        errors,
        [format!(
            "Error from server (AlreadyExists): error when creating \"{}\": pods \"p05\" already exists",
            file.display()
        )]
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("Warning:")),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));
    let listed = env.ok(&["get", "pods", "-o", "name"]);
    assert_eq!(listed.lines().count(), 40, "{listed}");
}

#[test]
fn a_supervisor_that_cannot_start_is_reported_and_the_rest_go_on() {
    let env = Env::new();
    let docs = [pod("a", ""), pod("b", "")].join("---\n");
    let file = env.manifest("two.yaml", &docs);
    let out = env
        .pod()
        .env("POD_BACKOFF_INITIAL", "soon")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: starting the supervisor of pod \"a\": POD_BACKOFF_INITIAL"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("error: starting the supervisor of pod \"b\": POD_BACKOFF_INITIAL"),
        "{stderr}"
    );
    // Nothing half-created is left.
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
}

#[test]
fn a_bad_output_format_stores_nothing() {
    let env = Env::new();
    let file = env.manifest("a.yaml", &pod("a", ""));
    let err = env.fails(&["create", "-f", file.to_str().unwrap(), "-o", "table"]);
    assert!(
        err.starts_with(
            "error: unable to match a printer suitable for the output format \"table\""
        ),
        "{err}"
    );
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
}
