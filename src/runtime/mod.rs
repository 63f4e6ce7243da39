//! The container runtime: namespaces, the pause process, overlay root
//! filesystems, mounts, volumes, cgroups, process spawning and exec.
//!
//! # The contract with the supervisor
//!
//! One [`PodRuntime`] per pod, used from the pod's supervisor process
//! (which must have set `PR_SET_CHILD_SUBREAPER`):
//!
//! 1. [`PodRuntime::prepare`]: pod-level state — the run directory
//!    (`store.pod_run_dir(uid)`), the kubelet-format /etc/hosts, hostname,
//!    resolv.conf, the pod's /dev/shm, volumes, the pod cgroup. Errors here
//!    are the kubelet's FailedMount / sandbox failures.
//! 2. [`PodRuntime::start_sandbox`]: the pause process, a direct child of
//!    the caller, holding net/ipc/uts (+pid with shareProcessNamespace).
//! 3. [`PodRuntime::begin_container`], then [`Creating::finish`]: one
//!    container process, a direct child of the caller (no helper process
//!    in between), so the caller `waitpid`s it and reads its exit code or
//!    signal. `begin_container` returns once the child runs; `finish`
//!    (blocking, from any thread) once it has executed the container's
//!    program, so the set-up of several containers overlaps. `instance` is
//!    the container's restart count: each instance gets a fresh overlay
//!    upper directory and a fresh cgroup. `Err(StartError::Config)` is
//!    CreateContainerConfigError (nothing was started);
//!    `Err(StartError::Runtime)` is a failure of the runtime or of the
//!    final exec (`exec: "foo": executable file not found in $PATH`); a
//!    child that failed in `finish` is the caller's to reap, and its
//!    instance's to clean up with [`PodRuntime::cleanup_container`].
//! 4. [`PodRuntime::exec`]: a process inside a running container (exec
//!    probes, hooks, `pod exec`), a direct child of the caller. With
//!    [`Stdio::Tty`] (here or in step 3) the process makes its pty inside
//!    the container's own devpts instance and the caller gets the master
//!    in [`Started::console`] (see [`console`]).
//! 5. After a container instance exited, read what you need
//!    ([`PodRuntime::container_oom_killed`],
//!    [`PodRuntime::termination_message_path`]) *before*
//!    [`PodRuntime::cleanup_container`], which kills what the instance left
//!    and removes its cgroup and files.
//! 6. [`PodRuntime::teardown`]: kills every process of the pod (pause
//!    included), unmounts, removes cgroups and the run directory. It works
//!    from any process: [`PodRuntime::open`] rebuilds the runtime of a pod
//!    from the store and its uid, so `delete` can clean up a pod whose
//!    supervisor died.
//!
//! Blocking: every call is synchronous and returns quickly; from tokio
//! run `Creating::finish` off the loop (the supervisor joins a thread of
//! its own for it: `supervisor::offload`). `start_sandbox` and `exec`
//! reap children that failed before their exec; never `waitpid(-1)`
//! concurrently with those (use pidfds or waitpid on known pids).
//!
//! Deliberate choices:
//! - `hostUsers: false` (see [`userns`]): the pod's network, IPC and UTS
//!   namespaces are owned by its user namespace (the pause makes them
//!   inside it), but a container joins it only after its mounts, so its
//!   mount, PID and cgroup namespaces are owned by the host's: root in the
//!   pod cannot mount, unmount or remount anything (runc would make them
//!   inside, and let a CAP_SYS_ADMIN container mount a tmpfs).
//! - no_new_privs is set only when `allowPrivilegeEscalation: false`, as
//!   the kubelet does (unset means allowed).
//! - The pod network is not the runtime's: the supervisor joins the
//!   pause's namespace to it (`crate::network::attach`) and rewrites
//!   /etc/hosts with the addresses ([`PodRuntime::write_hosts`]);
//!   `teardown` runs the network's DEL.
//! - A pod cgroup gets a pids limit (see [`resources::DEFAULT_POD_PIDS_LIMIT`]).
//! - Containers run under a seccomp filter ([`seccomp`]: RuntimeDefault
//!   unless the node's `seccompDefault` is off) and, where the host has
//!   AppArmor, the profile they ask for (`apparmor`); `prepare` reads the
//!   node configuration these depend on.
//! - Every container has a cgroup namespace of its own, rooted at its
//!   cgroup, and sees that cgroup at /sys/fs/cgroup (read-only unless
//!   privileged); exec joins the namespace.
//! - Devices: runc's default allow list in the device cgroup, `nodev` on
//!   the root and /dev, no device nodes from image layers; privileged
//!   containers alone reach the host's devices.
//!
//! Not (yet) done, so nobody relies on it:
//! - serviceAccountToken files are signed with a node-local HS256 key
//!   (see [`volumes`]); no API server would accept them.

