//! What the supervisor reports: events, the process records, and the
//! pod status in the Kubernetes shape.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerStatus, HostIP, PodIP, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::store::events::{Source, Type};
use crate::store::record::BackOffRecord;
use crate::supervisor::status;

use super::Supervisor;
use super::slot::{Phase, Role};

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
        // Once torn down the list is empty for good and the run directory
        // is removed (a deleted pod's at once): an exit or a dead pause
        // noticed after that must not make the directory again.
        if self.torn_down {
            return;
        }
        if let Err(e) = self.records.write_processes(&self.processes) {
            eprintln!("pod-supervisor: recording processes: {e}");
        }
    }

    // ----- status -----

    pub(super) fn status(&mut self) -> PodStatus {
        if let Some(rejected) = self.rejected_status() {
            return rejected;
        }
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
        let seen: Vec<Readiness> = self
            .slots
            .iter()
            .map(|s| Readiness {
                role: s.role,
                name: &s.spec.name,
                succeeded: s.succeeded(),
                started: s.status.started == Some(true),
                ready: s.status.ready,
            })
            .collect();
        for (type_, ok, reason, message) in conditions(self.stage.initialized(), phase, &seen) {
            self.conditions.set(type_, ok, reason, message, now);
        }
        if self.conditions.get("PodReadyToStartContainers").is_none() {
            self.ready_to_start_containers(false);
        }
        // A host-network pod has the node's address; another, what its
        // network gave it.
        let pod_ips = if self.spec.host_network == Some(true) {
            vec![self.host_ip.clone()]
        } else {
            self.pod_ips.clone()
        };
        // Evicted: Failed from the moment the kubelet decided it, with
        // its reason and message (`evictPod`'s status function).
        let (phase, reason, message) = match &self.evicted {
            Some(message) => ("Failed", Some("Evicted".into()), Some(message.clone())),
            None => (phase, None, None),
        };
        PodStatus {
            phase: Some(phase.into()),
            reason,
            message,
            conditions: Some(self.conditions.to_vec()),
            host_ip: Some(self.host_ip.clone()),
            host_ips: Some(vec![HostIP {
                ip: self.host_ip.clone(),
            }]),
            pod_ip: pod_ips.first().cloned(),
            pod_ips: (!pod_ips.is_empty())
                .then(|| pod_ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
            start_time: Some(Time(self.start_time)),
            qos_class: Some(crate::api::defaults::qos_class(&self.spec).into()),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(apps),
            ..Default::default()
        }
    }

    /// Whether what the status shows differs from what was last written.
    pub(super) fn status_changed(&mut self) -> bool {
        let status = self.status();
        self.last_status.as_ref() != Some(&status)
    }

    /// Writes the status if a decision this batch said so
    /// (`decide::Action::WriteStatus`).
    pub(super) fn flush_status(&mut self) {
        if std::mem::take(&mut self.status_due) {
            self.write_status();
        }
    }

    /// Records the containers' crash-loop back-offs, when they changed,
    /// for a supervisor that replaces this one (`adopt`): a container
    /// that crash-loops goes on waiting as long as it would have, and its
    /// next delay doubles from the one in force.
    pub(super) fn record_backoffs(&mut self) {
        if self.torn_down {
            return;
        }
        let clock = self.clock;
        let now: BTreeMap<String, BackOffRecord> = self
            .slots
            .iter()
            .filter_map(|s| {
                let (delay, raised) = s.backoff.entry()?;
                let restart_at = match s.phase() {
                    Phase::Waiting(at) => Some(clock.nanos(*at)),
                    _ => None,
                };
                let record = BackOffRecord {
                    delay_ms: delay.as_millis() as u64,
                    raised_at: clock.nanos(raised),
                    restart_at,
                };
                Some((s.spec.name.clone(), record))
            })
            .collect();
        if now == self.backoffs_written {
            return;
        }
        match self.records.write_backoffs(&now) {
            Ok(()) => self.backoffs_written = now,
            Err(e) => eprintln!("pod-supervisor: recording back-offs: {e}"),
        }
    }

    /// Writes the status unless it is what was last written.
    pub(super) fn write_status(&mut self) {
        if self.stage.detached() {
            return;
        }
        let status = self.status();
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        match self
            .store
            .pod_status_record(&self.namespace, &self.name, &status)
        {
            Ok((path, bytes)) => self.status_writer.submit(path, bytes),
            Err(e) => eprintln!("pod-supervisor: writing status: {e:#}"),
        }
        self.last_status = Some(status);
    }

    /// Tells the status writer the status that follows once the programs
    /// of the containers being created are executed (the end of a pod's
    /// start), for it to write it ahead: handed over then, it reads at
    /// once (see `status_writer`).
    pub(super) fn expect_status(&mut self) {
        let creating = self
            .slots
            .iter()
            .any(|s| matches!(s.phase(), Phase::Creating(_)) && !s.has_post_start());
        if !creating && !self.expecting {
            return;
        }
        let expected = match self.expected_status() {
            Some(status) if !self.stage.detached() && !self.torn_down => self
                .store
                .pod_status_record(&self.namespace, &self.name, &status)
                .ok(),
            _ => None,
        };
        self.expecting = expected.is_some();
        self.status_writer.expect(expected);
    }

    /// The status once every container being created (and without a
    /// postStart hook, which holds it in Waiting) runs, as `created` and
    /// `became_running` will show it, started now.
    fn expected_status(&mut self) -> Option<PodStatus> {
        let now = crate::duration::now();
        let uid = self.uid.clone();
        let mut before = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Phase::Creating(creation) = slot.phase() else {
                continue;
            };
            let Some(io) = &creation.io else { continue };
            if slot.has_post_start() {
                continue;
            }
            let container_id = crate::store::container_id(&uid, &slot.spec.name, creation.instance);
            let image = io.image.clone();
            before.push((i, slot.status.clone()));
            super::start::show_created(&mut slot.status, container_id, &image);
            slot.status.state = Some(super::start::running_since(now));
            let gate = super::probes::on_running(super::probes::Probes::of(&slot.spec));
            slot.status.started = Some(gate.started);
            slot.status.ready = gate.ready;
        }
        if before.is_empty() {
            return None;
        }
        // `status` sets the conditions' times: they are put back as they
        // were, with the containers.
        let conditions = self.conditions.clone();
        let expected = self.status();
        self.conditions = conditions;
        for (i, status) in before {
            self.slots[i].status = status;
        }
        Some(expected)
    }
}

