//! The state directory: where objects, pod status, events, logs and images
//! live, and how they are written (atomically) and locked. Every file
//! format of the directory is defined here, for the CLI and the
//! supervisor alike: objects and status records (this module), how a
//! stored status reads ([`observed`]), the supervisor's pid file and
//! process list ([`record`]), CRI container logs ([`crilog`]), and events
//! (`events.jsonl`, written and read by [`events`]). The store
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
pub mod observed;
mod private;
pub mod record;
pub mod restarted;
pub mod version;

pub use atomic::{
    write_atomic, write_atomic_in_place, write_volatile, write_volatile_existing,
    write_volatile_private,
};
pub use container_id::container_id;
pub use error::StoreError;
pub use lock::Lock;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Pod, PodCondition, PodStatus, Secret,
};

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

    /// Stores a new object. Exactly one of several racing creates of the
    /// same name succeeds; the others get AlreadyExists. A pod is staged in
    /// `tmp/` and renamed into place with RENAME_NOREPLACE, so a half-written
    /// pod is never visible.
    pub fn create(&self, object: &Object) -> Result<()> {
        let (kind, namespace, name) = identity(object)?;
        if kind.namespaced() {
            namespaces::admit_create(self, kind, namespace, name)?;
        } else {
            namespaces::ensure_built_in(self)?;
        }
        let already = || StoreError::AlreadyExists {
            resource: kind.resource().to_string(),
            name: name.to_string(),
        };
        let body = object_bytes(object)?;
        let parent = self.kind_dir(kind, namespace);
        fs::create_dir_all(&parent)?;
        match kind {
            Kind::Pod => {
                let staging = tempdir_in(&self.root.join("tmp"))?;
                // A full disk fails here: nothing half-written stays.
                if let Err(e) = write_atomic(&staging.join("pod.json"), &body) {
                    let _ = fs::remove_dir_all(&staging);
                    return Err(StoreError::io("storing pod")(e));
                }
                let target = self.pod_dir(namespace, name);
                match atomic::rename_noreplace(&staging, &target) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let _ = fs::remove_dir_all(&staging);
                        Err(already())
                    }
                    Err(e) => {
                        let _ = fs::remove_dir_all(&staging);
                        Err(StoreError::io("storing pod")(e))
                    }
                }
            }
            _ => {
                let _lock = self.lock(kind, namespace, name)?;
                let path = self.object_path(kind, namespace, name);
                if path.exists() {
                    return Err(already());
                }
                write_atomic(&path, &body)?;
                Ok(())
            }
        }
    }

    /// Replaces a stored object (apply, label, annotate). The caller holds
    /// the object's lock across read-modify-write.
    pub fn replace(&self, object: &Object) -> Result<()> {
        let (kind, namespace, name) = identity(object)?;
        let path = self.object_path(kind, namespace, name);
        if !path.exists() {
            return Err(StoreError::NotFound {
                resource: kind.resource().to_string(),
                name: name.to_string(),
            });
        }
        write_atomic(&path, &object_bytes(object)?)?;
        Ok(())
    }

    /// Takes the lock of one object (a file lock, released on drop). A name
    /// no object can have is NotFound at once (no lock file is made).
    pub fn lock(&self, kind: Kind, namespace: &str, name: &str) -> Result<Lock> {
        let namespace = scope(kind, namespace);
        if !addressable(namespace, name)? {
            return Err(StoreError::NotFound {
                resource: kind.resource().to_string(),
                name: name.to_string(),
            });
        }
        let dir = self.root.join("locks").join(kind.plural()).join(namespace);
        fs::create_dir_all(&dir)?;
        Ok(Lock::exclusive(&dir.join(name))?)
    }

    /// Reads one object; a pod comes with its status record merged in.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Object>> {
        self.get_as(kind, namespace, name, Detail::Full)
    }

    /// Reads one object, decoding as much as `detail` says.
    pub fn get_as(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
        detail: Detail,
    ) -> Result<Option<Object>> {
        not_stored(kind)?;
        let namespace = scope(kind, namespace);
        if !addressable(namespace, name)? {
            return Ok(None);
        }
        if kind == Kind::Namespace {
            namespaces::ensure_built_in(self)?;
        }
        let path = self.object_path(kind, namespace, name);
        let bytes = match read_small_file(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()))(e)),
        };
        format::check(&path, &bytes)?;
        let object = match kind {
            Kind::Pod if detail == Detail::Table => {
                let mut pod = brief::pod(&bytes).map_err(corrupt(&path))?;
                let supervisor = observed::supervisor(self, &pod);
                let recorded = self.read_status_file(namespace, name, brief::status)?;
                let mut status = observed::status(&pod, supervisor, recorded);
                conditions::merge(
                    &mut status,
                    self.read_pod_conditions(namespace, name)?,
                    readiness_gates(&pod),
                );
                pod.status = Some(status);
                Object::Pod(Box::new(pod))
            }
            Kind::Pod if detail == Detail::Manifest => Object::Pod(Box::new(parse(&path, &bytes)?)),
            Kind::Pod => {
                let mut pod: Pod = parse(&path, &bytes)?;
                let supervisor = observed::supervisor(self, &pod);
                let recorded = self.read_pod_status(namespace, name)?;
                let mut status = observed::status(&pod, supervisor, recorded);
                conditions::merge(
                    &mut status,
                    self.read_pod_conditions(namespace, name)?,
                    readiness_gates(&pod),
                );
                pod.status = Some(status);
                Object::Pod(Box::new(pod))
            }
            Kind::ConfigMap => Object::ConfigMap(parse::<ConfigMap>(&path, &bytes)?),
            Kind::Secret => Object::Secret(parse::<Secret>(&path, &bytes)?),
            Kind::Namespace => {
                let mut ns: Namespace = parse(&path, &bytes)?;
                if ns.metadata.deletion_timestamp.is_some()
                    && namespaces::finish_if_empty(self, name)?
                {
                    return Ok(None);
                }
                namespaces::fill_status(&mut ns);
                Object::Namespace(ns)
            }
            Kind::PodPreset => Object::PodPreset(Box::new(parse(&path, &bytes)?)),
            Kind::Node => unreachable!("refused by not_stored"),
        };
        Ok(Some(object))
    }

    /// Like `get`, but a missing object is kubectl's NotFound error.
    pub fn get_required(&self, kind: Kind, namespace: &str, name: &str) -> Result<Object> {
        self.get(kind, namespace, name)?
            .ok_or_else(|| StoreError::NotFound {
                resource: kind.resource().to_string(),
                name: name.to_string(),
            })
    }

    /// Every stored object of `kind` in `namespace` (all namespaces when
    /// `None`), sorted by namespace then name as the API server lists them.
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Object>> {
        self.list_as(kind, namespace, Detail::Full)
    }

    /// Like `list`, decoding as much as `detail` says.
    pub fn list_as(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        detail: Detail,
    ) -> Result<Vec<Object>> {
        self.list_each(kind, namespace, detail)?
            .into_iter()
            .collect()
    }

    /// Like `list_as`, with one result per stored object: an unreadable
    /// one (a corrupt record) does not keep the others from being read.
    pub fn list_each(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        detail: Detail,
    ) -> Result<Vec<Result<Object>>> {
        not_stored(kind)?;
        if kind == Kind::Namespace {
            namespaces::ensure_built_in(self)?;
        }
        let namespaces = match namespace {
            _ if !kind.namespaced() => vec![String::new()],
            Some(ns) => {
                names::check_namespace(ns)?;
                if !names::storable(ns) {
                    return Ok(Vec::new());
                }
                vec![ns.to_string()]
            }
            None => sorted_entries(&self.root.join(kind.plural()))?,
        };
        let mut names = Vec::new();
        for ns in namespaces {
            for entry in sorted_entries(&self.kind_dir(kind, &ns))? {
                let name = match kind {
                    Kind::Pod => entry,
                    _ => match entry.strip_suffix(".json") {
                        Some(n) => n.to_string(),
                        None => continue,
                    },
                };
                names.push((ns.clone(), name));
            }
        }
        let read = |chunk: &[(String, String)]| -> Vec<Result<Object>> {
            chunk
                .iter()
                .filter_map(|(ns, name)| self.get_as(kind, ns, name, detail).transpose())
                .collect()
        };
        // Reading a pod is a few small files and a JSON decode: with
        // hundreds stored, the cores share them (in order, so the result
        // stays sorted).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || names.len() < PARALLEL_LIST_MIN {
            return Ok(read(&names));
        }
        let chunks: Vec<_> = names.chunks(names.len().div_ceil(threads)).collect();
        std::thread::scope(|scope| {
            let (first, rest) = chunks.split_first().expect("at least one chunk");
            let others: Vec<_> = rest.iter().map(|c| scope.spawn(|| read(c))).collect();
            let mut out = read(first);
            for handle in others {
                out.extend(
                    handle
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                );
            }
            Ok(out)
        })
    }

    /// Removes a ConfigMap or Secret, or a pod's whole persistent
    /// directory. Returns whether there was anything to remove.
    pub fn remove(&self, kind: Kind, namespace: &str, name: &str) -> Result<bool> {
        not_stored(kind)?;
        let namespace = scope(kind, namespace);
        if !addressable(namespace, name)? {
            return Ok(false);
        }
        let result = match kind {
            Kind::Pod => {
                // Rename first so that readers never see a half-removed pod.
                let dir = self.pod_dir(namespace, name);
                let grave = tempdir_path(&self.root.join("tmp"));
                match fs::rename(&dir, &grave) {
                    Ok(()) => fs::remove_dir_all(&grave),
                    Err(e) => Err(e),
                }
            }
            _ => fs::remove_file(self.object_path(kind, namespace, name)),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("removing object")(e)),
        }
    }

    /// The status record the supervisor last wrote, if any.
    pub fn read_pod_status(&self, namespace: &str, name: &str) -> Result<Option<PodStatus>> {
        self.read_status_file(namespace, name, |b| serde_json::from_slice(b))
    }

    fn read_status_file(
        &self,
        namespace: &str,
        name: &str,
        decode: fn(&[u8]) -> serde_json::Result<PodStatus>,
    ) -> Result<Option<PodStatus>> {
        if !addressable(namespace, name)? {
            return Ok(None);
        }
        let path = self.pod_dir(namespace, name).join("status.json");
        match read_small_file(&path) {
            Ok(bytes) => {
                format::check(&path, &bytes)?;
                Ok(Some(decode(&bytes).map_err(corrupt(&path))?))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("reading {}", path.display()))(e)),
        }
    }

    /// Replaces the pod's status record atomically.
    pub fn write_pod_status(&self, namespace: &str, name: &str, status: &PodStatus) -> Result<()> {
        let (path, bytes) = self.pod_status_record(namespace, name, status)?;
        write_atomic(&path, &bytes)?;
        Ok(())
    }

    /// The pod's status record as [`Store::write_pod_status`] writes it,
    /// and where: for a writer that writes it apart from its caller (the
    /// supervisor's, `supervisor::status_writer`), with
    /// [`write_atomic_in_place`].
    pub fn pod_status_record(
        &self,
        namespace: &str,
        name: &str,
        status: &PodStatus,
    ) -> Result<(PathBuf, Vec<u8>)> {
        if !addressable(namespace, name)? {
            return Err(anyhow!("invalid pod name {namespace}/{name}").into());
        }
        let path = self.pod_dir(namespace, name).join("status.json");
        let bytes = format::encode(status).context("encoding the status")?;
        Ok((path, bytes))
    }

    /// The conditions set on the pod through the API (see `conditions`).
    pub fn read_pod_conditions(&self, namespace: &str, name: &str) -> Result<Vec<PodCondition>> {
        if !addressable(namespace, name)? {
            return Ok(Vec::new());
        }
        let path = self.pod_dir(namespace, name).join(conditions::FILE);
        match read_small_file(&path) {
            Ok(bytes) => {
                format::check(&path, &bytes)?;
                let record: conditions::Record =
                    serde_json::from_slice(&bytes).map_err(corrupt(&path))?;
                Ok(record.conditions)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(StoreError::io(format!("reading {}", path.display()))(e)),
        }
    }

    /// Replaces the conditions set on the pod through the API. The caller
    /// holds the pod's lock.
    pub fn write_pod_conditions(
        &self,
        namespace: &str,
        name: &str,
        conditions: Vec<PodCondition>,
    ) -> Result<()> {
        if !addressable(namespace, name)? {
            return Err(anyhow!("invalid pod name {namespace}/{name}").into());
        }
        let dir = self.pod_dir(namespace, name);
        if !dir.is_dir() {
            return Err(StoreError::NotFound {
                resource: "pods".into(),
                name: name.to_string(),
            });
        }
        let bytes = format::encode(&conditions::Record { conditions })
            .context("encoding the conditions")?;
        write_atomic(&dir.join(conditions::FILE), &bytes)?;
        Ok(())
    }

    /// Removes the pod's status record (a scheduler's, once the pod is
    /// bound: its supervisor writes the status from then on).
    pub fn remove_pod_status(&self, namespace: &str, name: &str) -> Result<()> {
        if !addressable(namespace, name)? {
            return Ok(());
        }
        match fs::remove_file(self.pod_dir(namespace, name).join("status.json")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::io("removing status")(e))
            }
            _ => Ok(()),
        }
    }

    /// Events recorded for a pod, oldest first.
    pub fn read_pod_events(&self, namespace: &str, name: &str) -> Result<Vec<Event>> {
        if !addressable(namespace, name)? {
            return Ok(Vec::new());
        }
        let path = self.pod_dir(namespace, name).join("events.jsonl");
        events::read(&path).map_err(StoreError::io(format!("reading {}", path.display())))
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

/// Reads a whole small file (a state file, a pid file, /proc/<pid>/stat)
/// in three system calls: open, read, close. `fs::read` adds a `statx` for
/// the size and a read that confirms the end, which made up 40% of the
/// system calls of `get pods`. A read of a regular file (or of a /proc file
/// smaller than a page) that returns less than asked has reached the end.
pub fn read_small_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(4096);
    loop {
        let asked = bytes.capacity() - bytes.len();
        // Reads into the spare capacity: no zero-filling of the buffer.
        match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut bytes)) {
            Ok(n) if n < asked => return Ok(bytes),
            Ok(_) => bytes.reserve(bytes.capacity()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
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

/// At most the first `max` bytes of a regular file that something else
/// (a container) may have written: never more read into memory, and a
/// FIFO, device or symlink in its place is an error, not a hang.
pub fn read_prefix(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// At most the last `max` bytes of a regular file (as `read_prefix`),
/// and whether they start at the file's start.
pub fn read_suffix(path: &Path, max: u64) -> io::Result<(Vec<u8>, bool)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok((bytes, start == 0))
}

/// Opens without following a final symlink and without blocking on a
/// FIFO, and refuses anything but a regular file.
fn open_regular(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
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

#[cfg(test)]
mod tests {
    use super::{read_prefix, read_small_file, read_suffix};

    #[test]
    fn bounded_reads_stop_at_their_limit_and_refuse_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_prefix(&path, 4).unwrap(), b"0123");
        assert_eq!(read_suffix(&path, 4).unwrap(), (b"6789".to_vec(), false));
        assert_eq!(
            read_suffix(&path, 40).unwrap(),
            (b"0123456789".to_vec(), true)
        );
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(
            read_prefix(&fifo, 4).is_err(),
            "a FIFO is refused, not waited on"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(read_prefix(&link, 4).is_err(), "a symlink is not followed");
    }

    #[test]
    fn small_files_are_read_whole_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 1, 4095, 4096, 4097, 100_000] {
            let path = dir.path().join(size.to_string());
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            assert_eq!(read_small_file(&path).unwrap(), data);
        }
        let stat = read_small_file(std::path::Path::new("/proc/self/stat")).unwrap();
        assert!(stat.ends_with(b"\n"));
    }
}
