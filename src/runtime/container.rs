//! Starting one container instance: made ready (its resolved process,
//! capabilities, mounts, overlay root, cgroup and its init's
//! configuration), then started ([`PodRuntime::begin_container`]); or
//! made ready while the pause process starts and started held
//! ([`PodRuntime::ready_container`], [`PodRuntime::start_ready`]): its
//! init sets all of it up while the pod's network is made, and executes
//! the container's program once told to ([`Creating::go`]). A held
//! `Creating` dropped without the word ends the init before it runs
//! anything of the container.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Container;

use super::config::{self, ContainerConfig, Mount, MountKind, NamespacePath, Process, Propagation};
use super::spawn::{self, PidNamespace, Program, Reexec};
use super::{
    Creating, PodRuntime, StartError, Stdio, Terminal, apparmor, cgroups, etc, exe, identity,
    mount_points, reexec, resources, rootfs, seccomp, spec, user, userns, volumes,
};
use crate::image::Image;

/// A container instance made ready to start: everything but its process
/// and what names the pause process (whose namespaces it joins), so that
/// it can be made while the pause process starts
/// ([`PodRuntime::ready_container`], then [`PodRuntime::start_ready`]).
#[derive(Debug)]
pub struct Ready {
    name: String,
    instance: u32,
    image_id: String,
    process: Process,
    /// The bind mounts' sources, handed to the init in this order, with
    /// where each is mounted; the pod's /etc files are opened at the
    /// start (see `container_mounts`).
    sources: Vec<(Option<OwnedFd>, PathBuf, String)>,
    born_in: Vec<PathBuf>,
    /// The init's configuration, but for the pause process's namespaces.
    config: ContainerConfig,
    /// Whether the init waits for the word after its set-up: its go
    /// pipe is inherited after the mounts' sources.
    held: bool,
}

impl PodRuntime {
    /// Whether `creating`, held, starts this instance of `container` from
    /// `image` in the running sandbox.
    pub fn fits(
        &self,
        creating: &Creating,
        container: &Container,
        instance: u32,
        image: &Image,
    ) -> bool {
        creating.name == container.name
            && creating.instance == instance
            && creating.image_id == image.id
            && Some(creating.pause) == self.sandbox_pid()
    }

    /// Makes one container instance ready to start: its process resolved
    /// (user, capabilities, seccomp programs), its mounts' sources opened,
    /// its overlay directories and cgroup made, its init's configuration
    /// but for the pause process's namespaces. `held`: its init sets
    /// everything up (its root, mounts, namespaces, pty) but holds before
    /// the container's identity, seccomp filter and program until
    /// [`Creating::go`], so that once the pod's network is set up the
    /// container's program is a pipe's byte away. Needs no pause process:
    /// callable while one starts, from any thread.
    pub fn ready_container(
        &self,
        container: &Container,
        instance: u32,
        image: &Image,
        held: bool,
    ) -> Result<Ready, StartError> {
        // Mounted by a held init, written by the ADD's end (see
        // `write_hosts`).
        if held && !self.host_network() {
            self.open_hosts()?;
        }
        let tty = container.tty == Some(true);
        let process = self.process(container, image, tty)?;
        let mut sources = Vec::new();
        let mounts: Vec<Mount> = self
            .container_mounts(container, instance, &process.env)?
            .into_iter()
            .map(|(mut mount, fd)| {
                mount.source_fd = Some(spawn::INHERITED_FD + sources.len() as i32);
                sources.push((fd, mount.source.clone(), mount.destination.clone()));
                mount
            })
            .collect();

        let writable = self.instance_writable_dir(&container.name, instance);
        // Below the image's layers, the mount points of the pod's /etc
        // files (see `mount_points`): none is made in the writable layer.
        let mut layers = vec![mount_points::layer(
            &self.run_dir,
            &runtime_etc_files(container),
        )?];
        layers.extend(image.layers.iter().cloned());
        let rootfs = config::Rootfs {
            layers,
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
            // The pause process's, named at the start (`start_ready`).
            join: Vec::new(),
            cgroup_procs: entry.procs_files,
            cgroups: cgroups::HostView::of_host()?,
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
            user_namespace: None,
            id_base: range.map(|r| r.first),
            // Inherited after the mounts' sources (see `launch_container`).
            go: held.then(|| spawn::INHERITED_FD + sources.len() as i32),
        };
        // The binary the init runs from, sealed once per process: made
        // now rather than on the start's path.
        exe::fd()?;
        Ok(Ready {
            name: container.name.clone(),
            instance,
            image_id: image.id.clone(),
            process,
            sources,
            born_in: entry.thread_files,
            config,
            held,
        })
    }

