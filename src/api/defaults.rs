//! Defaulting as the API server does it (pkg/apis/core/v1/defaults.go)
//! plus what the server fills on create (namespace, uid, creationTimestamp,
//! the Pending status with its QoS class), so that `create --dry-run -o
//! yaml` and `get -o yaml` show what a cluster would show.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EphemeralContainer, HTTPGetAction, Lifecycle,
    LifecycleHandler, ObjectFieldSelector, Pod, PodSecurityContext, PodSpec, PodStatus, Probe,
    ResourceFieldSelector, ResourceRequirements, Secret, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::{ByteString, jiff};

use super::Object;
use super::quantity::Quantity;

/// `SetDefaults_Secret`, `SetDefaults_ConfigMapVolumeSource`, ...: 0644.
const DEFAULT_MODE: i32 = 0o644;

/// Defaults `object` and fills what the server sets on create, for storing
/// in `namespace` (used when the manifest names none).
pub fn apply(object: &mut Object, namespace: &str) {
    default_fields(object);
    fill_create_metadata(object, namespace);
}

/// The server's defaulting of the object's fields, without touching its
/// identity (for updates as well as creates).
pub fn default_fields(object: &mut Object) {
    match object {
        Object::Pod(pod) => default_pod(pod),
        Object::ConfigMap(_) | Object::Node(_) => {}
        Object::Secret(secret) => default_secret(secret),
        Object::Namespace(ns) => default_namespace(ns),
        Object::PodPreset(preset) => {
            preset.api_version = super::podpreset::API_VERSION.into();
            preset.kind = super::podpreset::KIND.into();
        }
    }
}

/// The namespace strategy's PrepareForCreate: the `kubernetes` finalizer
/// (the namespace controller's), and the label naming the namespace that
/// the API server has set on every namespace since 1.21.
fn default_namespace(ns: &mut k8s_openapi::api::core::v1::Namespace) {
    let name = ns.metadata.name.clone().unwrap_or_default();
    if !name.is_empty() {
        ns.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("kubernetes.io/metadata.name".into(), name);
    }
    ns.spec
        .get_or_insert_with(Default::default)
        .finalizers
        .get_or_insert_with(|| vec!["kubernetes".into()]);
}

/// What the server sets on create: the namespace when the manifest has
/// none, a fresh uid and creation time (anything the manifest said is
/// replaced, as the server does), a Pending status for pods and an Active
/// one for namespaces.
pub fn fill_create_metadata(object: &mut Object, namespace: &str) {
    let kind = object.kind();
    let meta = object.metadata_mut();
    if meta.name.as_deref().unwrap_or("").is_empty()
        && let Some(prefix) = meta.generate_name.as_deref().filter(|p| !p.is_empty())
    {
        meta.name = Some(generated_name(prefix));
    }
    if !kind.namespaced() {
        // The server clears the namespace of a cluster-scoped object.
        meta.namespace = None;
    } else if meta.namespace.as_deref().unwrap_or("").is_empty() {
        meta.namespace = Some(namespace.to_string());
    }
    meta.uid = Some(new_uid());
    meta.creation_timestamp = Some(Time(now_seconds()));
    meta.resource_version = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.managed_fields = None;
    meta.self_link = None;
    if let Object::Namespace(ns) = object {
        ns.status = Some(k8s_openapi::api::core::v1::NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        });
    }
    if let Object::Pod(pod) = object {
        let qos = pod.spec.as_ref().map(qos_class).unwrap_or("BestEffort");
        pod.status = Some(PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some(qos.into()),
            ..Default::default()
        });
    }
}

/// The API server keeps creation times to the second.
fn now_seconds() -> jiff::Timestamp {
    let seconds = unix_now().as_secs();
    jiff::Timestamp::from_second(seconds as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn unix_now() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// `generateName` plus five random characters from the server's alphabet
/// (no vowels, no look-alikes), cut so the name stays within 63.
fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let random = random_bytes();
    let suffix: String = random[..5]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    let keep = prefix.len().min(58);
    let cut = (0..=keep)
        .rev()
        .find(|i| prefix.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}{suffix}", &prefix[..cut])
}

fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if random.is_err() {
        // No /dev/urandom (a bare chroot): time and pid still make it unique
        // on this machine.
        let nanos = unix_now().as_nanos();
        let seed = nanos ^ (u128::from(std::process::id()) << 64);
        bytes = seed.to_le_bytes();
    }
    bytes
}

