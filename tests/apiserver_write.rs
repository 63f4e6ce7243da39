//! The write verbs of `pod serve` against the real kubectl (1.32 on this
//! machine image; a machine without kubectl fails these tests): create
//! (and its server dry run), label, annotate, patch of each type, apply
//! client-side and server-side (conflicts, --force-conflicts), replace
//! with a stale resourceVersion (409), a forbidden pod update, delete.
//! Each test has its own state directory and its own server on a free
//! loopback port, killed by its pid when the test ends.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::served::{Served, serve, serve_busybox};

impl Served {
    /// `pod get pod web -o jsonpath=...`, read from the store by the CLI.
    fn jsonpath(&self, path: &str) -> String {
        common::pods::jsonpath(&self.env, "web", path)
    }
}

const SEED: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sleep, '3600']
    imagePullPolicy: Never
";

fn wait_running(served: &Served) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while served.jsonpath("{.status.phase}") != "Running" {
        assert!(
            Instant::now() < deadline,
            "web never ran: {}",
            served.jsonpath("{.status}")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A pod's life through kubectl: created as `pod create -f` creates it
/// (it runs), changed by each kind of patch and apply, refused what the
/// API server refuses, deleted.
#[test]
fn kubectl_writes_a_pod_through_the_api() {
    let served = serve_busybox();
    let seed = served.file("web.yaml", SEED);

    // A server dry run stores nothing.
    assert_eq!(
        served.kubectl_ok(&["create", "-f", &seed, "--dry-run=server"]),
        "pod/web created (server dry run)\n"
    );
    let out = served.env.run(&["get", "pod", "web"]);
    assert!(!out.status.success(), "the dry run stored the pod");

    assert_eq!(
        served.kubectl_ok(&["create", "-f", &seed]),
        "pod/web created\n"
    );
    wait_running(&served);
    let out = served.kubectl_fails(&["create", "-f", &seed]);
    assert!(
        out.contains("Error from server (AlreadyExists): error when creating")
            && out.contains("pods \"web\" already exists"),
        "{out}"
    );

    assert_eq!(
        served.kubectl_ok(&["label", "pod", "web", "tier=a"]),
        "pod/web labeled\n"
    );
    assert_eq!(served.jsonpath("{.metadata.labels.tier}"), "a");
    assert_eq!(
        served.kubectl_ok(&["annotate", "pod", "web", "note=hello"]),
        "pod/web annotated\n"
    );
    assert_eq!(served.jsonpath("{.metadata.annotations.note}"), "hello");
    assert_eq!(
        served.kubectl_ok(&["label", "pod", "web", "tier-"]),
        "pod/web unlabeled\n"
    );
    assert_eq!(served.jsonpath("{.metadata.labels}"), "{\"app\":\"web\"}");

    // The three patch types.
    served.kubectl_ok(&[
        "patch",
        "pod",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/j","value":"1"}]"#,
    ]);
    served.kubectl_ok(&[
        "patch",
        "pod",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"m":"2"}}}"#,
    ]);
    served.kubectl_ok(&[
        "patch",
        "pod",
        "web",
        "-p",
        r#"{"metadata":{"labels":{"s":"3","j":null}}}"#,
    ]);
    assert_eq!(
        served.jsonpath("{.metadata.labels}"),
        "{\"app\":\"web\",\"m\":\"2\",\"s\":\"3\"}"
    );

    // A pod's spec is fixed but for what the API server lets change.
    let out = served.kubectl_fails(&[
        "patch",
        "pod",
        "web",
        "-p",
        r#"{"spec":{"restartPolicy":"Never"}}"#,
    ]);
    assert!(
        out.contains("The Pod \"web\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"),
        "{out}"
    );
    let out = served.kubectl_fails(&[
        "patch",
        "pod",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/metadata/name","value":"x"}]"#,
    ]);
    assert!(out.contains("testing value /metadata/name failed"), "{out}");

    // Client-side apply: a strategic merge patch from the last applied
    // configuration.
    let applied = served.file(
        "applied.yaml",
        &SEED.replace("    app: web\n", "    app: web\n    applied: client\n"),
    );
    // (-v=7 shows the request's headers and kubectl's reasons: the
    // OpenAPI 3 document's PATCH names the strategic merge patch type.)
    let out = served.kubectl(&["apply", "-v=7", "-f", &applied]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pod/web configured\n");
    assert!(
        !log.contains("does not support strategic merge patch"),
        "{log}"
    );
    assert!(
        log.contains("Content-Type: application/strategic-merge-patch+json"),
        "{log}"
    );
    assert_eq!(served.jsonpath("{.metadata.labels.applied}"), "client");
    assert_eq!(
        served.kubectl_ok(&["apply", "-f", &applied]),
        "pod/web unchanged\n"
    );

    // Server-side apply: the same values are shared, another manager's
    // value (the image kubectl create set) is a conflict until forced.
    let same = served.file(
        "same.yaml",
        &SEED.replace("    app: web\n", "    app: web\n    applied: client\n"),
    );
    assert_eq!(
        served.kubectl_ok(&["apply", "--server-side", "-f", &same]),
        "pod/web serverside-applied\n"
    );
    let image = "docker.io/library/busybox:latest";
    let ssa = served.file(
        "ssa.yaml",
        &SEED
            .replace("    app: web\n", "    app: web\n    applied: client\n")
            .replace("image: busybox", &format!("image: {image}")),
    );
    let out = served.kubectl_fails(&["apply", "--server-side", "-f", &ssa]);
    assert!(
        out.contains("Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .spec.containers[name=\"app\"].image"),
        "{out}"
    );
    assert_eq!(served.jsonpath("{.spec.containers[0].image}"), "busybox");
    assert_eq!(
        served.kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", &ssa]),
        "pod/web serverside-applied\n"
    );
    assert_eq!(served.jsonpath("{.spec.containers[0].image}"), image);
    let managers = served.kubectl_ok(&[
        "get",
        "pod",
        "web",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(
        managers.contains("kubectl-create") && managers.contains("kubectl"),
        "{managers}"
    );

    // `pod get` prints what kubectl prints: no managedFields.
    assert!(
        !served
            .env
            .ok(&["get", "pod", "web", "-o", "yaml"])
            .contains("managedFields")
    );

    // A write from an older version of the pod is a conflict.
    let old = served.file(
        "old.yaml",
        &served.kubectl_ok(&["get", "pod", "web", "-o", "yaml"]),
    );
    served.kubectl_ok(&["label", "pod", "web", "newer=yes"]);
    let out = served.kubectl_fails(&["replace", "-f", &old]);
    assert!(
        out.contains("Error from server (Conflict): error when replacing")
            && out.contains("Operation cannot be fulfilled on pods \"web\": the object has been modified; please apply your changes to the latest version and try again"),
        "{out}"
    );

    assert_eq!(
        served.kubectl_ok(&["delete", "pod", "web"]),
        "pod \"web\" deleted\n"
    );
    let out = served.env.run(&["get", "pod", "web"]);
    assert!(!out.status.success(), "web is still stored");
}

/// ConfigMaps: created with strict field validation (an unknown field is
/// a 400 in the server's words), updated, deleted by selector.
#[test]
fn configmaps_strict_fields_and_delete_collection() {
    let env = Env::new();
    let served = serve(env);
    // The server's strict decoding, asked for directly (kubectl's own
    // validation would stop the file first).
    let bad = served.file("bad.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}, "bogus": 1}"#,
    );
    let out = served.kubectl_fails(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
        "-f",
        &bad,
    ]);
    assert!(
        out.contains("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\""),
        "{out}"
    );
    // Warn (the default) takes it without the field and says so.
    let out = served.kubectl(&[
        "create",
        "--raw",
        "/api/v1/namespaces/default/configmaps?fieldValidation=Warn&dryRun=All",
        "-f",
        &bad,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Warning: unknown field \"bogus\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        served.env.ok(&["get", "configmaps", "-o", "name"]),
        "",
        "a dry run stored it"
    );
    let good = served.file("good.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {set: one}}\ndata: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, labels: {set: one}}\n",
    );
    assert_eq!(
        served.kubectl_ok(&["create", "-f", &good]),
        "configmap/c created\nconfigmap/d created\n"
    );
    served.kubectl_ok(&["patch", "configmap", "c", "-p", r#"{"data":{"k":"w"}}"#]);
    assert_eq!(
        served
            .env
            .ok(&["get", "configmap", "c", "-o", "jsonpath={.data.k}"]),
        "w"
    );
    let deleted = served.kubectl_ok(&["delete", "configmaps", "-l", "set=one"]);
    assert_eq!(
        deleted,
        "configmap \"c\" deleted\nconfigmap \"d\" deleted\n"
    );
    assert_eq!(served.env.ok(&["get", "configmaps", "-o", "name"]), "");
}

/// A DELETE of `path` with `body` as `content_type`, as a client other
/// than kubectl sends it (client-go configured for protobuf): curl with
/// the kubeconfig's bearer token. The status code and the body.
fn raw_delete(served: &Served, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let root = served.env.root();
    let token = std::fs::read_to_string(root.join("serve/token")).unwrap();
    let body_file = served.env.dir.path().join("delete-body");
    std::fs::write(&body_file, body).unwrap();
    let out = std::process::Command::new("curl")
        .arg("-sS")
        .arg("--cacert")
        .arg(root.join("serve/ca.crt"))
        .args(["-X", "DELETE", "-w", "\n%{http_code}"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", token.trim()))
        .arg("-H")
        .arg(format!("Content-Type: {content_type}"))
        .arg("--data-binary")
        .arg(format!("@{}", body_file.display()))
        .arg(format!("{}{path}", served.url))
        .output()
        .expect("running curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

/// DeleteOptions in the Kubernetes protobuf encoding (the `k8s\0`
/// envelope around the message, field numbers of meta/v1's
/// generated.proto): `preconditions` (2) with `uid` (1), `dryRun` (5).
fn protobuf_delete_options(uid: Option<&str>, dry_run: bool) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, number: u8, value: &[u8]) {
        out.push((number << 3) | 2);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    }
    let mut raw = Vec::new();
    if let Some(uid) = uid {
        let mut preconditions = Vec::new();
        field(&mut preconditions, 1, uid.as_bytes());
        field(&mut raw, 2, &preconditions);
    }
    if dry_run {
        field(&mut raw, 5, b"All");
    }
    let mut type_meta = Vec::new();
    field(&mut type_meta, 1, b"v1");
    field(&mut type_meta, 2, b"DeleteOptions");
    let mut out = b"k8s\0".to_vec();
    field(&mut out, 1, &type_meta);
    field(&mut out, 2, &raw);
    out
}

/// A delete whose DeleteOptions come as protobuf is read as the API
/// server reads it: its preconditions and dry run are acted on; a media
/// type the server does not read is 415.
#[test]
fn delete_options_sent_as_protobuf_are_acted_on() {
    let served = serve(Env::new());
    let configmap = served.file(
        "c.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n",
    );
    served.kubectl_ok(&["create", "-f", &configmap]);
    let uid = served.kubectl_ok(&["get", "configmap", "c", "-o", "jsonpath={.metadata.uid}"]);
    let path = "/api/v1/namespaces/default/configmaps/c";
    let protobuf = "application/vnd.kubernetes.protobuf";

    let (code, body) = raw_delete(
        &served,
        path,
        protobuf,
        &protobuf_delete_options(Some("not-the-uid"), false),
    );
    assert_eq!(code, 409, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["message"],
        format!(
            "Operation cannot be fulfilled on configmaps \"c\": Precondition failed: UID in precondition: not-the-uid, UID in object meta: {uid}"
        )
    );
    let (code, body) = raw_delete(
        &served,
        path,
        protobuf,
        &protobuf_delete_options(None, true),
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = raw_delete(&served, path, "text/plain", b"gracePeriodSeconds: 0");
    assert_eq!(code, 415, "{body}");
    assert_eq!(
        served.env.ok(&["get", "configmaps", "-o", "name"]),
        "configmap/c\n",
        "deleted by a dry run or a failed precondition"
    );

    let (code, body) = raw_delete(
        &served,
        path,
        protobuf,
        &protobuf_delete_options(Some(&uid), false),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(served.env.ok(&["get", "configmaps", "-o", "name"]), "");
}

/// A pod that says which image it runs (the image's IMAGE variable) and
/// is never restarted by its policy.
const SAYS_ITS_IMAGE: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'echo \"image=$IMAGE\"; exec sleep 3600']
    imagePullPolicy: Never
";

/// A running pod's container image changed through the API (`kubectl
/// set image`) is acted on as the kubelet acts on a changed container
/// definition: the container is killed and created again with the new
/// image, one restart counted, even under restartPolicy Never.
#[test]
fn a_changed_image_restarts_the_container_with_it() {
    let served = serve_busybox();
    // A second image: busybox again, with IMAGE=v2 in its configuration.
    let scratch = tempfile::tempdir().unwrap();
    let tar = common::busybox_rootfs_tar(scratch.path());
    let out = served
        .env
        .pod()
        .args(["image", "import", "--quiet", "--change", "ENV IMAGE=v2"])
        .arg(&tar)
        .arg("docker.io/library/busybox:v2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let manifest = served.file("web.yaml", SAYS_ITS_IMAGE);
    served.kubectl_ok(&["create", "-f", &manifest]);
    wait_running(&served);

    assert_eq!(
        served.kubectl_ok(&[
            "set",
            "image",
            "pod/web",
            "app=docker.io/library/busybox:v2"
        ]),
        "pod/web image updated\n"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while served.jsonpath("{.status.containerStatuses[0].restartCount}") != "1"
        || served
            .jsonpath("{.status.containerStatuses[0].state.running}")
            .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "not restarted with the new image: {}",
            served.jsonpath("{.status}")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        served.jsonpath("{.status.containerStatuses[0].image}"),
        "docker.io/library/busybox:v2"
    );
    assert_eq!(served.kubectl_ok(&["logs", "web"]), "image=v2\n");
    assert_eq!(
        served.kubectl_ok(&["logs", "web", "--previous"]),
        "image=\n"
    );
    let events = served.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
        "-o",
        "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
    ]);
    assert!(
        events.contains("Killing: Container app definition changed, will be restarted\n"),
        "{events}"
    );
    assert!(
        events.contains(
            "Pulled: Container image \"docker.io/library/busybox:v2\" already present on machine\n"
        ),
        "{events}"
    );
}

/// kubectl's typed commands send their object in the Kubernetes
/// protobuf encoding (`kubectl create configmap`, `secret`, `namespace`):
/// the server reads it as the API server does (it answered 400 before).
#[test]
fn kubectl_create_configmap_secret_and_namespace_are_read_from_protobuf() {
    let served = serve(Env::new());
    assert_eq!(
        served.kubectl_ok(&["create", "configmap", "c", "--from-literal=k=v"]),
        "configmap/c created\n"
    );
    assert_eq!(
        served
            .env
            .ok(&["get", "configmap", "c", "-o", "jsonpath={.data.k}"]),
        "v"
    );
    assert_eq!(
        served.kubectl_ok(&[
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=pw=hunter2"
        ]),
        "secret/s created\n"
    );
    assert_eq!(
        served
            .env
            .ok(&["get", "secret", "s", "-o", "jsonpath={.type} {.data.pw}"]),
        "Opaque aHVudGVyMg=="
    );
    assert_eq!(
        served.kubectl_ok(&["create", "namespace", "n1"]),
        "namespace/n1 created\n"
    );
    assert_eq!(
        served.env.ok(&["get", "namespace", "n1", "-o", "name"]),
        "namespace/n1\n"
    );
    // The same namespace sent as kubectl's JSON is stored alike: its
    // spec and the fields its manager owns.
    let json = served.kubectl_ok(&[
        "create",
        "namespace",
        "n2",
        "--dry-run=client",
        "-o",
        "json",
    ]);
    served.kubectl_ok(&["create", "-f", &served.file("n2.json", &json)]);
    let stored = |name: &str| {
        let json = served.env.ok(&["get", "namespace", name, "-o", "json"]);
        let ns: serde_json::Value = serde_json::from_str(&json).unwrap();
        let managed = &ns["metadata"]["managedFields"][0];
        (
            ns["spec"].clone(),
            managed["manager"].clone(),
            managed["fieldsV1"].clone(),
        )
    };
    assert_eq!(stored("n1"), stored("n2"));
}
