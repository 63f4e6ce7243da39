//! Seccomp for containers, as the kubelet and containerd choose it: the
//! container's `seccompProfile`, else the pod's, else RuntimeDefault when
//! the node's `seccompDefault` is on (pod's default) or Unconfined;
//! privileged containers are unconfined, as containerd leaves them.
//!
//! - RuntimeDefault: containerd's default profile ([`default`]).
//! - Localhost: an OCI-format JSON profile under the node's profile
//!   directory (`<root>/seccomp`), opened beneath it (openat2
//!   RESOLVE_BENEATH), so a path that climbs out is refused.
//! - Unconfined: no filter.
//!
//! The profile is compiled here, in the runtime's caller, before anything
//! starts; the container's init (and every `pod exec` into it) only
//! installs the programs, just before `execve`.
//!
//! A Localhost profile that cannot be read, decoded or compiled is a
//! CreateContainerError, in containerd's words: the kubelet only joins
//! the profile directory and the name (its `fieldSeccompProfile`) and
//! hands the path to the runtime, and containerd reads the file while
//! making the container (`seccomp.WithProfile`: "cannot load seccomp
//! profile", "decoding seccomp profile failed"), an error of its
//! CreateContainer ("failed to create containerd container: ..."). Only a
//! Localhost type without a profile name is the kubelet's own
//! CreateContainerConfigError (validation refuses it first).

pub(crate) mod compat;
pub mod default;
pub mod profile;
pub mod syscalls;

use std::io::Read;
use std::path::Path;

use k8s_openapi::api::core::v1::{Container, Pod, SeccompProfile};

use crate::node::config::NodeConfig;
use crate::runtime::StartError;

/// What a container runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Unconfined,
    RuntimeDefault,
    /// The path below the profile directory.
    Localhost(String),
}

/// The profile the kubelet picks for a container.
pub fn choose(pod: &Pod, container: &Container, node: &NodeConfig) -> Choice {
    let sc = container.security_context.as_ref();
    if sc.and_then(|s| s.privileged) == Some(true) {
        return Choice::Unconfined;
    }
    let field = sc.and_then(|s| s.seccomp_profile.as_ref()).or_else(|| {
        pod.spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref())
            .and_then(|s| s.seccomp_profile.as_ref())
    });
    match field {
        Some(SeccompProfile {
            type_,
            localhost_profile,
        }) => match type_.as_str() {
            "Unconfined" => Choice::Unconfined,
            "Localhost" => Choice::Localhost(localhost_profile.clone().unwrap_or_default()),
            _ => Choice::RuntimeDefault,
        },
        None if node.seccomp_default => Choice::RuntimeDefault,
        None => Choice::Unconfined,
    }
}

/// The packed BPF programs for a container with these capabilities (none
/// for Unconfined), or the reason it cannot start.
pub fn programs(
    choice: &Choice,
    capabilities: &[String],
    node: &NodeConfig,
) -> Result<Vec<Vec<u64>>, StartError> {
    let relative = match choice {
        Choice::Unconfined => return Ok(Vec::new()),
        Choice::RuntimeDefault => return runtime_default(capabilities),
        Choice::Localhost(relative) if relative.is_empty() => {
            return Err(StartError::Config(
                "localhostProfile must be set if seccompProfile type is Localhost.".into(),
            ));
        }
        Choice::Localhost(relative) => relative,
    };
    let profile = load_localhost(&node.seccomp_profile_root, relative)
        .map_err(|e| StartError::Create(format!("{CREATE}: {e}")))?;
    let compiled = profile::compile(&profile).map_err(|e| {
        StartError::Create(format!(
            "{CREATE}: decoding seccomp profile failed {:?}: {e}",
            node.seccomp_profile_root
                .join(relative)
                .display()
                .to_string()
        ))
    })?;
    Ok(compiled.iter().map(profile::pack).collect())
}

/// RuntimeDefault's programs for these capabilities, compiled once per
/// process: a supervisor starts every container of its pod, and each
/// restart, with the same few capability sets, and the profile is
/// built in (a Localhost profile is read again each time, as containerd
/// reads it, since it may change on disk).
fn runtime_default(capabilities: &[String]) -> Result<Vec<Vec<u64>>, StartError> {
    type Compiled = Vec<(Vec<String>, Vec<Vec<u64>>)>;
    static COMPILED: std::sync::Mutex<Compiled> = std::sync::Mutex::new(Vec::new());
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, programs)) = compiled.iter().find(|(caps, _)| caps == capabilities) {
        return Ok(programs.clone());
    }
    let programs: Vec<Vec<u64>> = profile::compile(&default::profile(capabilities))
        .map_err(|e| StartError::Create(format!("failed to generate seccomp spec opts: {e}")))?
        .iter()
        .map(profile::pack)
        .collect();
    compiled.push((capabilities.to_vec(), programs.clone()));
    Ok(programs)
}

/// How containerd's CRI prefixes the errors of making a container.
const CREATE: &str = "failed to create containerd container";

/// Reads a Localhost profile, refusing any path that leaves `root`.
fn load_localhost(root: &Path, relative: &str) -> Result<profile::Profile, String> {
    let shown = root.join(relative).display().to_string();
    let cannot = |why: String| format!("cannot load seccomp profile {shown:?}: {why}");
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let open = || -> std::io::Result<std::fs::File> {
        let dir = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // Retried on EAGAIN: renames anywhere on the system can fail a
        // scoped lookup through `..`.
        let fd = super::safepath::openat2(
            std::os::fd::AsFd::as_fd(&dir),
            relative,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )?;
        Ok(std::fs::File::from(fd))
    };
    let mut file = open().map_err(|e| match e.raw_os_error() {
        Some(libc::EXDEV) => cannot("the path leaves the seccomp profile directory".into()),
        _ => cannot(format!("open {shown}: {}", super::init::io_text(&e))),
    })?;
    if !file
        .metadata()
        .map_err(|e| cannot(e.to_string()))?
        .is_file()
    {
        return Err(cannot("not a regular file".into()));
    }
    let mut text = String::new();
    // A profile is small; a huge file is refused rather than read.
    (&mut file)
        .take(4 << 20)
        .read_to_string(&mut text)
        .map_err(|e| cannot(e.to_string()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("decoding seccomp profile failed {shown:?}: {e}"))
}

#[cfg(test)]
mod tests;
