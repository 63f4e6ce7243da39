//! `describe` in kubectl's layout (pkg/describe `describePod`,
//! `describeConfigMap`, `describeSecret`): "Label:\tvalue" lines at two
//! spaces per level through the describe tabwriter (minwidth 0, padding 2),
//! times in RFC 1123 with a numeric zone, ages as HumanDuration, and the
//! Events table with folded counts.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

mod container;
mod generic;
mod kinds;
mod node;
mod pod;

pub use node::taint_string;

use super::events;
use super::tabwriter;
use crate::api::Object;
use crate::duration;

/// Annotations kubectl leaves out of describe.
const SKIP_ANNOTATIONS: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];
const MAX_ANNOTATION_LEN: usize = 140;

/// Describes an object now, with times in the system's zone.
pub fn describe(object: &Object, events: &[Event]) -> String {
    describe_at(object, events, Timestamp::now(), &TimeZone::system())
}

/// Describes a node with the pods bound to it that have not terminated.
pub fn describe_node(node: &Node, pods: &[Pod], events: &[Event]) -> String {
    describe_node_at(node, pods, events, Timestamp::now(), &TimeZone::system())
}

/// `describe_node` at `now` in `tz`.
pub fn describe_node_at(
    node: &Node,
    pods: &[Pod],
    events: &[Event],
    now: Timestamp,
    tz: &TimeZone,
) -> String {
    let mut d = Describer {
        out: String::new(),
        now,
        tz: tz.clone(),
    };
    d.node(node, pods, events);
    tabwriter::format(tabwriter::DESCRIBE, &d.out)
}

/// Describes an object with ages taken at `now` and times shown in `tz`.
pub fn describe_at(object: &Object, events: &[Event], now: Timestamp, tz: &TimeZone) -> String {
    let mut d = Describer {
        out: String::new(),
        now,
        tz: tz.clone(),
    };
    match object {
        Object::Pod(pod) => d.pod(pod, events),
        Object::ConfigMap(cm) => d.config_map(cm, events),
        Object::Secret(secret) => d.secret(secret),
        Object::Namespace(ns) => d.namespace(ns),
        Object::PodPreset(_) => d.generic(object, events),
        // Without the pods on it: `describe_node` lists them.
        Object::Node(node) => d.node(node, &[], events),
    }
    tabwriter::format(tabwriter::DESCRIBE, &d.out)
}

struct Describer {
    /// Tab-separated text, laid out at the end.
    out: String,
    now: Timestamp,
    tz: TimeZone,
}

fn bool_word(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

impl Describer {
    /// `PrefixWriter.Write(level, …)`: two spaces per level.
    fn w(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
    }

    /// Go's `Time.Format(time.RFC1123Z)` in the display zone.
    fn time(&self, t: Option<&Time>) -> String {
        let ts = t.map_or(Timestamp::UNIX_EPOCH, duration::timestamp);
        if t.is_none() {
            // Go's zero time.
            return "Mon, 01 Jan 0001 00:00:00 +0000".into();
        }
        self.rfc1123(ts)
    }

    /// Go's `time.RFC1123Z` of an instant in the display zone.
    fn rfc1123(&self, ts: Timestamp) -> String {
        ts.to_zoned_datetime(self.tz.clone())
            .strftime("%a, %d %b %Y %H:%M:%S %z")
            .to_string()
    }

    fn labels(&mut self, title: &str, labels: Option<&BTreeMap<String, String>>) {
        self.w(0, &format!("{title}:\t"));
        match labels {
            Some(l) if !l.is_empty() => {
                for (i, (k, v)) in l.iter().enumerate() {
                    if i > 0 {
                        self.w(0, "\t");
                    }
                    self.w(0, &format!("{k}={v}\n"));
                }
            }
            _ => self.w(0, "<none>\n"),
        }
    }

    fn annotations(&mut self, annotations: Option<&BTreeMap<String, String>>) {
        self.w(0, "Annotations:\t");
        let shown: Vec<(&String, &String)> = annotations
            .into_iter()
            .flatten()
            .filter(|(k, _)| !SKIP_ANNOTATIONS.contains(&k.as_str()))
            .collect();
        if shown.is_empty() {
            self.w(0, "<none>\n");
            return;
        }
        for (i, (k, v)) in shown.into_iter().enumerate() {
            if i > 0 {
                self.w(0, "\t");
            }
            let value = v.strip_suffix('\n').unwrap_or(v);
            if value.len() + k.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
                self.w(0, &format!("{k}:\n"));
                for line in value.split('\n') {
                    self.w(
                        0,
                        &format!("\t  {}\n", shorten(line, MAX_ANNOTATION_LEN - 2)),
                    );
                }
            } else {
                self.w(0, &format!("{k}: {value}\n"));
            }
        }
    }

    fn events(&mut self, list: &[Event]) {
        if list.is_empty() {
            self.w(0, "Events:\t<none>\n");
            return;
        }
        // kubectl flushes the tabwriter here; the `Events:` line has no
        // tab, which ends every column block just the same.
        self.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
        self.w(1, "----\t------\t----\t----\t-------\n");
        for e in events::sorted(list) {
            let source = e
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .filter(|c| !c.is_empty())
                .or_else(|| e.reporting_component.clone())
                .unwrap_or_default();
            let line = format!(
                "{}\t{}\t{}\t{source}\t{}\n",
                e.type_.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                events::age_interval(e, self.now),
                e.message.as_deref().unwrap_or("").trim(),
            );
            self.w(1, &line);
        }
    }
}