mod apparmor;
mod bind;
pub mod cgroups;
mod config;
mod console;
pub mod dns;
mod etc;
mod exe;
mod identity;
pub(crate) mod init;
pub(crate) mod layers;
pub mod netns;
mod pause;
pub(crate) mod procfs;
mod propagation;
pub mod reexec;
pub mod resources;
mod rootfs;
mod safepath;
mod sandbox;
pub mod seccomp;
mod spawn;
pub mod spec;
mod state;
pub mod user;
pub mod userns;
pub mod volumes;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::image::Image;
use crate::node::config::NodeConfig;
use crate::store::Store;
use cgroups::{Cgroup, Layout};
use config::{ContainerConfig, ExecConfig, Mount, MountKind, NamespacePath, Process, Propagation};
use spawn::{Outcome, PidNamespace, Program, Reexec};

/// The standard streams given to a container or exec'd process.
#[derive(Debug)]
pub enum Stdio {
    /// Separate pipes (the supervisor reads stdout and stderr into logs).
    /// `stdin: None` is /dev/null.
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// A pty made inside the container, in its own devpts instance (see
    /// [`console`]): stdin, stdout, stderr and controlling terminal of the
    /// process. Its master comes back in [`Started::console`]. `size`:
    /// its first window size.
    Tty {
        size: Option<rustix::termios::Winsize>,
    },
    /// /dev/null for all three.
    Null,
}

/// A container instance whose init runs but has not executed the
/// container's program yet.
#[must_use = "finish() says whether the container started"]
pub struct Creating {
    launched: spawn::Launched,
    run_dir: PathBuf,
    name: String,
    instance: u32,
    process: Process,
    /// Where the pty master arrives (`Stdio::Tty`).
    console: Option<console::Receiver>,
}

impl Creating {
    /// The container's pid in the caller's PID namespace: its init now, its
    /// program once `finish` says so.
    pub fn pid(&self) -> i32 {
        self.launched.pid()
    }

    /// Waits until the container's program has been executed, then records
    /// the running instance. Blocking, and callable from any thread. On
    /// `Err` the failed init is left for the caller to reap (the
    /// supervisor's reaper waits for every pid it starts), and the caller
    /// removes what the instance left with
    /// [`PodRuntime::cleanup_container`].
    pub fn finish(self) -> Result<Started, StartError> {
        let pid = self.launched.pid();
        match self.launched.finish()? {
            Ok(()) => {
                let console = self.console.map(console::Receiver::receive).transpose()?;
                state::ContainerRecord {
                    pid,
                    start_time: state::start_time(pid).unwrap_or(0),
                    instance: self.instance,
                    process: self.process,
                }
                .save(&self.run_dir, &self.name)?;
                Ok(Started { pid, console })
            }
            Err(message) => Err(StartError::Runtime(format!(
                "unable to start container process: {message}"
            ))),
        }
    }
}

/// A process the runtime started.
#[derive(Debug)]
pub struct Started {
    /// Its pid in the caller's PID namespace.
    pub pid: i32,
    /// The master of its pty (`Stdio::Tty`).
    pub console: Option<OwnedFd>,
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
    /// The runtime refused to make the container: CreateContainerError
    /// (containerd's CreateContainer failed, e.g. a Localhost seccomp
    /// profile it cannot load). The kubelet retries it too.
    #[error("{0}")]
    Create(String),
    /// The runtime failed to create or start the process: StartError /
    /// RunContainerError (exec format error, missing binary, ...).
    #[error("{0}")]
    Runtime(String),
}

/// The process of `exec` did not start (no such executable, permission
/// denied), in the words of runc, which kubectl passes on.
#[derive(Debug, thiserror::Error)]
#[error("OCI runtime exec failed: exec failed: unable to start container process: {0}")]
pub struct ExecFailed(pub String);

impl From<anyhow::Error> for StartError {
    fn from(err: anyhow::Error) -> StartError {
        StartError::Runtime(format!("{err:#}"))
    }
}

/// One pod's runtime state.
#[derive(Debug)]
pub struct PodRuntime {
    store: Store,
    pod: Pod,
    run_dir: PathBuf,
    /// Under the persistent root: what containers write (see `store`).
    writable_dir: PathBuf,
    cgroup: Cgroup,
    sandbox: Option<state::Sandbox>,
    /// The pod's ids on the host (`hostUsers: false`).
    range: Option<userns::Range>,
    node: spec::NodeFacts,
    /// The node configuration, read by `prepare` (the defaults until then).
    node_config: NodeConfig,
    /// The kubelet's warnings from forming the pod's DNS, for the
    /// supervisor to record (see [`PodRuntime::take_dns_warnings`]).
    dns_warnings: Vec<dns::Warning>,
    /// Whether directories on the state disk are buried rather than
    /// removed (see [`PodRuntime::bury_removals`]).
    bury: bool,
}

