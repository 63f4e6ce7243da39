//! `describePod`: the pod's identity, status and network, its
//! containers (`container.rs`), conditions, volumes, QoS class, node
//! selectors, tolerations and events.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::{Event, Pod, Toleration, Volume};

use super::Describer;
use crate::api::quantity::Quantity;
use crate::duration;
use crate::print::qos;

impl Describer {
    pub(super) fn pod(&mut self, pod: &Pod, events: &[Event]) {
        let meta = &pod.metadata;
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        self.w(
            0,
            &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or("")),
        );
        self.w(
            0,
            &format!("Namespace:\t{}\n", meta.namespace.as_deref().unwrap_or("")),
        );
        if let Some(p) = spec.priority {
            self.w(0, &format!("Priority:\t{p}\n"));
        }
        if let Some(p) = spec
            .priority_class_name
            .as_deref()
            .filter(|p| !p.is_empty())
        {
            self.w(0, &format!("Priority Class Name:\t{p}\n"));
        }
        if let Some(r) = spec.runtime_class_name.as_deref().filter(|r| !r.is_empty()) {
            self.w(0, &format!("Runtime Class Name:\t{r}\n"));
        }
        if let Some(sa) = spec
            .service_account_name
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            self.w(0, &format!("Service Account:\t{sa}\n"));
        }
        match spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            None => self.w(0, "Node:\t<none>\n"),
            Some(node) => {
                let host_ip = status.host_ip.as_deref().unwrap_or("");
                self.w(0, &format!("Node:\t{node}/{host_ip}\n"));
            }
        }
        if status.start_time.is_some() {
            let t = self.time(status.start_time.as_ref());
            self.w(0, &format!("Start Time:\t{t}\n"));
        }
        self.labels("Labels", meta.labels.as_ref());
        self.annotations(meta.annotations.as_ref());
        let phase = status.phase.as_deref().unwrap_or("");
        match &meta.deletion_timestamp {
            Some(deleted) if phase != "Failed" && phase != "Succeeded" => {
                let lasts = duration::age(Some(deleted), self.now);
                self.w(0, &format!("Status:\tTerminating (lasts {lasts})\n"));
                let grace = meta.deletion_grace_period_seconds.unwrap_or(0);
                self.w(0, &format!("Termination Grace Period:\t{grace}s\n"));
            }
            _ => self.w(0, &format!("Status:\t{phase}\n")),
        }
        if let Some(r) = status.reason.as_deref().filter(|r| !r.is_empty()) {
            self.w(0, &format!("Reason:\t{r}\n"));
        }
        if let Some(m) = status.message.as_deref().filter(|m| !m.is_empty()) {
            self.w(0, &format!("Message:\t{m}\n"));
        }
        if let Some(profile) = spec
            .security_context
            .as_ref()
            .and_then(|s| s.seccomp_profile.as_ref())
        {
            self.w(0, &format!("SeccompProfile:\t{}\n", profile.type_));
            if let Some(local) = &profile.localhost_profile {
                self.w(0, &format!("LocalhostProfile:\t{local}\n"));
            }
        }
        self.w(
            0,
            &format!("IP:\t{}\n", status.pod_ip.as_deref().unwrap_or("")),
        );
        match status.pod_ips.as_deref().unwrap_or_default() {
            [] => self.w(0, "IPs:\t<none>\n"),
            ips => {
                self.w(0, "IPs:\n");
                for ip in ips {
                    self.w(1, &format!("IP:\t{}\n", ip.ip));
                }
            }
        }
        if let Some(owner) = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
        {
            self.w(
                0,
                &format!("Controlled By:\t{}/{}\n", owner.kind, owner.name),
            );
        }
        if let Some(n) = status
            .nominated_node_name
            .as_deref()
            .filter(|n| !n.is_empty())
        {
            self.w(0, &format!("NominatedNodeName:\t{n}\n"));
        }
        let init = spec.init_containers.clone().unwrap_or_default();
        if !init.is_empty() {
            let statuses = status.init_container_statuses.clone().unwrap_or_default();
            self.containers("Init Containers", &init, &statuses, pod);
        }
        let statuses = status.container_statuses.clone().unwrap_or_default();
        self.containers("Containers", &spec.containers, &statuses, pod);
        let conditions = status.conditions.clone().unwrap_or_default();
        if let Some(gates) = spec.readiness_gates.as_ref().filter(|g| !g.is_empty()) {
            self.w(0, "Readiness Gates:\n  Type\tStatus\n");
            for g in gates {
                let s = conditions
                    .iter()
                    .find(|c| c.type_ == g.condition_type)
                    .map_or("<none>", |c| c.status.as_str());
                self.w(1, &format!("{} \t{s} \n", g.condition_type));
            }
        }
        if !conditions.is_empty() {
            self.w(0, "Conditions:\n  Type\tStatus\n");
            for c in &conditions {
                self.w(1, &format!("{} \t{} \n", c.type_, c.status));
            }
        }
        self.volumes(spec.volumes.as_deref().unwrap_or_default());
        self.w(0, &format!("QoS Class:\t{}\n", qos::pod_qos_class(pod)));
        self.labels("Node-Selectors", spec.node_selector.as_ref());
        self.tolerations(spec.tolerations.clone().unwrap_or_default());
        self.events(events);
    }

    fn volumes(&mut self, volumes: &[Volume]) {
        if volumes.is_empty() {
            self.w(0, "Volumes:\t<none>\n");
            return;
        }
        self.w(0, "Volumes:\n");
        for v in volumes {
            self.w(1, &format!("{}:\n", v.name));
            let opt = |o: Option<bool>| o.unwrap_or(false);
            if let Some(h) = &v.host_path {
                let kind = h.type_.as_deref().unwrap_or("<none>");
                self.w(2, &format!("Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{kind}\n", h.path));
            } else if let Some(e) = &v.empty_dir {
                let size = e
                    .size_limit
                    .as_ref()
                    .and_then(|q| Quantity::parse(&q.0).ok())
                    .filter(|q| !q.is_zero() && !q.is_negative())
                    .map_or("<unset>".to_string(), |q| q.canonical());
                let medium = e.medium.as_deref().unwrap_or("");
                self.w(2, &format!("Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{medium}\n    SizeLimit:\t{size}\n"));
            } else if let Some(s) = &v.secret {
                let name = s.secret_name.as_deref().unwrap_or("");
                self.w(2, &format!("Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{name}\n    Optional:\t{}\n", opt(s.optional)));
            } else if let Some(c) = &v.config_map {
                self.w(2, &format!("Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n", c.name, opt(c.optional)));
            } else if let Some(p) = &v.persistent_volume_claim {
                self.w(2, &format!("Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}\n    ReadOnly:\t{}\n", p.claim_name, opt(p.read_only)));
            } else if let Some(p) = &v.projected {
                self.w(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n");
                // kubectl prints these optionals as Go pointers: `<nil>`
                // when unset; the value itself otherwise.
                let ptr = |o: Option<bool>| o.map_or("<nil>".to_string(), |b| b.to_string());
                for source in p.sources.iter().flatten() {
                    if let Some(s) = &source.secret {
                        self.w(
                            2,
                            &format!(
                                "SecretName:\t{}\n    SecretOptionalName:\t{}\n",
                                s.name,
                                ptr(s.optional)
                            ),
                        );
                    } else if source.downward_api.is_some() {
                        self.w(2, "DownwardAPI:\ttrue\n");
                    } else if let Some(c) = &source.config_map {
                        self.w(
                            2,
                            &format!(
                                "ConfigMapName:\t{}\n    ConfigMapOptional:\t{}\n",
                                c.name,
                                ptr(c.optional)
                            ),
                        );
                    } else if let Some(t) = &source.service_account_token {
                        self.w(
                            2,
                            &format!(
                                "TokenExpirationSeconds:\t{}\n",
                                t.expiration_seconds.unwrap_or(3600)
                            ),
                        );
                    }
                }
            } else if let Some(d) = &v.downward_api {
                self.w(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n");
                for item in d.items.iter().flatten() {
                    if let Some(f) = &item.field_ref {
                        self.w(3, &format!("{} -> {}\n", f.field_path, item.path));
                    }
                    if let Some(r) = &item.resource_field_ref {
                        self.w(3, &format!("{} -> {}\n", r.resource, item.path));
                    }
                }
            } else if let Some(i) = &v.image {
                let reference = i.reference.as_deref().unwrap_or("");
                let policy = i.pull_policy.as_deref().unwrap_or("");
                self.w(2, &format!("Type:\tImage (a container image or OCI artifact)\n    Reference:\t{reference}\n    PullPolicy:\t{policy}\n"));
            } else {
                self.w(1, "<unknown>\n");
            }
        }
    }

    fn tolerations(&mut self, mut tolerations: Vec<Toleration>) {
        self.w(0, "Tolerations:\t");
        if tolerations.is_empty() {
            self.w(0, "<none>\n");
            return;
        }
        tolerations.sort_by(|a, b| a.key.cmp(&b.key));
        for (i, t) in tolerations.iter().enumerate() {
            if i > 0 {
                self.w(0, "\t");
            }
            let key = t.key.as_deref().unwrap_or("");
            let value = t.value.as_deref().unwrap_or("");
            let effect = t.effect.as_deref().unwrap_or("");
            let mut line = key.to_string();
            if !value.is_empty() {
                let _ = write!(line, "={value}");
            }
            if !effect.is_empty() {
                let _ = write!(line, ":{effect}");
            }
            if t.operator.as_deref() == Some("Exists") && value.is_empty() {
                line.push_str(if key.is_empty() && effect.is_empty() {
                    "op=Exists"
                } else {
                    " op=Exists"
                });
            }
            if let Some(s) = t.toleration_seconds {
                let _ = write!(line, " for {s}s");
            }
            self.w(0, &format!("{line}\n"));
        }
    }
}