/// Go's `shorten`: cut at `max` bytes (on a character boundary) with `...`.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-01T00:10:00Z".parse().unwrap()
    }

    fn describe_value(v: serde_json::Value, events: &[Event]) -> String {
        let object = match v["kind"].as_str().unwrap() {
            "Pod" => Object::Pod(Box::new(serde_json::from_value(v).unwrap())),
            "ConfigMap" => Object::ConfigMap(serde_json::from_value(v).unwrap()),
            _ => Object::Secret(serde_json::from_value(v).unwrap()),
        };
        describe_at(&object, events, now(), &TimeZone::UTC)
    }

    fn event(
        kind: &str,
        reason: &str,
        first: &str,
        last: &str,
        count: i32,
        message: &str,
    ) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "type": kind, "reason": reason, "message": message,
            "source": {"component": if reason == "Scheduled" {"default-scheduler"} else {"kubelet"}},
            "firstTimestamp": first, "lastTimestamp": last, "count": count,
        }))
        .unwrap()
    }

    #[test]
    fn running_pod_with_init_container_sidecar_probes_env_and_volumes() {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "hello"}},
            "spec": {
                "nodeName": "node1", "serviceAccountName": "default", "priority": 0,
                "initContainers": [{"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo hi > /work/index.html"],
                    "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
                "containers": [{
                    "name": "server", "image": "busybox:1.36",
                    "command": ["httpd", "-f"], "args": ["-p", "8080"],
                    "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}, {"containerPort": 9090, "hostPort": 9090, "protocol": "UDP"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "0.25", "memory": "64Mi"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 0, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3},
                    "startupProbe": {"tcpSocket": {"port": "http"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 30},
                    "env": [
                        {"name": "PLAIN", "value": "one\ntwo"},
                        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password", "optional": true}}},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    ],
                    "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
                    "volumeMounts": [{"name": "work", "mountPath": "/www", "readOnly": true}, {"name": "config", "mountPath": "/etc/app", "subPath": "app.conf"}],
                }],
                "volumes": [
                    {"name": "work", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "settings"}},
                    {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                    {"name": "creds", "secret": {"secretName": "creds"}},
                    {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "all", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": []}}]}},
                ],
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            },
            "status": {
                "phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.88.0.5", "podIPs": [{"ip": "10.88.0.5"}],
                "startTime": "2026-01-01T00:00:01Z", "qosClass": "Burstable",
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True"},
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                    {"type": "PodScheduled", "status": "True"},
                ],
                "initContainerStatuses": [{"name": "setup", "image": "busybox", "imageID": "sha256:aaa", "containerID": "pod://111",
                    "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": "2026-01-01T00:00:02Z", "finishedAt": "2026-01-01T00:00:03Z"}}}],
                "containerStatuses": [{"name": "server", "image": "busybox:1.36", "imageID": "sha256:bbb", "containerID": "pod://222",
                    "ready": true, "restartCount": 2, "started": true,
                    "state": {"running": {"startedAt": "2026-01-01T00:05:00Z"}},
                    "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "Error",
                        "startedAt": "2026-01-01T00:03:00Z", "finishedAt": "2026-01-01T00:04:59Z"}}}],
            },
        });
        let events = [
            event(
                "Normal",
                "Scheduled",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                1,
                "Successfully assigned default/web to node1",
            ),
            event(
                "Warning",
                "BackOff",
                "2026-01-01T00:07:00Z",
                "2026-01-01T00:09:51Z",
                5,
                "Back-off restarting failed container server in pod web_default(uid)",
            ),
        ];
        insta::assert_snapshot!(describe_value(pod, &events));
    }

    #[test]
    fn pending_pod_terminating_without_status_or_events() {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "deletionTimestamp": "2026-01-01T00:09:30Z",
                "deletionGracePeriodSeconds": 30},
            "spec": {"containers": [{"name": "a", "image": "busybox"}]},
            "status": {"phase": "Pending"},
        });
        insta::assert_snapshot!(describe_value(pod, &[]), @r"
        Name:                      p
        Namespace:                 default
        Node:                      <none>
        Labels:                    <none>
        Annotations:               <none>
        Status:                    Terminating (lasts 30s)
        Termination Grace Period:  30s
        IP:                        
        IPs:                       <none>
        Containers:
          a:
            Image:        busybox
            Port:         <none>
            Host Port:    <none>
            Environment:  <none>
            Mounts:       <none>
        Volumes:          <none>
        QoS Class:        BestEffort
        Node-Selectors:   <none>
        Tolerations:      <none>
        Events:           <none>
        ");
    }

    #[test]
    fn config_map_and_secret() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
            "data": {"mode": "fast", "app.conf": "a=1\nb=2\n"}});
        insta::assert_snapshot!(describe_value(cm, &[]), @r"
        Name:         settings
        Namespace:    default
        Labels:       <none>
        Annotations:  <none>

        Data
        ====
        app.conf:
        ----
        a=1
        b=2

        mode:
        ----
        fast

        BinaryData
        ====

        Events:  <none>
        ");
        let secret = json!({"kind": "Secret", "metadata": {"name": "creds", "namespace": "default"},
            "type": "Opaque", "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        insta::assert_snapshot!(describe_value(secret, &[]), @r"
        Name:         creds
        Namespace:    default
        Labels:       <none>
        Annotations:  <none>

        Type:  Opaque

        Data
        ====
        password:  7 bytes
        user:      5 bytes
        ");
    }

    #[test]
    fn long_annotations_are_split() {
        let long = "x".repeat(150);
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d",
            "annotations": {"long": long, "multi": "a\nb\n"}}});
        let out = describe_value(cm, &[]);
        assert!(
            out.contains(&format!(
                "Annotations:  long:\n                {}...\n",
                "x".repeat(138)
            )),
            "{out}"
        );
        assert!(
            out.contains("              multi:\n                a\n                b\n"),
            "{out}"
        );
    }
}
