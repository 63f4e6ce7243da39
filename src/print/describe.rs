//! `describe` in kubectl's layout (pkg/describe `describePod`,
//! `describeConfigMap`, `describeSecret`): "Label:\tvalue" lines at two
//! spaces per level through the describe tabwriter (minwidth 0, padding 2),
//! times in RFC 1123 with a numeric zone, ages as HumanDuration, and the
//! Events table with folded counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerState, ContainerStatus, EnvVar, Event, Node, Pod, Probe,
    ResourceRequirements, Secret, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

mod node;

pub use node::taint_string;

use super::tabwriter;
use super::{events, qos};
use crate::api::Object;
use crate::api::quantity::Quantity;
use crate::duration;

/// Annotations kubectl leaves out of describe.
const SKIP_ANNOTATIONS: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];
const MAX_ANNOTATION_LEN: usize = 140;

/// Describes an object now, with times in the system's zone.
pub fn describe(object: &Object, events: &[Event]) -> String {
    describe_at(object, events, Timestamp::now(), &TimeZone::system())
}

/// Describes a node with the pods bound to it that have not terminated.
pub fn describe_node(node: &Node, pods: &[Pod], events: &[Event]) -> String {
    describe_node_at(node, pods, events, Timestamp::now(), &TimeZone::system())
}

/// `describe_node` at `now` in `tz`.
pub fn describe_node_at(
    node: &Node,
    pods: &[Pod],
    events: &[Event],
    now: Timestamp,
    tz: &TimeZone,
) -> String {
    let mut d = Describer {
        out: String::new(),
        now,
        tz: tz.clone(),
    };
    d.node(node, pods, events);
    tabwriter::format(tabwriter::DESCRIBE, &d.out)
}

/// Describes an object with ages taken at `now` and times shown in `tz`.
pub fn describe_at(object: &Object, events: &[Event], now: Timestamp, tz: &TimeZone) -> String {
    let mut d = Describer {
        out: String::new(),
        now,
        tz: tz.clone(),
    };
    match object {
        Object::Pod(pod) => d.pod(pod, events),
        Object::ConfigMap(cm) => d.config_map(cm, events),
        Object::Secret(secret) => d.secret(secret),
        Object::Namespace(ns) => d.namespace(ns),
        Object::PodPreset(_) => d.generic(object, events),
        // Without the pods on it: `describe_node` lists them.
        Object::Node(node) => d.node(node, &[], events),
    }
    tabwriter::format(tabwriter::DESCRIBE, &d.out)
}

struct Describer {
    /// Tab-separated text, laid out at the end.
    out: String,
    now: Timestamp,
    tz: TimeZone,
}

