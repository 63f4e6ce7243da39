//! What the runtime hands to a re-executed container init or exec process
//! (serialized as JSON on a pipe): everything resolved in the parent, so
//! the child only makes syscalls.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A new container: `__pod-container-init`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// Namespaces to join (the pause process's net, ipc, uts).
    pub join: Vec<NamespacePath>,
    /// `cgroup.procs` files the process writes itself into first (v2; on
    /// v1 it is born in its cgroups, see `Cgroup::entry`).
    pub cgroup_procs: Vec<PathBuf>,
    /// What its /sys/fs/cgroup is made of (the host's cgroup mounts).
    pub cgroups: super::cgroups::HostView,
    pub rootfs: Rootfs,
    /// Mounts inside the root, in order.
    pub mounts: Vec<Mount>,
    /// `/dev` from the host and device nodes usable anywhere (privileged)
    /// rather than a minimal /dev and `nodev` on the root and /dev.
    pub host_dev: bool,
    /// `/sys` read-write (privileged).
    pub sys_writable: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// Namespaced sysctls (`net.ipv4.ip_forward` = `1`).
    pub sysctls: Vec<(String, String)>,
    pub readonly_rootfs: bool,
    pub process: Process,
    /// A `hostUsers: false` pod's user namespace (the pause process's
    /// `/proc/<pid>/ns/user`), joined once the mounts are made.
    #[serde(default)]
    pub user_namespace: Option<PathBuf>,
    /// The first host id of that namespace's range (its root).
    #[serde(default)]
    pub id_base: Option<u32>,
    /// The descriptor on which the init, its set-up done, waits for the
    /// word to execute the container's program (one byte; the pipe closed
    /// unsaid: it exits without running anything). None: it goes on at
    /// once. See `PodRuntime::ready_container`.
    #[serde(default)]
    pub go: Option<i32>,
}

/// A process in a running container: `__pod-container-exec`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecConfig {
    /// Namespaces to join, the mount namespace last.
    pub join: Vec<NamespacePath>,
    /// As in [`ContainerConfig::cgroup_procs`].
    pub cgroup_procs: Vec<PathBuf>,
    pub process: Process,
    /// The first window size (rows, columns) of the pty that
    /// `process.tty` asks for, so a full-screen program's first screen
    /// already fits.
    #[serde(default)]
    pub console_size: Option<[u16; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NamespacePath {
    /// `net`, `ipc`, `uts`, `mnt`, `pid`, `cgroup`, `user`.
    pub kind: String,
    pub path: PathBuf,
}

/// An overlay root filesystem.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rootfs {
    /// Image layers, lowest first.
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the overlay is mounted (inside the container's own mount
    /// namespace only) before pivot_root.
    pub mountpoint: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mount {
    /// A host path (bind; for messages only, the source is `source_fd`) or
    /// the filesystem type's source name.
    pub source: PathBuf,
    /// A bind's source: an O_PATH fd the runtime resolved and passed down,
    /// its number in the init (see [`super::bind`]).
    pub source_fd: Option<i32>,
    /// An absolute path inside the container.
    pub destination: String,
    pub kind: MountKind,
    pub readonly: bool,
    /// `recursiveReadOnly: Enabled` or `IfPossible`: every mount under the
    /// source read-only too, not just the top one.
    pub recursive_readonly: bool,
    pub propagation: Propagation,
    /// The source is the runtime's own files (owned by host root: the
    /// pod's /etc files, its termination log, configMap, secret,
    /// downwardAPI and projected volumes) or a hostPath: in a `hostUsers:
    /// false` pod the bind is idmapped through the pod's mapping, so host
    /// root's files are its root's.
    #[serde(default)]
    pub idmap: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Tmpfs { options: String },
}

/// volumeMounts[].mountPropagation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    None,
    HostToContainer,
    Bidirectional,
}

/// The process to execute and the identity it runs with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Process {
    pub args: Vec<String>,
    /// `NAME=value`, in order.
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// `CAP_*` names: bounding, permitted and effective sets.
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
    /// The process makes a pty in the container's devpts and runs on its
    /// slave as stdin, stdout, stderr and controlling terminal (see
    /// `console`).
    pub tty: bool,
    /// Seccomp BPF programs (packed, see `seccomp::profile::pack`),
    /// installed in order just before `execve`; none: unconfined.
    #[serde(default)]
    pub seccomp: Vec<Vec<u64>>,
    /// The AppArmor profile to execute under, where the host has AppArmor.
    #[serde(default)]
    pub apparmor_profile: Option<String>,
}