impl PodRuntime {
    /// Creates the pod's run directory, /etc files, /dev/shm, volumes and
    /// cgroup. Idempotent: a supervisor restarted on the same pod calls it
    /// again.
    pub fn prepare(store: &Store, pod: &Pod) -> Result<PodRuntime> {
        let mut runtime = PodRuntime::open(store, pod)?;
        if runtime.own_users() {
            // Before the volumes: an emptyDir's fsGroup is a host gid.
            // Asked even when the pod has its range: that takes the
            // range's node-wide entry again after a reboot.
            runtime.range = Some(userns::allocate(store.root(), runtime.uid())?);
        }
        runtime.node_config = crate::node::config::NodeConfig::of(store)?;
        runtime.prepare_files()?;
        runtime
            .cgroup
            .create(&resources::pod_limits(pod))
            .context("creating the pod cgroup")?;
        Ok(runtime)
    }

    /// The runtime of a prepared pod whose supervisor died, for the one
    /// that adopts it: what `prepare` read, nothing created again (its
    /// files, volumes and cgroup are in use by the running containers).
    pub fn resume(store: &Store, pod: &Pod) -> Result<PodRuntime> {
        let mut runtime = PodRuntime::open(store, pod)?;
        runtime.node_config = crate::node::config::NodeConfig::of(store)?;
        Ok(runtime)
    }

    /// The running instance of container `name` as recorded: its pid,
    /// start time and instance number; whether the process still runs
    /// is the caller's to check.
    pub fn recorded_container(&self, name: &str) -> Option<(i32, u64, u32)> {
        let record = state::ContainerRecord::load(&self.run_dir, name).ok()??;
        Some((record.pid, record.start_time, record.instance))
    }

    /// The processes in container `name`'s cgroup: its own, and what was
    /// exec'd into it.
    pub fn container_pids(&self, name: &str) -> Vec<i32> {
        self.cgroup.child(name).pids()
    }

    /// The runtime of an already prepared pod (or of one being torn down),
    /// without creating anything.
    pub fn open(store: &Store, pod: &Pod) -> Result<PodRuntime> {
        let uid = pod
            .metadata
            .uid
            .clone()
            .filter(|u| is_safe_name(u))
            .ok_or_else(|| anyhow!("pod has no valid metadata.uid"))?;
        let run_dir = store.pod_run_dir(&uid);
        let writable_dir = store.pod_writable_dir(&uid);
        let layout = Layout::detect()?;
        let cgroup = Cgroup::new(layout, Path::new("pod").join(&uid));
        let sandbox = state::Sandbox::load(&run_dir)?;
        Ok(PodRuntime {
            store: store.clone(),
            pod: pod.clone(),
            run_dir,
            writable_dir,
            cgroup,
            sandbox,
            range: userns::find(store.root(), &uid),
            node: spec::NodeFacts::of_this_machine(store),
            node_config: NodeConfig::defaults(store.root()),
            dns_warnings: Vec::new(),
            bury: false,
        })
    }

    fn spec_bool(
        &self,
        get: impl Fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>,
    ) -> bool {
        self.pod.spec.as_ref().and_then(get).unwrap_or(false)
    }

    fn host_network(&self) -> bool {
        self.spec_bool(|s| s.host_network)
    }

    fn host_pid(&self) -> bool {
        self.spec_bool(|s| s.host_pid)
    }

    fn host_ipc(&self) -> bool {
        self.spec_bool(|s| s.host_ipc)
    }

    /// `hostUsers: false`: the pod gets a user namespace of its own.
    fn own_users(&self) -> bool {
        self.pod.spec.as_ref().and_then(|s| s.host_users) == Some(false)
    }

    /// The pod's uid (checked by `open`).
    fn uid(&self) -> &str {
        self.pod.metadata.uid.as_deref().unwrap_or_default()
    }

    fn shares_pid_namespace(&self) -> bool {
        self.spec_bool(|s| s.share_process_namespace) && !self.host_pid()
    }

    /// Bound read-write into every container: on the state disk.
    fn etc_dir(&self) -> PathBuf {
        self.writable_dir.join("etc")
    }

    fn shm_dir(&self) -> PathBuf {
        self.run_dir.join("shm")
    }

    /// One instance's mount point (in the run directory).
    fn instance_dir(&self, name: &str, instance: u32) -> PathBuf {
        self.run_dir
            .join("containers")
            .join(name)
            .join(instance.to_string())
    }

    /// One instance's writable layer and termination log (on the state
    /// disk).
    fn instance_writable_dir(&self, name: &str, instance: u32) -> PathBuf {
        self.writable_dir
            .join("containers")
            .join(name)
            .join(instance.to_string())
    }

    fn prepare_files(&mut self) -> Result<()> {
        for dir in [&self.run_dir, &self.writable_dir] {
            private_dir(dir)?;
        }
        let etc = self.etc_dir();
        std::fs::create_dir_all(&etc).with_context(|| format!("creating {}", etc.display()))?;
        let hostname = if self.host_network() {
            self.node.node_name.clone()
        } else {
            etc::hostname(&self.pod)
        };
        let files = [
            ("hosts", self.hosts_file(&[])?),
            ("hostname", format!("{hostname}\n")),
            ("resolv.conf", self.resolv_conf()?),
        ];
        for (name, text) in files {
            crate::store::write_volatile(&etc.join(name), text.as_bytes())?;
        }
        if !self.host_ipc() {
            let shm = self.shm_dir();
            std::fs::create_dir_all(&shm)?;
            if !state::is_mount_point(&shm) {
                nix::mount::mount(
                    Some("shm"),
                    &shm,
                    Some("tmpfs"),
                    nix::mount::MsFlags::MS_NOSUID
                        | nix::mount::MsFlags::MS_NODEV
                        | nix::mount::MsFlags::MS_NOEXEC,
                    Some("mode=1777,size=65536k"),
                )
                .with_context(|| format!("mounting the pod's /dev/shm at {}", shm.display()))?;
            }
        }
        volumes::prepare(&self.volume_context())?;
        Ok(())
    }

