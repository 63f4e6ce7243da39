//! Pod volumes: where each lives on the host, how it is filled, and how
//! containers mount it.
//!
//! - emptyDir: a directory in the pod's persistent directory
//!   (`<pod dir>/volumes/empty-dir/<name>`, mode 0777 as the kubelet's), or
//!   with `medium: Memory` a tmpfs in the run directory sized as the
//!   kubelet sizes it (see [`memory_medium_size`]), never the kernel's
//!   default of half the RAM.
//! - hostPath: the host path itself, after the kubelet's type check.
//! - configMap, secret, downwardAPI, projected: files written in the run
//!   directory (secrets and projected volumes on a tmpfs) with the
//!   kubelet's AtomicWriter layout: a `..<timestamp>` directory with the
//!   payload, a `..data` symlink to it and one symlink per top-level entry
//!   into `..data`, so an update is a single rename of `..data`.
//! - projected serviceAccountToken: a JWT (HS256) signed with a node-local
//!   key (`<root>/serviceaccount/signing.key`, made on first use). It is
//!   not a token any API server accepts — there is none — but it has the
//!   API server's claims (aud, exp, iat, nbf, iss, sub, kubernetes.io) so
//!   software that reads its own token finds what it expects.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, KeyToPath, Pod, Volume, VolumeProjection,
};
use sha2::{Digest, Sha256};

use super::StartError;
use super::config::{Mount, MountKind, Propagation};
use super::spec::{self, NodeFacts};
use crate::store::Store;

/// What a volume needs to know about its pod.
pub struct Context<'a> {
    pub store: &'a Store,
    pub pod: &'a Pod,
    pub run_dir: &'a Path,
    pub node: &'a NodeFacts,
    /// The host id of the pod's id 0 (`hostUsers: false`, see
    /// [`super::userns`]): an emptyDir, which is not idmapped, gets the
    /// fsGroup's host gid.
    pub id_base: Option<u32>,
}

impl Context<'_> {
    fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    fn pod_name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or("")
    }

    fn volumes(&self) -> &[Volume] {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or(&[])
    }

    fn fs_group(&self) -> Option<u32> {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref())
            .and_then(|s| s.fs_group)
            .and_then(|g| u32::try_from(g).ok())
    }
}

/// The kubelet's event text for a volume that cannot be set up.
fn mount_failed(volume: &str, err: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("MountVolume.SetUp failed for volume {volume:?} : {err}")
}

/// Where a volume lives on the host.
pub fn host_path(cx: &Context<'_>, volume: &Volume) -> PathBuf {
    let name = &volume.name;
    if let Some(host) = &volume.host_path {
        return PathBuf::from(&host.path);
    }
    if let Some(empty) = &volume.empty_dir {
        if empty.medium.as_deref() == Some("Memory") {
            return cx.run_dir.join("volumes/empty-dir").join(name);
        }
        return cx
            .store
            .pod_dir(cx.namespace(), cx.pod_name())
            .join("volumes/empty-dir")
            .join(name);
    }
    let kind = if volume.config_map.is_some() {
        "configmap"
    } else if volume.secret.is_some() {
        "secret"
    } else if volume.downward_api.is_some() {
        "downward-api"
    } else {
        "projected"
    };
    cx.run_dir.join("volumes").join(kind).join(name)
}

/// Sets every volume of the pod up (idempotent).
pub fn prepare(cx: &Context<'_>) -> Result<()> {
    for volume in cx.volumes() {
        prepare_one(cx, volume).map_err(|e| mount_failed(&volume.name, format!("{e:#}")))?;
    }
    Ok(())
}

