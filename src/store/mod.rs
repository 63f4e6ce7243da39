//! The state directory: where objects, pod status, events, logs and images
//! live, and how they are written (atomically) and locked. Every file
//! format of the directory is defined here, for the CLI and the
//! supervisor alike: objects and status records (this module), how a
//! stored status reads ([`observed`]), the supervisor's pid file and
//! process list ([`record`]), CRI container logs ([`crilog`]), and events
//! (`events.jsonl`, written and read by [`events`]); and the change feed
//! (inotify) that readers waiting for a change wake on ([`changes`]). The store
//! uses nothing from the layers above it (`supervisor`, `pods`, `cli`).
//! Its object operations fail with a [`StoreError`] that callers branch
//! on (NotFound, AlreadyExists, Corrupt with the file, Io); the CLI
//! renders it in kubectl's words (`crate::error`).
//!
//! Persistent root (`--root`, default /var/lib/pod):
//!
//! ```text
//! pods/<ns>/<name>/pod.json        the defaulted manifest (no status)
//! pods/<ns>/<name>/status.json     status, written by the pod's supervisor
//! pods/<ns>/<name>/conditions.json the conditions set through the API
//!                                  (pods/status, an eviction), see `conditions`
//! pods/<ns>/<name>/events.jsonl    events, one JSON object a line
//! pods/<ns>/<name>/volumes/        emptyDir and friends
//! configmaps/<ns>/<name>.json
//! secrets/<ns>/<name>.json
//! podpresets/<ns>/<name>.json
//! namespaces/<name>.json           cluster-scoped kinds: no namespace level
//! logs/<ns>_<name>_<uid>/<container>/<restart>.log
//! writable/<uid>/etc/             the pod's /etc/hosts, hostname, resolv.conf
//! writable/<uid>/containers/<container>/<restart>/
//!                                  overlay upper and work, termination log
//! images/                          the image store (see `image`)
//! tmp/                             staging for atomic creates; graves of
//!                                  removed pod directories (`graves`)
//! resource-version                 the last resourceVersion given (see `version`)
//! ```
//!
//! Runtime root (`--run-root`, default /run/pod): `pods/<uid>/` holds the
//! supervisor's socket, pid file and process list ([`record`]) and the
//! containers' mount points.
//!
//! What a container can write to (its writable layer, the files bound into
//! it read-write) lives under the persistent root, on the state disk: the
//! run root is usually a tmpfs in RAM that the whole host needs, and a
//! container filling it would take /run down with it.
//!
//! Both roots are mode 0700 (see `private`).

mod atomic;
pub mod brief;
pub mod changes;
pub mod conditions;
mod container_id;
pub mod crilog;
mod error;
pub mod events;
pub mod format;
mod graves;
mod lock;
pub mod names;
pub mod namespaces;
pub mod node_index;
mod object_files;
pub mod observed;
mod pod_status;
mod private;
mod read;
pub mod record;
pub mod restarted;
pub mod version;

pub use atomic::{
    DirSync, Synced, write_atomic, write_synced_beside, write_volatile, write_volatile_existing,
    write_volatile_private,
};
pub use container_id::container_id;
pub use error::StoreError;
pub use lock::Lock;
pub use read::{read_prefix, read_small_file, read_suffix};

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::core::v1::Pod;

use crate::api::{Kind, Object};

/// The store's results: a [`StoreError`] callers can branch on.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// From how many objects on, `list` reads them on every core.
const PARALLEL_LIST_MIN: usize = 64;

/// The node configuration file's name under the state root (its format
/// is `node::config`'s).
const NODE_CONFIG_FILE: &str = "config.yaml";

/// How much of a stored object to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every field: for machine formats, describe, updates.
    Full,
    /// Only what `get`'s tables (and label selectors) read; see `brief`.
    Table,
    /// The stored object alone, a pod without its status record: for
    /// what acts on a pod by its manifest (delete), which a corrupt
    /// status must not stop.
    Manifest,
}

