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
mod tests;
