//! `ValidatePodCreate` / `ValidatePodSpec`.

use k8s_openapi::api::core::v1::{Pod, PodDNSConfig, PodSpec};

use super::container::{self, validate_quantity};
use super::meta::{validate_labels, validate_object_meta};
use super::volumes::validate_volumes;
use super::{Errors, Path, names};
use crate::api::FieldError;

pub fn validate_pod(pod: &Pod) -> Vec<FieldError> {
    let mut errs = validate_object_meta(&pod.metadata, names::dns1123_subdomain);
    let spec_path = Path::new("spec");
    match pod.spec.as_ref() {
        Some(spec) => errs.extend(validate_spec(spec, &spec_path)),
        None => errs.required(&spec_path.child("containers")),
    }
    errs.into_vec()
}

fn validate_spec(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let (volumes, volume_errs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or(&[]),
        &path.child("volumes"),
    );
    errs.extend(volume_errs);
    let grace = spec.termination_grace_period_seconds;
    errs.extend(container::validate_containers(
        spec,
        &volumes,
        grace,
        &path.child("containers"),
    ));
    errs.extend(container::validate_init_containers(
        spec,
        &volumes,
        grace,
        &path.child("initContainers"),
    ));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.forbidden(
            &path.child("ephemeralContainers"),
            "cannot be set on create",
        );
    }
    errs.extend(validate_host_network(spec, &path.child("containers")));

    let restart_policy = spec.restart_policy.as_deref().unwrap_or("");
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.required(&path.child("restartPolicy")),
        other => errs.not_supported(
            &path.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        ),
    }
    let dns_policy = spec.dns_policy.as_deref().unwrap_or("");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.required(&path.child("dnsPolicy")),
        other => errs.not_supported(
            &path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        ),
    }
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    if let Some(security) = spec.security_context.as_ref() {
        let sc_path = path.child("securityContext");
        errs.extend(super::security::validate_pod_security_context(
            security, &sc_path,
        ));
        if spec.host_pid == Some(true) && spec.share_process_namespace == Some(true) {
            errs.invalid(
                &sc_path.child("shareProcessNamespace"),
                true,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            );
        }
    }
    // validateHostUsers: a pod's own user namespace does not mix with the
    // host's other namespaces (the odd capitals are the API server's).
    if spec.host_users == Some(false) {
        let forbidden = "when `pod.Spec.HostUsers` is false";
        for (set, name) in [
            (spec.host_network, "hostNetwork"),
            (spec.host_pid, "HostPID"),
            (spec.host_ipc, "HostIPC"),
        ] {
            if set == Some(true) {
                errs.forbidden(&path.child(name), forbidden);
            }
        }
    }
    if let Some(affinity) = spec.affinity.as_ref() {
        errs.extend(super::affinity::validate_affinity(
            affinity,
            &path.child("affinity"),
        ));
    }
    errs.extend(super::affinity::validate_topology_spread(
        spec.topology_spread_constraints.as_deref().unwrap_or(&[]),
        &path.child("topologySpreadConstraints"),
    ));
    errs.extend(validate_host_process(spec, path));
    for (i, secret) in spec.image_pull_secrets.iter().flatten().enumerate() {
        if secret.name.is_empty() {
            errs.required(&path.child("imagePullSecrets").index(i).child("name"));
        }
    }
    errs.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        dns_policy,
        &path.child("dnsConfig"),
    ));
    if let Some(name) = spec
        .service_account_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        errs.check(
            &path.child("serviceAccountName"),
            name,
            names::dns1123_subdomain(name),
        );
    }
    if let Some(name) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        errs.check(
            &path.child("nodeName"),
            name,
            names::dns1123_subdomain(name),
        );
    }
    if let Some(deadline) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&deadline)
    {
        errs.invalid(
            &path.child("activeDeadlineSeconds"),
            deadline,
            names::inclusive_range_error(1, i64::from(i32::MAX)),
        );
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.check(&path.child(field), value, names::dns1123_label(value));
        }
    }
    errs.extend(validate_tolerations(spec, &path.child("tolerations")));
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let alias_path = path.child("hostAliases").index(i);
        errs.check(
            &alias_path.child("ip"),
            &alias.ip,
            names::ip_address(&alias.ip),
        );
        for (j, hostname) in alias.hostnames.iter().flatten().enumerate() {
            errs.check(
                &alias_path.child("hostnames").index(j),
                hostname,
                names::dns1123_subdomain(hostname),
            );
        }
    }
    if let Some(name) = spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        errs.check(
            &path.child("priorityClassName"),
            name,
            names::dns1123_subdomain(name),
        );
    }
    if let Some(name) = spec.runtime_class_name.as_deref() {
        errs.check(
            &path.child("runtimeClassName"),
            name,
            names::dns1123_subdomain(name),
        );
    }
    if let Some(policy) = spec.preemption_policy.as_deref() {
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            other => errs.not_supported(
                &path.child("preemptionPolicy"),
                other,
                &["Never", "PreemptLowerPriority"],
            ),
        }
    }
    for (name, quantity) in spec.overhead.iter().flatten() {
        validate_quantity(&mut errs, &path.child("overhead").key(name), &quantity.0);
    }
    if let Some(os) = spec.os.as_ref()
        && !matches!(os.name.as_str(), "linux" | "windows")
    {
        errs.not_supported(
            &path.child("os").child("name"),
            &os.name,
            &["linux", "windows"],
        );
    }
    if let Some(grace) = spec.termination_grace_period_seconds {
        errs.non_negative(&path.child("terminationGracePeriodSeconds"), Some(grace));
    }
    errs
}