fn bool_word(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

impl Describer {
    /// `PrefixWriter.Write(level, …)`: two spaces per level.
    fn w(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
    }

    /// Go's `Time.Format(time.RFC1123Z)` in the display zone.
    fn time(&self, t: Option<&Time>) -> String {
        let ts = t.map_or(Timestamp::UNIX_EPOCH, duration::timestamp);
        if t.is_none() {
            // Go's zero time.
            return "Mon, 01 Jan 0001 00:00:00 +0000".into();
        }
        self.rfc1123(ts)
    }

    /// Go's `time.RFC1123Z` of an instant in the display zone.
    fn rfc1123(&self, ts: Timestamp) -> String {
        ts.to_zoned_datetime(self.tz.clone())
            .strftime("%a, %d %b %Y %H:%M:%S %z")
            .to_string()
    }

    fn labels(&mut self, title: &str, labels: Option<&BTreeMap<String, String>>) {
        self.w(0, &format!("{title}:\t"));
        match labels {
            Some(l) if !l.is_empty() => {
                for (i, (k, v)) in l.iter().enumerate() {
                    if i > 0 {
                        self.w(0, "\t");
                    }
                    self.w(0, &format!("{k}={v}\n"));
                }
            }
            _ => self.w(0, "<none>\n"),
        }
    }

    fn annotations(&mut self, annotations: Option<&BTreeMap<String, String>>) {
        self.w(0, "Annotations:\t");
        let shown: Vec<(&String, &String)> = annotations
            .into_iter()
            .flatten()
            .filter(|(k, _)| !SKIP_ANNOTATIONS.contains(&k.as_str()))
            .collect();
        if shown.is_empty() {
            self.w(0, "<none>\n");
            return;
        }
        for (i, (k, v)) in shown.into_iter().enumerate() {
            if i > 0 {
                self.w(0, "\t");
            }
            let value = v.strip_suffix('\n').unwrap_or(v);
            if value.len() + k.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
                self.w(0, &format!("{k}:\n"));
                for line in value.split('\n') {
                    self.w(
                        0,
                        &format!("\t  {}\n", shorten(line, MAX_ANNOTATION_LEN - 2)),
                    );
                }
            } else {
                self.w(0, &format!("{k}: {value}\n"));
            }
        }
    }

    fn pod(&mut self, pod: &Pod, events: &[Event]) {
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

    fn containers(
        &mut self,
        label: &str,
        containers: &[Container],
        statuses: &[ContainerStatus],
        pod: &Pod,
    ) {
        let none = if containers.is_empty() { " <none>" } else { "" };
        self.w(0, &format!("{label}:{none}\n"));
        for c in containers {
            let status = statuses.iter().find(|s| s.name == c.name);
            self.w(1, &format!("{}:\n", c.name));
            if let Some(s) = status {
                self.w(
                    2,
                    &format!(
                        "Container ID:\t{}\n",
                        s.container_id.as_deref().unwrap_or("")
                    ),
                );
            }
            self.w(
                2,
                &format!("Image:\t{}\n", c.image.as_deref().unwrap_or("")),
            );
            if let Some(s) = status {
                self.w(2, &format!("Image ID:\t{}\n", s.image_id));
            }
            let ports = c.ports.as_deref().unwrap_or_default();
            // Without the port's name, as kubectl 1.32 prints it (the
            // kubectl this project is checked against).
            let port_list: Vec<String> = ports
                .iter()
                .map(|p| {
                    let protocol = p.protocol.as_deref().unwrap_or("");
                    format!("{}/{protocol}", p.container_port)
                })
                .collect();
            let host_list: Vec<String> = ports
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.host_port.unwrap_or(0),
                        p.protocol.as_deref().unwrap_or("")
                    )
                })
                .collect();
            let ports = port_list.join(", ");
            if ports.contains(',') {
                self.w(2, &format!("Ports:\t{ports}\n"));
            } else {
                self.w(2, &format!("Port:\t{}\n", or_none(&ports)));
            }
            let hosts = host_list.join(", ");
            if hosts.contains(',') {
                self.w(2, &format!("Host Ports:\t{hosts}\n"));
            } else {
                self.w(2, &format!("Host Port:\t{}\n", or_none(&hosts)));
            }
            if let Some(profile) = c
                .security_context
                .as_ref()
                .and_then(|s| s.seccomp_profile.as_ref())
            {
                self.w(2, &format!("SeccompProfile:\t{}\n", profile.type_));
            }
            for (title, items) in [("Command", &c.command), ("Args", &c.args)] {
                if let Some(items) = items.as_ref().filter(|i| !i.is_empty()) {
                    self.w(2, &format!("{title}:\n"));
                    for item in items {
                        for line in item.split('\n') {
                            self.w(3, &format!("{line}\n"));
                        }
                    }
                }
            }
            if let Some(s) = status {
                self.state("State", s.state.as_ref());
                if let Some(last) = s.last_state.as_ref().filter(|l| l.terminated.is_some()) {
                    self.state("Last State", Some(last));
                }
                self.w(2, &format!("Ready:\t{}\n", bool_word(s.ready)));
                self.w(2, &format!("Restart Count:\t{}\n", s.restart_count));
            }
            self.resources(c.resources.as_ref());
            for (title, probe) in [
                ("Liveness", &c.liveness_probe),
                ("Readiness", &c.readiness_probe),
                ("Startup", &c.startup_probe),
            ] {
                if let Some(p) = probe {
                    self.w(2, &format!("{title}:\t{}\n", describe_probe(p)));
                }
            }
            self.env(c, pod);
            let mut mounts = c.volume_mounts.clone().unwrap_or_default();
            let none = if mounts.is_empty() { "\t<none>" } else { "" };
            self.w(2, &format!("Mounts:{none}\n"));
            mounts.sort_by(|a, b| a.mount_path.cmp(&b.mount_path));
            for m in &mounts {
                let mut flags = vec![if m.read_only == Some(true) {
                    "ro".to_string()
                } else {
                    "rw".to_string()
                }];
                if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                    flags.push(format!("path={sub:?}"));
                }
                self.w(
                    3,
                    &format!("{} from {} ({})\n", m.mount_path, m.name, flags.join(",")),
                );
            }
            if let Some(devices) = c.volume_devices.as_ref().filter(|d| !d.is_empty()) {
                self.w(2, "Devices:\n");
                for d in devices {
                    self.w(3, &format!("{} from {}\n", d.device_path, d.name));
                }
            }
        }
    }

    fn state(&mut self, name: &str, state: Option<&ContainerState>) {
        let state = state.cloned().unwrap_or_default();
        if let Some(r) = &state.running {
            self.w(2, &format!("{name}:\tRunning\n"));
            let t = self.time(r.started_at.as_ref());
            self.w(3, &format!("Started:\t{t}\n"));
        } else if let Some(wt) = &state.waiting {
            self.w(2, &format!("{name}:\tWaiting\n"));
            if let Some(r) = wt.reason.as_deref().filter(|r| !r.is_empty()) {
                self.w(3, &format!("Reason:\t{r}\n"));
            }
        } else if let Some(t) = &state.terminated {
            self.w(2, &format!("{name}:\tTerminated\n"));
            if let Some(r) = t.reason.as_deref().filter(|r| !r.is_empty()) {
                self.w(3, &format!("Reason:\t{r}\n"));
            }
            if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
                self.w(3, &format!("Message:\t{m}\n"));
            }
            self.w(3, &format!("Exit Code:\t{}\n", t.exit_code));
            if let Some(s) = t.signal.filter(|s| *s > 0) {
                self.w(3, &format!("Signal:\t{s}\n"));
            }
            let started = self.time(t.started_at.as_ref());
            let finished = self.time(t.finished_at.as_ref());
            self.w(3, &format!("Started:\t{started}\n"));
            self.w(3, &format!("Finished:\t{finished}\n"));
        } else {
            self.w(2, &format!("{name}:\tWaiting\n"));
        }
    }

    fn resources(&mut self, resources: Option<&ResourceRequirements>) {
        let Some(r) = resources else { return };
        for (title, list) in [("Limits", &r.limits), ("Requests", &r.requests)] {
            if let Some(list) = list.as_ref().filter(|l| !l.is_empty()) {
                self.w(2, &format!("{title}:\n"));
                for (name, q) in list {
                    let shown = Quantity::parse(&q.0).map_or(q.0.clone(), |q| q.canonical());
                    self.w(3, &format!("{name}:\t{shown}\n"));
                }
            }
        }
    }

    fn env(&mut self, c: &Container, pod: &Pod) {
        if let Some(from) = c.env_from.as_ref().filter(|f| !f.is_empty()) {
            self.w(2, "Environment Variables from:\n");
            for e in from {
                let (name, kind, optional) = if let Some(r) = &e.config_map_ref {
                    (r.name.clone(), "ConfigMap", r.optional.unwrap_or(false))
                } else if let Some(r) = &e.secret_ref {
                    (r.name.clone(), "Secret", r.optional.unwrap_or(false))
                } else {
                    (String::new(), "", false)
                };
                match e.prefix.as_deref().filter(|p| !p.is_empty()) {
                    None => self.w(3, &format!("{name}\t{kind}\tOptional: {optional}\n")),
                    Some(p) => self.w(
                        3,
                        &format!("{name}\t{kind} with prefix '{p}'\tOptional: {optional}\n"),
                    ),
                }
            }
        }
        let env = c.env.as_deref().unwrap_or_default();
        let none = if env.is_empty() { "\t<none>" } else { "" };
        self.w(2, &format!("Environment:{none}\n"));
        for e in env {
            self.env_var(e, c, pod);
        }
    }

    fn env_var(&mut self, e: &EnvVar, c: &Container, pod: &Pod) {
        let Some(from) = &e.value_from else {
            for (i, line) in e.value.as_deref().unwrap_or("").split('\n').enumerate() {
                if i == 0 {
                    self.w(3, &format!("{}:\t{line}\n", e.name));
                } else {
                    self.w(3, &format!("\t{line}\n"));
                }
            }
            return;
        };
        if let Some(f) = &from.field_ref {
            let value = field_value(pod, &f.field_path);
            let api = f.api_version.as_deref().unwrap_or("v1");
            self.w(
                3,
                &format!("{}:\t{value} ({api}:{})\n", e.name, f.field_path),
            );
        } else if let Some(r) = &from.resource_field_ref {
            let mut value =
                resource_value(c, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()));
            if value == "0" && (r.resource == "limits.cpu" || r.resource == "limits.memory") {
                value = "node allocatable".into();
            }
            self.w(3, &format!("{}:\t{value} ({})\n", e.name, r.resource));
        } else if let Some(s) = &from.secret_key_ref {
            let optional = s.optional.unwrap_or(false);
            self.w(
                3,
                &format!(
                    "{}:\t<set to the key '{}' in secret '{}'>\tOptional: {optional}\n",
                    e.name, s.key, s.name
                ),
            );
        } else if let Some(m) = &from.config_map_key_ref {
            let optional = m.optional.unwrap_or(false);
            self.w(
                3,
                &format!(
                    "{}:\t<set to the key '{}' of config map '{}'>\tOptional: {optional}\n",
                    e.name, m.key, m.name
                ),
            );
        }
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

    fn events(&mut self, list: &[Event]) {
        if list.is_empty() {
            self.w(0, "Events:\t<none>\n");
            return;
        }
        // kubectl flushes the tabwriter here; the `Events:` line has no
        // tab, which ends every column block just the same.
        self.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
        self.w(1, "----\t------\t----\t----\t-------\n");
        for e in events::sorted(list) {
            let source = e
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .filter(|c| !c.is_empty())
                .or_else(|| e.reporting_component.clone())
                .unwrap_or_default();
            let line = format!(
                "{}\t{}\t{}\t{source}\t{}\n",
                e.type_.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                events::age_interval(e, self.now),
                e.message.as_deref().unwrap_or("").trim(),
            );
            self.w(1, &line);
        }
    }

    fn config_map(&mut self, cm: &ConfigMap, events: &[Event]) {
        self.w(
            0,
            &format!("Name:\t{}\n", cm.metadata.name.as_deref().unwrap_or("")),
        );
        self.w(
            0,
            &format!(
                "Namespace:\t{}\n",
                cm.metadata.namespace.as_deref().unwrap_or("")
            ),
        );
        self.labels("Labels", cm.metadata.labels.as_ref());
        self.annotations(cm.metadata.annotations.as_ref());
        self.w(0, "\nData\n====\n");
        for (k, v) in cm.data.iter().flatten() {
            self.w(0, &format!("{k}:\n----\n{v}\n"));
        }
        self.w(0, "\nBinaryData\n====\n");
        for (k, v) in cm.binary_data.iter().flatten() {
            self.w(0, &format!("{k}: {} bytes\n", v.0.len()));
        }
        self.w(0, "\n");
        self.events(events);
    }

    /// `describeNamespace`; a single node has no ResourceQuotas or
    /// LimitRanges, so both sections say there are none.
    fn namespace(&mut self, ns: &k8s_openapi::api::core::v1::Namespace) {
        let name = ns.metadata.name.as_deref().unwrap_or("");
        self.w(0, &format!("Name:\t{name}\n"));
        self.labels("Labels", ns.metadata.labels.as_ref());
        self.annotations(ns.metadata.annotations.as_ref());
        let phase = ns.status.as_ref().and_then(|s| s.phase.as_deref());
        self.w(0, &format!("Status:\t{}\n", phase.unwrap_or("")));
        self.w(0, "\nNo resource quota.\n");
        self.w(0, "\nNo LimitRange resource.\n");
    }

    fn secret(&mut self, secret: &Secret) {
        self.w(
            0,
            &format!("Name:\t{}\n", secret.metadata.name.as_deref().unwrap_or("")),
        );
        self.w(
            0,
            &format!(
                "Namespace:\t{}\n",
                secret.metadata.namespace.as_deref().unwrap_or("")
            ),
        );
        self.labels("Labels", secret.metadata.labels.as_ref());
        self.annotations(secret.metadata.annotations.as_ref());
        let kind = secret.type_.as_deref().unwrap_or("");
        self.w(0, &format!("\nType:\t{kind}\n"));
        self.w(0, "\nData\n====\n");
        for (k, v) in secret.data.iter().flatten() {
            if k == "token" && kind == "kubernetes.io/service-account-token" {
                self.w(0, &format!("{k}:\t{}\n", String::from_utf8_lossy(&v.0)));
            } else {
                self.w(0, &format!("{k}:\t{} bytes\n", v.0.len()));
            }
        }
    }
}

