//! `ValidatePodCreate` / `ValidatePodSpec` and the volumes.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, KeyToPath, Pod, PodDNSConfig, PodSpec, Volume,
};

use super::container::{self, validate_quantity};
use super::meta::{validate_labels, validate_object_meta};
use super::{Errors, Path, names};
use crate::api::FieldError;
use crate::api::defaults::volume_sources;

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

/// The volumes that validated, by name, for the mounts to refer to; a
/// volume with errors is left out, so its mounts are reported as well.
pub type Volumes<'a> = BTreeMap<&'a str, &'a Volume>;

pub(super) fn validate_volumes<'a>(volumes: &'a [Volume], path: &Path) -> (Volumes<'a>, Errors) {
    let mut errs = Errors::default();
    let mut valid = Volumes::new();
    let mut seen = BTreeSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let idx = path.index(i);
        let mut own = validate_volume_source(volume, &idx);
        let name_path = idx.child("name");
        if volume.name.is_empty() {
            own.required(&name_path);
        } else {
            own.check(&name_path, &volume.name, names::dns1123_label(&volume.name));
        }
        if seen.contains(volume.name.as_str()) {
            own.duplicate(&name_path, &volume.name);
        }
        if own.is_empty() {
            seen.insert(volume.name.as_str());
            valid.insert(volume.name.as_str(), volume);
        } else {
            errs.extend(own);
        }
    }
    (valid, errs)
}