    /// The kubelet's /etc/hosts for the pod's IPs (none yet when the pod
    /// is prepared: the network that gives them rewrites the file before
    /// the containers start, as the kubelet writes it when it makes a
    /// container). A host-network pod's is the node's own file, which
    /// must be readable, as for the kubelet.
    fn hosts_file(&self, pod_ips: &[String]) -> Result<String> {
        let host_hosts = if self.host_network() {
            std::fs::read_to_string("/etc/hosts").context("reading the node's /etc/hosts")?
        } else {
            String::new()
        };
        let domain = &self.node_config.cluster_domain;
        Ok(etc::hosts_file(&self.pod, pod_ips, domain, &host_hosts))
    }

    /// The kubelet's DNS for the pod, in containerd's resolv.conf; keeps
    /// the warnings for the supervisor. An unreadable `resolvConf` fails
    /// the sandbox, as for the kubelet.
    fn resolv_conf(&mut self) -> Result<String> {
        let config = &self.node_config;
        let base = dns::read_resolv_conf(&config.resolv_conf).map_err(anyhow::Error::msg)?;
        let node = dns::NodeDns {
            cluster_dns: &config.cluster_dns,
            cluster_domain: &config.cluster_domain,
            resolv_conf: base.as_deref(),
            ipv6_node: crate::node::host_ip().contains(':'),
        };
        let (pod_dns, warnings) = dns::pod_dns(&self.pod, &node).map_err(anyhow::Error::msg)?;
        self.dns_warnings = warnings;
        Ok(match dns::resolv_conf(&pod_dns) {
            Some(text) => text,
            // Nothing to say: containerd copies the host's file.
            None => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        })
    }

    /// The warning events (reason, message) the kubelet records while
    /// forming the pod's DNS in `prepare`; each is handed out once.
    pub fn take_dns_warnings(&mut self) -> Vec<dns::Warning> {
        std::mem::take(&mut self.dns_warnings)
    }