impl Describer {
    /// kubectl's generic describer, for kinds it has no describer of its
    /// own for (a PodPreset): name, namespace, labels, annotations, then
    /// every other field of the object, keys sorted, as
    /// `printUnstructuredContent` writes them.
    fn generic(&mut self, object: &Object, events: &[Event]) {
        self.w(0, &format!("Name:\t{}\n", object.name()));
        self.w(0, &format!("Namespace:\t{}\n", object.namespace()));
        self.labels("Labels", object.metadata().labels.as_ref());
        self.annotations(object.metadata().annotations.as_ref());
        if let serde_json::Value::Object(content) = object.to_json() {
            const SKIP: [&str; 4] = [
                ".metadata.name",
                ".metadata.namespace",
                ".metadata.labels",
                ".metadata.annotations",
            ];
            self.unstructured(0, &content, "", &SKIP);
        }
        self.events(events);
    }

    fn unstructured(
        &mut self,
        level: usize,
        content: &serde_json::Map<String, serde_json::Value>,
        prefix: &str,
        skip: &[&str],
    ) {
        use serde_json::Value;
        let mut fields: Vec<&String> = content.keys().collect();
        fields.sort();
        for field in fields {
            let path = format!("{prefix}.{field}");
            if skip.contains(&path.as_str()) {
                continue;
            }
            let label = smart_label(field);
            match &content[field] {
                Value::Object(map) => {
                    self.w(level, &format!("{label}:\n"));
                    self.unstructured(level + 1, map, &path, skip);
                }
                Value::Array(items) => {
                    self.w(level, &format!("{label}:\n"));
                    for item in items {
                        match item {
                            Value::Object(map) => self.unstructured(level + 1, map, &path, skip),
                            other => self.w(level + 1, &format!("{}\n", go_value(other))),
                        }
                    }
                }
                other => self.w(level, &format!("{label}:\t{}\n", go_value(other))),
            }
        }
    }
}

