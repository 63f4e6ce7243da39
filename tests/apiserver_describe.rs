//! Side by side: `kubectl describe pod` against `pod serve` and `pod
//! describe pod` print the same text for the same pod (kubectl's own
//! describer over the API's objects, pod's describer over the store),
//! for a pod with an init container, a restarted container's last state,
//! named ports, env from a config map and the downward API, resources,
//! a probe, volumes of three kinds, a readiness gate, node selector and
//! tolerations, and its events. Only the events' ages (kubectl and pod
//! run a second apart) are left out of the comparison.

mod common;

use std::time::{Duration, Instant};

use common::pods::{PATIENCE, jsonpath};
use common::served::serve_busybox;

const RICH: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  k: v
---
apiVersion: v1
kind: Pod
metadata:
  name: rich
  labels:
    app: rich
    tier: back
  annotations:
    note: side by side
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector:
    kubernetes.io/os: linux
  tolerations:
  - key: example.com/x
    operator: Exists
    effect: NoSchedule
  readinessGates:
  - conditionType: example.com/gate
  initContainers:
  - name: init
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'echo init']
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    # Fails once (exit 3), then runs: a last state, a restart, no more
    # events.
    command: [sh, -c, 'if [ -e /data/once ]; then exec sleep 3600; fi; touch /data/once; exit 3']
    ports:
    - containerPort: 8080
      name: http
    - containerPort: 9090
      protocol: UDP
    env:
    - name: FROM_CM
      valueFrom:
        configMapKeyRef:
          name: conf
          key: k
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    envFrom:
    - configMapRef:
        name: conf
    resources:
      requests:
        cpu: 100m
        memory: 32Mi
      limits:
        cpu: 200m
        memory: 64Mi
    readinessProbe:
      exec:
        command: ['true']
    volumeMounts:
    - name: data
      mountPath: /data
    - name: cm
      mountPath: /etc/cm
      readOnly: true
  - name: side
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
  volumes:
  - name: data
    emptyDir:
      sizeLimit: 10Mi
  - name: cm
    configMap:
      name: conf
  - name: host
    hostPath:
      path: /tmp
      type: Directory
";

/// The text with the Age column of the events (and the ages inside
/// `(x2 over 7s)`) masked, every events row as its cells: an age one
/// digit longer widens the column, which is no difference in the text.
fn masked(text: &str) -> String {
    let mut out = String::new();
    let mut events = false;
    for line in text.lines() {
        if line == "Events:" {
            events = true;
        } else if events && !line.trim_start().starts_with("Type") && !line.contains("----") {
            let cells: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            if let [kind, reason, _age, rest @ ..] = cells.as_slice() {
                out.push_str(&format!(
                    "  {kind} | {reason} | <age> | {}\n",
                    rest.join(" | ")
                ));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn kubectl_describe_and_pod_describe_print_the_same_text() {
    let served = serve_busybox();
    let manifest = served.env.manifest("rich.yaml", RICH);
    let out = served
        .env
        .pod()
        .env("POD_BACKOFF_INITIAL", "1s")
        .env("POD_BACKOFF_MAX", "1s")
        .args(["create", "-f", manifest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let app = |field: &str| {
        jsonpath(
            &served.env,
            "rich",
            &format!("{{.status.containerStatuses[?(@.name==\"app\")].{field}}}"),
        )
    };
    let deadline = Instant::now() + PATIENCE * 2;
    while !(app("restartCount") == "1" && app("ready") == "true") {
        assert!(Instant::now() < deadline, "app never ran again once ready");
        std::thread::sleep(Duration::from_millis(200));
    }

    // The two run a moment apart: a pod that changed between them (a
    // late event) is compared again; a difference of printing stays.
    let (mut ours, mut theirs);
    loop {
        ours = masked(&served.env.ok(&["describe", "pod", "rich"]));
        theirs = masked(&served.kubectl_ok(&["describe", "pod", "rich"]));
        if ours == theirs || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(
        ours, theirs,
        "pod describe (left) and kubectl describe (right)"
    );
    for line in [
        "Name:         rich",
        "    Ports:         8080/TCP, 9090/UDP",
        "    Last State:     Terminated",
        "      Exit Code:    3",
        "    Restart Count:  1",
        "      FROM_CM:   <set to the key 'k' of config map 'conf'>  Optional: false",
        "  Ready                       False ",
        "Readiness Gates:",
        "  example.com/gate   <none> ",
        "    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)",
        "Tolerations:       example.com/x:NoSchedule op=Exists",
    ] {
        assert!(ours.lines().any(|l| l == line), "no {line:?} in:\n{ours}");
    }
    assert!(
        ours.contains("  Normal | Started | <age> | kubelet | Started container app\n"),
        "{ours}"
    );
}