/// Refuses a user other than root. Every command that reads a manifest
/// or the state calls it first, so a non-root user learns why in one line
/// before any file (stdin included) is read or written.
pub fn require_root() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        anyhow::bail!(
            "pod must run as root (it creates namespaces, mounts and cgroups); try: sudo pod ..."
        );
    }
    Ok(())
}

/// Where the state directory lives; cheap to clone and pass around.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    run_root: PathBuf,
    /// `--config`: the node configuration file, when not `<root>/config.yaml`.
    node_config: Option<PathBuf>,
}

impl Store {
    /// Opens (creating when missing) the state directories. Refuses to run
    /// as non-root before anything is written.
    pub fn open(root: &Path, run_root: &Path) -> anyhow::Result<Store> {
        require_root()?;
        let store = Store {
            root: absolute(root)?,
            run_root: absolute(run_root)?,
            node_config: None,
        };
        for dir in [&store.root, &store.run_root] {
            private::ensure(dir)
                .with_context(|| format!("creating state directory {}", dir.display()))?;
        }
        let tmp = store.root.join("tmp");
        fs::create_dir_all(&tmp)
            .with_context(|| format!("creating state directory {}", tmp.display()))?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn run_root(&self) -> &Path {
        &self.run_root
    }

    /// Reads the node configuration from `path` rather than
    /// `<root>/config.yaml`.
    pub fn with_node_config(mut self, path: Option<&Path>) -> anyhow::Result<Store> {
        self.node_config = path.map(absolute).transpose()?;
        Ok(self)
    }

    /// The node configuration file (it may not exist).
    pub fn node_config_path(&self) -> PathBuf {
        self.node_config
            .clone()
            .unwrap_or_else(|| self.root.join(NODE_CONFIG_FILE))
    }

    /// The directory of one pod's persistent state.
    pub fn pod_dir(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join("pods").join(namespace).join(name)
    }

    /// The directory of one pod's runtime state (sockets, mount points).
    pub fn pod_run_dir(&self, uid: &str) -> PathBuf {
        self.run_root.join("pods").join(uid)
    }

    /// What one pod's containers write: writable layers, termination
    /// logs, the pod's /etc files (see the module documentation).
    pub fn pod_writable_dir(&self, uid: &str) -> PathBuf {
        self.root.join("writable").join(uid)
    }

    /// The uids of the pods named `namespace/name` that have a log
    /// directory (`<ns>_<name>_<uid>`: names have no `_`), for when the
    /// record that says the uid cannot be read.
    pub fn pod_uids_in_logs(&self, namespace: &str, name: &str) -> Vec<String> {
        let prefix = format!("{namespace}_{name}_");
        let Ok(entries) = fs::read_dir(self.root.join("logs")) else {
            return Vec::new();
        };
        let mut uids: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name();
                let uid = file.to_str()?.strip_prefix(&prefix)?;
                (!uid.is_empty() && !uid.contains(['/', '_']) && !uid.starts_with('.'))
                    .then(|| uid.to_string())
            })
            .collect();
        uids.sort();
        uids
    }

    /// The kubelet-layout log directory of one pod.
    pub fn pod_log_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{namespace}_{name}_{uid}"))
    }

    /// The CRI log file of one instance of a container (`instance` is its
    /// restart count), as the kubelet lays it out:
    /// `<pod log dir>/<container>/<restart>.log`.
    pub fn container_log(
        &self,
        (namespace, name, uid): (&str, &str, &str),
        container: &str,
        instance: u32,
    ) -> PathBuf {
        self.pod_log_dir(namespace, name, uid)
            .join(container)
            .join(format!("{instance}.log"))
    }

    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Where a kind's objects of one namespace live; a cluster-scoped
    /// kind's live in the kind's directory itself.
    fn kind_dir(&self, kind: Kind, namespace: &str) -> PathBuf {
        let dir = self.root.join(kind.plural());
        if kind.namespaced() {
            dir.join(namespace)
        } else {
            dir
        }
    }

    fn object_path(&self, kind: Kind, namespace: &str, name: &str) -> PathBuf {
        match kind {
            Kind::Pod => self.pod_dir(namespace, name).join("pod.json"),
            _ => self.kind_dir(kind, namespace).join(format!("{name}.json")),
        }
    }
}

