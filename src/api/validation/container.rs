//! Containers: `validateContainers`, `validateInitContainers` and what
//! they share (`validateContainerCommon`): names, image, ports, env,
//! mounts, resources, probes, lifecycle, host ports.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, LifecycleHandler, ObjectFieldSelector,
    PodSpec, Probe, ResourceFieldSelector, ResourceRequirements, SecurityContext, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{Volumes, local_descending_path};
use super::{Errors, Path, names};
use crate::api::quantity::Quantity;

const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

pub fn validate_containers(
    spec: &PodSpec,
    volumes: &Volumes,
    grace: Option<i64>,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    if spec.containers.is_empty() {
        errs.required(path);
        return errs;
    }
    let mut names_seen = BTreeSet::new();
    for (i, container) in spec.containers.iter().enumerate() {
        let idx = path.index(i);
        errs.extend(validate_common(
            container,
            volumes,
            spec.host_users != Some(false),
            &idx,
        ));
        if !names_seen.insert(container.name.as_str()) {
            errs.duplicate(&idx.child("name"), &container.name);
        }
        errs.extend(validate_hooks_and_probes(container, grace, &idx));
        // Per-container restart policies (ContainerRestartRules): the
        // values a current server takes.
        if let Some(policy) = container.restart_policy.as_deref()
            && !matches!(policy, "Always" | "OnFailure" | "Never")
        {
            errs.not_supported(
                &idx.child("restartPolicy"),
                policy,
                &["Always", "OnFailure", "Never"],
            );
        }
    }
    errs.extend(host_port_conflicts(
        spec.containers.iter().enumerate(),
        path,
    ));
    errs
}

/// The lifecycle hooks and probes of an app container or a sidecar.
fn validate_hooks_and_probes(container: &Container, grace: Option<i64>, idx: &Path) -> Errors {
    let mut errs = Errors::default();
    if let Some(lifecycle) = container.lifecycle.as_ref() {
        let lp = idx.child("lifecycle");
        for (name, handler) in [
            ("postStart", &lifecycle.post_start),
            ("preStop", &lifecycle.pre_stop),
        ] {
            if let Some(handler) = handler {
                errs.extend(validate_lifecycle_handler(handler, grace, &lp.child(name)));
            }
        }
    }
    for (name, probe, kind) in [
        (
            "livenessProbe",
            &container.liveness_probe,
            ProbeKind::Liveness,
        ),
        (
            "readinessProbe",
            &container.readiness_probe,
            ProbeKind::Readiness,
        ),
        ("startupProbe", &container.startup_probe, ProbeKind::Startup),
    ] {
        errs.extend(validate_probe(probe.as_ref(), &idx.child(name), kind));
    }
    errs
}

pub fn validate_init_containers(
    spec: &PodSpec,
    volumes: &Volumes,
    grace: Option<i64>,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    let mut names_seen: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, container) in spec.init_containers.iter().flatten().enumerate() {
        let idx = path.index(i);
        errs.extend(validate_common(
            container,
            volumes,
            spec.host_users != Some(false),
            &idx,
        ));
        let mut sidecar = false;
        if let Some(policy) = container.restart_policy.as_deref() {
            match policy {
                "Always" => sidecar = true,
                other => errs.not_supported(&idx.child("restartPolicy"), other, &["Always"]),
            }
        }
        if names_seen.contains(container.name.as_str()) {
            errs.duplicate(&idx.child("name"), &container.name);
        } else if !container.name.is_empty() {
            names_seen.insert(container.name.as_str());
        }
        // Init containers run one by one: conflicts only within each.
        errs.extend(host_port_conflicts(std::iter::once((i, container)), path));
        if sidecar {
            errs.extend(validate_hooks_and_probes(container, grace, &idx));
        } else {
            let forbidden = "may not be set for init containers without restartPolicy=Always";
            if container.lifecycle.is_some() {
                errs.forbidden(&idx.child("lifecycle"), forbidden);
            }
            for (name, probe) in [
                ("livenessProbe", &container.liveness_probe),
                ("readinessProbe", &container.readiness_probe),
                ("startupProbe", &container.startup_probe),
            ] {
                if probe.is_some() {
                    errs.forbidden(&idx.child(name), forbidden);
                }
            }
        }
    }
    errs
}