/// A random (version 4) UUID, as the server gives every object.
pub fn new_uid() -> String {
    let mut bytes = random_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn default_secret(secret: &mut Secret) {
    if secret.type_.as_deref().unwrap_or("").is_empty() {
        secret.type_ = Some("Opaque".into());
    }
    // stringData is write-only: the server merges it into data, where it
    // wins over a key of the same name.
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in string_data {
            data.insert(key, ByteString(value.into_bytes()));
        }
    }
}

fn default_pod(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    default_pod_spec(spec);
    // `priority` comes from the Priority admission plugin: 0 without a
    // priority class.
    if spec.priority.is_none() && spec.priority_class_name.is_none() {
        spec.priority = Some(0);
    }
}

fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    set_if_empty(&mut spec.scheduler_name, "default-scheduler");
    spec.security_context
        .get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.enable_service_links.get_or_insert(true);

    let host_network = spec.host_network == Some(true);
    for container in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(container, host_network);
    }
    for container in spec.ephemeral_containers.iter_mut().flatten() {
        default_ephemeral_container(container);
    }
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
    if let Some(resources) = spec.resources.as_mut() {
        default_requests_to_limits(resources);
    }
    if let Some(overhead) = spec.overhead.as_mut() {
        canonicalize(overhead);
    }
}

fn default_container(container: &mut Container, host_network: bool) {
    if container
        .image_pull_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        let policy = pull_policy_for(container.image.as_deref().unwrap_or(""));
        container.image_pull_policy = Some(policy.into());
    }
    set_if_empty(
        &mut container.termination_message_path,
        "/dev/termination-log",
    );
    set_if_empty(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        default_port(port, host_network);
    }
    for probe in [
        &mut container.liveness_probe,
        &mut container.readiness_probe,
        &mut container.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = container.lifecycle.as_mut() {
        default_lifecycle(lifecycle);
    }
    default_env(container.env.iter_mut().flatten());
    // Resources is a struct, not a pointer, in Go: it always prints.
    let resources = container
        .resources
        .get_or_insert_with(ResourceRequirements::default);
    default_requests_to_limits(resources);
}

fn default_ephemeral_container(container: &mut EphemeralContainer) {
    if container
        .image_pull_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        let policy = pull_policy_for(container.image.as_deref().unwrap_or(""));
        container.image_pull_policy = Some(policy.into());
    }
    set_if_empty(
        &mut container.termination_message_path,
        "/dev/termination-log",
    );
    set_if_empty(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        default_port(port, false);
    }
    default_env(container.env.iter_mut().flatten());
    container
        .resources
        .get_or_insert_with(ResourceRequirements::default);
}

/// `SetDefaults_Container`: `Always` for `:latest` or no tag at all,
/// `IfNotPresent` for any other tag or a digest.
pub fn pull_policy_for(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    // The tag follows the last ':' after the last '/' (a ':' before it is a
    // registry port).
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_port(port: &mut ContainerPort, host_network: bool) {
    set_if_empty(&mut port.protocol, "TCP");
    // With the host's network, the container port is the host port.
    if host_network && port.host_port.unwrap_or(0) == 0 {
        port.host_port = Some(port.container_port);
    }
}

fn default_probe(probe: &mut Probe) {
    // 0 is Go's "unset" for these int32 fields.
    for (value, default) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if value.unwrap_or(0) == 0 {
            *value = Some(default);
        }
    }
    if let Some(http) = probe.http_get.as_mut() {
        default_http_get(http);
    }
    if let Some(grpc) = probe.grpc.as_mut() {
        grpc.service.get_or_insert_with(String::new);
    }
}

fn default_lifecycle(lifecycle: &mut Lifecycle) {
    for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
        .into_iter()
        .flatten()
    {
        default_handler(handler);
    }
}