fn prepare_one(cx: &Context<'_>, volume: &Volume) -> Result<()> {
    let path = host_path(cx, volume);
    if let Some(host) = &volume.host_path {
        return check_host_path(&path, host.type_.as_deref().unwrap_or(""));
    }
    if let Some(empty) = &volume.empty_dir {
        make_dir(&path, 0o777)?;
        if empty.medium.as_deref() == Some("Memory") && !super::state::is_mount_point(&path) {
            let size_limit = match &empty.size_limit {
                Some(limit) => Some(
                    crate::api::quantity::Quantity::parse(&limit.0)
                        .map_err(|e| anyhow!("sizeLimit {:?}: {e}", limit.0))?
                        .as_bytes_ceil(),
                ),
                None => None,
            };
            let mut options = "mode=1777".to_string();
            if let Some(bytes) = memory_medium_size(cx.pod, cx.node, size_limit) {
                options.push_str(&format!(",size={bytes}"));
            }
            mount_tmpfs(&path, &options)?;
        }
        // In a pod of its own user namespace the directory is its root's,
        // as it would be through an idmapped mount.
        let owner = cx.id_base.map(nix::unistd::Uid::from_raw);
        let group = match cx.fs_group() {
            Some(gid) => Some(gid.saturating_add(cx.id_base.unwrap_or(0))),
            None => cx.id_base,
        };
        if owner.is_some() || group.is_some() {
            let _ = nix::unistd::chown(&path, owner, group.map(nix::unistd::Gid::from_raw));
        }
        return Ok(());
    }
    if volume.config_map.is_none()
        && volume.secret.is_none()
        && volume.downward_api.is_none()
        && volume.projected.is_none()
    {
        bail!(
            "unsupported volume type (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)"
        );
    }
    make_dir(&path, 0o755)?;
    if (volume.secret.is_some() || volume.projected.is_some())
        && !super::state::is_mount_point(&path)
    {
        // Sized as a Memory emptyDir, as the kubelet's wrapped emptyDir is:
        // only pod writes there, but never half the RAM either.
        let mut options = "mode=755".to_string();
        if let Some(bytes) = memory_medium_size(cx.pod, cx.node, None) {
            options.push_str(&format!(",size={bytes}"));
        }
        mount_tmpfs(&path, &options)?;
    }
    write_payload(cx, volume, &path)
}

/// The size of a `medium: Memory` emptyDir, as the kubelet's
/// calculateEmptyDirMemorySize: the node's memory, or the pod's memory
/// limit if it has one and it is smaller, or the volume's sizeLimit if it
/// is smaller still. `None` (the kernel's default) only when the node's
/// memory is unknown and neither limit is set.
pub fn memory_medium_size(pod: &Pod, node: &NodeFacts, size_limit: Option<i64>) -> Option<i64> {
    let pod_limit = super::resources::pod_limits(pod).memory;
    [Some(node.memory_bytes), pod_limit, size_limit]
        .into_iter()
        .flatten()
        .filter(|bytes| *bytes > 0)
        .min()
}

/// Whether the pod has a volume showing the ConfigMap (or Secret) `name`.
pub fn references(pod: &Pod, config_map: bool, name: &str) -> bool {
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or(&[]);
    volumes.iter().any(|v| {
        let direct = if config_map {
            v.config_map.as_ref().is_some_and(|c| c.name == name)
        } else {
            v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref() == Some(name))
        };
        let projected = v
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten())
            .any(|s| {
                if config_map {
                    s.config_map.as_ref().is_some_and(|c| c.name == name)
                } else {
                    s.secret.as_ref().is_some_and(|c| c.name == name)
                }
            });
        direct || projected
    })
}

/// Rewrites the configMap, secret, downwardAPI and projected volumes.
pub fn refresh(cx: &Context<'_>) -> Result<()> {
    for volume in cx.volumes() {
        if volume.config_map.is_some()
            || volume.secret.is_some()
            || volume.downward_api.is_some()
            || volume.projected.is_some()
        {
            let path = host_path(cx, volume);
            if path.exists() {
                write_payload(cx, volume, &path)
                    .map_err(|e| mount_failed(&volume.name, format!("{e:#}")))?;
            }
        }
    }
    Ok(())
}