/// `validateContainerCommon`
fn validate_common(
    container: &Container,
    volumes: &Volumes,
    host_users: bool,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    let name_path = path.child("name");
    if container.name.is_empty() {
        errs.required(&name_path);
    } else {
        errs.check(
            &name_path,
            &container.name,
            names::dns1123_label(&container.name),
        );
    }
    if container.image.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("image"));
    }
    match container
        .termination_message_policy
        .as_deref()
        .unwrap_or("")
    {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.required(&path.child("terminationMessagePolicy")),
        other => errs.not_supported(
            &path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        ),
    }
    errs.extend(validate_ports(
        container.ports.as_deref().unwrap_or(&[]),
        &path.child("ports"),
    ));
    errs.extend(validate_env(
        container.env.as_deref().unwrap_or(&[]),
        &path.child("env"),
    ));
    errs.extend(validate_env_from(
        container.env_from.as_deref().unwrap_or(&[]),
        &path.child("envFrom"),
    ));
    errs.extend(validate_mounts(
        container.volume_mounts.as_deref().unwrap_or(&[]),
        volumes,
        container.security_context.as_ref(),
        &path.child("volumeMounts"),
    ));
    match container.image_pull_policy.as_deref().unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.required(&path.child("imagePullPolicy")),
        other => errs.not_supported(
            &path.child("imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        ),
    }
    if let Some(resources) = container.resources.as_ref() {
        errs.extend(validate_resources(resources, &path.child("resources")));
    }
    if let Some(security) = container.security_context.as_ref() {
        errs.extend(validate_security_context(
            security,
            host_users,
            &path.child("securityContext"),
        ));
    }
    errs
}

/// `validateContainerPorts`
fn validate_ports(ports: &[ContainerPort], path: &Path) -> Errors {
    let mut errs = Errors::default();
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let idx = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let messages = names::port_name(name);
            if !messages.is_empty() {
                errs.check(&idx.child("name"), name, messages);
            } else if !seen.insert(name) {
                errs.duplicate(&idx.child("name"), name);
            }
        }
        if port.container_port == 0 {
            errs.required(&idx.child("containerPort"));
        } else {
            for message in names::port_number(port.container_port.into()) {
                errs.invalid(&idx.child("containerPort"), port.container_port, message);
            }
        }
        if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
            for message in names::port_number(host_port.into()) {
                errs.invalid(&idx.child("hostPort"), host_port, message);
            }
        }
        match port.protocol.as_deref().unwrap_or("") {
            "TCP" | "UDP" | "SCTP" => {}
            "" => errs.required(&idx.child("protocol")),
            other => errs.not_supported(&idx.child("protocol"), other, &["SCTP", "TCP", "UDP"]),
        }
        if let Some(ip) = port.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
            errs.check(&idx.child("hostIP"), ip, names::ip_address(ip));
        }
    }
    errs
}

/// `AccumulateUniqueHostPorts`: one host port per (IP, protocol, port).
fn host_port_conflicts<'a>(
    containers: impl Iterator<Item = (usize, &'a Container)>,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    let mut seen = BTreeSet::new();
    for (ci, container) in containers {
        for (pi, port) in container.ports.iter().flatten().enumerate() {
            let Some(host_port) = port.host_port.filter(|p| *p != 0) else {
                continue;
            };
            let key = format!(
                "{}/{}/{host_port}",
                port.host_ip.as_deref().unwrap_or(""),
                port.protocol.as_deref().unwrap_or("")
            );
            if !seen.insert(key.clone()) {
                errs.duplicate(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                );
            }
        }
    }
    errs
}