fn default_handler(handler: &mut LifecycleHandler) {
    if let Some(http) = handler.http_get.as_mut() {
        default_http_get(http);
    }
}

fn default_http_get(http: &mut HTTPGetAction) {
    set_if_empty(&mut http.path, "/");
    set_if_empty(&mut http.scheme, "HTTP");
}

fn default_env<'a>(env: impl Iterator<Item = &'a mut EnvVar>) {
    for var in env {
        let Some(source) = var.value_from.as_mut() else {
            continue;
        };
        if let Some(field_ref) = source.field_ref.as_mut() {
            default_field_ref(field_ref);
        }
        if let Some(resource_ref) = source.resource_field_ref.as_mut() {
            default_resource_ref(resource_ref);
        }
    }
}

fn default_field_ref(field_ref: &mut ObjectFieldSelector) {
    set_if_empty(&mut field_ref.api_version, "v1");
}

/// `divisor` is a Quantity value, not a pointer, in Go: unset prints `"0"`.
fn default_resource_ref(resource_ref: &mut ResourceFieldSelector) {
    match resource_ref.divisor.as_mut() {
        None => resource_ref.divisor = Some(WireQuantity("0".into())),
        Some(divisor) => canonicalize_one(divisor),
    }
}

fn default_volume(volume: &mut Volume) {
    if !has_source(volume) {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        host_path.type_.get_or_insert_with(String::new);
    }
    if let Some(empty_dir) = volume.empty_dir.as_mut()
        && let Some(limit) = empty_dir.size_limit.as_mut()
    {
        canonicalize_one(limit);
    }
    if let Some(secret) = volume.secret.as_mut() {
        secret.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        config_map.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(downward) = volume.downward_api.as_mut() {
        downward.default_mode.get_or_insert(DEFAULT_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = item.field_ref.as_mut() {
                default_field_ref(field_ref);
            }
            if let Some(resource_ref) = item.resource_field_ref.as_mut() {
                default_resource_ref(resource_ref);
            }
        }
    }
    if let Some(projected) = volume.projected.as_mut() {
        projected.default_mode.get_or_insert(DEFAULT_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                token.expiration_seconds.get_or_insert(3600);
            }
            if let Some(downward) = source.downward_api.as_mut() {
                for item in downward.items.iter_mut().flatten() {
                    if let Some(field_ref) = item.field_ref.as_mut() {
                        default_field_ref(field_ref);
                    }
                    if let Some(resource_ref) = item.resource_field_ref.as_mut() {
                        default_resource_ref(resource_ref);
                    }
                }
            }
        }
    }
    if let Some(ephemeral) = volume.ephemeral.as_mut()
        && let Some(template) = ephemeral.volume_claim_template.as_mut()
    {
        set_if_empty(&mut template.spec.volume_mode, "Filesystem");
    }
}

/// The sources a volume names, by their manifest names.
pub fn volume_sources(volume: &Volume) -> Vec<&'static str> {
    // In the order validateVolumeSource checks them: the first one counts,
    // later ones are reported.
    let present = [
        (volume.host_path.is_some(), "hostPath"),
        (volume.empty_dir.is_some(), "emptyDir"),
        (volume.git_repo.is_some(), "gitRepo"),
        (volume.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (
            volume.aws_elastic_block_store.is_some(),
            "awsElasticBlockStore",
        ),
        (volume.secret.is_some(), "secret"),
        (volume.nfs.is_some(), "nfs"),
        (volume.iscsi.is_some(), "iscsi"),
        (volume.glusterfs.is_some(), "glusterfs"),
        (volume.flocker.is_some(), "flocker"),
        (
            volume.persistent_volume_claim.is_some(),
            "persistentVolumeClaim",
        ),
        (volume.rbd.is_some(), "rbd"),
        (volume.quobyte.is_some(), "quobyte"),
        (volume.cephfs.is_some(), "cephfs"),
        (volume.cinder.is_some(), "cinder"),
        (volume.downward_api.is_some(), "downwardAPI"),
        (volume.fc.is_some(), "fc"),
        (volume.flex_volume.is_some(), "flexVolume"),
        (volume.config_map.is_some(), "configMap"),
        (volume.azure_file.is_some(), "azureFile"),
        (volume.vsphere_volume.is_some(), "vsphereVolume"),
        (
            volume.photon_persistent_disk.is_some(),
            "photonPersistentDisk",
        ),
        (volume.portworx_volume.is_some(), "portworxVolume"),
        (volume.azure_disk.is_some(), "azureDisk"),
        (volume.storageos.is_some(), "storageos"),
        (volume.projected.is_some(), "projected"),
        (volume.scale_io.is_some(), "scaleIO"),
        (volume.csi.is_some(), "csi"),
        (volume.ephemeral.is_some(), "ephemeral"),
        (volume.image.is_some(), "image"),
    ];
    present
        .into_iter()
        .filter_map(|(is, name)| is.then_some(name))
        .collect()
}