fn validate_volume_source(volume: &Volume, path: &Path) -> Errors {
    let mut errs = Errors::default();
    let sources = volume_sources(volume);
    match sources.as_slice() {
        [] => errs.required_because(path, "must specify a volume type"),
        [_] => {}
        [_, more @ ..] => {
            for source in more {
                errs.forbidden(
                    &path.child(source),
                    "may not specify more than 1 volume type",
                );
            }
        }
    }
    if let Some(host_path) = volume.host_path.as_ref() {
        let hp = path.child("hostPath");
        if host_path.path.is_empty() {
            errs.required(&hp.child("path"));
        } else {
            errs.extend(no_backsteps(&host_path.path, &hp.child("path")));
            let types = [
                "",
                "BlockDevice",
                "CharDevice",
                "Directory",
                "DirectoryOrCreate",
                "File",
                "FileOrCreate",
                "Socket",
            ];
            let kind = host_path.type_.as_deref().unwrap_or("");
            if !types.contains(&kind) {
                errs.not_supported(&hp.child("type"), kind, &types);
            }
        }
    }
    if let Some(empty_dir) = volume.empty_dir.as_ref() {
        let ed = path.child("emptyDir");
        let medium = empty_dir.medium.as_deref().unwrap_or("");
        if !(medium.is_empty() || medium == "Memory" || medium.starts_with("HugePages")) {
            errs.not_supported(&ed.child("medium"), medium, &["", "Memory", "HugePages"]);
        }
        if let Some(limit) = empty_dir.size_limit.as_ref() {
            validate_quantity(&mut errs, &ed.child("sizeLimit"), &limit.0);
        }
    }
    if let Some(secret) = volume.secret.as_ref() {
        let sp = path.child("secret");
        if secret.secret_name.as_deref().unwrap_or("").is_empty() {
            errs.required(&sp.child("secretName"));
        }
        validate_mode(&mut errs, &sp.child("defaultMode"), secret.default_mode);
        validate_items(&mut errs, &sp.child("items"), secret.items.as_deref());
    }
    if let Some(config_map) = volume.config_map.as_ref() {
        let cp = path.child("configMap");
        if config_map.name.is_empty() {
            errs.required(&cp.child("name"));
        }
        validate_mode(&mut errs, &cp.child("defaultMode"), config_map.default_mode);
        validate_items(&mut errs, &cp.child("items"), config_map.items.as_deref());
    }
    if let Some(pvc) = volume.persistent_volume_claim.as_ref()
        && pvc.claim_name.is_empty()
    {
        errs.required(&path.child("persistentVolumeClaim").child("claimName"));
    }
    if let Some(downward) = volume.downward_api.as_ref() {
        let dp = path.child("downwardAPI");
        validate_mode(&mut errs, &dp.child("defaultMode"), downward.default_mode);
        validate_downward_files(&mut errs, &dp, downward.items.as_deref().unwrap_or(&[]));
    }
    if let Some(projected) = volume.projected.as_ref() {
        let pp = path.child("projected");
        validate_mode(&mut errs, &pp.child("defaultMode"), projected.default_mode);
        let mut all_paths = BTreeSet::new();
        for (i, source) in projected.sources.iter().flatten().enumerate() {
            let sp = pp.child("sources").index(i);
            let mut kinds = Vec::new();
            if let Some(secret) = source.secret.as_ref() {
                kinds.push("secret");
                if secret.name.is_empty() {
                    errs.required(&sp.child("secret").child("name"));
                }
                validate_items(
                    &mut errs,
                    &sp.child("secret").child("items"),
                    secret.items.as_deref(),
                );
                collect_paths(
                    &mut errs,
                    &mut all_paths,
                    &pp,
                    &secret.name,
                    secret.items.as_deref(),
                );
            }
            if let Some(config_map) = source.config_map.as_ref() {
                kinds.push("configMap");
                if config_map.name.is_empty() {
                    errs.required(&sp.child("configMap").child("name"));
                }
                validate_items(
                    &mut errs,
                    &sp.child("configMap").child("items"),
                    config_map.items.as_deref(),
                );
                collect_paths(
                    &mut errs,
                    &mut all_paths,
                    &pp,
                    &config_map.name,
                    config_map.items.as_deref(),
                );
            }
            if let Some(downward) = source.downward_api.as_ref() {
                kinds.push("downwardAPI");
                let files = downward.items.as_deref().unwrap_or(&[]);
                validate_downward_files(&mut errs, &sp.child("downwardAPI"), files);
                for file in files {
                    if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                        errs.invalid(&pp, file.path.as_str(), "conflicting duplicate paths");
                    }
                }
            }
            if let Some(token) = source.service_account_token.as_ref() {
                kinds.push("serviceAccountToken");
                let tp = sp.child("serviceAccountToken");
                let seconds = token.expiration_seconds.unwrap_or(3600);
                if seconds < 600 {
                    errs.invalid(
                        &tp.child("expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    );
                }
                if seconds > 1 << 32 {
                    errs.invalid(
                        &tp.child("expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    );
                }
                // The server reports the token's path at the volume's level.
                if token.path.is_empty() {
                    errs.required(&pp.child("path"));
                } else {
                    errs.extend(local_non_reserved_path(&token.path, &pp.child("path")));
                }
            }
            if source.cluster_trust_bundle.is_some() {
                kinds.push("clusterTrustBundle");
            }
            if source.pod_certificate.is_some() {
                kinds.push("podCertificate");
            }
            if kinds.len() > 1 {
                errs.forbidden(&sp, "may not specify more than 1 volume type per source");
            }
        }
    }
    if let Some(ephemeral) = volume.ephemeral.as_ref()
        && ephemeral.volume_claim_template.is_none()
    {
        errs.required(&path.child("ephemeral").child("volumeClaimTemplate"));
    }
    if let Some(image) = volume.image.as_ref()
        && image.reference.as_deref().unwrap_or("").is_empty()
    {
        errs.required(&path.child("image").child("reference"));
    }
    errs
}

/// Modes are 0..=0777 (`validateVolumeModes`).
fn validate_mode(errs: &mut Errors, path: &Path, mode: Option<i32>) {
    if let Some(mode) = mode
        && !(0..=0o777).contains(&mode)
    {
        errs.invalid(
            path,
            mode,
            "must be a number between 0 and 0777 (octal), both inclusive",
        );
    }
}

fn validate_items(errs: &mut Errors, path: &Path, items: Option<&[KeyToPath]>) {
    for (i, item) in items.unwrap_or(&[]).iter().enumerate() {
        let idx = path.index(i);
        if item.key.is_empty() {
            errs.required(&idx.child("key"));
        }
        if item.path.is_empty() {
            errs.required(&idx.child("path"));
        }
        errs.extend(local_non_reserved_path(&item.path, &idx.child("path")));
        validate_mode(errs, &idx.child("mode"), item.mode);
    }
}

/// Projected sources may not write the same path twice (the server shows
/// the source's name as the value).
fn collect_paths(
    errs: &mut Errors,
    seen: &mut BTreeSet<String>,
    path: &Path,
    source: &str,
    items: Option<&[KeyToPath]>,
) {
    for item in items.unwrap_or(&[]) {
        if !item.path.is_empty() && !seen.insert(item.path.clone()) {
            errs.invalid(path, source, "conflicting duplicate paths");
        }
    }
}

const VOLUME_FIELD_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

fn validate_downward_files(errs: &mut Errors, path: &Path, items: &[DownwardAPIVolumeFile]) {
    // The server reports these at the volume's path, without `items[i]`.
    for item in items {
        let idx = path.clone();
        if item.path.is_empty() {
            errs.required(&idx.child("path"));
        }
        errs.extend(local_non_reserved_path(&item.path, &idx.child("path")));
        validate_mode(errs, &idx.child("mode"), item.mode);
        match (item.field_ref.as_ref(), item.resource_field_ref.as_ref()) {
            (Some(_), Some(_)) => errs.invalid(
                &idx,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ),
            (Some(field_ref), None) => {
                container::validate_field_ref(
                    errs,
                    field_ref,
                    &VOLUME_FIELD_PATHS,
                    &idx.child("fieldRef"),
                );
            }
            (None, Some(resource_ref)) => {
                container::validate_resource_ref(
                    errs,
                    resource_ref,
                    true,
                    &idx.child("resourceFieldRef"),
                );
            }
            (None, None) => {
                errs.required_because(&idx, "one of fieldRef and resourceFieldRef is required")
            }
        }
    }
}

/// `validateLocalDescendingPath`
pub fn local_descending_path(target: &str, path: &Path) -> Errors {
    let mut errs = Errors::default();
    if target.starts_with('/') {
        errs.invalid(path, target, "must be a relative path");
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// `validateLocalNonReservedPath`: also may not start with `..`.
fn local_non_reserved_path(target: &str, path: &Path) -> Errors {
    let mut errs = local_descending_path(target, path);
    if target.starts_with("..") {
        errs.invalid(path, target, "must not start with '..'");
    }
    errs
}

/// `validatePathNoBacksteps`
fn no_backsteps(target: &str, path: &Path) -> Errors {
    let mut errs = Errors::default();
    if target.split('/').any(|part| part == "..") {
        errs.invalid(path, target, "must not contain '..'");
    }
    errs
}
