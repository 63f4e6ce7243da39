//! Namespaces as a cluster has them: the four built-in ones, files that
//! create a namespace and then objects in it, the NotFound of a namespace
//! that does not exist, files mixing kinds `pod` does not serve, and
//! deleting a namespace with running pods in it (Terminating until they
//! are gone).

mod common;

use std::time::{Duration, Instant};

use common::Env;

/// A pod that runs until killed and ignores SIGTERM, so its deletion takes
/// its whole (short) grace period.
fn pod(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'while true; do sleep 1; done']
"
    )
}

/// A pod of `namespace` that takes 10 s to stop (its shell ignores
/// SIGTERM): long enough to see its namespace Terminating on a loaded
/// machine.
fn slow_pod(name: &str, namespace: &str) -> String {
    pod(name, namespace).replace(
        "terminationGracePeriodSeconds: 2",
        "terminationGracePeriodSeconds: 10",
    )
}

fn namespace(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
}

#[test]
fn the_built_in_namespaces_exist_and_cannot_be_deleted() {
    let env = Env::new();
    assert_eq!(
        env.ok(&["get", "ns", "-o", "name"]),
        "namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n"
    );
    let table = env.ok(&["get", "namespaces"]);
    assert!(
        table.starts_with("NAME              STATUS   AGE\n"),
        "{table}"
    );
    // Cluster-scoped: no NAMESPACE column under -A, and -n changes nothing.
    let all = env.ok(&["get", "ns", "-A", "--no-headers", "-o", "wide"]);
    assert!(all.starts_with("default           Active   "), "{all}");
    assert_eq!(
        env.ok(&["-n", "kube-system", "get", "ns", "default", "-o", "name"]),
        "namespace/default\n"
    );
    assert!(table.contains("\nkube-system       Active   "), "{table}");
    assert_eq!(
        env.ok(&["describe", "namespace", "kube-public"]),
        "Name:         kube-public
Labels:       kubernetes.io/metadata.name=kube-public
Annotations:  <none>
Status:       Active

No resource quota.

No LimitRange resource.
"
    );
    let json = env.ok(&["get", "ns", "default", "-o", "json"]);
    let ns: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["spec"]["finalizers"][0], "kubernetes");
    assert_eq!(ns["status"]["phase"], "Active");
    assert!(ns["metadata"].get("namespace").is_none(), "{json}");
    for name in ["default", "kube-system"] {
        let err = env.fails(&["delete", "namespace", name]);
        assert_eq!(
            err,
            format!(
                "Error from server (Forbidden): namespaces \"{name}\" is forbidden: this namespace may not be deleted\n"
            )
        );
    }
    assert_eq!(env.ok(&["get", "ns", "-o", "name"]).lines().count(), 4);
}

#[test]
fn create_namespace_by_name_and_its_errors() {
    let env = Env::new();
    assert_eq!(
        env.ok(&["create", "namespace", "dev"]),
        "namespace/dev created\n"
    );
    assert_eq!(
        env.fails(&["create", "ns", "dev"]),
        "Error from server (AlreadyExists): namespaces \"dev\" already exists\n"
    );
    let err = env.fails(&["create", "namespace", "Bad_Name"]);
    assert!(
        err.starts_with(
            "The Namespace \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
        ),
        "{err}"
    );
    assert_eq!(
        env.ok(&["get", "ns", "dev", "-o", "jsonpath={.metadata.labels}"]),
        r#"{"kubernetes.io/metadata.name":"dev"}"#
    );
}