fn write_payload(cx: &Context<'_>, volume: &Volume, dir: &Path) -> Result<()> {
    let mut payload = Payload::new();
    if let Some(cm) = &volume.config_map {
        let mode = cm.default_mode.unwrap_or(0o644);
        config_map_files(
            cx,
            &cm.name,
            cm.items.as_deref(),
            cm.optional,
            mode,
            &mut payload,
        )?;
    } else if let Some(secret) = &volume.secret {
        let mode = secret.default_mode.unwrap_or(0o644);
        let name = secret.secret_name.clone().unwrap_or_default();
        secret_files(
            cx,
            &name,
            secret.items.as_deref(),
            secret.optional,
            mode,
            &mut payload,
        )?;
    } else if let Some(downward) = &volume.downward_api {
        let mode = downward.default_mode.unwrap_or(0o644);
        for item in downward.items.iter().flatten() {
            downward_file(cx, item, mode, &mut payload)?;
        }
    } else if let Some(projected) = &volume.projected {
        let mode = projected.default_mode.unwrap_or(0o644);
        for source in projected.sources.iter().flatten() {
            projection(cx, source, mode, &mut payload)?;
        }
    }
    write_atomic_dir(dir, &payload, cx.fs_group())
}

/// Relative path → (content, mode).
type Payload = BTreeMap<String, (Vec<u8>, i32)>;

fn add_item(payload: &mut Payload, path: &str, data: Vec<u8>, mode: i32) -> Result<()> {
    validate_relative(path)?;
    payload.insert(path.to_string(), (data, mode));
    Ok(())
}

fn keyed_files(
    kind: &str,
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    optional: bool,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    match items {
        None => {
            for (key, value) in data {
                add_item(payload, &key, value, default_mode)?;
            }
        }
        Some(items) => {
            for item in items {
                match data.get(&item.key) {
                    Some(value) => add_item(
                        payload,
                        &item.path,
                        value.clone(),
                        item.mode.unwrap_or(default_mode),
                    )?,
                    None if optional => {}
                    None => bail!("{kind} references non-existent config key: {}", item.key),
                }
            }
        }
    }
    Ok(())
}

fn config_map_files(
    cx: &Context<'_>,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    let optional = optional.unwrap_or(false);
    let ns = cx.namespace();
    let object = cx.store.get(crate::api::Kind::ConfigMap, ns, name)?;
    let Some(crate::api::Object::ConfigMap(cm)) = object else {
        if optional {
            return Ok(());
        }
        bail!("configmap {name:?} not found");
    };
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.unwrap_or_default() {
        data.insert(k, v.0);
    }
    keyed_files("configmap", data, items, optional, default_mode, payload)
}

fn secret_files(
    cx: &Context<'_>,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    let optional = optional.unwrap_or(false);
    let ns = cx.namespace();
    let data = spec::secret_data(cx.store, ns, name, optional).map_err(|e| anyhow!("{e}"))?;
    let Some(data) = data else {
        return Ok(());
    };
    keyed_files("secret", data, items, optional, default_mode, payload)
}

fn downward_file(
    cx: &Context<'_>,
    item: &DownwardAPIVolumeFile,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    let spec_cx = spec::Context {
        store: cx.store,
        pod: cx.pod,
        hostname: "",
        node: cx.node,
    };
    let value = if let Some(field) = &item.field_ref {
        spec::field_value(&spec_cx, &field.field_path).map_err(|e| anyhow!("{e}"))?
    } else if let Some(resource) = &item.resource_field_ref {
        let container_name = resource.container_name.as_deref().unwrap_or("");
        let container = cx
            .pod
            .spec
            .as_ref()
            .and_then(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
                    .find(|c| c.name == container_name)
            })
            .ok_or_else(|| {
                anyhow!("container {container_name:?} not found for resourceFieldRef")
            })?;
        let divisor = resource.divisor.as_ref().map(|q| q.0.as_str());
        spec::resource_value(container, &resource.resource, divisor, cx.node)
            .map_err(|e| anyhow!("{e}"))?
    } else {
        String::new()
    };
    add_item(
        payload,
        &item.path,
        value.into_bytes(),
        item.mode.unwrap_or(default_mode),
    )
}

