//! What the supervisor reports: events, the process records, and the
//! pod status in the Kubernetes shape.

use k8s_openapi::api::core::v1::{ContainerStatus, HostIP, PodIP, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::supervisor::events::{Source, Type};
use crate::supervisor::status;

use super::Supervisor;
use super::slot::Role;

impl Supervisor {
    pub(super) fn event(&mut self, slot: Option<usize>, type_: Type, reason: &str, message: &str) {
        if self.stage.detached() {
            return;
        }
        let path = slot.map(|i| self.slots[i].field_path.clone());
        if let Err(e) = self
            .events
            .record(path.as_deref(), type_, Source::Kubelet, reason, message)
        {
            eprintln!("pod-supervisor: recording event: {e}");
        }
    }

    pub(super) fn write_processes(&self) {
        if let Err(e) = self.records.write_processes(&self.processes) {
            eprintln!("pod-supervisor: recording processes: {e}");
        }
    }

    // ----- status -----

    pub(super) fn status(&mut self) -> PodStatus {
        let now = crate::duration::now();
        let collect = |roles: &[Role]| -> Vec<ContainerStatus> {
            self.slots
                .iter()
                .filter(|s| roles.contains(&s.role))
                .map(|s| s.status.clone())
                .collect()
        };
        let init = collect(&[Role::Init, Role::Sidecar]);
        let apps = collect(&[Role::App]);
        let phase = status::phase(
            &self.spec,
            &init,
            &apps,
            self.stage.terminal(),
            self.stage.initialized(),
        );
        let incomplete: Vec<String> = self
            .slots
            .iter()
            .filter(|s| match s.role {
                Role::Init => !s.succeeded(),
                Role::Sidecar => s.status.started != Some(true),
                Role::App => false,
            })
            .map(|s| s.spec.name.clone())
            .collect();
        if self.stage.initialized() {
            self.conditions.set("Initialized", true, None, None, now);
        } else {
            self.conditions.set(
                "Initialized",
                false,
                Some("ContainersNotInitialized"),
                Some(status::names_message("incomplete", &incomplete)),
                now,
            );
        }
        let unready: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.role != Role::Init && !s.status.ready)
            .map(|s| s.spec.name.clone())
            .collect();
        for type_ in ["ContainersReady", "Ready"] {
            if unready.is_empty() {
                self.conditions.set(type_, true, None, None, now);
            } else if status::is_terminal(Some(phase)) {
                self.conditions
                    .set(type_, false, Some("PodCompleted"), None, now);
            } else {
                self.conditions.set(
                    type_,
                    false,
                    Some("ContainersNotReady"),
                    Some(status::names_message("unready", &unready)),
                    now,
                );
            }
        }
        if self.conditions.get("PodReadyToStartContainers").is_none() {
            self.conditions
                .set("PodReadyToStartContainers", false, None, None, now);
        }
        let host_network = self.spec.host_network == Some(true);
        PodStatus {
            phase: Some(phase.into()),
            conditions: Some(self.conditions.to_vec()),
            host_ip: Some(self.host_ip.clone()),
            host_ips: Some(vec![HostIP {
                ip: self.host_ip.clone(),
            }]),
            pod_ip: host_network.then(|| self.host_ip.clone()),
            pod_ips: host_network.then(|| {
                vec![PodIP {
                    ip: self.host_ip.clone(),
                }]
            }),
            start_time: Some(Time(self.start_time)),
            qos_class: Some(crate::api::defaults::qos_class(&self.spec).into()),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(apps),
            ..Default::default()
        }
    }

    pub(super) fn write_status(&mut self) {
        if self.stage.detached() {
            return;
        }
        let status = self.status();
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        if let Err(e) = self
            .store
            .write_pod_status(&self.namespace, &self.name, &status)
        {
            eprintln!("pod-supervisor: writing status: {e:#}");
        }
        self.last_status = Some(status);
    }
}