/// `ValidateEnv`
pub(super) fn validate_env(env: &[EnvVar], path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (i, var) in env.iter().enumerate() {
        let idx = path.index(i);
        if var.name.is_empty() {
            errs.required(&idx.child("name"));
        } else {
            errs.check(
                &idx.child("name"),
                &var.name,
                names::env_var_name(&var.name),
            );
        }
        let Some(source) = var.value_from.as_ref() else {
            continue;
        };
        let vp = idx.child("valueFrom");
        let mut count = 0;
        if let Some(field_ref) = source.field_ref.as_ref() {
            count += 1;
            validate_field_ref(
                &mut errs,
                field_ref,
                &ENV_FIELD_PATHS,
                &vp.child("fieldRef"),
            );
        }
        if let Some(resource_ref) = source.resource_field_ref.as_ref() {
            count += 1;
            validate_resource_ref(
                &mut errs,
                resource_ref,
                false,
                &vp.child("resourceFieldRef"),
            );
        }
        if let Some(selector) = source.config_map_key_ref.as_ref() {
            count += 1;
            validate_key_selector(
                &mut errs,
                &selector.name,
                &selector.key,
                &vp.child("configMapKeyRef"),
            );
        }
        if let Some(selector) = source.secret_key_ref.as_ref() {
            count += 1;
            validate_key_selector(
                &mut errs,
                &selector.name,
                &selector.key,
                &vp.child("secretKeyRef"),
            );
        }
        if let Some(selector) = source.file_key_ref.as_ref() {
            count += 1;
            let fp = vp.child("fileKeyRef");
            if selector.volume_name.is_empty() {
                errs.required(&fp.child("volumeName"));
            }
            if selector.path.is_empty() {
                errs.required(&fp.child("path"));
            }
            if selector.key.is_empty() {
                errs.required(&fp.child("key"));
            }
        }
        if count == 0 {
            errs.invalid(&vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
        } else if var.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errs.invalid(&vp, "", "may not be specified when `value` is not empty");
        } else if count > 1 {
            errs.invalid(
                &vp,
                "",
                "may not have more than one field specified at a time",
            );
        }
    }
    errs
}

fn validate_key_selector(errs: &mut Errors, name: &str, key: &str, path: &Path) {
    errs.check(&path.child("name"), name, names::dns1123_subdomain(name));
    if key.is_empty() {
        errs.required(&path.child("key"));
    } else {
        errs.check(&path.child("key"), key, names::config_key(key));
    }
}

/// `validateObjectFieldSelector`
pub fn validate_field_ref(
    errs: &mut Errors,
    field_ref: &ObjectFieldSelector,
    allowed: &[&str],
    path: &Path,
) {
    if field_ref.api_version.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("apiVersion"));
        return;
    }
    if field_ref.field_path.is_empty() {
        errs.required(&path.child("fieldPath"));
        return;
    }
    let field_path = field_ref.field_path.as_str();
    // `metadata.labels['key']`: a subscript names one label or annotation.
    if let Some((base, rest)) = field_path.split_once("['")
        && let Some(subscript) = rest.strip_suffix("']")
    {
        match base {
            "metadata.annotations" => errs.check(
                path,
                subscript,
                names::qualified_name(&subscript.to_lowercase()),
            ),
            "metadata.labels" => errs.check(path, subscript, names::qualified_name(subscript)),
            _ => errs.invalid(path, base, "does not support subscript"),
        }
        return;
    }
    if !allowed.contains(&field_path) {
        errs.not_supported(&path.child("fieldPath"), field_path, allowed);
    }
}

/// `validateContainerResourceFieldSelector`
pub fn validate_resource_ref(
    errs: &mut Errors,
    selector: &ResourceFieldSelector,
    in_volume: bool,
    path: &Path,
) {
    let resource = selector.resource.as_str();
    if in_volume && selector.container_name.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("containerName"));
    } else if resource.is_empty() {
        errs.required(&path.child("resource"));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        errs.not_supported(&path.child("resource"), resource, &RESOURCE_FIELD_PATHS);
    }
    let Some(divisor) = selector.divisor.as_ref() else {
        return;
    };
    let Ok(parsed) = Quantity::parse(&divisor.0) else {
        validate_quantity(errs, &path.child("divisor"), &divisor.0);
        return;
    };
    if parsed.is_zero() {
        return;
    }
    let canonical = parsed.canonical();
    let (allowed, message): (&[&str], &str) = match resource.rsplit('.').next().unwrap_or("") {
        "cpu" => (
            &["1m", "1"],
            "only divisor's values 1m and 1 are supported with the cpu resource",
        ),
        "memory" | "ephemeral-storage" => (
            &[
                "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
            ],
            if resource.ends_with("memory") {
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"
            } else {
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"
            },
        ),
        _ => return,
    };
    if !allowed
        .iter()
        .any(|a| Quantity::parse(a).is_ok_and(|q| q == parsed))
    {
        errs.invalid(&path.child("divisor"), canonical, message);
    }
}

