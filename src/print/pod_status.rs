//! kubectl's pod row (`printPod` in kubernetes pkg/printers/internalversion):
//! READY, STATUS, RESTARTS and the `-o wide` columns.
//!
//! The STATUS algorithm is the v1.35 one: native sidecars (restartable
//! init containers) count in READY and their restarts stay counted once
//! init is done, and the two refinements over c. 1.29 are in:
//! ★ a pod whose last-walked container `Completed` while another exited
//!   non-zero shows that error, not `Completed` (kubernetes#124766);
//! ★ `Terminating` is shown only while the phase is not Succeeded/Failed.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodStatus,
};

use crate::duration;

/// The cells kubectl prints for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    pub ready: String,
    pub status: String,
    pub restarts: String,
    pub age: String,
}

/// The extra cells of `-o wide`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodWide {
    pub ip: String,
    pub node: String,
    pub nominated_node: String,
    pub readiness_gates: String,
}

const NONE: &str = "<none>";

/// An init container with `restartPolicy: Always` (a native sidecar).
pub fn is_sidecar(container: Option<&Container>) -> bool {
    container.and_then(|c| c.restart_policy.as_deref()) == Some("Always")
}

fn condition_true(conditions: &[PodCondition], kind: &str) -> bool {
    conditions
        .iter()
        .find(|c| c.type_ == kind)
        .is_some_and(|c| c.status == "True")
}

/// The reason a terminated container shows: its reason, else
/// `Signal:N`, else `ExitCode:N`.
fn terminated_reason(t: &ContainerStateTerminated) -> String {
    match t.reason.as_deref() {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => match t.signal {
            Some(s) if s != 0 => format!("Signal:{s}"),
            _ => format!("ExitCode:{}", t.exit_code),
        },
    }
}

fn last_termination(status: &ContainerStatus) -> Option<Timestamp> {
    status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref())
        .map(duration::timestamp)
}

/// READY, STATUS, RESTARTS and AGE of a pod at `now`.
pub fn row(pod: &Pod, now: Timestamp) -> PodRow {
    let computed = compute(pod);
    let restarts = match computed.last_restart {
        Some(at) if computed.restarts != 0 => format!(
            "{} ({} ago)",
            computed.restarts,
            duration::human(duration::since(at, now))
        ),
        _ => computed.restarts.to_string(),
    };
    PodRow {
        ready: format!("{}/{}", computed.ready, computed.total),
        status: computed.status,
        restarts,
        age: duration::age(pod.metadata.creation_timestamp.as_ref(), now),
    }
}

/// The first pod IP as kubectl sees it: the API server's conversion to
/// its internal type (Convert_v1_PodStatus_To_core_PodStatus) makes
/// `podIP` authoritative when `podIPs` is empty or starts elsewhere.
fn first_pod_ip(status: &k8s_openapi::api::core::v1::PodStatus) -> Option<&str> {
    let first = status
        .pod_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .map(|ip| ip.ip.as_str());
    match status.pod_ip.as_deref().filter(|ip| !ip.is_empty()) {
        Some(ip) if first != Some(ip) => Some(ip),
        _ => first,
    }
}

/// IP, NODE, NOMINATED NODE and READINESS GATES.
pub fn wide(pod: &Pod) -> PodWide {
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let or_none = |s: Option<&str>| match s {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => NONE.to_string(),
    };
    let ip = status.and_then(first_pod_ip);
    let gates = spec
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    let readiness_gates = if gates.is_empty() {
        NONE.to_string()
    } else {
        let conditions = status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let met = gates
            .iter()
            .filter(|g| condition_true(conditions, &g.condition_type))
            .count();
        format!("{met}/{}", gates.len())
    };
    PodWide {
        ip: or_none(ip),
        node: or_none(spec.and_then(|s| s.node_name.as_deref())),
        nominated_node: or_none(status.and_then(|s| s.nominated_node_name.as_deref())),
        readiness_gates,
    }
}

