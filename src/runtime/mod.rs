//! The container runtime: namespaces, the pause process, overlay root
//! filesystems, mounts, volumes, cgroups, process spawning and exec.
//!
//! # The contract with the supervisor
//!
//! One [`PodRuntime`] per pod, used from the pod's supervisor process
//! (which must have set `PR_SET_CHILD_SUBREAPER`):
//!
//! 1. [`PodRuntime::prepare`], then [`PodRuntime::prepare_files`]:
//!    pod-level state — the pod cgroup, then the run directory
//!    (`store.pod_run_dir(uid)`), the kubelet-format /etc/hosts, hostname,
//!    resolv.conf, the pod's /dev/shm, volumes (the files may be made
//!    while the pause process starts). Errors here are the kubelet's
//!    FailedMount / sandbox failures.
//! 2. [`PodRuntime::begin_sandbox`], [`PauseStart::start`] and
//!    [`PodRuntime::place_sandbox`]: the pause process, a direct child of
//!    the caller, holding net/ipc/uts (+pid with shareProcessNamespace).
//!    Its start borrows nothing of the runtime: the first containers are
//!    made ready meanwhile (step 3).
//! 3. [`PodRuntime::begin_container`], then [`Creating::finish`]: one
//!    container process, a direct child of the caller (no helper process
//!    in between), so the caller `waitpid`s it and reads its exit code or
//!    signal. What does not need the process or the pause process (its
//!    configuration, mounts' sources, directories, cgroup) can be made
//!    ready before, while the pause process starts
//!    ([`PodRuntime::ready_container`]), and its init forked then
//!    ([`PodRuntime::start_ready`]), held until [`Creating::go`] while the
//!    pod's network is set up. `begin_container` returns once the
//!    child runs; `finish` (blocking, from any thread) once it has
//!    executed the container's program, so the set-up of several
//!    containers overlaps. `instance` is
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
//! its own for it: `supervisor::offload`). `PauseStart::start` and `exec`
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
mod container;
pub mod dns;
mod etc;
pub(crate) mod exe;
mod exec;
mod identity;
pub(crate) mod init;
mod kept_ttys;
pub(crate) mod layers;
mod mount_points;
pub mod netns;
mod pause;
mod pod_files;
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
mod teardown;
pub mod user;
pub mod userns;
mod vfork;
pub mod volumes;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::Pod;

use crate::image::Image;
use crate::node::config::NodeConfig;
use crate::store::Store;
use cgroups::{Cgroup, Layout};
use config::Process;

pub use container::Ready;
pub use pod_files::refresh_volumes;

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
    /// The word the held init waits for (see `PodRuntime::ready_container`).
    go: Option<std::fs::File>,
    run_dir: PathBuf,
    name: String,
    instance: u32,
    image_id: String,
    /// The pause process whose namespaces it joined.
    pause: i32,
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

    /// Tells a held init to execute the container's program (nothing for
    /// one that is not held). An init that died meanwhile is not told; its
    /// error comes from `finish`.
    pub fn go(&mut self) {
        use std::io::Write;
        if let Some(mut go) = self.go.take() {
            let _ = go.write_all(b"g");
        }
    }

    /// Waits until the container's program has been executed, then records
    /// the running instance. Blocking, and callable from any thread. On
    /// `Err` the failed init is left for the caller to reap (the
    /// supervisor's reaper waits for every pid it starts), and the caller
    /// removes what the instance left with
    /// [`PodRuntime::cleanup_container`].
    pub fn finish(mut self) -> Result<Started, StartError> {
        // Never held for ever: a start that is waited for goes.
        self.go();
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
    /// The node configuration the supervisor read (`prepare`, `resume`;
    /// the defaults for a runtime only opened).
    node_config: NodeConfig,
    /// The node's address is IPv6 (the kubelet's DNS picks its
    /// nameservers by it); known to `prepare`.
    ipv6_node: bool,
    /// The kubelet's warnings from forming the pod's DNS, for the
    /// supervisor to record (see [`PodRuntime::take_dns_warnings`]).
    dns_warnings: Vec<dns::Warning>,
    /// Whether directories on the state disk are buried rather than
    /// removed (see [`PodRuntime::bury_removals`]).
    bury: bool,
    /// The socket its pause process keeps the terminals in, in a pod with
    /// a `tty: true` container (see [`kept_ttys`]).
    kept_ttys: Option<kept_ttys::KeptTtys>,
}