/// `validateWindowsHostProcessPod`: a pod with any hostProcess container
/// (set on the container, or inherited from the pod) must have only such
/// containers, the same value where both say, and the host's network.
fn validate_host_process(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let pod_value = spec
        .security_context
        .as_ref()
        .and_then(|s| s.windows_options.as_ref())
        .and_then(|w| w.host_process);
    // podshelper.VisitContainersWithPath: init, app, then ephemeral.
    let init = spec.init_containers.iter().flatten().enumerate();
    let app = spec.containers.iter().enumerate();
    let ephemeral = spec.ephemeral_containers.iter().flatten().enumerate();
    let mut all: Vec<(Path, Option<bool>)> = Vec::new();
    for (i, c) in init {
        let own = c
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref());
        all.push((
            path.child("initContainers").index(i),
            own.and_then(|w| w.host_process),
        ));
    }
    for (i, c) in app {
        let own = c
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref());
        all.push((
            path.child("containers").index(i),
            own.and_then(|w| w.host_process),
        ));
    }
    for (i, c) in ephemeral {
        let own = c
            .security_context
            .as_ref()
            .and_then(|s| s.windows_options.as_ref());
        all.push((
            path.child("ephemeralContainers").index(i),
            own.and_then(|w| w.host_process),
        ));
    }
    let mut host_process = 0;
    for (container_path, own) in &all {
        if let (Some(pod), Some(own)) = (pod_value, *own)
            && pod != own
        {
            errs.invalid(
                &container_path
                    .child("securityContext")
                    .child("windowsOptions")
                    .child("hostProcess"),
                own,
                format!("pod hostProcess value must be identical if both are specified, was {pod}"),
            );
        }
        if own.or(pod_value) == Some(true) {
            host_process += 1;
        }
    }
    if host_process > 0 {
        if host_process != all.len() {
            errs.invalid(
                path,
                "",
                "If pod contains any hostProcess containers then all containers must be HostProcess containers",
            );
        }
        let host_network = spec.host_network.unwrap_or(false);
        if !host_network {
            errs.invalid(
                &path.child("hostNetwork"),
                host_network,
                "hostNetwork must be true if pod contains any hostProcess containers",
            );
        }
    }
    errs
}

