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

mod atomic_writer;
mod payload;
mod token;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{Container, Pod, Volume};

use super::StartError;
use super::config::{Mount, MountKind, Propagation};
use super::spec::{self, NodeFacts};
use crate::store::Store;
use payload::write_payload;

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
}