fn projection(
    cx: &Context<'_>,
    source: &VolumeProjection,
    default_mode: i32,
    payload: &mut Payload,
) -> Result<()> {
    if let Some(cm) = &source.config_map {
        config_map_files(
            cx,
            &cm.name,
            cm.items.as_deref(),
            cm.optional,
            default_mode,
            payload,
        )?;
    }
    if let Some(secret) = &source.secret {
        secret_files(
            cx,
            &secret.name,
            secret.items.as_deref(),
            secret.optional,
            default_mode,
            payload,
        )?;
    }
    if let Some(downward) = &source.downward_api {
        for item in downward.items.iter().flatten() {
            downward_file(cx, item, default_mode, payload)?;
        }
    }
    if let Some(token) = &source.service_account_token {
        let audience = token.audience.clone().unwrap_or_default();
        let expiry = token.expiration_seconds.unwrap_or(3600).max(600);
        let jwt = service_account_token(cx, &audience, expiry)?;
        add_item(payload, &token.path, jwt.into_bytes(), default_mode)?;
    }
    if source.cluster_trust_bundle.is_some() {
        bail!("clusterTrustBundle projections are not supported");
    }
    Ok(())
}

/// A JWT for the pod's service account, signed with the node-local key.
fn service_account_token(cx: &Context<'_>, audience: &str, expiry: i64) -> Result<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = signing_key(cx.store)?;
    let now = jiff::Timestamp::now().as_second();
    let account = cx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".to_string());
    let ns = cx.namespace();
    let audiences: Vec<&str> = if audience.is_empty() {
        vec!["https://kubernetes.default.svc.cluster.local"]
    } else {
        vec![audience]
    };
    let claims = serde_json::json!({
        "aud": audiences,
        "exp": now + expiry,
        "iat": now,
        "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": format!("system:serviceaccount:{ns}:{account}"),
        "kubernetes.io": {
            "namespace": ns,
            "pod": {"name": cx.pod_name(), "uid": cx.pod.metadata.uid.clone().unwrap_or_default()},
            "serviceaccount": {"name": account},
        },
    });
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64.encode(serde_json::to_vec(&claims)?);
    let signing_input = format!("{header}.{body}");
    let signature = b64.encode(hmac_sha256(&key, signing_input.as_bytes()));
    Ok(format!("{signing_input}.{signature}"))
}

