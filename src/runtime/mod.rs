//! The container runtime: namespaces, the pause process, overlay root
//! filesystems, mounts, volumes, cgroups, process spawning, ptys and exec.
//!
//! The contract with the supervisor (the runtime issue fills it in; the
//! supervisor issue builds the lifecycle on it):
//!
//! 1. `PodRuntime::prepare(store, pod)`: pod-level files (volumes, the
//!    kubelet-format /etc/hosts, hostname, resolv.conf) and cgroups.
//! 2. `start_sandbox()`: the pause process holding net/ipc/uts (+pid).
//! 3. `start_container(container, instance, image, stdio)`: one container
//!    process, a direct child of the calling supervisor (which is a child
//!    subreaper), with its own mount namespace and overlay root.
//! 4. `exec(container, pid, argv, stdio)`: a process inside a running
//!    container (exec probes, hooks, `pod exec`).
//! 5. `cleanup_container(name, instance)`: unmounts and removes what the
//!    instance left; `teardown()`: the whole pod, also from a CLI when the
//!    supervisor is dead (everything needed is found from the pod's uid).

pub mod reexec;

use std::os::fd::OwnedFd;

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::image::Image;
use crate::store::Store;

/// The standard streams given to a container or exec'd process.
#[derive(Debug)]
pub enum Stdio {
    /// Separate pipes (the supervisor reads stdout and stderr into logs).
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// The slave side of a pty for `tty: true`.
    Tty(OwnedFd),
}

/// A process the runtime started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub pid: i32,
}

/// Why a container could not be started, split the way the kubelet
/// reports it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The container's configuration cannot be honoured:
    /// CreateContainerConfigError (a missing ConfigMap key, runAsNonRoot
    /// with a root user, ...). The kubelet retries it.
    #[error("{0}")]
    Config(String),
    /// The runtime failed to create or start the process: StartError /
    /// RunContainerError (exec format error, missing binary, ...).
    #[error("{0}")]
    Runtime(String),
}

/// One pod's runtime state.
#[derive(Debug)]
pub struct PodRuntime {
    _private: (),
}

impl PodRuntime {
    pub fn prepare(_store: &Store, _pod: &Pod) -> Result<PodRuntime> {
        bail!("the runtime is not implemented yet")
    }

    pub fn start_sandbox(&mut self) -> Result<Started> {
        bail!("the runtime is not implemented yet")
    }

    pub fn start_container(
        &mut self,
        _container: &Container,
        _instance: u32,
        _image: &Image,
        _stdio: Stdio,
    ) -> Result<Started, StartError> {
        Err(StartError::Runtime(
            "the runtime is not implemented yet".into(),
        ))
    }

    pub fn exec(&self, _container: &str, _argv: &[String], _stdio: Stdio) -> Result<Started> {
        bail!("the runtime is not implemented yet")
    }

    pub fn cleanup_container(&mut self, _name: &str, _instance: u32) -> Result<()> {
        Ok(())
    }

    pub fn teardown(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Rewrites the configMap, secret and projected volumes of running pods
/// that show `object`, after it was updated (`apply`).
pub fn refresh_volumes(_store: &Store, _object: &crate::api::Object) -> Result<()> {
    Ok(())
}