    fn volume_context(&self) -> volumes::Context<'_> {
        volumes::Context {
            store: &self.store,
            pod: &self.pod,
            run_dir: &self.run_dir,
            node: &self.node,
            id_base: self.range.map(|r| r.first),
        }
    }

    /// Rewrites the pod's /etc/hosts with its addresses, once the network
    /// gave it some (the kubelet writes it with the pod IPs).
    pub fn write_hosts(&self, pod_ips: &[String]) -> Result<()> {
        let text = self.hosts_file(pod_ips)?;
        crate::store::write_volatile(&self.etc_dir().join("hosts"), text.as_bytes())?;
        Ok(())
    }

    /// Starts the pause process. Returns its pid (a child of the caller).
    pub fn start_sandbox(&mut self) -> Result<Started> {
        let spec = sandbox::SandboxSpec {
            hostname: etc::hostname(&self.pod),
            network: !self.host_network(),
            ipc: !self.host_ipc(),
            uts: !self.host_network(),
            pid: self.shares_pid_namespace(),
        };
        // The pause process needs no device; it gets a container's list.
        let entry = self
            .cgroup
            .create_device_child(state::SANDBOX_CGROUP, cgroups::devices::DEFAULT_RULES)
            .context("creating the pause process's cgroup")?;
        let user = if self.own_users() {
            let range = match self.range {
                Some(range) => range,
                None => userns::allocate(self.store.root(), self.uid())?,
            };
            self.range = Some(range);
            Some(userns::create(range).context("creating the pod's user namespace")?)
        } else {
            None
        };
        let pid = sandbox::start(
            &spec,
            entry.thread_files,
            user.as_ref().map(|fd| fd.as_fd()),
        )?;
        // The pause process holds the namespace from now on.
        drop(user);
        let joined = entry.procs_files.iter().try_for_each(|file| {
            std::fs::write(file, pid.to_string())
                .with_context(|| format!("writing {}", file.display()))
        });
        let sandbox = state::Sandbox::new(pid);
        if let Err(err) = joined.and_then(|()| sandbox.save(&self.run_dir)) {
            let _ = crate::process::kill(pid, libc::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(err.context("placing the pause process"));
        }
        self.sandbox = Some(sandbox);
        Ok(Started { pid, console: None })
    }

    /// The pause process's pid, if it is running.
    pub fn sandbox_pid(&self) -> Option<i32> {
        self.sandbox
            .as_ref()
            .filter(|s| s.is_alive())
            .map(|s| s.pid)
    }

    /// Forgets a pause process that died, and removes its cgroup, so that
    /// [`PodRuntime::start_sandbox`] starts a new one (the kubelet's new
    /// sandbox). The containers that joined it are the caller's to have
    /// stopped first.
    pub fn forget_sandbox(&mut self) -> Result<()> {
        if let Some(sandbox) = self.sandbox.take().filter(|s| s.is_alive()) {
            // A pause process still running is not a dead sandbox's.
            let _ = crate::process::kill(sandbox.pid, libc::SIGKILL);
        }
        self.cgroup.child(state::SANDBOX_CGROUP).destroy()
    }

    /// Starts one container instance; see the module documentation. It
    /// returns once the container's init runs; [`Creating::finish`] waits
    /// for the container's program, so several containers can be set up at
    /// once.
    pub fn begin_container(
        &mut self,
        container: &Container,
        instance: u32,
        image: &Image,
        stdio: Stdio,
    ) -> Result<Creating, StartError> {
        let pause = self
            .sandbox_pid()
            .ok_or_else(|| StartError::Runtime("the pod sandbox is not running".into()))?;
        let tty = matches!(stdio, Stdio::Tty { .. });
        let process = self.process(container, image, tty)?;
        // Each bind's source fd goes to the init, numbered in order.
        let mut source_fds = Vec::new();
        let mounts: Vec<Mount> = self
            .container_mounts(container, instance, &process.env)?
            .into_iter()
            .map(|(mut mount, fd)| {
                mount.source_fd = Some(spawn::INHERITED_FD + source_fds.len() as i32);
                source_fds.push(fd);
                mount
            })
            .collect();

        let writable = self.instance_writable_dir(&container.name, instance);
        let rootfs = config::Rootfs {
            layers: image.layers.clone(),
            upper: writable.join("upper"),
            work: writable.join("work"),
            mountpoint: self.instance_dir(&container.name, instance).join("rootfs"),
        };
        for d in [&rootfs.upper, &rootfs.work, &rootfs.mountpoint] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let range = if self.own_users() {
            let range = self
                .range
                .ok_or_else(|| StartError::Runtime("the pod has no user namespace range".into()))?;
            // The root of the writable layer is the root directory the
            // container sees: its root's, as an image's / is.
            let root = range.host_id(0);
            std::os::unix::fs::chown(&rootfs.upper, Some(root), Some(root))
                .with_context(|| format!("chown {}", rootfs.upper.display()))?;
            Some(range)
        } else {
            None
        };

        let cgroup = self.cgroup.child(&container.name);
        // A previous instance's cgroup (and its OOM count) is not reused.
        cgroup.destroy()?;
        cgroup
            .create(&resources::container_limits(container))
            .context("creating the container cgroup")?;
        let entry = cgroup.entry();

        let sc = container.security_context.as_ref();
        let privileged = sc.and_then(|s| s.privileged).unwrap_or(false);
        let unmasked =
            sc.and_then(|s| s.proc_mount.as_deref()) == Some("Unmasked") && self.own_users();
        let (masked, readonly) = if privileged || unmasked {
            (Vec::new(), Vec::new())
        } else {
            (
                rootfs::MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
                rootfs::READONLY_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )
        };
        let sysctls = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.security_context.as_ref())
            .and_then(|s| s.sysctls.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.name, s.value))
            .collect();
        let config = ContainerConfig {
            join: self.pod_namespaces(pause),
            cgroup_procs: entry.procs_files,
            rootfs,
            mounts,
            host_dev: privileged,
            sys_writable: privileged,
            masked_paths: masked,
            readonly_paths: readonly,
            sysctls,
            readonly_rootfs: sc
                .and_then(|s| s.read_only_root_filesystem)
                .unwrap_or(false),
            process: process.clone(),
            user_namespace: range.map(|_| format!("/proc/{pause}/ns/user").into()),
            id_base: range.map(|r| r.first),
        };
        let pid_namespace = if self.host_pid() {
            PidNamespace::Inherit
        } else if self.shares_pid_namespace() {
            PidNamespace::Join(format!("/proc/{pause}/ns/pid").into())
        } else {
            PidNamespace::New
        };
        let terminal = Terminal::new(stdio)?;
        let launched = spawn::launch_with_fds(
            Reexec {
                program: Program::Pod,
                argv0: "pod-init",
                args: &[reexec::INIT_ARG],
                pid_namespace,
                born_in: entry.thread_files,
                config: Some(serde_json::to_vec(&config).map_err(anyhow::Error::from)?),
                stdio: terminal.stdio,
                pre_exec: terminal.pre_exec,
            },
            source_fds,
        )?;
        drop(terminal.child_end);
        Ok(Creating {
            launched,
            run_dir: self.run_dir.clone(),
            name: container.name.clone(),
            instance,
            process,
            console: terminal.receiver,
        })
    }

    /// The namespaces a container joins: the pause process's.
    fn pod_namespaces(&self, pause: i32) -> Vec<NamespacePath> {
        let mut kinds = Vec::new();
        if !self.host_network() {
            kinds.push("net");
            kinds.push("uts");
        }
        if !self.host_ipc() {
            kinds.push("ipc");
        }
        kinds
            .into_iter()
            .map(|kind| NamespacePath {
                kind: kind.to_string(),
                path: format!("/proc/{pause}/ns/{kind}").into(),
            })
            .collect()
    }

    /// The resolved process of a container (command, env, user,
    /// capabilities).
    fn process(
        &self,
        container: &Container,
        image: &Image,
        tty: bool,
    ) -> Result<Process, StartError> {
        let hostname = if self.host_network() {
            self.node.node_name.clone()
        } else {
            etc::hostname(&self.pod)
        };
        let cx = spec::Context {
            store: &self.store,
            pod: &self.pod,
            hostname: &hostname,
            node: &self.node,
        };
        let resolved = spec::resolve(&cx, container, &image.config)?;
        let accounts = user::ImageAccounts::read(&image.layers)?;
        let user = user::resolve(
            &self.pod,
            container,
            &user::image_user(&image.config),
            &accounts,
        )?;
        if self.own_users() {
            user.check_mapped(userns::SIZE)?;
        }
        let sc = container.security_context.as_ref();
        let privileged = sc.and_then(|s| s.privileged).unwrap_or(false);
        let capabilities = capabilities(privileged, sc.and_then(|s| s.capabilities.as_ref()));
        let mut env = resolved.env;
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", user.home));
        }
        let seccomp_choice = seccomp::choose(&self.pod, container, &self.node_config);
        let seccomp = seccomp::programs(&seccomp_choice, &capabilities, &self.node_config)?;
        let apparmor_profile =
            apparmor::profile(&apparmor::choose(&self.pod, container), privileged)
                .map_err(StartError::Config)?;
        Ok(Process {
            args: resolved.args,
            env,
            cwd: resolved.cwd,
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.additional_gids,
            capabilities,
            no_new_privileges: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
            tty,
            seccomp,
            apparmor_profile,
        })
    }

    /// /etc files, /dev/shm, the termination log and the volume mounts,
    /// each bind with its source opened (see [`bind`]).
    fn container_mounts(
        &self,
        container: &Container,
        instance: u32,
        env: &[String],
    ) -> Result<Vec<(Mount, OwnedFd)>, StartError> {
        let volume_mounts = container.volume_mounts.as_deref().unwrap_or(&[]);
        let user_mounted = |path: &str| volume_mounts.iter().any(|m| m.mount_path == path);
        let bind = |source: PathBuf, destination: &str| -> Result<(Mount, OwnedFd), StartError> {
            let fd = volumes::open_source(&source, destination)?;
            let mount = Mount {
                source,
                source_fd: None,
                destination: destination.to_string(),
                kind: MountKind::Bind,
                readonly: false,
                recursive_readonly: false,
                propagation: Propagation::None,
                // The pod's files are the runtime's; /dev/shm (a tmpfs of
                // mode 1777) is everyone's already.
                idmap: destination != "/dev/shm",
            };
            Ok((mount, fd))
        };
        let mut mounts = Vec::new();
        for name in ["hosts", "hostname", "resolv.conf"] {
            let destination = format!("/etc/{name}");
            if !user_mounted(&destination) {
                mounts.push(bind(self.etc_dir().join(name), &destination)?);
            }
        }
        let shm = if self.host_ipc() {
            PathBuf::from("/dev/shm")
        } else {
            self.shm_dir()
        };
        mounts.push(bind(shm, "/dev/shm")?);

        let log = self.termination_message_path(&container.name, instance);
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent).map_err(anyhow::Error::from)?;
        }
        std::fs::write(&log, b"").map_err(anyhow::Error::from)?;
        let destination = container
            .termination_message_path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/dev/termination-log".to_string());
        mounts.push(bind(log, &destination)?);

        mounts.extend(volumes::container_mounts(
            &self.volume_context(),
            container,
            env,
        )?);
        Ok(mounts)
    }

    /// The host file behind the container's terminationMessagePath for one
    /// instance (valid until `cleanup_container`).
    pub fn termination_message_path(&self, name: &str, instance: u32) -> PathBuf {
        self.instance_writable_dir(name, instance)
            .join("termination-log")
    }

    /// Whether the OOM killer killed a process of the container's current
    /// instance (call before `cleanup_container`).
    pub fn container_oom_killed(&self, name: &str) -> bool {
        self.cgroup.child(name).oom_killed()
    }

    /// The signal that stops a container: the image's StopSignal, else
    /// SIGTERM.
    pub fn stop_signal(image: &Image) -> nix::sys::signal::Signal {
        let text = image
            .config
            .config()
            .as_ref()
            .and_then(|c| c.stop_signal().clone())
            .unwrap_or_default();
        parse_signal(&text).unwrap_or(nix::sys::signal::Signal::SIGTERM)
    }

    /// Starts `argv` in the running container `container` with the
    /// container's environment, working directory and identity. Errors
    /// before the exec are returned (`exec: "x": executable file not found
    /// in $PATH`).
    pub fn exec(&self, container: &str, argv: &[String], stdio: Stdio) -> Result<Started> {
        let record = state::ContainerRecord::load(&self.run_dir, container)?
            .filter(|r| r.is_alive())
            .ok_or_else(|| anyhow!("container {container:?} is not running"))?;
        let mut process = record.process.clone();
        process.args = argv.to_vec();
        process.tty = matches!(stdio, Stdio::Tty { .. });
        let console_size = match &stdio {
            Stdio::Tty { size: Some(size) } => Some([size.ws_row, size.ws_col]),
            _ => None,
        };
        let target = record.pid;
        let mut join: Vec<NamespacePath> = Vec::new();
        // The user namespace after the others (see `init::join_namespaces`).
        for kind in ["ipc", "uts", "net", "cgroup", "mnt", "user"] {
            let path = PathBuf::from(format!("/proc/{target}/ns/{kind}"));
            let own = PathBuf::from(format!("/proc/self/ns/{kind}"));
            // Joining one's own namespace is harmless but pointless.
            if std::fs::read_link(&path).ok() != std::fs::read_link(&own).ok() {
                join.push(NamespacePath {
                    kind: kind.to_string(),
                    path,
                });
            }
        }
        let entry = self.cgroup.child(container).entry();
        let config = ExecConfig {
            join,
            cgroup_procs: entry.procs_files,
            process,
            console_size,
        };
        let pid_namespace = if self.host_pid() {
            PidNamespace::Inherit
        } else {
            PidNamespace::Join(format!("/proc/{target}/ns/pid").into())
        };
        let terminal = Terminal::new(stdio)?;
        let outcome = spawn::spawn(Reexec {
            program: Program::Pod,
            argv0: "pod-exec",
            args: &[reexec::EXEC_ARG],
            pid_namespace,
            born_in: entry.thread_files,
            config: Some(serde_json::to_vec(&config)?),
            stdio: terminal.stdio,
            pre_exec: terminal.pre_exec,
        })?;
        drop(terminal.child_end);
        match outcome {
            Outcome::Executed(pid) => match terminal.receiver.map(console::Receiver::receive) {
                Some(Err(e)) => {
                    // Not left running without the terminal it was meant
                    // to have.
                    let _ = crate::process::kill(pid, libc::SIGKILL);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    Err(e)
                }
                received => Ok(Started {
                    pid,
                    console: received.transpose()?,
                }),
            },
            Outcome::Failed(message) => Err(ExecFailed(message).into()),
        }
    }

    /// Kills what a finished instance left behind and removes its cgroup
    /// and files (its overlay upper directory, its termination log).
    pub fn cleanup_container(&mut self, name: &str, instance: u32) -> Result<()> {
        self.cgroup.child(name).destroy()?;
        state::ContainerRecord::remove(&self.run_dir, name);
        let dir = self.instance_dir(name, instance);
        state::unmount_under(&dir)?;
        remove_dir(&dir)?;
        self.remove_disk_dir(&self.instance_writable_dir(name, instance))
    }

    /// From now on, what [`PodRuntime::cleanup_container`] and
    /// [`PodRuntime::teardown`] remove from the state disk is buried
    /// ([`Store::bury`]): a pod being deleted, whose supervisor empties
    /// the graves once the deletion is answered.
    pub fn bury_removals(&mut self) {
        self.bury = true;
    }

    /// Removes a directory on the state disk, or buries it.
    fn remove_disk_dir(&self, dir: &Path) -> Result<()> {
        if !self.bury {
            return remove_dir(dir);
        }
        self.store
            .bury(dir)
            .with_context(|| format!("removing {}", dir.display()))
    }

    /// Stops everything of the pod and removes its mounts, cgroups and run
    /// directory. Idempotent; works without the supervisor.
    pub fn teardown(&mut self) -> Result<()> {
        if let Some(sandbox) = self.sandbox.take().filter(|s| s.is_alive()) {
            // The pid comes from the sandbox's record on disk: a damaged
            // one must not turn this into a kill of a process group.
            let _ = crate::process::kill(sandbox.pid, libc::SIGKILL);
        }
        // The pinned namespace outlives the pause process: DEL runs in it
        // (each plugin within its time limit). A DEL that fails does not
        // stop the teardown; its attachment stays cached.
        if let Err(e) = crate::network::detach(&self.store, self.uid()) {
            eprintln!("Warning: {e:#}");
        }
        self.cgroup.destroy()?;
        state::unmount_under(&self.run_dir)?;
        remove_dir(&self.run_dir)?;
        self.remove_disk_dir(&self.writable_dir)?;
        // Last: the range is free once nothing of the pod is left.
        userns::release(self.store.root(), self.uid())
    }
}

