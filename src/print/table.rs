//! The human-readable `get` tables: one table per kind, kubectl's columns
//! for pods, configmaps and secrets, decorated as cli-runtime's
//! `tableprinter.go` does (NAMESPACE first under `-A`, `kind/name` when
//! several kinds are shown, LABELS last under `--show-labels`).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::TableOptions;
use super::tabwriter::{self, TabWriter};
use super::{node_status, pod_status};
use crate::api::{Kind, Object};
use crate::duration;

/// The column headers of `kind`'s table.
pub fn headers(kind: Kind, options: &TableOptions) -> Vec<String> {
    let mut h: Vec<&str> = Vec::new();
    // Cluster-scoped kinds have no NAMESPACE column, even under -A.
    if options.with_namespace && kind.namespaced() {
        h.push("NAMESPACE");
    }
    h.push("NAME");
    match kind {
        Kind::Pod => {
            h.extend(["READY", "STATUS", "RESTARTS", "AGE"]);
            if options.wide {
                h.extend(["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]);
            }
        }
        Kind::ConfigMap => h.extend(["DATA", "AGE"]),
        Kind::Secret => h.extend(["TYPE", "DATA", "AGE"]),
        Kind::Namespace => h.extend(["STATUS", "AGE"]),
        Kind::PodPreset => h.push("AGE"),
        Kind::Node => {
            h.extend(["STATUS", "ROLES", "AGE", "VERSION"]);
            if options.wide {
                h.extend([
                    "INTERNAL-IP",
                    "EXTERNAL-IP",
                    "OS-IMAGE",
                    "KERNEL-VERSION",
                    "CONTAINER-RUNTIME",
                ]);
            }
        }
    }
    if options.show_labels {
        h.push("LABELS");
    }
    h.into_iter().map(String::from).collect()
}

/// One object's cells.
pub fn row(
    object: &Object,
    options: &TableOptions,
    with_kind: bool,
    now: Timestamp,
) -> Vec<String> {
    let mut cells = Vec::new();
    if options.with_namespace && object.kind().namespaced() {
        cells.push(object.namespace().to_string());
    }
    cells.push(if with_kind {
        format!("{}/{}", object.kind().singular(), object.name())
    } else {
        object.name().to_string()
    });
    let age = duration::age(object.metadata().creation_timestamp.as_ref(), now);
    match object {
        Object::Pod(pod) => {
            let r = pod_status::row(pod, now);
            cells.extend([r.ready, r.status, r.restarts, r.age]);
            if options.wide {
                let w = pod_status::wide(pod);
                cells.extend([w.ip, w.node, w.nominated_node, w.readiness_gates]);
            }
        }
        Object::ConfigMap(cm) => {
            let data = cm.data.as_ref().map_or(0, BTreeMap::len)
                + cm.binary_data.as_ref().map_or(0, BTreeMap::len);
            cells.extend([data.to_string(), age]);
        }
        Object::Secret(secret) => {
            let data = secret.data.as_ref().map_or(0, BTreeMap::len);
            let kind = secret.type_.clone().unwrap_or_default();
            cells.extend([kind, data.to_string(), age]);
        }
        Object::Namespace(ns) => {
            let phase = ns.status.as_ref().and_then(|s| s.phase.clone());
            cells.extend([phase.unwrap_or_default(), age]);
        }
        Object::PodPreset(_) => cells.push(age),
        Object::Node(node) => {
            cells.extend([
                node_status::status(node),
                node_status::roles(node),
                age,
                node_status::kubelet_version(node),
            ]);
            if options.wide {
                cells.extend(node_status::wide(node));
            }
        }
    }
    if options.show_labels {
        cells.push(format_labels(object.metadata().labels.as_ref()));
    }
    cells
}

/// apimachinery `labels.FormatLabels`: `k=v,k2=v2` sorted, or `<none>`.
pub fn format_labels(labels: Option<&BTreeMap<String, String>>) -> String {
    match labels {
        Some(l) if !l.is_empty() => l
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".into(),
    }
}

/// Whether kubectl prefixes names with their kind: when the objects shown
/// are of more than one kind.
pub fn several_kinds(objects: &[Object]) -> bool {
    objects
        .first()
        .is_some_and(|first| objects.iter().any(|o| o.kind() != first.kind()))
}

/// All tables: a new table (headers, fresh column widths) each time the
/// kind changes, the tables apart by a blank line.
pub fn render(objects: &[Object], options: &TableOptions, now: Timestamp) -> String {
    let with_kind = several_kinds(objects);
    let mut w = TabWriter::new(tabwriter::GET);
    let mut out = String::new();
    let mut last: Option<Kind> = None;
    for object in objects {
        if last != Some(object.kind()) {
            out.push_str(&w.flush());
            w.reset_widths();
            if last.is_some() && !options.no_headers && !out.is_empty() {
                out.push('\n');
            }
            if !options.no_headers {
                w.write(&headers(object.kind(), options).join("\t"));
                w.write("\n");
            }
            last = Some(object.kind());
        }
        w.write(&row(object, options, with_kind, now).join("\t"));
        w.write("\n");
    }
    out.push_str(&w.flush());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().unwrap()
    }

    fn object(v: serde_json::Value) -> Object {
        let kind = v["kind"].as_str().unwrap().to_string();
        match kind.as_str() {
            "Pod" => Object::Pod(Box::new(serde_json::from_value(v).unwrap())),
            "ConfigMap" => Object::ConfigMap(serde_json::from_value(v).unwrap()),
            _ => Object::Secret(serde_json::from_value(v).unwrap()),
        }
    }

    fn objects() -> Vec<Object> {
        vec![
            object(
                json!({"kind": "Pod", "metadata": {"name": "nginx", "namespace": "default",
                "creationTimestamp": "2026-01-01T00:55:00Z", "labels": {"app": "web", "tier": "front"}},
                "spec": {"containers": [{"name": "c"}]},
                "status": {"phase": "Running", "podIPs": [{"ip": "10.88.0.2"}],
                    "containerStatuses": [{"name": "c", "image": "", "imageID": "", "ready": true,
                        "restartCount": 0, "state": {"running": {}}}]}}),
            ),
            object(
                json!({"kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default",
                "creationTimestamp": "2026-01-01T00:00:00Z"}, "data": {"a": "1", "b": "2"}}),
            ),
            object(
                json!({"kind": "Secret", "metadata": {"name": "token", "namespace": "kube",
                "creationTimestamp": "2025-12-29T00:00:00Z"}, "type": "Opaque", "data": {"t": "eA=="}}),
            ),
        ]
    }

    #[test]
    fn pods_table() {
        let out = render(&objects()[..1], &TableOptions::default(), now());
        insta::assert_snapshot!(out, @r"
        NAME    READY   STATUS    RESTARTS   AGE
        nginx   1/1     Running   0          5m
        ");
    }

    #[test]
    fn wide_with_labels_and_namespace() {
        let options = TableOptions {
            wide: true,
            show_labels: true,
            with_namespace: true,
            ..TableOptions::default()
        };
        let out = render(&objects()[..1], &options, now());
        insta::assert_snapshot!(out, @r"
        NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   IP          NODE     NOMINATED NODE   READINESS GATES   LABELS
        default     nginx   1/1     Running   0          5m    10.88.0.2   <none>   <none>           <none>            app=web,tier=front
        ");
    }

    #[test]
    fn several_kinds_get_one_table_each_and_kind_prefixes() {
        let out = render(&objects(), &TableOptions::default(), now());
        insta::assert_snapshot!(out, @r"
        NAME        READY   STATUS    RESTARTS   AGE
        pod/nginx   1/1     Running   0          5m

        NAME                 DATA   AGE
        configmap/settings   2      60m

        NAME           TYPE     DATA   AGE
        secret/token   Opaque   1      3d1h
        ");
    }

    #[test]
    fn no_headers_has_no_blank_lines() {
        let options = TableOptions {
            no_headers: true,
            ..TableOptions::default()
        };
        let out = render(&objects()[1..], &options, now());
        assert_eq!(
            out,
            "configmap/settings   2     60m\nsecret/token   Opaque   1     3d1h\n"
        );
    }

    #[test]
    fn labels_none() {
        assert_eq!(format_labels(None), "<none>");
    }
}