    /// Starts one container instance. It returns once the container's
    /// init runs; [`Creating::finish`] waits for the container's program,
    /// so several containers can be set up at once.
    pub fn begin_container(
        &self,
        container: &Container,
        instance: u32,
        image: &Image,
        stdio: Stdio,
    ) -> Result<Creating, StartError> {
        let ready = self.ready_container(container, instance, image, false)?;
        self.start_ready(ready, stdio)
    }

    /// Forks the init of a ready instance into the running pause
    /// process's namespaces. A held one is sent its configuration at
    /// once: its set-up starts now, not when someone waits for it.
    pub fn start_ready(&self, ready: Ready, stdio: Stdio) -> Result<Creating, StartError> {
        let pause = self
            .sandbox_pid()
            .ok_or_else(|| StartError::Runtime("the pod sandbox is not running".into()))?;
        let Ready {
            name,
            instance,
            image_id,
            process,
            sources,
            born_in,
            mut config,
            held,
        } = ready;
        config.join = self.pod_namespaces(pause);
        // A pod of its own users' (`id_base`) joins the pause's.
        if config.id_base.is_some() {
            config.user_namespace = Some(format!("/proc/{pause}/ns/user").into());
        }
        let pid_namespace = if self.host_pid() {
            PidNamespace::Inherit
        } else if self.shares_pid_namespace() {
            PidNamespace::Join(format!("/proc/{pause}/ns/pid").into())
        } else {
            PidNamespace::New
        };
        let config = serde_json::to_vec(&config).map_err(anyhow::Error::from)?;
        let mut source_fds = Vec::with_capacity(sources.len() + 1);
        for (fd, source, destination) in sources {
            source_fds.push(match fd {
                Some(fd) => fd,
                None => volumes::open_source(&source, &destination)?,
            });
        }
        let go = if held {
            let (read, write) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating the go pipe")?;
            source_fds.push(read);
            Some(std::fs::File::from(write))
        } else {
            None
        };
        let terminal = Terminal::new(stdio)?;
        let launched = spawn::launch_with_fds(
            Reexec {
                program: Program::Pod,
                argv0: "pod-init",
                args: &[reexec::INIT_ARG],
                pid_namespace,
                born_in,
                config: Some(config),
                stdio: terminal.stdio,
                pre_exec: terminal.pre_exec,
            },
            source_fds,
        )?;
        drop(terminal.child_end);
        let mut creating = Creating {
            launched,
            go,
            run_dir: self.run_dir.clone(),
            name,
            instance,
            image_id,
            pause,
            process,
            console: terminal.receiver,
        };
        if held {
            // A child that cannot take it failed and says so on its
            // error pipe.
            let _ = creating.launched.send_config();
        }
        Ok(creating)
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
    /// each bind with its source opened (see [`bind`]), but for the pod's
    /// /etc files, opened as the init is forked (`launch_container`):
    /// a pod-network pod's /etc/hosts is made with the network or for a
    /// held init.
    fn container_mounts(
        &self,
        container: &Container,
        instance: u32,
        env: &[String],
    ) -> Result<Vec<(Mount, Option<OwnedFd>)>, StartError> {
        let mount = |source: PathBuf, destination: &str| -> Mount {
            Mount {
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
            }
        };
        let bind = |source: PathBuf, destination: &str| -> Result<_, StartError> {
            let fd = volumes::open_source(&source, destination)?;
            Ok((mount(source, destination), Some(fd)))
        };
        let mut mounts = Vec::new();
        for name in runtime_etc_files(container) {
            let destination = format!("/etc/{name}");
            mounts.push((mount(self.etc_dir().join(name), &destination), None));
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

        let volumes = volumes::container_mounts(&self.volume_context(), container, env)?;
        mounts.extend(volumes.into_iter().map(|(mount, fd)| (mount, Some(fd))));
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

/// The pod's /etc files the runtime mounts in `container`: each of
/// [`mount_points::ETC_FILES`] but one the container mounts a volume at.
fn runtime_etc_files(container: &Container) -> Vec<&'static str> {
    let volume_mounts = container.volume_mounts.as_deref().unwrap_or(&[]);
    mount_points::ETC_FILES
        .into_iter()
        .filter(|name| {
            let destination = format!("/etc/{name}");
            !volume_mounts.iter().any(|m| m.mount_path == destination)
        })
        .collect()
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
}