fn has_source(volume: &Volume) -> bool {
    !volume_sources(volume).is_empty()
}

/// Limits without a request default the request (SetDefaults_Pod); every
/// quantity prints in canonical form.
fn default_requests_to_limits(resources: &mut ResourceRequirements) {
    if let Some(limits) = resources.limits.as_mut() {
        canonicalize(limits);
        let requests = resources.requests.get_or_insert_with(BTreeMap::new);
        // A limit that does not parse is not copied: validation reports it
        // once, where it was written.
        for (name, limit) in limits.iter() {
            if Quantity::parse(&limit.0).is_ok() {
                requests
                    .entry(name.clone())
                    .or_insert_with(|| limit.clone());
            }
        }
    }
    if let Some(requests) = resources.requests.as_mut() {
        canonicalize(requests);
    }
}

/// The server stores quantities in canonical form (`0.5` → `500m`); values
/// that do not parse are left for validation to report.
fn canonicalize(list: &mut BTreeMap<String, WireQuantity>) {
    list.values_mut().for_each(canonicalize_one);
}

fn canonicalize_one(quantity: &mut WireQuantity) {
    if let Ok(parsed) = Quantity::parse(&quantity.0) {
        quantity.0 = parsed.canonical();
    }
}

/// The pod's QoS class (`GetPodQOS`): BestEffort without cpu or memory
/// requests or limits; Guaranteed when every container limits both and the
/// requests equal the limits; Burstable otherwise.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    const COMPUTE: [&str; 2] = ["cpu", "memory"];
    let positive =
        |list: Option<&BTreeMap<String, WireQuantity>>| -> BTreeMap<&'static str, Quantity> {
            let mut out = BTreeMap::new();
            for name in COMPUTE {
                if let Some(q) = list
                    .and_then(|l| l.get(name))
                    .and_then(|q| Quantity::parse(&q.0).ok())
                    .filter(|q| *q > Quantity::zero())
                {
                    out.insert(name, q);
                }
            }
            out
        };
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let add = |into: &mut BTreeMap<&'static str, Quantity>,
               from: BTreeMap<&'static str, Quantity>| {
        for (name, q) in from {
            let sum = match into.get(name) {
                Some(existing) => existing.checked_add(&q).unwrap_or(q),
                None => q,
            };
            into.insert(name, sum);
        }
    };

    if let Some(pod_level) = spec
        .resources
        .as_ref()
        .filter(|r| r.limits.is_some() || r.requests.is_some())
    {
        let found_limits = positive(pod_level.limits.as_ref());
        guaranteed = found_limits.len() == COMPUTE.len();
        add(&mut requests, positive(pod_level.requests.as_ref()));
        add(&mut limits, found_limits);
    } else {
        for container in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            let resources = container.resources.as_ref();
            add(
                &mut requests,
                positive(resources.and_then(|r| r.requests.as_ref())),
            );
            let found_limits = positive(resources.and_then(|r| r.limits.as_ref()));
            if found_limits.len() < COMPUTE.len() {
                guaranteed = false;
            }
            add(&mut limits, found_limits);
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(name, q)| limits.get(name) == Some(q))
    {
        return "Guaranteed";
    }
    "Burstable"
}

fn set_if_empty(field: &mut Option<String>, default: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(default.to_string());
    }
}

#[cfg(test)]
mod tests;
