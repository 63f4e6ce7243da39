//! A stored pod decoded for `get`'s tables only: the fields READY, STATUS,
//! RESTARTS, AGE, the `-o wide` columns, labels and the supervisor check
//! read, and nothing else.
//!
//! Decoding every field of a `Pod` and its `PodStatus` into the
//! `k8s-openapi` types was two thirds of `get pods` with 500 pods stored;
//! skipping what the table never reads (commands, env, resources, security
//! contexts, images, container ids, messages...) is several times faster.
//! The result is still a `Pod`, with the unread fields left empty, so the
//! table code, `observed::status` and the selector run unchanged. It must
//! not reach a machine format (yaml, json, custom-columns) or `-w`, which
//! compare or print whole objects.

use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `pod.json` as far as the table reads it.
#[derive(Deserialize)]
struct Pod {
    #[serde(default)]
    metadata: Meta,
    spec: Option<Spec>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    containers: Vec<Container>,
    init_containers: Option<Vec<Container>>,
    readiness_gates: Option<Vec<ReadinessGate>>,
    node_name: Option<String>,
    /// How the pod reads after its node restarted depends on it.
    restart_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    restart_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadinessGate {
    condition_type: String,
}

/// `status.json` as far as the table reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    phase: Option<String>,
    reason: Option<String>,
    nominated_node_name: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIp>>,
    conditions: Option<Vec<Condition>>,
    init_container_statuses: Option<Vec<ContainerStatus>>,
    container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Deserialize)]
struct PodIp {
    ip: String,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    name: String,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    restart_count: i32,
    started: Option<bool>,
    state: Option<State>,
    last_state: Option<State>,
}

#[derive(Deserialize)]
struct State {
    waiting: Option<Waiting>,
    running: Option<serde::de::IgnoredAny>,
    terminated: Option<Terminated>,
}

#[derive(Deserialize)]
struct Waiting {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Terminated {
    #[serde(default)]
    exit_code: i32,
    reason: Option<String>,
    signal: Option<i32>,
    finished_at: Option<Time>,
}

/// The table's view of `pod.json`: a `Pod` without status.
pub fn pod(bytes: &[u8]) -> serde_json::Result<api::Pod> {
    let pod: Pod = serde_json::from_slice(bytes)?;
    let m = pod.metadata;
    Ok(api::Pod {
        metadata: ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            creation_timestamp: m.creation_timestamp,
            deletion_timestamp: m.deletion_timestamp,
            labels: m.labels,
            ..Default::default()
        },
        spec: pod.spec.map(|s| api::PodSpec {
            containers: s.containers.into_iter().map(container).collect(),
            init_containers: s
                .init_containers
                .map(|c| c.into_iter().map(container).collect()),
            readiness_gates: s.readiness_gates.map(|g| {
                g.into_iter()
                    .map(|g| api::PodReadinessGate {
                        condition_type: g.condition_type,
                    })
                    .collect()
            }),
            node_name: s.node_name,
            restart_policy: s.restart_policy,
            ..Default::default()
        }),
        status: None,
    })
}

/// The table's view of `status.json`.
pub fn status(bytes: &[u8]) -> serde_json::Result<api::PodStatus> {
    let s: Status = serde_json::from_slice(bytes)?;
    let statuses = |list: Option<Vec<ContainerStatus>>| {
        list.map(|l| l.into_iter().map(container_status).collect())
    };
    Ok(api::PodStatus {
        phase: s.phase,
        reason: s.reason,
        nominated_node_name: s.nominated_node_name,
        pod_ip: s.pod_ip,
        pod_ips: s
            .pod_ips
            .map(|ips| ips.into_iter().map(|ip| api::PodIP { ip: ip.ip }).collect()),
        conditions: s.conditions.map(|c| {
            c.into_iter()
                .map(|c| api::PodCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    ..Default::default()
                })
                .collect()
        }),
        init_container_statuses: statuses(s.init_container_statuses),
        container_statuses: statuses(s.container_statuses),
        ..Default::default()
    })
}

fn container(c: Container) -> api::Container {
    api::Container {
        name: c.name,
        restart_policy: c.restart_policy,
        ..Default::default()
    }
}

fn container_status(c: ContainerStatus) -> api::ContainerStatus {
    api::ContainerStatus {
        name: c.name,
        ready: c.ready,
        restart_count: c.restart_count,
        started: c.started,
        state: c.state.map(state),
        last_state: c.last_state.map(state),
        ..Default::default()
    }
}

fn state(s: State) -> api::ContainerState {
    api::ContainerState {
        waiting: s.waiting.map(|w| api::ContainerStateWaiting {
            reason: w.reason,
            message: None,
        }),
        running: s.running.map(|_| api::ContainerStateRunning::default()),
        terminated: s.terminated.map(|t| api::ContainerStateTerminated {
            exit_code: t.exit_code,
            reason: t.reason,
            signal: t.signal,
            finished_at: t.finished_at,
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use crate::print::TableOptions;
    use crate::print::table;
    use serde_json::{Value, json};

    /// Every table variant of one pod, rendered from a full decode and
    /// from the brief one: they must be byte for byte the same.
    fn same_rows(pod: Value, status: Value) {
        let pod_bytes = serde_json::to_vec(&pod).unwrap();
        let status_bytes = serde_json::to_vec(&status).unwrap();
        let mut full: api::Pod = serde_json::from_slice(&pod_bytes).unwrap();
        full.status = Some(serde_json::from_slice(&status_bytes).unwrap());
        let mut brief = super::pod(&pod_bytes).unwrap();
        brief.status = Some(super::status(&status_bytes).unwrap());
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
}
