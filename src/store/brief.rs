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