/// The Node is built from the machine and its record (`node`), not kept
/// as a file of its own: `objects` serves it, and the store refuses it
/// rather than guess.
fn not_stored(kind: Kind) -> Result<()> {
    if kind == Kind::Node {
        return Err(anyhow!("nodes are not stored objects: they are served by `objects`").into());
    }
    Ok(())
}

/// The pod's uid, which names its run directory and its log directory.
pub fn pod_uid(pod: &Pod) -> Result<&str> {
    pod.metadata
        .uid
        .as_deref()
        .filter(|u| !u.is_empty() && !u.contains('/') && !u.starts_with('.'))
        .ok_or_else(|| {
            anyhow!(
                "pod {:?} has no usable metadata.uid",
                pod.metadata.name.as_deref().unwrap_or_default()
            )
            .into()
        })
}

/// Checks a namespace and name (from the command line, say) before a path
/// is built from them: an error for what kubectl refuses client-side,
/// `false` for names no object can have. The namespace of a
/// cluster-scoped object is "" (see `scope`).
fn addressable(namespace: &str, name: &str) -> Result<bool> {
    if !namespace.is_empty() {
        names::check_namespace(namespace)?;
    }
    names::check_path_segment(name)?;
    Ok((namespace.is_empty() || names::storable(namespace)) && names::storable(name))
}

/// The namespace an object of `kind` is addressed in: "" for a
/// cluster-scoped kind, whatever `-n` said (as kubectl ignores it there).
fn scope(kind: Kind, namespace: &str) -> &str {
    if kind.namespaced() { namespace } else { "" }
}

fn identity(object: &Object) -> Result<(Kind, &str, &str)> {
    not_stored(object.kind())?;
    let name = object.name();
    let namespace = scope(object.kind(), object.namespace());
    // Names reach paths: only DNS-1123 subdomains (validated upstream) may.
    for (what, value) in [("name", name), ("namespace", namespace)] {
        if what == "namespace" && !object.kind().namespaced() {
            continue;
        }
        if value.is_empty()
            || value.starts_with('.')
            || !value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(anyhow!("invalid object {what} {value:?}").into());
        }
    }
    Ok((object.kind(), namespace, name))
}

fn object_bytes(object: &Object) -> Result<Vec<u8>> {
    let mut value = object.to_json();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    Ok(format::encode(&value).context("encoding the object")?)
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(corrupt(path))
}

/// A state file that does not decode.
/// The pod's readiness gates, which its Ready waits for.
fn readiness_gates(pod: &Pod) -> &[k8s_openapi::api::core::v1::PodReadinessGate] {
    pod.spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default()
}

fn corrupt(path: &Path) -> impl FnOnce(serde_json::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Corrupt { path, source }
}

fn sorted_entries(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(StoreError::io(format!("reading {}", dir.display()))(e)),
    };
    for entry in entries {
        if let Some(name) = entry?.file_name().to_str().filter(|n| !n.starts_with('.')) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

fn tempdir_path(parent: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    parent.join(format!(".{}-{nanos}-{n}", std::process::id()))
}

fn tempdir_in(parent: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    fs::create_dir_all(parent)?;
    let path = tempdir_path(parent);
    // A pod's directory (renamed from here) holds its emptyDirs: 0700, so
    // host users cannot reach them however the root's mode is changed.
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(StoreError::io(format!("creating {}", path.display())))?;
    Ok(path)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

/// Makes a FIFO at each of `paths` and runs `use_them` on a thread: what it
/// returned, or `None` when it did not return within 10 s, having blocked
/// on a FIFO (then each is opened for writing, which lets a blocked opener
/// go), so that a test of code that must not wait on a FIFO fails instead
/// of hanging.
#[cfg(test)]
pub(crate) fn on_fifos<T: Send + 'static>(
    paths: &[PathBuf],
    use_them: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    for path in paths {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(use_them());
    });
    let used = rx.recv_timeout(std::time::Duration::from_secs(10)).ok();
    if used.is_none() {
        for path in paths {
            let _ = fs::OpenOptions::new().write(true).open(path);
        }
    }
    used
}
