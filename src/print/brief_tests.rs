//! The store's brief decode of a pod (`store::brief`, what `get`'s
//! tables read) checked against the full one, through the tables
//! themselves: every variant must print byte for byte the same.

use k8s_openapi::api::core::v1 as api;
use serde_json::{Value, json};

use crate::api::Object;
use crate::print::TableOptions;
use crate::print::table;
use crate::store::brief;

/// Every table variant of one pod, rendered from a full decode and
/// from the brief one: they must be byte for byte the same.
fn same_rows(pod: Value, status: Value) {
    let pod_bytes = serde_json::to_vec(&pod).unwrap();
    let status_bytes = serde_json::to_vec(&status).unwrap();
    let mut full: api::Pod = serde_json::from_slice(&pod_bytes).unwrap();
    full.status = Some(serde_json::from_slice(&status_bytes).unwrap());
    let mut brief = brief::pod(&pod_bytes).unwrap();
    brief.status = Some(brief::status(&status_bytes).unwrap());
    let (full, brief) = (Object::Pod(Box::new(full)), Object::Pod(Box::new(brief)));
    let now = "2026-01-01T01:00:00Z".parse().unwrap();
    for (wide, show_labels, with_namespace) in [
        (false, false, false),
        (true, true, true),
        (true, false, false),
    ] {
        let options = TableOptions {
            wide,
            show_labels,
            with_namespace,
            ..TableOptions::default()
        };
        let objects = |o: &Object| table::render(std::slice::from_ref(o), &options, now);
        assert_eq!(objects(&full), objects(&brief), "{status}");
    }
}

fn pod(extra_spec: Value) -> Value {
    let mut spec = json!({
        "containers": [
            {"name": "a", "image": "busybox", "command": ["sleep", "1"],
             "env": [{"name": "X", "value": "1"}], "resources": {"limits": {"cpu": "1"}}},
            {"name": "b", "image": "busybox"}
        ],
        "nodeName": "here",
    });
    for (k, v) in extra_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "tier": "x"}, "annotations": {"a": "b"}},
        "spec": spec,
    })
}

fn c(name: &str, state: Value, last: Value, ready: bool, restarts: i32) -> Value {
    json!({"name": name, "image": "busybox", "imageID": "sha256:x", "containerID": "pod://1",
           "ready": ready, "restartCount": restarts, "started": ready,
           "state": state, "lastState": last})
}

#[test]
fn tables_from_the_brief_decode_match_the_full_one() {
    let running = json!({"running": {"startedAt": "2026-01-01T00:00:01Z"}});
    let waiting = |r: &str| json!({"waiting": {"reason": r, "message": "m"}});
    let terminated = |code: i32, reason: Value, signal: Value| {
        json!({"terminated": {"exitCode": code, "reason": reason, "signal": signal,
               "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:30:00Z",
               "message": "bye", "containerID": "pod://2"}})
    };
    let ready = json!([{"type": "Ready", "status": "True",
                        "lastTransitionTime": "2026-01-01T00:00:02Z"},
                       {"type": "Initialized", "status": "True"},
                       {"type": "gate", "status": "True"}]);
    same_rows(
        pod(json!({})),
        json!({"phase": "Running", "podIP": "10.0.0.2", "podIPs": [{"ip": "10.0.0.2"}],
               "nominatedNodeName": "n", "qosClass": "Burstable", "conditions": ready,
               "startTime": "2026-01-01T00:00:00Z",
               "containerStatuses": [
                   c("a", running.clone(), terminated(1, json!("Error"), json!(null)), true, 3),
                   c("b", running.clone(), json!({}), true, 0)]}),
    );
    // A record with podIP alone, or disagreeing with podIPs.
    same_rows(
        pod(json!({})),
        json!({"phase": "Succeeded", "podIP": "10.0.0.9"}),
    );
    same_rows(
        pod(json!({})),
        json!({"phase": "Succeeded", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.8"}]}),
    );
    same_rows(
        pod(json!({"readinessGates": [{"conditionType": "gate"}, {"conditionType": "other"}]})),
        json!({"phase": "Pending", "conditions": ready, "containerStatuses": [
            c("a", waiting("CrashLoopBackOff"), terminated(2, json!(null), json!(9)), false, 5),
            c("b", terminated(0, json!("Completed"), json!(null)), json!({}), false, 0)]}),
    );
    let init = json!({"initContainers": [
        {"name": "i1", "image": "busybox"},
        {"name": "side", "image": "busybox", "restartPolicy": "Always"}]});
    for i1 in [
        terminated(0, json!("Completed"), json!(null)),
        terminated(3, json!(null), json!(null)),
        terminated(3, json!(null), json!(15)),
        waiting("PodInitializing"),
        waiting("ErrImagePull"),
    ] {
        same_rows(
            pod(init.clone()),
            json!({"phase": "Pending", "conditions": [{"type": "Initialized", "status": "False"},
                                                      {"type": "PodScheduled", "status": "True", "reason": "SchedulingGated"}],
                   "initContainerStatuses": [c("i1", i1, json!({}), false, 1),
                                             c("side", running.clone(), json!({}), true, 2)],
                   "containerStatuses": [c("a", waiting("PodInitializing"), json!({}), false, 0),
                                         c("b", json!({}), json!({}), false, 0)]}),
        );
    }
    let mut deleted = pod(json!({}));
    deleted["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:59:00Z");
    for phase in ["Running", "Succeeded"] {
        same_rows(
            deleted.clone(),
            json!({"phase": phase, "reason": "Evicted", "message": "m",
                   "containerStatuses": [c("a", running.clone(), json!({}), true, 0)]}),
        );
    }
    same_rows(pod(json!({})), json!({}));
}