/// How a child's streams are set up: a `Stdio::Tty` child starts with
/// /dev/null and the console socket on stdin, and makes its pty itself.
struct Terminal {
    stdio: Stdio,
    pre_exec: Option<Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>>,
    /// Kept open until the child is forked.
    child_end: Option<OwnedFd>,
    receiver: Option<console::Receiver>,
}

impl Terminal {
    fn new(stdio: Stdio) -> Result<Terminal> {
        if !matches!(stdio, Stdio::Tty { .. }) {
            return Ok(Terminal {
                stdio,
                pre_exec: None,
                child_end: None,
                receiver: None,
            });
        }
        let (receiver, child_end) = console::socket()?;
        Ok(Terminal {
            stdio: Stdio::Null,
            pre_exec: Some(Box::new(console::child_hook(&child_end))),
            child_end: Some(child_end),
            receiver: Some(receiver),
        })
    }
}

/// Removes a directory tree; a missing one is fine.
fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

/// A pod's directory under either root: 0700, so that what is below
/// (0777 emptyDirs, 0644 secret files, setuid files a container made)
/// stays out of host users' reach even if a root is opened up.
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", dir.display()))
}

/// Rewrites the configMap, secret and projected volumes of the running
/// pods that show `object` (a ConfigMap or Secret), after it was updated
/// (`apply`). Pods that are not running have nothing to refresh.
pub fn refresh_volumes(store: &Store, object: &crate::api::Object) -> Result<()> {
    use crate::api::Object;
    let (is_config_map, name) = match object {
        Object::ConfigMap(_) => (true, object.name()),
        Object::Secret(_) => (false, object.name()),
        Object::Pod(_) | Object::Namespace(_) | Object::PodPreset(_) | Object::Node(_) => {
            return Ok(());
        }
    };
    for stored in store.list(crate::api::Kind::Pod, Some(object.namespace()))? {
        let Object::Pod(pod) = stored else { continue };
        if !volumes::references(&pod, is_config_map, name) {
            continue;
        }
        let Some(uid) = pod.metadata.uid.as_deref().filter(|u| is_safe_name(u)) else {
            continue;
        };
        let run_dir = store.pod_run_dir(uid);
        if !run_dir.exists() {
            continue;
        }
        let node = spec::NodeFacts::of_this_machine(store);
        volumes::refresh(&volumes::Context {
            store,
            pod: &pod,
            run_dir: &run_dir,
            node: &node,
            // Refreshed volumes are idmapped ones: ids as on disk.
            id_base: None,
        })?;
    }
    Ok(())
}