/// The node-local token signing key, created (32 random bytes, mode 0600)
/// on first use.
fn signing_key(store: &Store) -> Result<Vec<u8>> {
    let path = store.root().join("serviceaccount/signing.key");
    if let Ok(key) = std::fs::read(&path)
        && key.len() >= 32
    {
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    getrandom(&mut key)?;
    if let Some(parent) = path.parent() {
        make_dir(parent, 0o700)?;
    }
    crate::store::write_atomic(&path, &key)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    // Another pod may have raced us: use whatever won.
    Ok(std::fs::read(&path)?)
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)?;
    Ok(())
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// A payload path must be relative and stay inside the volume (the API
/// server validates the same; a stored object is checked again here).
fn validate_relative(path: &str) -> Result<()> {
    let p = Path::new(path);
    if path.is_empty()
        || p.is_absolute()
        || p.components().any(|c| matches!(c, Component::ParentDir))
        || path.starts_with("..")
    {
        bail!("invalid path {path:?}: must be relative and may not contain '..'");
    }
    Ok(())
}

/// The kubelet's AtomicWriter: payload in a fresh `..<timestamp>`
/// directory, `..data` swapped to it with one rename, user-visible
/// symlinks for the top-level entries, the old generation removed.
pub fn write_atomic_dir(dir: &Path, payload: &Payload, fs_group: Option<u32>) -> Result<()> {
    let data_link = dir.join("..data");
    let old = std::fs::read_link(&data_link).ok();
    let stamp = jiff::Timestamp::now()
        .strftime("%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let generation = format!("..{stamp}{}", std::process::id());
    let target = dir.join(&generation);
    make_dir(&target, 0o755)?;
    for (path, (data, mode)) in payload {
        let file = target.join(path);
        if let Some(parent) = file.parent() {
            make_dir(parent, 0o755)?;
        }
        // 0600 until the payload is whole and the mode is the pod's.
        write_new_private(&file, data).with_context(|| format!("writing {}", file.display()))?;
        std::fs::set_permissions(
            &file,
            std::fs::Permissions::from_mode(*mode as u32 & 0o7777),
        )?;
        if let Some(gid) = fs_group {
            let _ = nix::unistd::chown(&file, None, Some(nix::unistd::Gid::from_raw(gid)));
        }
    }
    let tmp_link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp_link);
    std::os::unix::fs::symlink(&generation, &tmp_link)?;
    std::fs::rename(&tmp_link, &data_link).context("swapping ..data")?;

    let wanted: std::collections::BTreeSet<String> = payload
        .keys()
        .filter_map(|p| p.split('/').next().map(str::to_string))
        .collect();
    for top in &wanted {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !wanted.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(old) = old.filter(|o| o.as_os_str() != generation.as_str()) {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(())
}

fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

/// `mkdir -p` with an exact mode, never through a symlink (see
/// [`super::safepath::make_dir`]).
fn make_dir(path: &Path, mode: u32) -> Result<()> {
    super::safepath::make_dir(path, mode).with_context(|| format!("creating {}", path.display()))
}

fn mount_tmpfs(path: &Path, options: &str) -> Result<()> {
    nix::mount::mount(
        Some("tmpfs"),
        path,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some(options),
    )
    .with_context(|| format!("mounting a tmpfs at {}", path.display()))
}

/// The kubelet's hostPath type check (pkg/volume/hostpath checkType).
pub fn check_host_path(path: &Path, kind: &str) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).ok();
    let display = path.display();
    let is = |f: &dyn Fn(&std::fs::Metadata) -> bool| meta.as_ref().is_some_and(f);
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" | "Directory" => {
            if meta.is_none() && kind == "DirectoryOrCreate" {
                return make_dir(path, 0o755);
            }
            if is(&|m| m.is_dir()) {
                Ok(())
            } else {
                bail!("hostPath type check failed: {display} is not a directory")
            }
        }
        "FileOrCreate" | "File" => {
            if meta.is_none() && kind == "FileOrCreate" {
                if let Some(parent) = path.parent() {
                    make_dir(parent, 0o755)?;
                }
                return super::safepath::make_file(path, 0o644)
                    .with_context(|| format!("creating {display}"));
            }
            if is(&|m| m.is_file()) {
                Ok(())
            } else {
                bail!("hostPath type check failed: {display} is not a file")
            }
        }
        "Socket" if is(&|m| m.file_type().is_socket()) => Ok(()),
        "Socket" => bail!("hostPath type check failed: {display} is not a socket file"),
        "CharDevice" if is(&|m| m.file_type().is_char_device()) => Ok(()),
        "CharDevice" => bail!("hostPath type check failed: {display} is not a character device"),
        "BlockDevice" if is(&|m| m.file_type().is_block_device()) => Ok(()),
        "BlockDevice" => bail!("hostPath type check failed: {display} is not a block device"),
        other => bail!("{other} is an invalid volume type"),
    }
}

