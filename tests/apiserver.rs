//! `pod serve` against the real kubectl (1.32 on this machine image; a
//! machine without kubectl fails these tests): each test has its own
//! state directory and its own server on a free loopback port, killed by
//! its pid when the test ends, whether it passed or not.

mod common;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::served::{serve, serve_busybox, serve_running};
use serde_json::Value;

/// A table's cells, the AGE column left out (the two commands run
/// seconds apart).
fn cells_without_age(table: &str) -> Vec<Vec<String>> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let age = header.find("AGE");
    let starts: Vec<usize> = column_starts(header);
    std::iter::once(header)
        .chain(lines)
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .filter(|(_, s)| Some(**s) != age)
                .map(|(i, s)| {
                    let end = starts.get(i + 1).copied().unwrap_or(line.len());
                    line.get(*s..end.min(line.len()))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}

/// Where each column of a kubectl table starts (after a run of two or
/// more spaces, or one space before an upper-case header word that
/// follows a space-padded one).
fn column_starts(header: &str) -> Vec<usize> {
    let bytes = header.as_bytes();
    let mut starts = vec![0];
    for i in 1..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && i >= 2 && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    starts
}

const SLEEPER: &str = "apiVersion: v1
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

/// kubectl's words for a 401 (after its discovery's retries, which
/// print lines of their own first).
fn refused(out: &Output) {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last == "error: You must be logged in to the server (Unauthorized)"
            || last
                == "error: You must be logged in to the server (the server has asked for the client to provide credentials)",
        "{stderr}"
    );
}