#[test]
fn objects_in_a_namespace_that_does_not_exist_are_refused() {
    let env = Env::new();
    let file = env.manifest(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: nowhere\n",
    );
    let out = env.run(&["create", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "Error from server (NotFound): error when creating \"{}\": namespaces \"nowhere\" not found\n",
            file.display()
        )
    );
    assert!(out.stdout.is_empty());
    // `-n` names a namespace just the same.
    let plain = env.manifest(
        "p.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
    );
    let err = env.fails(&["-n", "nowhere", "create", "-f", plain.to_str().unwrap()]);
    assert!(err.ends_with("namespaces \"nowhere\" not found\n"), "{err}");
    let err = env.fails(&["get", "ns", "nowhere"]);
    assert_eq!(
        err,
        "Error from server (NotFound): namespaces \"nowhere\" not found\n"
    );
    assert!(
        env.ok(&["get", "cm,secrets", "-A", "-o", "name"])
            .is_empty()
    );
    assert!(!env.root().join("configmaps/nowhere/c.json").exists());
}

#[test]
fn a_file_of_a_namespace_and_pods_in_it_runs_them() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let file = env.manifest(
        "team.yaml",
        &[namespace("team"), pod("a", "team"), pod("b", "team")].join("---\n"),
    );
    assert_eq!(
        env.ok(&["create", "-f", file.to_str().unwrap()]),
        "namespace/team created\npod/a created\npod/b created\n"
    );
    env.ok(&[
        "-n",
        "team",
        "wait",
        "--for=condition=Ready",
        "pod/a",
        "pod/b",
        "--timeout=60s",
    ]);
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
    assert_eq!(
        env.ok(&["-n", "team", "get", "pods", "-o", "name"]),
        "pod/a\npod/b\n"
    );
    // The same file deletes them: the pods, then the namespace.
    assert_eq!(
        env.ok(&["delete", "-f", file.to_str().unwrap()]),
        "namespace \"team\" deleted\npod \"a\" deleted\npod \"b\" deleted\n"
    );
    assert!(env.ok(&["get", "pods", "-A", "-o", "name"]).is_empty());
    assert!(!env.ok(&["get", "ns", "-o", "name"]).contains("team"));
}

#[test]
fn kinds_pod_does_not_serve_are_errors_and_the_rest_is_created() {
    let env = Env::new();
    let file = env.manifest(
        "mixed.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata:
  name: gpu
  namespace: default
---
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-new-cron-object
---
apiVersion: v1
kind: Secret
metadata:
  name: token
",
    );
    let out = env.run(&["create", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/settings created\nsecret/token created\n"
    );
    let f = file.display();
    // kubectl's aggregate of several errors: one message each, no
    // `error: ` before them.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "resource mapping not found for name: \"web\" namespace: \"\" from \"{f}\": no matches for kind \"Deployment\" in version \"apps/v1\"
ensure CRDs are installed first
resource mapping not found for name: \"gpu\" namespace: \"default\" from \"{f}\": no matches for kind \"ResourceClaim\" in version \"resource.k8s.io/v1\"
ensure CRDs are installed first
resource mapping not found for name: \"my-new-cron-object\" namespace: \"\" from \"{f}\": no matches for kind \"CronTab\" in version \"stable.example.com/v1\"
ensure CRDs are installed first
"
        )
    );
    // One such document alone: kubectl's single error, with `error: `.
    let one = env.manifest(
        "one.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
    );
    let out = env.run(&["create", "-f", one.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/other created\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: resource mapping not found for name: \"web\" namespace: \"\" from \"{}\": no matches for kind \"Deployment\" in version \"apps/v1\"\nensure CRDs are installed first\n",
            one.display()
        )
    );
}