/// A container as the pod's conditions read it.
pub(super) struct Readiness<'a> {
    pub(super) role: Role,
    pub(super) name: &'a str,
    /// Exited 0 and will not run again.
    pub(super) succeeded: bool,
    pub(super) started: bool,
    pub(super) ready: bool,
}

/// A condition: its type, status, reason and message.
pub(super) type Condition = (&'static str, bool, Option<&'static str>, Option<String>);

/// Initialized, ContainersReady and Ready as the kubelet sets them, from
/// whether the pod is initialized, its phase and its containers.
pub(super) fn conditions(initialized: bool, phase: &str, seen: &[Readiness]) -> Vec<Condition> {
    let names = |keep: &dyn Fn(&Readiness) -> bool| -> Vec<String> {
        seen.iter()
            .filter(|c| keep(c))
            .map(|c| c.name.to_string())
            .collect()
    };
    let mut out = Vec::new();
    if initialized {
        out.push(("Initialized", true, None, None));
    } else {
        let incomplete = names(&|c| match c.role {
            Role::Init => !c.succeeded,
            Role::Sidecar => !c.started,
            Role::App => false,
        });
        out.push((
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(status::names_message("incomplete", &incomplete)),
        ));
    }
    let unready = names(&|c| c.role != Role::Init && !c.ready);
    for type_ in ["ContainersReady", "Ready"] {
        if unready.is_empty() {
            out.push((type_, true, None, None));
        } else if status::is_terminal(Some(phase)) {
            out.push((type_, false, Some("PodCompleted"), None));
        } else {
            out.push((
                type_,
                false,
                Some("ContainersNotReady"),
                Some(status::names_message("unready", &unready)),
            ));
        }
    }
    out
}