/// GET `path` from the server at `address` (`https://127.0.0.1:N`),
/// trusting the CA `ca` (PEM), with an Authorization header or none and
/// no client certificate: the response's head and body.
fn raw_get(address: &str, ca: &[u8], path: &str, authorization: Option<&str>) -> (String, String) {
    use rustls::pki_types::pem::PemObject as _;
    use std::io::{Read as _, Write as _};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host_port = address.trim().trim_start_matches("https://").to_string();
    let tcp = std::net::TcpStream::connect(&host_port).unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {host_port}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    // The server may close without a TLS close_notify; what was read counts.
    let _ = tls.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// A running pod, seen by `pod get` and by kubectl through the server:
/// the same columns and cells (table and -o wide), the same object in
/// yaml and json, with a resourceVersion; selectors; NotFound.
#[test]
fn kubectl_get_pods_shows_what_pod_get_shows() {
    let served = serve_running("web", SLEEPER);

    for wide in [false, true] {
        let mut args = vec!["get", "pods"];
        if wide {
            args.extend(["-o", "wide"]);
        }
        let ours = served.env.ok(&args);
        let theirs = served.kubectl_ok(&args);
        assert_eq!(
            theirs.lines().next(),
            ours.lines().next(),
            "headers\n{theirs}\n{ours}"
        );
        assert_eq!(
            cells_without_age(&theirs),
            cells_without_age(&ours),
            "\n{theirs}\n{ours}"
        );
    }

    let ours: Value =
        serde_json::from_str(&served.env.ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    let theirs: Value =
        serde_json::from_str(&served.kubectl_ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    assert_eq!(theirs["spec"], ours["spec"]);
    assert_eq!(theirs["status"]["phase"], "Running");
    assert_eq!(theirs["metadata"]["uid"], ours["metadata"]["uid"]);
    let version: u64 = theirs["metadata"]["resourceVersion"]
        .as_str()
        .expect("a resourceVersion")
        .parse()
        .unwrap();
    assert!(version > 0);

    let yaml = served.kubectl_ok(&["get", "pods", "-o", "yaml"]);
    let list: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert_eq!(list["items"][0]["spec"], ours["spec"]);

    // Selectors, as kubectl passes them.
    let names = |args: &[&str]| {
        let mut all = vec!["get", "pods", "-o", "name"];
        all.extend_from_slice(args);
        served.kubectl_ok(&all)
    };
    assert_eq!(names(&["-l", "app=web"]), "pod/web\n");
    assert_eq!(names(&["-l", "app!=web"]), "");
    assert_eq!(
        names(&["--field-selector", "status.phase=Running"]),
        "pod/web\n"
    );
    assert_eq!(names(&["--field-selector", "metadata.name=other"]), "");
    assert_eq!(
        names(&["-A", "--field-selector", "metadata.namespace=default"]),
        "pod/web\n"
    );

    let out = served.kubectl(&["get", "pod", "nope"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );
    let out = served.kubectl(&["get", "pods", "--field-selector", "spec.image=x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("field label not supported: spec.image"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kubectl get pods -w` prints the pod as it comes, from the server's
/// watch (Table rows), the header once.
#[test]
fn kubectl_get_pods_watch_sees_a_pod_start() {
    let served = serve_busybox();
    let out_path = served.env.dir.path().join("watch.out");
    let mut watcher = served
        .kubectl_with(&served.kubeconfig)
        .args(["get", "pods", "-w"])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running kubectl");
    // kubectl's first list (none yet) is printed before the watch starts.
    let watched = || std::fs::read_to_string(&out_path).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(300));
    common::pods::create(&served.env, "web", SLEEPER);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !seen
        .lines()
        .any(|l| l.starts_with("web ") && l.contains("Running"))
    {
        if Instant::now() > deadline {
            let _ = watcher.kill();
            let _ = watcher.wait();
            panic!("the watch never showed web Running:\n{seen}");
        }
        std::thread::sleep(Duration::from_millis(200));
        seen = watched();
    }
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert_eq!(
        seen.lines().filter(|l| l.starts_with("NAME ")).count(),
        1,
        "{seen}"
    );
    assert!(
        seen.lines()
            .next()
            .is_some_and(|h| h.split_whitespace().collect::<Vec<_>>()
                == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]),
        "{seen}"
    );
}

/// Nodes and namespaces as `pod get` shows them; `kubectl auth whoami`.
#[test]
fn kubectl_get_nodes_namespaces_and_whoami() {
    let served = serve(Env::new());
    for kind in ["nodes", "namespaces"] {
        let ours = served.env.ok(&["get", kind]);
        let theirs = served.kubectl_ok(&["get", kind]);
        assert_eq!(
            cells_without_age(&theirs),
            cells_without_age(&ours),
            "\n{theirs}\n{ours}"
        );
    }
    let ours = served.env.ok(&["get", "nodes", "-o", "wide"]);
    let theirs = served.kubectl_ok(&["get", "nodes", "-o", "wide"]);
    assert_eq!(
        cells_without_age(&theirs),
        cells_without_age(&ours),
        "\n{theirs}\n{ours}"
    );
    assert_eq!(
        served.kubectl_ok(&["auth", "whoami"]),
        "ATTRIBUTE   VALUE\nUsername    kubernetes-admin\nGroups      [system:masters system:authenticated]\n"
    );
}

/// Without the client certificate, or with one of another CA, a client
/// gets the API server's 401; the bearer token of `--token` gets in.
#[test]
fn only_the_kubeconfigs_credentials_get_in() {
    let served = serve(Env::new());
    let text = std::fs::read_to_string(&served.kubeconfig).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&served.kubeconfig).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(served.env.root().join("serve/ca.key").exists());

    // No credentials at all (kubectl would prompt for a password with a
    // kubeconfig that has none): a request of our own over TLS that
    // trusts the server's CA and sends nothing of the client's.
    let address = std::fs::read_to_string(served.env.root().join("serve/address")).unwrap();
    let ca = std::fs::read(served.env.root().join("serve/ca.crt")).unwrap();
    let (head, body) = raw_get(&address, &ca, "/api/v1/pods", None);
    assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status,
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized",
            "code": 401})
    );
    // A wrong bearer token.
    let (head, _) = raw_get(&address, &ca, "/api/v1/pods", Some("Bearer 0123"));
    assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
    let token = std::fs::read_to_string(served.env.root().join("serve/token")).unwrap();
    let (head, _) = raw_get(
        &address,
        &ca,
        "/api/v1/pods",
        Some(&format!("Bearer {}", token.trim())),
    );
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");

    // The kubeconfig with a wrong token instead of its certificate.
    let wrong: String = text
        .lines()
        .filter(|l| !l.contains("client-key-data"))
        .map(|l| {
            if l.contains("client-certificate-data") {
                "    token: wrong".to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let wrong_path = served.env.dir.path().join("wrong");
    std::fs::write(&wrong_path, wrong).unwrap();
    let out = served
        .kubectl_with(&wrong_path)
        .args(["get", "pods"])
        .output()
        .unwrap();
    refused(&out);

    // A certificate and key from another state directory's CA, with this
    // server's address and CA.
    let other = Env::new();
    let other_config = other.dir.path().join("kc");
    other.ok(&["kubeconfig", other_config.to_str().unwrap()]);
    let other_text = std::fs::read_to_string(&other_config).unwrap();
    let pick = |text: &str, key: &str| text.lines().find(|l| l.contains(key)).unwrap().to_string();
    let foreign: String = text
        .lines()
        .map(|l| {
            if l.contains("client-certificate-data") {
                pick(&other_text, "client-certificate-data")
            } else if l.contains("client-key-data") {
                pick(&other_text, "client-key-data")
            } else {
                l.to_string()
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let foreign_path = served.env.dir.path().join("foreign");
    std::fs::write(&foreign_path, foreign).unwrap();
    let out = served
        .kubectl_with(&foreign_path)
        .args(["get", "pods"])
        .output()
        .unwrap();
    refused(&out);

    let token_path = served.env.dir.path().join("token-kc");
    served
        .env
        .ok(&["kubeconfig", "--token", token_path.to_str().unwrap()]);
    let out = served
        .kubectl_with(&token_path)
        .args(["get", "pods"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A watch from a version replays the changes after it; from a version
/// older than the history, 410 Expired.
#[test]
fn watch_replays_from_a_version_and_expires_old_ones() {
    let env = Env::new();
    // Versions given before this server started are not in its history.
    std::fs::create_dir_all(env.root()).unwrap();
    std::fs::write(env.root().join("resource-version"), "100").unwrap();
    let served = serve(env);
    let list: Value = serde_json::from_str(&served.kubectl_ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
    ]))
    .unwrap();
    let from: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(from >= 100, "{list}");
    let cm = served.env.manifest(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n",
    );
    served.env.ok(&["create", "-f", cm.to_str().unwrap()]);
    let url = format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={from}&timeoutSeconds=2"
    );
    let out = served.kubectl_ok(&["get", "--raw", &url]);
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{out}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "settings");
    let version: u64 = events[0]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(version > from);

    // Nothing after the configmap's version: the watch ends empty at its
    // timeout.
    let url = format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={version}&timeoutSeconds=1"
    );
    assert_eq!(served.kubectl_ok(&["get", "--raw", &url]), "");

    let out = served.kubectl(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=5",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server (Expired): too old resource version: 5 (100)"
    );
}

/// `kubectl explain` reads the server's OpenAPI v3 documents: the API's
/// own descriptions for the kinds served, events of both groups.
#[test]
fn kubectl_explain_reads_the_served_schemas() {
    let served = serve(Env::new());
    let out = served.kubectl_ok(&["explain", "pod.spec"]);
    assert!(
        out.starts_with("KIND:       Pod\nVERSION:    v1\n\nFIELD: spec <PodSpec>\n"),
        "{out}"
    );
    assert!(out.contains("PodSpec is a description of a pod."), "{out}");
    assert!(
        out.contains("  containers\t<[]Container> -required-\n"),
        "{out}"
    );
    let out = served.kubectl_ok(&["explain", "nodes.status.nodeInfo.kubeletVersion"]);
    assert!(out.contains("FIELD: kubeletVersion <string>"), "{out}");
    let out = served.kubectl_ok(&["explain", "events", "--api-version=events.k8s.io/v1"]);
    assert!(
        out.starts_with("GROUP:      events.k8s.io\nKIND:       Event\nVERSION:    v1\n"),
        "{out}"
    );
    assert!(out.contains("  regarding\t<ObjectReference>"), "{out}");
    // PodPresets: their own schemas, and the core ones they name.
    let out = served.kubectl_ok(&["explain", "podpresets.spec"]);
    assert!(
        out.starts_with(
            "GROUP:      settings.k8s.io\nKIND:       PodPreset\nVERSION:    v1alpha1\n\nFIELD: spec <PodPresetSpec>\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("PodPresetSpec is a description of a pod preset."),
        "{out}"
    );
    assert!(out.contains("  env\t<[]EnvVar>\n"), "{out}");
    let out = served.kubectl_ok(&["explain", "podpresets.spec.volumes.configMap.name"]);
    assert!(out.contains("FIELD: name <string>"), "{out}");
    let out = served.kubectl(&["explain", "deployments"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "the server doesn't have a resource type \"deployments\""
    );
}

/// `/openapi/v2`, in the protobuf form kubectl asks for: `kubectl
/// explain --output=plaintext-openapiv2` reads it (a 404 before it was
/// served). `kubectl apply` makes its strategic merge patch from the
/// OpenAPI 3 document, whose PATCH names that patch type, as against the
/// API server (it fetched v2 while v3 named none), and removes a
/// scheduling gate with it (a keyed `$patch: delete`).
#[test]
fn kubectl_reads_openapi_v2_for_explain_and_v3_for_apply() {
    let served = serve(Env::new());
    let out = served.kubectl_ok(&[
        "explain",
        "pod.spec.schedulingGates",
        "--output=plaintext-openapiv2",
    ]);
    assert!(
        out.starts_with("KIND:     Pod\nVERSION:  v1\n\nRESOURCE: schedulingGates <[]Object>\n"),
        "{out}"
    );
    assert!(out.contains("   name\t<string> -required-\n"), "{out}");
    let gated = |gates: &str| {
        format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: gated
spec:
  schedulingGates:
{gates}  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
"
        )
    };
    let first = served
        .env
        .manifest("gated.yaml", &gated("  - name: a\n  - name: b\n"));
    served.kubectl_ok(&["apply", "-f", first.to_str().unwrap()]);
    let second = served.env.manifest("gated2.yaml", &gated("  - name: b\n"));
    let out = served
        .kubectl_cmd()
        .args(["apply", "-f", second.to_str().unwrap(), "-v=6"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("/openapi/v2?"), "{log}");
    assert!(
        !log.contains("does not support strategic merge patch"),
        "{log}"
    );
    assert!(
        !log.contains("error calculating patch from openapi"),
        "{log}"
    );
    assert_eq!(
        served.kubectl_ok(&[
            "get",
            "pod",
            "gated",
            "-o",
            "jsonpath={.spec.schedulingGates[*].name}"
        ]),
        "b"
    );
}