/// With the host's network a container port must be its host port.
/// `validatePodDNSConfig`: None needs a dnsConfig with a nameserver (and
/// stops there without one), then the kubelet's limits.
fn validate_dns_config(config: Option<&PodDNSConfig>, policy: &str, path: &Path) -> Errors {
    use super::{
        MAX_DNS_NAMESERVERS as MAX_NAMESERVERS, MAX_DNS_SEARCH_LIST_CHARS as MAX_SEARCH_LIST_CHARS,
        MAX_DNS_SEARCH_PATHS as MAX_SEARCH_PATHS,
    };
    let mut errs = Errors::default();
    let Some(config) = config else {
        if policy == "None" {
            errs.required_because(path, "must provide `dnsConfig` when `dnsPolicy` is None");
        }
        return errs;
    };
    let servers = config.nameservers.as_deref().unwrap_or(&[]);
    if policy == "None" && servers.is_empty() {
        errs.required_because(
            &path.child("nameservers"),
            "must provide at least one DNS nameserver when `dnsPolicy` is None",
        );
        return errs;
    }
    if servers.len() > MAX_NAMESERVERS {
        errs.invalid(
            &path.child("nameservers"),
            servers,
            format!("must not have more than {MAX_NAMESERVERS} nameservers"),
        );
    }
    for (i, server) in servers.iter().enumerate() {
        errs.check(
            &path.child("nameservers").index(i),
            server,
            names::ip_address(server),
        );
    }
    let searches = config.searches.as_deref().unwrap_or(&[]);
    if searches.len() > MAX_SEARCH_PATHS {
        errs.invalid(
            &path.child("searches"),
            searches,
            format!("must not have more than {MAX_SEARCH_PATHS} search paths"),
        );
    }
    if searches.join(" ").len() > MAX_SEARCH_LIST_CHARS {
        errs.invalid(
            &path.child("searches"),
            searches,
            format!(
                "must not have more than {MAX_SEARCH_LIST_CHARS} characters (including spaces) in the search list"
            ),
        );
    }
    for (i, search) in searches.iter().enumerate() {
        // A trailing dot is fine.
        let domain = search.strip_suffix('.').unwrap_or(search);
        errs.check(
            &path.child("searches").index(i),
            domain,
            names::dns1123_subdomain(domain),
        );
    }
    for (i, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().unwrap_or("").is_empty() {
            errs.required_because(&path.child("options").index(i), "must not be empty");
        }
    }
    errs
}

fn validate_host_network(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Errors::default();
    if spec.host_network != Some(true) {
        return errs;
    }
    for (ci, container) in spec.containers.iter().enumerate() {
        for (pi, port) in container.ports.iter().flatten().enumerate() {
            if let Some(host_port) = port.host_port
                && host_port != port.container_port
            {
                errs.invalid(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                );
            }
        }
    }
    errs
}

fn validate_tolerations(spec: &PodSpec, path: &Path) -> Errors {
    let mut errs = Errors::default();
    for (i, toleration) in spec.tolerations.iter().flatten().enumerate() {
        let idx = path.index(i);
        let key = toleration.key.as_deref().unwrap_or("");
        if !key.is_empty() {
            errs.check(&idx.child("key"), key, names::qualified_name(key));
        }
        let operator = toleration.operator.as_deref().unwrap_or("");
        if key.is_empty() && operator != "Exists" {
            errs.invalid(&idx.child("operator"), operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
        }
        match operator {
            "" | "Equal" => {
                let value = toleration.value.as_deref().unwrap_or("");
                errs.check(&idx.child("value"), value, names::label_value(value));
            }
            "Exists" => {
                if toleration.value.as_deref().is_some_and(|v| !v.is_empty()) {
                    errs.invalid(
                        &idx.child("operator"),
                        toleration.value.as_deref().unwrap_or(""),
                        "value must be empty when `operator` is 'Exists'",
                    );
                }
            }
            // Numeric comparisons (newer releases).
            "Gt" | "Lt" => {}
            other => errs.not_supported(&idx.child("operator"), other, &["Equal", "Exists"]),
        }
        if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
            match effect {
                "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
                other => errs.not_supported(
                    &idx.child("effect"),
                    other,
                    &["NoExecute", "NoSchedule", "PreferNoSchedule"],
                ),
            }
            if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
                errs.invalid(
                    &idx.child("effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                );
            }
        }
    }
    errs
}
