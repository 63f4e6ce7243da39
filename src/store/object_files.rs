//! The stored objects, one file each under the state root: create,
//! replace, get, list and remove (a pod's status record read with it).

use std::fs;
use std::io;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};

use super::{
    Detail, DirSync, Lock, PARALLEL_LIST_MIN, Result, Store, StoreError, addressable, atomic,
    brief, conditions, corrupt, format, identity, names, namespaces, not_stored, object_bytes,
    observed, parse, read_small_file, readiness_gates, scope, sorted_entries, tempdir_in,
    tempdir_path, write_atomic,
};
use crate::api::{Kind, Object};

impl Store {
    /// Stores a new object. Exactly one of several racing creates of the
    /// same name succeeds; the others get AlreadyExists. A pod is staged in
    /// `tmp/` and renamed into place with RENAME_NOREPLACE, so a half-written
    /// pod is never visible.
    pub fn create(&self, object: &Object) -> Result<()> {
        Ok(self.create_sync_later(object)?.sync()?)
    }

    /// As [`Store::create`], with the last step, the fsync of the
    /// directory the object was put in that makes its name durable, left
    /// to the caller (as [`Store::replace_keeping_sync_later`] does):
    /// `create` starts a pod's supervisor in between and reports the pod
    /// created only after [`DirSync::sync`]. Readers see the object at once.
    pub fn create_sync_later(&self, object: &Object) -> Result<DirSync> {
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
                    Ok(()) => Ok(DirSync::of(&parent)?),
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
                Ok(DirSync::done())
            }
        }
    }

    /// Replaces a stored object (apply, label, annotate, a delete's mark).
    /// The caller holds the object's lock across read-modify-write. The
    /// replaced record is closed, and its blocks freed, on a thread of its
    /// own ([`atomic::close_later`]): on this machine's disk that frees
    /// them with a discard, 0.5-2.3 ms that `delete` spent inside the
    /// rename before it asked the supervisor to stop the pod.
    pub fn replace(&self, object: &Object) -> Result<()> {
        atomic::close_later(self.replace_keeping(object)?);
        Ok(())
    }

    /// [`Store::replace`], handing back the replaced record still open
    /// (unlinked), for a caller that closes it when nothing more urgent
    /// waits (the scheduler's binding, on the path of `create`).
    pub fn replace_keeping(&self, object: &Object) -> Result<Option<fs::File>> {
        let (replaced, dir) = self.replace_keeping_sync_later(object)?;
        dir.sync()?;
        Ok(replaced)
    }

    /// As [`Store::replace_keeping`], with the directory's fsync, the step
    /// that makes the replacement durable, left to the caller (see
    /// [`atomic::write_atomic_in_place_sync_later`]): readers see the new
    /// record at once.
    pub fn replace_keeping_sync_later(
        &self,
        object: &Object,
    ) -> Result<(Option<fs::File>, DirSync)> {
        let (kind, namespace, name) = identity(object)?;
        let path = self.object_path(kind, namespace, name);
        if !path.exists() {
            return Err(StoreError::NotFound {
                resource: kind.resource().to_string(),
                name: name.to_string(),
            });
        }
        // Into the object's directory as it is: a pod removed meanwhile
        // is not made again with only its manifest.
        Ok(atomic::write_atomic_in_place_sync_later(
            &path,
            &object_bytes(object)?,
        )?)
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
}
