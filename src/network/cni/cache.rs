//! The attachment cache, libcni's layout: one file per attachment,
//! `<dir>/<network>-<containerID>-<ifname>`, holding the list it was made
//! with, its runtime configuration and the result of ADD. It lives under
//! the persistent root: a DEL after a reboot still finds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Error, NetworkList, Runtime};

const KIND: &str = "cniCacheV1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub kind: String,
    pub container_id: String,
    pub if_name: String,
    pub network_name: String,
    pub netns: PathBuf,
    pub cni_args: Vec<(String, String)>,
    pub capability_args: Map<String, Value>,
    /// The whole list, as ADD ran it.
    pub config: Value,
    pub bin_dirs: Vec<PathBuf>,
    pub timeout_ms: u64,
    /// What ADD returned (absent while ADD runs, or when it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl Attachment {
    pub fn new(list: &NetworkList, runtime: &Runtime) -> Attachment {
        Attachment {
            kind: KIND.into(),
            container_id: runtime.container_id.clone(),
            if_name: runtime.ifname.clone(),
            network_name: list.name.clone(),
            netns: runtime.netns.clone(),
            cni_args: runtime.args.clone(),
            capability_args: runtime.capability_args.clone(),
            config: list.to_value(),
            bin_dirs: runtime.bin_dirs.clone(),
            timeout_ms: runtime.timeout.as_millis() as u64,
            result: None,
        }
    }

    pub fn list(&self) -> Result<NetworkList, Error> {
        NetworkList::from_list(self.config.clone())
            .map_err(|e| Error::Other(format!("cached network configuration: {e}")))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// Its cache file's name.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}",
            self.network_name, self.container_id, self.if_name
        )
    }

    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(self.file_name());
        let bytes = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        crate::store::write_atomic(&path, &bytes)
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    pub fn remove(&self, dir: &Path) {
        let _ = std::fs::remove_file(dir.join(self.file_name()));
    }

    /// The cached attachments of `container_id` (one per network and
    /// interface).
    pub fn find(dir: &Path, container_id: &str) -> Vec<Attachment> {
        // Only the files whose name holds the id are read: with many pods
        // on the node, each ADD and DEL must not parse them all.
        let infix = format!("-{container_id}-");
        Attachment::read(dir, |name| name.contains(&infix))
            .into_iter()
            .filter(|a| a.container_id == container_id)
            .collect()
    }

    /// Every cached attachment; unreadable files are skipped.
    pub fn all(dir: &Path) -> Vec<Attachment> {
        Attachment::read(dir, |_| true)
    }

    /// The cached attachments whose file name `wanted` accepts.
    fn read(dir: &Path, wanted: impl Fn(&str) -> bool) -> Vec<Attachment> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut found: Vec<Attachment> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                !name.starts_with('.') && wanted(&name)
            })
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<Attachment>(&bytes).ok())
            .filter(|a| a.kind == KIND)
            .collect();
        found.sort_by_key(Attachment::file_name);
        found
    }
}
