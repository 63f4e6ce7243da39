//! Containers: `validateContainers`, `validateInitContainers` and what
//! they share (`validateContainerCommon`): names, image, ports, env,
//! mounts, resources, probes, lifecycle, host ports.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, SecurityContext, VolumeMount};

mod env;
mod probes;
mod resources;

pub(super) use env::{validate_env, validate_env_from};
pub use env::{validate_field_ref, validate_resource_ref};
use probes::{ProbeKind, validate_lifecycle_handler, validate_probe};
pub use resources::validate_quantity;
use resources::validate_resources;

use super::volumes::{Volumes, local_descending_path};
use super::{Errors, Path, names};

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