/// The bind mounts of a container's volumeMounts, each with its source
/// opened (see [`super::bind`]). `env` is the container's environment, for
/// subPathExpr.
pub fn container_mounts(
    cx: &Context<'_>,
    container: &Container,
    env: &[String],
) -> Result<Vec<(Mount, OwnedFd)>, StartError> {
    let vars: BTreeMap<&str, &str> = env.iter().filter_map(|kv| kv.split_once('=')).collect();
    let mut mounts = Vec::new();
    for vm in container.volume_mounts.iter().flatten() {
        let volume = cx
            .volumes()
            .iter()
            .find(|v| v.name == vm.name)
            .ok_or_else(|| {
                StartError::Config(format!(
                    "cannot find volume {:?} to mount into container {:?}",
                    vm.name, container.name
                ))
            })?;
        let root = host_path(cx, volume);
        let sub_path = match (&vm.sub_path, &vm.sub_path_expr) {
            (Some(p), _) if !p.is_empty() => Some(p.clone()),
            (_, Some(expr)) if !expr.is_empty() => Some(spec::expand(expr, &vars)),
            _ => None,
        };
        let root_fd = open_source(&root, &vm.mount_path)?;
        let (source, fd) = match sub_path {
            None => (root, root_fd),
            Some(sub) => {
                let fd = open_sub_path(root_fd, &sub, &vm.name, &container.name)?;
                (root.join(&sub), fd)
            }
        };
        let always_readonly = volume.config_map.is_some()
            || volume.secret.is_some()
            || volume.downward_api.is_some()
            || volume.projected.is_some();
        let readonly = vm.read_only.unwrap_or(false) || always_readonly;
        let propagation = match vm.mount_propagation.as_deref() {
            Some("HostToContainer") => Propagation::HostToContainer,
            Some("Bidirectional") => Propagation::Bidirectional,
            _ => Propagation::None,
        };
        // The kubelet's: Enabled fails where the runtime cannot, IfPossible
        // falls back; this kernel has mount_setattr, so both are honoured.
        let recursive_readonly = readonly
            && matches!(
                vm.recursive_read_only.as_deref(),
                Some("Enabled" | "IfPossible")
            );
        mounts.push((
            Mount {
                source,
                source_fd: None,
                destination: vm.mount_path.clone(),
                kind: MountKind::Bind,
                readonly,
                recursive_readonly,
                propagation,
                // The kubelet gives every mount of a pod with its own user
                // namespace the pod's mapping (uid_mappings/gid_mappings
                // of the CRI Mount, KEP-127), and containerd makes it an
                // idmapped bind: a hostPath's files show their host ids
                // through the mapping (host root's are the pod root's, and
                // what the pod's root makes there is host root's). An
                // emptyDir is the pod's alone and is given to its root
                // instead (see `make`).
                idmap: always_readonly || volume.host_path.is_some(),
            },
            fd,
        ));
    }
    Ok(mounts)
}

/// An O_PATH fd of a bind mount's source, a path the runtime chose (a pod
/// file, a volume's directory, a hostPath): runc's error if it is missing.
pub fn open_source(source: &Path, destination: &str) -> Result<OwnedFd, StartError> {
    super::safepath::open_trusted(source).map_err(|e| {
        StartError::Runtime(format!(
            "unable to start container process: error mounting {:?} to rootfs at {:?}: stat {}: {}",
            source.display().to_string(),
            destination,
            source.display(),
            super::init::io_text(&e)
        ))
    })
}