/// A pause process ready to start ([`PodRuntime::begin_sandbox`]).
pub struct PauseStart {
    spec: sandbox::SandboxSpec,
    entry: cgroups::Entry,
    /// The pod's user namespace, which the pause process holds once
    /// started.
    user: Option<OwnedFd>,
    kept: Option<kept_ttys::KeptTtys>,
    /// The terminals' socket's ends the pause process holds.
    ends: Vec<OwnedFd>,
}

impl PauseStart {
    /// Starts the pause process; it has executed its program when this
    /// returns. For [`PodRuntime::place_sandbox`].
    pub fn start(self) -> Result<StartedPause> {
        let PauseStart {
            spec,
            entry,
            user,
            kept,
            ends,
        } = self;
        let pid = sandbox::start(
            &spec,
            entry.thread_files.clone(),
            user.as_ref().map(|fd| fd.as_fd()),
            ends,
        )?;
        // The pause process holds the namespace from now on.
        drop(user);
        Ok(StartedPause { pid, entry, kept })
    }
}

/// A pause process started, not yet placed ([`PodRuntime::place_sandbox`]).
pub struct StartedPause {
    pid: i32,
    entry: cgroups::Entry,
    kept: Option<kept_ttys::KeptTtys>,
}

impl StartedPause {
    /// Kills and reaps a pause process that is not to be placed (what
    /// was made beside its start failed).
    pub fn abandon(self) {
        let _ = crate::process::kill(self.pid, libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
    }
}

impl PodRuntime {
    /// Creates the pod's cgroup (and takes its user namespace range):
    /// what its pause process needs; the rest of the pod's state is made
    /// by [`PodRuntime::prepare_files`], which may run while the pause
    /// process starts. Idempotent: a supervisor restarted on the same pod
    /// calls it again. `config` and `host_ip` are what the supervisor read
    /// of the node when it started: nothing is read or probed again here.
    pub fn prepare(
        store: &Store,
        pod: &Pod,
        config: &NodeConfig,
        host_ip: &str,
    ) -> Result<PodRuntime> {
        let mut runtime = PodRuntime::open_on(store, pod, config)?;
        runtime.ipv6_node = host_ip.contains(':');
        if runtime.own_users() {
            // Before the volumes: an emptyDir's fsGroup is a host gid.
            // Asked even when the pod has its range: that takes the
            // range's node-wide entry again after a reboot.
            runtime.range = Some(userns::allocate(store.root(), runtime.uid())?);
        }
        runtime
            .cgroup
            .create(&resources::pod_limits(pod))
            .context("creating the pod cgroup")?;
        Ok(runtime)
    }

    /// The runtime of a prepared pod whose supervisor died, for the one
    /// that adopts it: what `prepare` read, nothing created again (its
    /// files, volumes and cgroup are in use by the running containers).
    pub fn resume(store: &Store, pod: &Pod, config: &NodeConfig) -> Result<PodRuntime> {
        PodRuntime::open_on(store, pod, config)
    }

