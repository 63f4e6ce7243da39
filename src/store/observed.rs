//! How a stored pod's status reads: the supervisor's record while it runs
//! (or once the pod is finished), Pending/ContainerCreating before the
//! supervisor wrote anything, Unknown when the supervisor is gone (its
//! liveness is the lock on its pid file, see `record`), and what the
//! kubelet makes of it when the node restarted under it ([`restarted`]).
//!
//! [`restarted`]: super::restarted

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodIP,
    PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::record::{Records, SupervisorState};
use super::{Store, pod_uid};
use crate::api::phase::{PENDING, UNKNOWN, is_terminal};

/// The state of the pod's supervisor, to be looked at before its status
/// record is read: a supervisor writes its last status before it removes
/// its run directory, so a record read after is that last status. Read
/// the other way round, a pod that ends between the two reads (its
/// record read while it ran, its run directory then gone) would pass for
/// one whose node restarted (`ContainerStatusUnknown`).
pub fn supervisor(store: &Store, pod: &Pod) -> SupervisorState {
    pod_uid(pod).ok().map_or(SupervisorState::Never, |uid| {
        Records::new(&store.pod_run_dir(uid)).supervisor_state()
    })
}

/// The status to show for a stored pod with status record `recorded`,
/// read after its supervisor was seen in state `supervisor`.
pub fn status(pod: &Pod, supervisor: SupervisorState, recorded: Option<PodStatus>) -> PodStatus {
    match recorded.map(as_stored) {
        Some(s) if is_terminal(s.phase.as_deref()) => s,
        Some(s) if supervisor == SupervisorState::Running => s,
        // The scheduler's record of a pod it left Pending: no supervisor
        // ever ran it, and only a supervisor writes container statuses.
        Some(s) if supervisor == SupervisorState::Never && waiting_for_node(&s) => s,
        // A status but no trace of a supervisor in the run directory: the
        // node restarted (the run root is a tmpfs) and every process of
        // the pod is gone.
        Some(s) if supervisor == SupervisorState::Never => super::restarted::status(pod, s),
        Some(s) => unknown(s),
        None if supervisor == SupervisorState::Gone => unknown(initial(pod)),
        None => initial(pod),
    }
}

/// A status record's addresses as the API server would store and return
/// them: its conversions to and from the internal type make `podIP`
/// authoritative (`podIPs` becomes `[podIP]` when empty or starting with
/// another address) and `podIP` the first of `podIPs`; the same for
/// `hostIP` and `hostIPs` (Convert_v1_PodStatus_To_core_PodStatus and
/// back).
pub fn as_stored(mut status: PodStatus) -> PodStatus {
    fn normalize<T>(
        single: &mut Option<String>,
        list: &mut Option<Vec<T>>,
        ip: fn(&T) -> &str,
        make: fn(String) -> T,
    ) {
        if let Some(one) = single.as_deref().filter(|s| !s.is_empty())
            && list.as_deref().and_then(|l| l.first()).map(ip) != Some(one)
        {
            *list = Some(vec![make(one.to_string())]);
        }
        *single = list
            .as_deref()
            .and_then(|l| l.first())
            .map(|x| ip(x).to_string());
    }
    normalize(
        &mut status.pod_ip,
        &mut status.pod_ips,
        |p: &PodIP| p.ip.as_str(),
        |ip| PodIP { ip },
    );
    normalize(
        &mut status.host_ip,
        &mut status.host_ips,
        |h: &HostIP| h.ip.as_str(),
        |ip| HostIP { ip },
    );
    status
}

/// A status written for a pod not (yet) bound to run here: Pending, and
/// no container of it created.
fn waiting_for_node(status: &PodStatus) -> bool {
    status.phase.as_deref() == Some(PENDING)
        && status.container_statuses.is_none()
        && status.init_container_statuses.is_none()
}

/// A container status waiting for `reason`.
pub fn waiting(name: &str, image: &str, reason: &str) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        image: image.into(),
        state: Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: None,
            }),
            ..Default::default()
        }),
        ready: false,
        started: Some(false),
        ..Default::default()
    }
}