struct Computed {
    ready: usize,
    total: usize,
    status: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

fn compute(pod: &Pod) -> Computed {
    let empty_status = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&empty_status);
    let spec = pod.spec.as_ref();
    let init_specs: &[Container] = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    let init_spec = |name: &str| init_specs.iter().find(|c| c.name == name);
    let conditions = status.conditions.as_deref().unwrap_or_default();

    let mut total = spec.map_or(0, |s| s.containers.len());
    total += init_specs.iter().filter(|c| is_sidecar(Some(c))).count();
    let mut ready = 0;
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let phase = status.phase.as_deref().unwrap_or("");
    let mut reason = match status.reason.as_deref() {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => phase.to_string(),
    };
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".into();
    }

    let init_statuses = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let mut initializing = false;
    for (i, container) in init_statuses.iter().enumerate() {
        restarts += i64::from(container.restart_count);
        let finished = last_termination(container);
        last_restart = last_restart.max(finished);
        let sidecar = is_sidecar(init_spec(&container.name));
        if sidecar {
            sidecar_restarts += i64::from(container.restart_count);
            last_sidecar_restart = last_sidecar_restart.max(finished);
        }
        let state = container.state.clone().unwrap_or_default();
        if let Some(t) = state.terminated.as_ref()
            && t.exit_code == 0
        {
            continue;
        }
        if sidecar && container.started == Some(true) {
            if container.ready {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = state.terminated.as_ref() {
            // Initialization failed.
            reason = format!("Init:{}", terminated_reason(t));
        } else if let Some(r) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        let mut error_reason: Option<String> = None;
        let statuses = status.container_statuses.as_deref().unwrap_or_default();
        for container in statuses.iter().rev() {
            restarts += i64::from(container.restart_count);
            last_restart = last_restart.max(last_termination(container));
            let state = container.state.clone().unwrap_or_default();
            if let Some(r) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.as_deref())
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(t) = state.terminated.as_ref() {
                reason = terminated_reason(t);
                if t.exit_code != 0 {
                    error_reason = Some(reason.clone());
                }
            } else if container.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // ★ An earlier container's `Completed` must not hide another's
        // failure.
        if reason == "Completed"
            && let Some(error) = error_reason
        {
            reason = error;
        }
        // Back to Running while at least one container still runs.
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if pod.metadata.deletion_timestamp.is_some() {
        if status.reason.as_deref() == Some("NodeLost") {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            // ★ A finished pod being deleted keeps its final status.
            reason = "Terminating".into();
        }
    }

    Computed {
        ready,
        total,
        status: reason,
        restarts,
        last_restart,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The STATUS column alone.
    fn status(pod: &Pod) -> String {
        compute(pod).status
    }
    use serde_json::json;

    const NOW: &str = "2026-01-01T00:10:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// A pod from its spec containers (`name` or `name:Always` for a
    /// sidecar init container) and a status record in the API's JSON.
    fn pod(init: &[&str], containers: &[&str], status: serde_json::Value) -> Pod {
        let c = |spec: &&str| {
            let (name, policy) = spec.split_once(':').unwrap_or((spec, ""));
            let mut c = json!({"name": name, "image": "busybox"});
            if !policy.is_empty() {
                c["restartPolicy"] = json!(policy);
            }
            c
        };
        serde_json::from_value(json!({
            "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {
                "initContainers": init.iter().map(c).collect::<Vec<_>>(),
                "containers": containers.iter().map(c).collect::<Vec<_>>(),
            },
            "status": status,
        }))
        .unwrap()
    }

    fn waiting(name: &str, reason: &str) -> serde_json::Value {
        json!({"name": name, "image": "", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"waiting": {"reason": reason}}})
    }

    fn running(name: &str, ready: bool) -> serde_json::Value {
        json!({"name": name, "image": "", "imageID": "", "ready": ready, "restartCount": 0,
               "started": true,
               "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}})
    }

    fn terminated(
        name: &str,
        code: i32,
        reason: Option<&str>,
        signal: Option<i32>,
    ) -> serde_json::Value {
        let mut t = json!({"exitCode": code});
        if let Some(r) = reason {
            t["reason"] = json!(r);
        }
        if let Some(s) = signal {
            t["signal"] = json!(s);
        }
        json!({"name": name, "image": "", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"terminated": t}})
    }

    fn row_of(p: &Pod) -> (String, String, String) {
        let r = row(p, now());
        (r.ready, r.status, r.restarts)
    }

    #[test]
    fn pending_without_statuses_shows_the_phase() {
        let p = pod(&[], &["a"], json!({"phase": "Pending"}));
        assert_eq!(row_of(&p), ("0/1".into(), "Pending".into(), "0".into()));
        assert_eq!(row(&p, now()).age, "10m");
    }

    #[test]
    fn container_creating() {
        let p = pod(
            &[],
            &["a"],
            json!({"phase": "Pending",
            "containerStatuses": [waiting("a", "ContainerCreating")]}),
        );
        assert_eq!(status(&p), "ContainerCreating");
    }

    #[test]
    fn init_zero_of_two() {
        let p = pod(
            &["i1", "i2"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [waiting("i1", "PodInitializing"), waiting("i2", "PodInitializing")],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
        );
        assert_eq!(status(&p), "Init:0/2");
        let p = pod(
            &["i1", "i2"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 0, Some("Completed"), None), running("i2", false)],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
        );
        assert_eq!(status(&p), "Init:1/2");
    }

    #[test]
    fn init_error_and_crash_loop() {
        let p = pod(
            &["i1"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 1, Some("Error"), None)],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
        );
        assert_eq!(status(&p), "Init:Error");
        let p = pod(
            &["i1"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [waiting("i1", "CrashLoopBackOff")],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
        );
        assert_eq!(status(&p), "Init:CrashLoopBackOff");
        let p = pod(
            &["i1"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 137, None, Some(9))]}),
        );
        assert_eq!(status(&p), "Init:Signal:9");
        let p = pod(
            &["i1"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 3, None, None)]}),
        );
        assert_eq!(status(&p), "Init:ExitCode:3");
    }

    #[test]
    fn pod_initializing_after_init() {
        let p = pod(
            &["i1"],
            &["a"],
            json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 0, Some("Completed"), None)],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
        );
        assert_eq!(status(&p), "PodInitializing");
    }

    #[test]
    fn running_ready_and_not_ready() {
        let p = pod(
            &[],
            &["a", "b"],
            json!({"phase": "Running",
            "containerStatuses": [running("a", true), running("b", false)]}),
        );
        assert_eq!(row_of(&p), ("1/2".into(), "Running".into(), "0".into()));
    }

    #[test]
    fn crash_loop_back_off_with_restarts_ago() {
        let mut c = waiting("a", "CrashLoopBackOff");
        c["restartCount"] = json!(4);
        c["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error",
            "finishedAt": "2026-01-01T00:09:55Z"}});
        let p = pod(
            &[],
            &["a"],
            json!({"phase": "Running", "containerStatuses": [c]}),
        );
        assert_eq!(
            row_of(&p),
            ("0/1".into(), "CrashLoopBackOff".into(), "4 (5s ago)".into())
        );
    }

    #[test]
    fn completed_error_oomkilled() {
        for (code, reason) in [(0, "Completed"), (1, "Error"), (137, "OOMKilled")] {
            let p = pod(
                &[],
                &["a"],
                json!({"phase": if code == 0 {"Succeeded"} else {"Failed"},
                "containerStatuses": [terminated("a", code, Some(reason), None)]}),
            );
            assert_eq!(status(&p), reason);
        }
    }

    #[test]
    fn signal_and_exit_code_without_reason() {
        let p = pod(
            &[],
            &["a"],
            json!({"phase": "Failed",
            "containerStatuses": [terminated("a", 143, None, Some(15))]}),
        );
        assert_eq!(status(&p), "Signal:15");
        let p = pod(
            &[],
            &["a"],
            json!({"phase": "Failed",
            "containerStatuses": [terminated("a", 2, None, None)]}),
        );
        assert_eq!(status(&p), "ExitCode:2");
    }

    #[test]
    fn completed_with_a_running_container() {
        // The walk goes last to first, so `a`'s Completed is the reason;
        // with `b` still running it becomes Running or NotReady.
        let status_json = |ready: &str| {
            json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [terminated("a", 0, Some("Completed"), None), running("b", true)]})
        };
        let p = pod(&[], &["a", "b"], status_json("True"));
        assert_eq!(row_of(&p), ("1/2".into(), "Running".into(), "0".into()));
        let p = pod(&[], &["a", "b"], status_json("False"));
        assert_eq!(status(&p), "NotReady");
    }

    #[test]
    fn an_error_is_not_hidden_by_completed() {
        let p = pod(
            &[],
            &["a", "b"],
            json!({"phase": "Failed",
            "containerStatuses": [terminated("a", 0, Some("Completed"), None),
                                  terminated("b", 1, Some("Error"), None)]}),
        );
        assert_eq!(status(&p), "Error");
    }

    #[test]
    fn terminating_and_node_lost() {
        let mut p = pod(
            &[],
            &["a"],
            json!({"phase": "Running",
            "containerStatuses": [running("a", true)]}),
        );
        p.metadata.deletion_timestamp = p.metadata.creation_timestamp.clone();
        assert_eq!(status(&p), "Terminating");
        p.status.as_mut().unwrap().reason = Some("NodeLost".into());
        assert_eq!(status(&p), "Unknown");
        let mut done = pod(
            &[],
            &["a"],
            json!({"phase": "Succeeded",
            "containerStatuses": [terminated("a", 0, Some("Completed"), None)]}),
        );
        done.metadata.deletion_timestamp = done.metadata.creation_timestamp.clone();
        assert_eq!(status(&done), "Completed");
    }

    #[test]
    fn unknown_phase() {
        let p = pod(&[], &["a"], json!({"phase": "Unknown"}));
        assert_eq!(status(&p), "Unknown");
    }

    #[test]
    fn scheduling_gated() {
        let p = pod(
            &[],
            &["a"],
            json!({"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        );
        assert_eq!(status(&p), "SchedulingGated");
    }

    #[test]
    fn sidecars_count_in_ready_and_restarts() {
        let mut side = running("side", true);
        side["restartCount"] = json!(2);
        side["lastState"] =
            json!({"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:08:00Z"}});
        let p = pod(
            &["side:Always"],
            &["a"],
            json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [side],
            "containerStatuses": [running("a", true)]}),
        );
        assert_eq!(
            row_of(&p),
            ("2/2".into(), "Running".into(), "2 (2m ago)".into())
        );
    }

    #[test]
    fn wide_columns() {
        let p = pod(
            &[],
            &["a"],
            json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}),
        );
        let w = wide(&p);
        assert_eq!(w.ip, "10.0.0.5");
        assert_eq!(w.node, "<none>");
        assert_eq!(w.nominated_node, "<none>");
        assert_eq!(w.readiness_gates, "<none>");
        let mut p = pod(
            &[],
            &["a"],
            json!({"phase": "Running",
            "conditions": [{"type": "example.com/gate", "status": "True"}]}),
        );
        p.spec.as_mut().unwrap().readiness_gates = Some(vec![
            serde_json::from_value(json!({"conditionType": "example.com/gate"})).unwrap(),
            serde_json::from_value(json!({"conditionType": "example.com/other"})).unwrap(),
        ]);
        assert_eq!(wide(&p).readiness_gates, "1/2");
    }

    #[test]
    fn wide_ip_is_the_first_of_pod_ips_with_pod_ip_authoritative() {
        #[rustfmt::skip]
        let rows = [
            (json!({"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]}), "10.244.0.5"),
            (json!({"podIPs": [{"ip": "fd00::5"}, {"ip": "10.244.0.5"}]}), "fd00::5"),
            // An older writer's record: podIP alone.
            (json!({"podIP": "10.244.0.6"}), "10.244.0.6"),
            // The two disagree: podIP wins, for older clients.
            (json!({"podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.8"}]}), "10.244.0.7"),
            (json!({"podIP": "", "podIPs": []}), "<none>"),
            (json!({}), "<none>"),
        ];
        for (status, ip) in rows {
            let mut status = status;
            status["phase"] = json!("Running");
            assert_eq!(wide(&pod(&[], &["a"], status.clone())).ip, ip, "{status}");
        }
    }
}