#[test]
fn deleting_a_namespace_deletes_what_is_in_it_terminating_meanwhile() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\n  namespace: doomed\n";
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: key\n  namespace: doomed\n";
    let file = env.manifest(
        "doomed.yaml",
        &[
            namespace("doomed"),
            slow_pod("a", "doomed"),
            slow_pod("b", "doomed"),
            config.to_string(),
            secret.to_string(),
        ]
        .join("---\n"),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    // A pod of the same name elsewhere stays.
    let other = env.manifest("keep.yaml", &pod("a", "default"));
    env.ok(&["create", "-f", other.to_str().unwrap()]);
    env.ok(&[
        "-n",
        "doomed",
        "wait",
        "--for=condition=Ready",
        "pod/a",
        "pod/b",
        "--timeout=60s",
    ]);
    let start = Instant::now();
    let deleting = env
        .pod()
        .args(["delete", "namespace", "doomed"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting pod delete");
    // While the pods end their grace periods the namespace is Terminating
    // and takes nothing new.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let table = env.ok(&["get", "ns", "doomed", "--no-headers"]);
        if table.contains("Terminating") {
            break;
        }
        assert!(Instant::now() < deadline, "never Terminating: {table}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let late = env.manifest("late.yaml", &pod("late", "doomed"));
    let err = env.fails(&["create", "-f", late.to_str().unwrap()]);
    assert!(
        err.ends_with("pods \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated\n"),
        "{err}"
    );
    let out = deleting.wait_with_output().expect("waiting for pod delete");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "namespace \"doomed\" deleted\n"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(10),
        "the pods had their grace"
    );
    assert_eq!(
        env.fails(&["get", "ns", "doomed"]),
        "Error from server (NotFound): namespaces \"doomed\" not found\n"
    );
    assert_eq!(
        env.ok(&["get", "pods,cm,secrets", "-A", "-o", "name"]),
        "pod/a\n"
    );
    assert_eq!(
        env.ok(&["get", "pod", "a", "-o", "jsonpath={.metadata.namespace}"]),
        "default"
    );
}

#[test]
fn a_namespace_deleted_without_waiting_goes_once_its_pods_are_gone() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let file = env.manifest(
        "q.yaml",
        &[namespace("quick"), slow_pod("a", "quick")].join("---\n"),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    env.ok(&[
        "-n",
        "quick",
        "wait",
        "--for=condition=Ready",
        "pod/a",
        "--timeout=60s",
    ]);
    assert_eq!(
        env.ok(&["delete", "ns", "quick", "--wait=false"]),
        "namespace \"quick\" deleted\n"
    );
    assert!(env.ok(&["get", "ns", "quick"]).contains("Terminating"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.run(&["get", "ns", "quick"]).status.success() {
        assert!(Instant::now() < deadline, "the namespace never went");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(env.ok(&["get", "pods", "-A", "-o", "name"]).is_empty());
}

/// `pod apply ARGS` with a deadline: a create under apply once waited for
/// ever on its own lock.
fn apply(env: &Env, file: &str) -> String {
    let mut child = env
        .pod()
        .args(["apply", "-f", file])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting pod apply");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waiting for pod apply").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pod apply -f {file} hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("pod apply output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn apply_creates_a_namespace_and_objects_in_it_then_updates_them() {
    let env = Env::new();
    let text = "apiVersion: v1
kind: Namespace
metadata: {name: ap, labels: {team: a}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: ap}
---
apiVersion: settings.k8s.io/v1alpha1
kind: PodPreset
metadata: {name: pp, namespace: ap}
spec: {env: [{name: A, value: b}]}
";
    let file = env.manifest("ap.yaml", text);
    let file = file.to_str().unwrap();
    assert_eq!(
        apply(&env, file),
        "namespace/ap created\nconfigmap/c created\npodpreset.settings.k8s.io/pp created\n"
    );
    let version = |env: &Env| {
        env.ok(&[
            "-n",
            "ap",
            "get",
            "podpreset",
            "pp",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
    };
    let first = version(&env);
    assert_eq!(
        apply(&env, file),
        "namespace/ap unchanged\nconfigmap/c unchanged\npodpreset.settings.k8s.io/pp unchanged\n"
    );
    env.manifest("ap.yaml", &text.replace("value: b", "value: d"));
    assert_eq!(
        apply(&env, file),
        "namespace/ap unchanged\nconfigmap/c unchanged\npodpreset.settings.k8s.io/pp configured\n"
    );
    let second = version(&env);
    assert!(
        second.parse::<u64>().unwrap() > first.parse::<u64>().unwrap(),
        "{first} then {second}"
    );
    assert_eq!(
        env.ok(&["get", "ns", "ap", "-o", "jsonpath={.metadata.labels.team}"]),
        "a"
    );
}