/// A JSON scalar as Go's `%v` prints it from an unstructured object.
fn go_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// kubectl's `smartLabelFor`: `apiVersion` → `API Version`; a field with
/// characters other than letters and '-' is left as it is.
fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: [&str; 5] = ["API", "URL", "UID", "OSB", "GUID"];
    camel_case_split(field)
        .into_iter()
        .map(|part| {
            let upper = part.to_uppercase();
            if ACRONYMS.contains(&upper.as_str()) {
                upper
            } else {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// fatih/camelcase's `Split`: runs of lower-case, upper-case and other
/// characters, the last capital of a run of capitals starting the lower-case
/// run after it (`PDFLoader` → `PDF`, `Loader`).
fn camel_case_split(word: &str) -> Vec<String> {
    let class = |c: char| {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else {
            3
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in word.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i][0].is_uppercase() && runs[i + 1][0].is_lowercase() {
            let moved = runs[i].pop().expect("a run is never empty");
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// Go's `shorten`: cut at `max` bytes (on a character boundary) with `...`.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// kubectl's `DescribeProbe`.
pub fn describe_probe(p: &Probe) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(0),
        p.period_seconds.unwrap_or(0),
        p.success_threshold.unwrap_or(0),
        p.failure_threshold.unwrap_or(0)
    );
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    if let Some(exec) = &p.exec {
        let command = exec.command.clone().unwrap_or_default().join(" ");
        return format!("exec [{command}] {attrs}");
    }
    if let Some(h) = &p.http_get {
        let scheme = h.scheme.as_deref().unwrap_or("").to_ascii_lowercase();
        let host = h.host.as_deref().unwrap_or("");
        let port = port(&h.port);
        let host = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let path = h.path.as_deref().unwrap_or("");
        return format!("http-get {scheme}://{host}{path} {attrs}");
    }
    if let Some(t) = &p.tcp_socket {
        let host = t.host.as_deref().unwrap_or("");
        return format!("tcp-socket {host}:{} {attrs}", port(&t.port));
    }
    if let Some(g) = &p.grpc {
        return match g.service.as_deref() {
            Some(s) => format!("grpc <pod>:{} {s} {attrs}", g.port),
            None => format!("grpc <pod>:{} {attrs}", g.port),
        };
    }
    format!("unknown {attrs}")
}

/// The downward-API fields describe resolves for `fieldRef` variables.
fn field_value(pod: &Pod, path: &str) -> String {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let from_map = |map: Option<&BTreeMap<String, String>>, rest: &str| {
        let key = rest.trim_start_matches("['").trim_end_matches("']");
        map.and_then(|m| m.get(key)).cloned().unwrap_or_default()
    };
    match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" => status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        "status.hostIP" => status.and_then(|s| s.host_ip.clone()).unwrap_or_default(),
        p if p.starts_with("metadata.labels[") => from_map(meta.labels.as_ref(), &p[15..]),
        p if p.starts_with("metadata.annotations[") => {
            from_map(meta.annotations.as_ref(), &p[20..])
        }
        _ => String::new(),
    }
}

/// `resourceFieldRef` values: cpu in whole divisor units rounded up,
/// memory in divisor units rounded up; `0` when the container sets none.
fn resource_value(c: &Container, resource: &str, divisor: Option<&str>) -> String {
    let Some((list, name)) = resource.split_once('.') else {
        return String::new();
    };
    let resources = c.resources.clone().unwrap_or_default();
    let values = if list == "limits" {
        resources.limits
    } else {
        resources.requests
    };
    let Some(q) = values
        .as_ref()
        .and_then(|v| v.get(name))
        .and_then(|q| Quantity::parse(&q.0).ok())
    else {
        return "0".into();
    };
    let divisor = divisor.and_then(|d| Quantity::parse(d).ok());
    if name == "cpu" {
        let unit = divisor.map_or(1000, |d| d.as_millis_ceil().max(1));
        let millis = q.as_millis_ceil();
        ((millis + unit - 1) / unit).to_string()
    } else {
        let unit = divisor.map_or(1, |d| d.as_bytes_ceil().max(1));
        let bytes = q.as_bytes_ceil();
        ((bytes + unit - 1) / unit).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-01-01T00:10:00Z".parse().unwrap()
    }

    fn describe_value(v: serde_json::Value, events: &[Event]) -> String {
        let object = match v["kind"].as_str().unwrap() {
            "Pod" => Object::Pod(Box::new(serde_json::from_value(v).unwrap())),
            "ConfigMap" => Object::ConfigMap(serde_json::from_value(v).unwrap()),
            _ => Object::Secret(serde_json::from_value(v).unwrap()),
        };
        describe_at(&object, events, now(), &TimeZone::UTC)
    }

    fn event(
        kind: &str,
        reason: &str,
        first: &str,
        last: &str,
        count: i32,
        message: &str,
    ) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "type": kind, "reason": reason, "message": message,
            "source": {"component": if reason == "Scheduled" {"default-scheduler"} else {"kubelet"}},
            "firstTimestamp": first, "lastTimestamp": last, "count": count,
        }))
        .unwrap()
    }

    #[test]
    fn running_pod_with_init_container_sidecar_probes_env_and_volumes() {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "hello"}},
            "spec": {
                "nodeName": "node1", "serviceAccountName": "default", "priority": 0,
                "initContainers": [{"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo hi > /work/index.html"],
                    "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
                "containers": [{
                    "name": "server", "image": "busybox:1.36",
                    "command": ["httpd", "-f"], "args": ["-p", "8080"],
                    "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}, {"containerPort": 9090, "hostPort": 9090, "protocol": "UDP"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "0.25", "memory": "64Mi"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 0, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3},
                    "startupProbe": {"tcpSocket": {"port": "http"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 30},
                    "env": [
                        {"name": "PLAIN", "value": "one\ntwo"},
                        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password", "optional": true}}},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    ],
                    "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
                    "volumeMounts": [{"name": "work", "mountPath": "/www", "readOnly": true}, {"name": "config", "mountPath": "/etc/app", "subPath": "app.conf"}],
                }],
                "volumes": [
                    {"name": "work", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "settings"}},
                    {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
                    {"name": "creds", "secret": {"secretName": "creds"}},
                    {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "all", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": []}}]}},
                ],
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            },
            "status": {
                "phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.88.0.5", "podIPs": [{"ip": "10.88.0.5"}],
                "startTime": "2026-01-01T00:00:01Z", "qosClass": "Burstable",
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True"},
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": "True"},
                    {"type": "ContainersReady", "status": "True"},
                    {"type": "PodScheduled", "status": "True"},
                ],
                "initContainerStatuses": [{"name": "setup", "image": "busybox", "imageID": "sha256:aaa", "containerID": "pod://111",
                    "ready": true, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": "2026-01-01T00:00:02Z", "finishedAt": "2026-01-01T00:00:03Z"}}}],
                "containerStatuses": [{"name": "server", "image": "busybox:1.36", "imageID": "sha256:bbb", "containerID": "pod://222",
                    "ready": true, "restartCount": 2, "started": true,
                    "state": {"running": {"startedAt": "2026-01-01T00:05:00Z"}},
                    "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "Error",
                        "startedAt": "2026-01-01T00:03:00Z", "finishedAt": "2026-01-01T00:04:59Z"}}}],
            },
        });
        let events = [
            event(
                "Normal",
                "Scheduled",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                1,
                "Successfully assigned default/web to node1",
            ),
            event(
                "Warning",
                "BackOff",
                "2026-01-01T00:07:00Z",
                "2026-01-01T00:09:51Z",
                5,
                "Back-off restarting failed container server in pod web_default(uid)",
            ),
        ];
        insta::assert_snapshot!(describe_value(pod, &events));
    }

    #[test]
    fn pending_pod_terminating_without_status_or_events() {
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "deletionTimestamp": "2026-01-01T00:09:30Z",
                "deletionGracePeriodSeconds": 30},
            "spec": {"containers": [{"name": "a", "image": "busybox"}]},
            "status": {"phase": "Pending"},
        });
        insta::assert_snapshot!(describe_value(pod, &[]), @r"
        Name:                      p
        Namespace:                 default
        Node:                      <none>
        Labels:                    <none>
        Annotations:               <none>
        Status:                    Terminating (lasts 30s)
        Termination Grace Period:  30s
        IP:                        
        IPs:                       <none>
        Containers:
          a:
            Image:        busybox
            Port:         <none>
            Host Port:    <none>
            Environment:  <none>
            Mounts:       <none>
        Volumes:          <none>
        QoS Class:        BestEffort
        Node-Selectors:   <none>
        Tolerations:      <none>
        Events:           <none>
        ");
    }

    #[test]
    fn config_map_and_secret() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"},
            "data": {"mode": "fast", "app.conf": "a=1\nb=2\n"}});
        insta::assert_snapshot!(describe_value(cm, &[]), @r"
        Name:         settings
        Namespace:    default
        Labels:       <none>
        Annotations:  <none>

        Data
        ====
        app.conf:
        ----
        a=1
        b=2

        mode:
        ----
        fast

        BinaryData
        ====

        Events:  <none>
        ");
        let secret = json!({"kind": "Secret", "metadata": {"name": "creds", "namespace": "default"},
            "type": "Opaque", "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        insta::assert_snapshot!(describe_value(secret, &[]), @r"
        Name:         creds
        Namespace:    default
        Labels:       <none>
        Annotations:  <none>

        Type:  Opaque

        Data
        ====
        password:  7 bytes
        user:      5 bytes
        ");
    }

    #[test]
    fn long_annotations_are_split() {
        let long = "x".repeat(150);
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d",
            "annotations": {"long": long, "multi": "a\nb\n"}}});
        let out = describe_value(cm, &[]);
        assert!(
            out.contains(&format!(
                "Annotations:  long:\n                {}...\n",
                "x".repeat(138)
            )),
            "{out}"
        );
        assert!(
            out.contains("              multi:\n                a\n                b\n"),
            "{out}"
        );
    }
}