/// The subPath `sub` inside the volume `root`, resolved beneath it (a
/// symlink may not lead out, not even for a moment) and made if missing
/// with the volume's mode, as the kubelet's makeMounts does. The details
/// stay in the supervisor's log: the kubelet keeps host paths out of the
/// message.
fn open_sub_path(
    root: OwnedFd,
    sub: &str,
    volume: &str,
    container: &str,
) -> Result<OwnedFd, StartError> {
    use super::safepath::{self, Scope};
    use std::os::fd::AsFd;
    if Path::new(sub).is_absolute() {
        return Err(StartError::Config(format!(
            "error SubPath `{sub}` must not be an absolute path"
        )));
    }
    if Path::new(sub)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(StartError::Config(format!(
            "unable to provision SubPath `{sub}`: must not contain '..'"
        )));
    }
    let prepare_failed = |e: std::io::Error| {
        eprintln!("pod-supervisor: subPath {sub:?} of volume {volume:?}: {e}");
        StartError::Config(format!(
            "failed to prepare subPath for volumeMount {volume:?} of container {container:?}"
        ))
    };
    match safepath::open(root.as_fd(), sub, Scope::Beneath) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let mode = rustix::fs::fstat(&root)
                .map_err(|e| prepare_failed(e.into()))?
                .st_mode
                & 0o7777;
            safepath::mkdir_all(root.as_fd(), sub, Scope::Beneath, mode).map_err(|e| {
                eprintln!("pod-supervisor: creating subPath {sub:?} of volume {volume:?}: {e}");
                StartError::Config(format!(
                    "failed to create subPath directory for volumeMount {volume:?} of container {container:?}"
                ))
            })
        }
        Err(e) => Err(prepare_failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_type_checks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let file = tmp.path().join("f");
        check_host_path(&dir, "DirectoryOrCreate").unwrap();
        assert!(dir.is_dir());
        check_host_path(&dir, "Directory").unwrap();
        check_host_path(&file, "FileOrCreate").unwrap();
        assert!(file.is_file());
        check_host_path(&file, "File").unwrap();
        let err = |p: &Path, k: &str| check_host_path(p, k).unwrap_err().to_string();
        assert_eq!(
            err(&file, "Directory"),
            format!(
                "hostPath type check failed: {} is not a directory",
                file.display()
            )
        );
        assert_eq!(
            err(&dir, "File"),
            format!(
                "hostPath type check failed: {} is not a file",
                dir.display()
            )
        );
        assert!(err(&tmp.path().join("missing"), "Directory").ends_with("is not a directory"));
        assert!(err(&file, "Socket").ends_with("is not a socket file"));
        assert!(check_host_path(Path::new("/dev/null"), "CharDevice").is_ok());
        assert!(err(&file, "CharDevice").ends_with("is not a character device"));
        assert!(err(&file, "BlockDevice").ends_with("is not a block device"));
        assert_eq!(err(&file, "Bogus"), "Bogus is an invalid volume type");
        check_host_path(&tmp.path().join("anything"), "").unwrap();
    }

    #[test]
    fn atomic_writer_swaps_generations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut payload = Payload::new();
        payload.insert("a".into(), (b"1".to_vec(), 0o644));
        payload.insert("sub/b".into(), (b"2".to_vec(), 0o400));
        write_atomic_dir(dir, &payload, None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        assert_eq!(
            std::fs::read_link(dir.join("a")).unwrap(),
            Path::new("..data/a")
        );
        let mode = std::fs::metadata(dir.join("sub/b"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o400);
        let first = std::fs::read_link(dir.join("..data")).unwrap();

        std::thread::sleep(std::time::Duration::from_millis(2));
        let mut payload = Payload::new();
        payload.insert("a".into(), (b"changed".to_vec(), 0o644));
        write_atomic_dir(dir, &payload, None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "changed");
        assert!(std::fs::symlink_metadata(dir.join("sub")).is_err());
        assert!(!dir.join(&first).exists(), "the old generation is removed");
    }

    #[test]
    fn memory_emptydir_is_sized_as_the_kubelet_does() {
        let node = NodeFacts {
            node_name: String::new(),
            host_ip: String::new(),
            pod_ip: String::new(),
            cpus: 2,
            memory_bytes: 8 << 30,
        };
        let pod = |limits: &[Option<&str>]| -> Pod {
            let containers: Vec<_> = limits
                .iter()
                .enumerate()
                .map(|(i, l)| match l {
                    Some(m) => serde_json::json!({"name": format!("c{i}"),
                        "resources": {"limits": {"memory": m}}}),
                    None => serde_json::json!({"name": format!("c{i}")}),
                })
                .collect();
            serde_json::from_value(serde_json::json!({"spec": {"containers": containers}})).unwrap()
        };
        let size = |p: &Pod, limit| memory_medium_size(p, &node, limit);
        // No limit anywhere: the node's memory, not half of it.
        assert_eq!(size(&pod(&[None]), None), Some(8 << 30));
        // The pod's limit is the sum of its containers' when all have one.
        let limited = pod(&[Some("64Mi"), Some("32Mi")]);
        assert_eq!(size(&limited, None), Some(96 << 20));
        assert_eq!(size(&pod(&[Some("64Mi"), None]), None), Some(8 << 30));
        // sizeLimit wins when smaller, never when larger.
        assert_eq!(size(&limited, Some(1 << 20)), Some(1 << 20));
        assert_eq!(size(&limited, Some(1 << 30)), Some(96 << 20));
    }

    #[test]
    fn payload_paths_stay_inside() {
        assert!(validate_relative("a/b").is_ok());
        assert!(validate_relative("/etc/passwd").is_err());
        assert!(validate_relative("../x").is_err());
        assert!(validate_relative("a/../../x").is_err());
        assert!(validate_relative("..data").is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