/// `ValidateEnvFrom`
pub(super) fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (i, source) in sources.iter().enumerate() {
        let idx = path.index(i);
        if let Some(prefix) = source.prefix.as_deref().filter(|p| !p.is_empty()) {
            errs.check(&idx.child("prefix"), prefix, names::env_var_name(prefix));
        }
        let mut count = 0;
        if let Some(config_map) = source.config_map_ref.as_ref() {
            count += 1;
            errs.check(
                &idx.child("configMapRef").child("name"),
                &config_map.name,
                names::dns1123_subdomain(&config_map.name),
            );
        }
        if let Some(secret) = source.secret_ref.as_ref() {
            count += 1;
            errs.check(
                &idx.child("secretRef").child("name"),
                &secret.name,
                names::dns1123_subdomain(&secret.name),
            );
        }
        match count {
            0 => errs.invalid(
                &idx,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ),
            1 => {}
            _ => errs.invalid(
                &idx,
                "",
                "may not have more than one field specified at a time",
            ),
        }
    }
    errs
}

/// `ValidateVolumeMounts`
pub(super) fn validate_mounts(
    mounts: &[VolumeMount],
    volumes: &Volumes,
    security: Option<&SecurityContext>,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let idx = path.index(i);
        if mount.name.is_empty() {
            errs.required(&idx.child("name"));
        }
        if !volumes.contains_key(mount.name.as_str()) {
            errs.not_found(&idx.child("name"), &mount.name);
        }
        if mount.mount_path.is_empty() {
            errs.required(&idx.child("mountPath"));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errs.invalid(
                &idx.child("mountPath"),
                mount.mount_path.as_str(),
                "must be unique",
            );
        }
        // The server reports these two without the mount's index.
        let sub_path = mount.sub_path.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            errs.extend(local_descending_path(sub_path, &path.child("subPath")));
        }
        if let Some(expr) = mount.sub_path_expr.as_deref().filter(|e| !e.is_empty()) {
            if !sub_path.is_empty() {
                errs.invalid(
                    &idx.child("subPathExpr"),
                    expr,
                    "subPathExpr and subPath are mutually exclusive",
                );
            }
            errs.extend(local_descending_path(expr, &path.child("subPathExpr")));
        }
        if let Some(propagation) = mount.mount_propagation.as_deref() {
            match propagation {
                "None" | "HostToContainer" => {}
                "Bidirectional" => {
                    if !security.and_then(|s| s.privileged).unwrap_or(false) {
                        errs.forbidden(&idx.child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers");
                    }
                }
                other => errs.not_supported(
                    &idx.child("mountPropagation"),
                    other,
                    &["Bidirectional", "HostToContainer", "None"],
                ),
            }
        }
        if let Some(recursive) = mount.recursive_read_only.as_deref() {
            match recursive {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if mount.read_only != Some(true) {
                        errs.forbidden(
                            &idx.child("recursiveReadOnly"),
                            "may only be specified when readOnly is true",
                        );
                    }
                }
                other => errs.not_supported(
                    &idx.child("recursiveReadOnly"),
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                ),
            }
        }
    }
    errs
}

/// A quantity the server would not parse, or a negative one.
pub fn validate_quantity(errs: &mut Errors, path: &Path, text: &str) -> Option<Quantity> {
    match Quantity::parse(text) {
        Err(e) => {
            errs.invalid(path, text, e.to_string());
            None
        }
        Ok(q) if q.is_negative() => {
            errs.invalid(path, q.canonical(), "must be greater than or equal to 0");
            None
        }
        Ok(q) => Some(q),
    }
}