/// The status of a pod whose supervisor has not written one yet: every
/// container still to be created.
pub fn initial(pod: &Pod) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let has_init = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
    let image = |c: &Container| c.image.clone().unwrap_or_default();
    let app_reason = if has_init {
        "PodInitializing"
    } else {
        "ContainerCreating"
    };
    PodStatus {
        phase: Some(PENDING.into()),
        qos_class: Some(crate::api::defaults::qos_class(&spec).into()),
        init_container_statuses: has_init.then(|| {
            spec.init_containers
                .iter()
                .flatten()
                .map(|c| waiting(&c.name, &image(c), "PodInitializing"))
                .collect()
        }),
        container_statuses: Some(
            spec.containers
                .iter()
                .map(|c| waiting(&c.name, &image(c), app_reason))
                .collect(),
        ),
        ..Default::default()
    }
}

/// What is known of a pod whose supervisor is gone: its last status with
/// phase Unknown, nothing ready, and no state for containers that were
/// not finished (they may run on, or not: nobody watches them).
pub fn unknown(mut status: PodStatus) -> PodStatus {
    status.phase = Some(UNKNOWN.into());
    status.message = Some("The pod's supervisor is not running; its state is unknown".into());
    for list in [
        status.container_statuses.as_mut(),
        status.init_container_statuses.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        for c in list.iter_mut() {
            c.ready = false;
            if c.state.as_ref().is_none_or(|s| s.terminated.is_none()) {
                c.state = None;
            }
        }
    }
    for c in status.conditions.iter_mut().flatten() {
        if c.type_ == "Ready" || c.type_ == "ContainersReady" {
            if c.status != "False" {
                c.last_transition_time = Some(Time(crate::duration::now()));
            }
            c.status = "False".into();
            c.reason = Some("SupervisorNotRunning".into());
            c.message = None;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::phase::RUNNING;
    use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateTerminated, PodSpec};

    fn spec(apps: &[&str], init: &[&str]) -> PodSpec {
        let containers = |names: &[&str]| -> Vec<Container> {
            names
                .iter()
                .map(|n| Container {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect()
        };
        PodSpec {
            containers: containers(apps),
            init_containers: Some(containers(init)),
            ..Default::default()
        }
    }

    fn running(name: &str) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            ready: true,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn exited(name: &str, code: i32) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn before_the_supervisor_writes_the_pod_is_creating() {
        let pod = Pod {
            spec: Some(spec(&["a"], &["i"])),
            ..Default::default()
        };
        let s = initial(&pod);
        assert_eq!(s.phase.as_deref(), Some(PENDING));
        let reason =
            |c: &ContainerStatus| c.state.clone().unwrap().waiting.unwrap().reason.unwrap();
        assert_eq!(reason(&s.container_statuses.unwrap()[0]), "PodInitializing");
        assert_eq!(
            reason(&s.init_container_statuses.unwrap()[0]),
            "PodInitializing"
        );
    }

    #[test]
    fn addresses_read_as_the_api_server_stores_them() {
        let read = |v: serde_json::Value| -> serde_json::Value {
            serde_json::to_value(as_stored(serde_json::from_value(v).unwrap())).unwrap()
        };
        #[rustfmt::skip]
        let rows = [
            (serde_json::json!({"podIP": "10.244.0.5"}),
             serde_json::json!({"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}]})),
            (serde_json::json!({"podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]}),
             serde_json::json!({"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]})),
            (serde_json::json!({"podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.8"}, {"ip": "fd00::8"}]}),
             serde_json::json!({"podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}]})),
            (serde_json::json!({"hostIP": "192.0.2.1"}),
             serde_json::json!({"hostIP": "192.0.2.1", "hostIPs": [{"ip": "192.0.2.1"}]})),
            (serde_json::json!({"podIP": "", "podIPs": []}), serde_json::json!({"podIPs": []})),
            (serde_json::json!({}), serde_json::json!({})),
        ];
        for (record, stored) in rows {
            assert_eq!(read(record.clone()), stored, "{record}");
        }
    }

    #[test]
    fn a_lost_supervisor_makes_the_pod_unknown() {
        let mut status = PodStatus {
            phase: Some(RUNNING.into()),
            container_statuses: Some(vec![running("a"), exited("b", 0)]),
            ..Default::default()
        };
        status.container_statuses.as_mut().unwrap()[0].ready = true;
        let s = unknown(status);
        assert_eq!(s.phase.as_deref(), Some(UNKNOWN));
        let cs = s.container_statuses.unwrap();
        assert!(!cs[0].ready && cs[0].state.is_none());
        assert!(cs[1].state.as_ref().unwrap().terminated.is_some());
    }
}
