//! `describeContainers`: each container's image, ports, state, last
//! state, readiness, restarts, resources, probes, environment and
//! mounts, with the downward-API values describe resolves.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, EnvVar, Pod, Probe, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Describer, bool_word, or_none};
use crate::api::quantity::Quantity;

impl Describer {
    pub(super) fn containers(
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
