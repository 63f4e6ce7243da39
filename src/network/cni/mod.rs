//! A CNI client, libcni's role: a network configuration list, its
//! plugins run in order for ADD (each given the previous one's result)
//! and in reverse for DEL, CHECK and GC where the list's version has
//! them, and a cache per attachment so that DEL, CHECK and GC get what
//! ADD was given and returned, from any process and after a reboot.
//!
//! Spec versions: results of 0.3.0 to 1.x (and 0.1/0.2 `ip4`) are read;
//! CHECK needs 0.4.0, GC 1.1.0 (Debian 12's plugins, 1.1.1, speak at most
//! 1.0.0, so a list they run has no GC).
//!
//! Where `pod` calls CHECK and GC (`crate::network`): CHECK when a
//! supervisor finds the pod's sandbox already set up (it keeps the
//! network when the check passes, redoes it when not); GC, libcni's
//! `GCNetworkList` (a DEL for each cached attachment no live pod holds,
//! then the plugins' own GC with the valid ones), once per boot: `pod up`
//! or the node's first network set-up.

mod cache;
pub mod config;
pub mod exec;
pub mod result;

pub use cache::Attachment;
pub use config::NetworkList;
pub use exec::{Cancel, ExecError};

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

/// A spec version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(u32, u32, u32);

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let invalid = || format!("invalid cniVersion {text:?}");
        let mut parts = text
            .split('.')
            .map(|p| p.parse::<u32>().map_err(|_| invalid()));
        let major = parts.next().ok_or_else(invalid)??;
        let minor = parts.next().unwrap_or(Ok(0))?;
        let patch = parts.next().unwrap_or(Ok(0))?;
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Version(major, minor, patch))
    }
}

const CHECK_SINCE: Version = Version(0, 4, 0);
const GC_SINCE: Version = Version(1, 1, 0);

/// One operation's failure, worded as libcni's
/// (`plugin type="bridge" name="pod" failed (add): ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("plugin type={kind:?} name={network:?} failed ({op}): {cause}")]
    Plugin {
        kind: String,
        network: String,
        op: &'static str,
        cause: ExecError,
    },
    #[error("{0}")]
    Other(String),
}

/// Everything an attachment is made with (CNI's runtime configuration).
#[derive(Debug, Clone)]
pub struct Runtime {
    pub container_id: String,
    pub netns: PathBuf,
    pub ifname: String,
    /// `CNI_ARGS` pairs.
    pub args: Vec<(String, String)>,
    /// Runtime configuration for plugins that declare these capabilities
    /// (`portMappings`, ...).
    pub capability_args: Map<String, Value>,
    pub bin_dirs: Vec<PathBuf>,
    pub timeout: Duration,
}

/// ADD: records the attachment in `cache_dir` first (a crash after this
/// still gets a DEL), runs the list, then records the result.
pub fn add(
    cache_dir: &Path,
    list: &NetworkList,
    runtime: &Runtime,
    cancel: Option<&Cancel>,
) -> Result<Attachment, Error> {
    let mut attachment = Attachment::new(list, runtime);
    attachment.save(cache_dir).map_err(Error::Other)?;
    let mut prev: Option<Value> = None;
    for i in 0..list.plugins.len() {
        let stdin = list.plugin_stdin(i, prev.as_ref(), &runtime.capability_args, None);
        let out = run_plugin(list, i, "ADD", &attachment, stdin, cancel)?;
        let result: Value = serde_json::from_slice(&out).map_err(|e| Error::Plugin {
            kind: list.plugin_type(i).to_string(),
            network: list.name.clone(),
            op: "add",
            cause: ExecError::Plugin(format!("decoding its result: {e}")),
        })?;
        prev = Some(result);
    }
    attachment.result = prev;
    attachment.save(cache_dir).map_err(Error::Other)?;
    Ok(attachment)
}

/// DEL of a cached attachment: the list in reverse, each plugin given
/// what ADD returned (0.4.0 on); the cache entry goes once all succeeded.
pub fn del(cache_dir: &Path, attachment: &Attachment) -> Result<(), Error> {
    let list = attachment.list()?;
    let version = Version::parse(&list.cni_version).map_err(Error::Other)?;
    let prev = attachment
        .result
        .as_ref()
        .filter(|_| version >= CHECK_SINCE);
    for i in (0..list.plugins.len()).rev() {
        let stdin = list.plugin_stdin(i, prev, &attachment.capability_args, None);
        run_plugin(&list, i, "DEL", attachment, stdin, None)?;
    }
    attachment.remove(cache_dir);
    Ok(())
}

