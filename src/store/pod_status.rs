//! A pod's status record, its conditions and its events, as the
//! supervisor writes them and the commands read them.

use std::fs;
use std::io;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::core::v1::{Event, PodCondition, PodStatus};

use super::{
    Result, Store, StoreError, addressable, conditions, corrupt, events, format, read_small_file,
    write_atomic,
};

impl Store {
    /// The status record the supervisor last wrote, if any.
    pub fn read_pod_status(&self, namespace: &str, name: &str) -> Result<Option<PodStatus>> {
        self.read_status_file(namespace, name, |b| serde_json::from_slice(b))
    }

    pub(super) fn read_status_file(
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
    /// [`write_synced_beside`](crate::store::write_synced_beside).
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