/// `ValidateResourceRequirements` for a container.
fn validate_resources(resources: &ResourceRequirements, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let empty = BTreeMap::new();
    let limits = resources.limits.as_ref().unwrap_or(&empty);
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut parsed_limits = BTreeMap::new();
    for (name, quantity) in limits {
        let key_path = limits_path.key(name);
        validate_resource_name(&mut errs, name, &key_path);
        if let Some(q) = validate_resource_value(&mut errs, name, quantity, &key_path) {
            parsed_limits.insert(name.as_str(), q);
        }
    }
    for (name, quantity) in requests {
        let key_path = requests_path.key(name);
        validate_resource_name(&mut errs, name, &key_path);
        let Some(request) = validate_resource_value(&mut errs, name, quantity, &key_path) else {
            continue;
        };
        match parsed_limits.get(name.as_str()) {
            Some(limit) => {
                if !overcommit_allowed(name) && request != *limit {
                    errs.invalid(
                        &requests_path,
                        request.canonical(),
                        format!("must be equal to {name} limit of {}", limit.canonical()),
                    );
                } else if request > *limit {
                    errs.invalid(
                        &requests_path,
                        request.canonical(),
                        format!(
                            "must be less than or equal to {name} limit of {}",
                            limit.canonical()
                        ),
                    );
                }
            }
            None if !overcommit_allowed(name) && !limits.contains_key(name) => {
                errs.required_because(
                    &limits_path.key(name),
                    "Limit must be set for non overcommitable resources",
                );
            }
            None => {}
        }
    }
    errs
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Extended resources (`example.com/gpu`) and huge pages are not
/// overcommitted: request and limit must be equal.
fn overcommit_allowed(name: &str) -> bool {
    is_standard_container_resource(name) && !name.starts_with("hugepages-")
}

fn validate_resource_name(errs: &mut Errors, name: &str, path: &Path) {
    let messages = names::qualified_name(name);
    if !messages.is_empty() {
        errs.check(path, name, messages);
        return;
    }
    if !name.contains('/') && !is_standard_container_resource(name) {
        errs.invalid(path, name, "must be a standard resource for containers");
    } else if name.starts_with("requests.")
        || name.contains("kubernetes.io/") && !is_standard_container_resource(name)
    {
        errs.invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        );
    }
}

fn validate_resource_value(
    errs: &mut Errors,
    name: &str,
    quantity: &WireQuantity,
    path: &Path,
) -> Option<Quantity> {
    let q = validate_quantity(errs, path, &quantity.0)?;
    // Extended resources and huge pages count whole units.
    if !matches!(name, "cpu" | "memory" | "ephemeral-storage")
        && !name.starts_with("hugepages-")
        && q.as_millis_ceil() % 1000 != 0
    {
        errs.invalid(path, q.canonical(), "must be an integer");
        return None;
    }
    Some(q)
}

fn validate_security_context(security: &SecurityContext, host_users: bool, path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (field, value) in [
        ("runAsUser", security.run_as_user),
        ("runAsGroup", security.run_as_group),
    ] {
        super::security::validate_id(&mut errs, &path.child(field), value);
    }
    if let Some(profile) = security.seccomp_profile.as_ref() {
        super::security::validate_seccomp(&mut errs, profile, &path.child("seccompProfile"));
    }
    if let Some(profile) = security.app_armor_profile.as_ref() {
        super::security::validate_app_armor(&mut errs, profile, &path.child("appArmorProfile"));
    }
    if security.allow_privilege_escalation == Some(false) {
        if security.privileged == Some(true) {
            errs.invalid(
                path,
                "",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            );
        }
        let adds_sys_admin = security
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|add| add.iter().any(|c| c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            errs.invalid(path, "", "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN");
        }
    }
    if let Some(proc_mount) = security.proc_mount.as_deref()
        && !matches!(proc_mount, "Default" | "Unmasked")
    {
        errs.not_supported(
            &path.child("procMount"),
            proc_mount,
            &["Default", "Unmasked"],
        );
    }
    // An unmasked /proc only inside the pod's own user namespace.
    if host_users && security.proc_mount.as_deref() == Some("Unmasked") {
        errs.invalid(
            &path.child("procMount"),
            "Unmasked",
            "`hostUsers` must be false to use `Unmasked`",
        );
    }
    errs
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

/// `validateProbe` and the liveness/readiness/startup specifics.
fn validate_probe(probe: Option<&Probe>, path: &Path, kind: ProbeKind) -> Errors {
    let mut errs = Errors::default();
    let Some(probe) = probe else {
        return errs;
    };
    let mut handlers = Handlers::new(path);
    if let Some(exec) = probe.exec.as_ref()
        && handlers.add("exec", &mut errs)
        && exec.command.as_ref().is_none_or(|c| c.is_empty())
    {
        errs.required(&path.child("exec").child("command"));
    }
    if let Some(http) = probe.http_get.as_ref()
        && handlers.add("httpGet", &mut errs)
    {
        validate_http_get(&mut errs, http, &path.child("httpGet"));
    }
    if let Some(tcp) = probe.tcp_socket.as_ref()
        && handlers.add("tcpSocket", &mut errs)
    {
        validate_port_num_or_name(&mut errs, &tcp.port, &path.child("tcpSocket").child("port"));
    }
    if let Some(grpc) = probe.grpc.as_ref()
        && handlers.add("grpc", &mut errs)
    {
        for message in names::port_number(grpc.port.into()) {
            errs.invalid(&path.child("grpc").child("port"), grpc.port, message);
        }
    }
    handlers.finish(&mut errs);
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.non_negative(&path.child(field), value.map(i64::from));
    }
    if let Some(grace) = probe.termination_grace_period_seconds
        && grace <= 0
    {
        errs.invalid(
            &path.child("terminationGracePeriodSeconds"),
            grace,
            "must be greater than 0",
        );
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let threshold = probe.success_threshold.unwrap_or(1);
            if threshold != 1 {
                errs.invalid(&path.child("successThreshold"), threshold, "must be 1");
            }
        }
        ProbeKind::Readiness => {
            if let Some(grace) = probe.termination_grace_period_seconds {
                errs.invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    grace,
                    "must not be set for readinessProbes",
                );
            }
        }
    }
    errs
}