    /// [`open`](Self::open) by a supervisor, with the node configuration
    /// it read.
    fn open_on(store: &Store, pod: &Pod, config: &NodeConfig) -> Result<PodRuntime> {
        let mut runtime = Self::open_with(store, pod, false, spec::NodeFacts::of_node(config))?;
        runtime.node_config = config.clone();
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
    /// without creating anything. An error for a sandbox record of a
    /// newer format: what runs of the pod cannot be taken over.
    pub fn open(store: &Store, pod: &Pod) -> Result<PodRuntime> {
        Self::open_with(store, pod, false, spec::NodeFacts::of_this_machine(store))
    }

    /// [`open`](Self::open) for a teardown, which needs no sandbox record:
    /// one it cannot read is taken as gone (the pause process it names
    /// dies with the pod's cgroup), so that a pod whose record a newer
    /// build wrote is still torn down whole.
    pub fn open_to_tear_down(store: &Store, pod: &Pod) -> Result<PodRuntime> {
        Self::open_with(store, pod, true, spec::NodeFacts::of_this_machine(store))
    }

    fn open_with(
        store: &Store,
        pod: &Pod,
        unreadable_sandbox_is_gone: bool,
        node: spec::NodeFacts,
    ) -> Result<PodRuntime> {
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
        let sandbox = match state::Sandbox::load(&run_dir) {
            Err(_) if unreadable_sandbox_is_gone => None,
            loaded => loaded?,
        };
        Ok(PodRuntime {
            store: store.clone(),
            pod: pod.clone(),
            run_dir,
            writable_dir,
            cgroup,
            sandbox,
            range: userns::find(store.root(), &uid),
            node,
            node_config: NodeConfig::defaults(store.root()),
            ipv6_node: false,
            dns_warnings: Vec::new(),
            bury: false,
            kept_ttys: None,
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

    fn has_tty_container(&self) -> bool {
        let spec = self.pod.spec.as_ref();
        spec.iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
            .any(|c| c.tty == Some(true))
    }

    /// Keeps the pty masters of the running `tty: true` containers (each
    /// with the container's number) with the pause process, in place of
    /// those kept before, so that they outlive the supervisor and its
    /// keeper (see [`kept_ttys`]).
    pub fn keep_ttys(&mut self, masters: &[(u32, BorrowedFd<'_>)]) -> Result<()> {
        match self.kept_ttys() {
            Some(kept) => kept.keep(masters),
            None => Ok(()),
        }
    }

    /// The pty masters the pause process keeps (each with its container's
    /// number), taken back by a supervisor that adopts the pod: until the
    /// next [`PodRuntime::keep_ttys`] it keeps none.
    pub fn take_kept_ttys(&mut self) -> Vec<(u32, OwnedFd)> {
        let taken = self.kept_ttys().map(|kept| kept.take());
        taken
            .transpose()
            .unwrap_or_else(|e| {
                eprintln!("pod-supervisor: {e:#}");
                None
            })
            .unwrap_or_default()
    }

    /// The pause process's socket: made with it, or taken from it (a pod
    /// adopted from a dead supervisor).
    fn kept_ttys(&mut self) -> Option<&mut kept_ttys::KeptTtys> {
        if self.kept_ttys.is_none() && self.has_tty_container() {
            let sandbox = self.sandbox.as_ref().filter(|s| s.is_alive())?;
            let pid = rustix::process::Pid::from_raw(sandbox.pid)?;
            let pidfd =
                rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
            // Still the pause process once its pidfd is held.
            if sandbox.is_alive() {
                self.kept_ttys = kept_ttys::KeptTtys::of_pause(pidfd.as_fd());
            }
        }
        self.kept_ttys.as_mut()
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

    /// What starting the pause process needs of the runtime (its cgroup,
    /// the pod's user namespace, the terminals' socket), made; the start
    /// itself ([`PauseStart::start`]) borrows nothing of it, so that the
    /// pod's first containers are made ready meanwhile
    /// ([`PodRuntime::ready_container`]). Then
    /// [`PodRuntime::place_sandbox`].
    pub fn begin_sandbox(&mut self) -> Result<PauseStart> {
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
        let (kept, ends) = match self.has_tty_container() {
            true => {
                let (kept, ends) = kept_ttys::KeptTtys::new()?;
                (Some(kept), ends)
            }
            false => (None, Vec::new()),
        };
        Ok(PauseStart {
            spec,
            entry,
            user,
            kept,
            ends,
        })
    }

    /// Places the pause process that `start` started: in its cgroups (v2)
    /// and in its record. One that cannot be placed is killed and reaped.
    pub fn place_sandbox(&mut self, pause: StartedPause) -> Result<Started> {
        let StartedPause { pid, entry, kept } = pause;
        self.kept_ttys = kept;
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
    /// [`PodRuntime::begin_sandbox`] starts a new one (the kubelet's new
    /// sandbox). The containers that joined it are the caller's to have
    /// stopped first.
    pub fn forget_sandbox(&mut self) -> Result<()> {
        self.kept_ttys = None;
        if let Some(sandbox) = self.sandbox.take().filter(|s| s.is_alive()) {
            // A pause process still running is not a dead sandbox's.
            let _ = crate::process::kill(sandbox.pid, libc::SIGKILL);
        }
        self.cgroup.child(state::SANDBOX_CGROUP).destroy()
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