/// The capability set of a container (containerd's setOCICapabilities:
/// add ALL, drop ALL, then single adds, then single drops).
fn capabilities(
    privileged: bool,
    caps: Option<&k8s_openapi::api::core::v1::Capabilities>,
) -> Vec<String> {
    if privileged {
        return identity::all_capabilities();
    }
    let mut set: Vec<String> = identity::DEFAULT_CAPABILITIES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let add = caps.and_then(|c| c.add.clone()).unwrap_or_default();
    let drop = caps.and_then(|c| c.drop.clone()).unwrap_or_default();
    let canonical = |name: &str| {
        let upper = name.to_ascii_uppercase();
        if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        }
    };
    if add.iter().any(|c| c.eq_ignore_ascii_case("ALL")) {
        set = identity::all_capabilities();
    }
    if drop.iter().any(|c| c.eq_ignore_ascii_case("ALL")) {
        set.clear();
    }
    let known = identity::all_capabilities();
    for name in add.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        let cap = canonical(name);
        if known.contains(&cap) && !set.contains(&cap) {
            set.push(cap);
        }
    }
    for name in drop.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        let cap = canonical(name);
        set.retain(|c| *c != cap);
    }
    set
}

/// `SIGQUIT`, `QUIT` or `3`.
pub fn parse_signal(text: &str) -> Option<nix::sys::signal::Signal> {
    use std::str::FromStr;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name).ok()
}

/// Uids reach paths: only what a uid generator produces may.
fn is_safe_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(add: &[&str], drop: &[&str]) -> k8s_openapi::api::core::v1::Capabilities {
        k8s_openapi::api::core::v1::Capabilities {
            add: Some(add.iter().map(|s| s.to_string()).collect()),
            drop: Some(drop.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn capability_rules_follow_containerd() {
        let default = capabilities(false, None);
        assert_eq!(default.len(), identity::DEFAULT_CAPABILITIES.len());
        let set = capabilities(false, Some(&caps(&["NET_ADMIN"], &["CHOWN"])));
        assert!(set.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!set.contains(&"CAP_CHOWN".to_string()));
        let set = capabilities(false, Some(&caps(&["NET_BIND_SERVICE"], &["ALL"])));
        assert_eq!(set, vec!["CAP_NET_BIND_SERVICE".to_string()]);
        assert!(capabilities(true, None).contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn signals_parse_in_every_spelling() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("SIGQUIT"), Some(Signal::SIGQUIT));
        assert_eq!(parse_signal("quit"), Some(Signal::SIGQUIT));
        assert_eq!(parse_signal("15"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal(""), None);
        assert_eq!(parse_signal("SIGNOPE"), None);
    }
}