fn validate_lifecycle_handler(
    handler: &LifecycleHandler,
    grace: Option<i64>,
    path: &Path,
) -> Errors {
    let mut errs = Errors::default();
    let mut handlers = Handlers::new(path);
    if let Some(exec) = handler.exec.as_ref()
        && handlers.add("exec", &mut errs)
        && exec.command.as_ref().is_none_or(|c| c.is_empty())
    {
        errs.required(&path.child("exec").child("command"));
    }
    if let Some(http) = handler.http_get.as_ref()
        && handlers.add("httpGet", &mut errs)
    {
        validate_http_get(&mut errs, http, &path.child("httpGet"));
    }
    if let Some(tcp) = handler.tcp_socket.as_ref()
        && handlers.add("tcpSocket", &mut errs)
    {
        validate_port_num_or_name(&mut errs, &tcp.port, &path.child("tcpSocket").child("port"));
    }
    if let Some(sleep) = handler.sleep.as_ref()
        && handlers.add("sleep", &mut errs)
    {
        let limit = grace.unwrap_or(30);
        if sleep.seconds < 0 || sleep.seconds > limit {
            errs.invalid(
                &path.child("sleep").child("seconds"),
                sleep.seconds,
                format!(
                    "must be non-negative and less than terminationGracePeriodSeconds ({limit})"
                ),
            );
        }
    }
    handlers.finish(&mut errs);
    errs
}

/// `validateHandler`: exactly one handler; later ones are Forbidden.
struct Handlers<'p> {
    path: &'p Path,
    count: usize,
}

impl<'p> Handlers<'p> {
    fn new(path: &'p Path) -> Self {
        Handlers { path, count: 0 }
    }

    /// Counts a handler; false (and an error) when one came before.
    fn add(&mut self, name: &str, errs: &mut Errors) -> bool {
        if self.count > 0 {
            errs.forbidden(
                &self.path.child(name),
                "may not specify more than 1 handler type",
            );
            return false;
        }
        self.count += 1;
        true
    }

    fn finish(self, errs: &mut Errors) {
        if self.count == 0 {
            errs.required_because(self.path, "must specify a handler type");
        }
    }
}

fn validate_http_get(
    errs: &mut Errors,
    http: &k8s_openapi::api::core::v1::HTTPGetAction,
    path: &Path,
) {
    if http.path.as_deref().unwrap_or("").is_empty() {
        errs.required(&path.child("path"));
    }
    validate_port_num_or_name(errs, &http.port, &path.child("port"));
    if let Some(scheme) = http.scheme.as_deref()
        && !matches!(scheme, "HTTP" | "HTTPS")
    {
        errs.not_supported(&path.child("scheme"), scheme, &["HTTP", "HTTPS"]);
    }
    for header in http.http_headers.iter().flatten() {
        let valid = !header.name.is_empty()
            && header
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            errs.invalid(
                &path.child("httpHeaders"),
                header.name.as_str(),
                "name must be a valid HTTP header name",
            );
        }
    }
}

/// `ValidatePortNumOrName`
fn validate_port_num_or_name(errs: &mut Errors, port: &IntOrString, path: &Path) {
    match port {
        IntOrString::Int(n) => {
            for message in names::port_number((*n).into()) {
                errs.invalid(path, *n, message);
            }
        }
        IntOrString::String(name) => errs.check(path, name, names::port_name(name)),
    }
}