/// CHECK of a cached attachment, where the list's version has it and it
/// is not disabled: Ok(false) when there is nothing to check.
pub fn check(attachment: &Attachment, cancel: Option<&Cancel>) -> Result<bool, Error> {
    let list = attachment.list()?;
    let version = Version::parse(&list.cni_version).map_err(Error::Other)?;
    let Some(result) = attachment.result.as_ref() else {
        return Err(Error::Other("no cached result to check".into()));
    };
    if version < CHECK_SINCE || list.disable_check {
        return Ok(false);
    }
    for i in 0..list.plugins.len() {
        let stdin = list.plugin_stdin(i, Some(result), &attachment.capability_args, None);
        run_plugin(&list, i, "CHECK", attachment, stdin, cancel)?;
    }
    Ok(true)
}

/// An attachment GC is told is still in use (the spec's
/// `cni.dev/valid-attachments` entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Valid {
    pub container_id: String,
    pub if_name: String,
}

impl Valid {
    pub fn of(attachment: &Attachment) -> Valid {
        Valid {
            container_id: attachment.container_id.clone(),
            if_name: attachment.if_name.clone(),
        }
    }
}

/// The plugins' GC (1.1.0): every plugin of `list` is told which
/// attachments are still valid, and frees what else it holds. Ok(false)
/// when the list's version has no GC or it is disabled. (The DELs of
/// libcni's `GCNetworkList` for cached attachments that are not valid
/// are the caller's: it knows which pods live.)
pub fn gc(
    list: &NetworkList,
    valid: &[Valid],
    bin_dirs: &[PathBuf],
    timeout: Duration,
) -> Result<bool, Error> {
    let version = Version::parse(&list.cni_version).map_err(Error::Other)?;
    if version < GC_SINCE || list.disable_gc {
        return Ok(false);
    }
    let valid: Vec<Value> = valid
        .iter()
        .map(|a| serde_json::json!({"containerID": a.container_id, "ifname": a.if_name}))
        .collect();
    // GC is about no one attachment: this one only carries the plugin
    // directories and the time limit (no CNI_CONTAINERID, CNI_NETNS...).
    let runtime = Runtime {
        container_id: String::new(),
        netns: PathBuf::new(),
        ifname: String::new(),
        args: Vec::new(),
        capability_args: Map::new(),
        bin_dirs: bin_dirs.to_vec(),
        timeout,
    };
    let attachment = Attachment::new(list, &runtime);
    for i in 0..list.plugins.len() {
        let extra = ("cni.dev/valid-attachments", Value::Array(valid.clone()));
        let stdin = list.plugin_stdin(i, None, &Map::new(), Some(extra));
        run_plugin(list, i, "GC", &attachment, stdin, None)?;
    }
    Ok(true)
}

fn run_plugin(
    list: &NetworkList,
    i: usize,
    command: &'static str,
    attachment: &Attachment,
    stdin: Vec<u8>,
    cancel: Option<&Cancel>,
) -> Result<Vec<u8>, Error> {
    let kind = list.plugin_type(i);
    let failed = |cause: ExecError| Error::Plugin {
        kind: kind.to_string(),
        network: list.name.clone(),
        op: match command {
            "ADD" => "add",
            "DEL" => "delete",
            "CHECK" => "check",
            _ => "gc",
        },
        cause,
    };
    let plugin = exec::find(kind, &attachment.bin_dirs).map_err(|e| failed(ExecError::Start(e)))?;
    let args = attachment
        .cni_args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    let netns = attachment.netns.display().to_string();
    let invocation = exec::Invocation {
        command,
        container_id: &attachment.container_id,
        netns: &netns,
        ifname: &attachment.if_name,
        args: &args,
        path: &attachment.bin_dirs,
        timeout: attachment.timeout(),
    };
    exec::run(&plugin, &invocation, stdin, cancel).map_err(failed)
}

#[cfg(test)]
mod tests;
