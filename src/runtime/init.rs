//! The container init (`runc init`-like) and exec entry points, run in a
//! re-executed child of the runtime's caller. They read their
//! configuration from [`spawn::CONFIG_FD`], set the process up and
//! `execve` the container's program in place, so the program keeps the
//! child's pid. A failure before `execve` is written to
//! [`spawn::ERROR_FD`] for the caller, and the child exits.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::CloneFlags;

use super::config::{ContainerConfig, ExecConfig, NamespacePath, Process};
use super::{bind, console, rootfs, spawn};

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Container,
    Exec,
}

pub fn main(mode: Mode) -> ExitCode {
    // Not dumpable until the final execve (which makes the container's
    // program dumpable again, as under runc): until then this process runs
    // the host's binary, holds host paths and, once it has taken the
    // container's identity, could otherwise be opened through /proc by a
    // container process with the same uid (its exe, root, cwd, fds, mem).
    // SAFETY: PR_SET_DUMPABLE takes integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return ExitCode::from(127);
    }
    let mut errors = spawn::error_pipe();
    let result = spawn::read_config()
        .context("reading the configuration")
        .and_then(|bytes| match mode {
            Mode::Container => {
                let config: ContainerConfig = serde_json::from_slice(&bytes)?;
                run_container(&config)
            }
            Mode::Exec => {
                let config: ExecConfig = serde_json::from_slice(&bytes)?;
                run_exec(&config)
            }
        });
    // Only reached on failure: success replaced this program.
    let err = result.err().unwrap_or_else(|| anyhow!("execve returned"));
    let _ = errors.write_all(format!("{err:#}").as_bytes());
    ExitCode::from(127)
}

fn run_container(config: &ContainerConfig) -> Result<()> {
    // Taken first, close-on-exec: the container's program never has it.
    let go = config.go.map(take_fd);
    new_session()?;
    join_cgroups(&config.cgroup_procs)?;
    join_namespaces(&config.join)?;
    let user = config
        .user_namespace
        .as_ref()
        .map(|path| {
            File::open(path).with_context(|| format!("opening namespace {}", path.display()))
        })
        .transpose()?;
    // Cloned while still in the host's mount namespace.
    let sources = bind::clone_sources(&config.mounts)?;
    // A cgroup namespace made now, once in the container's cgroups, has
    // them as its root: /proc/self/cgroup reads `/` and /sys/fs/cgroup
    // shows the container's own cgroup (see rootfs::mount_cgroups).
    nix::sched::unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP)
        .context("creating mount and cgroup namespaces")?;
    rootfs::prepare(config, sources, user.as_ref().map(|f| f.as_fd()))?;
    set_sysctls(&config.sysctls)?;
    rootfs::restrict_proc(config)?;
    if config.readonly_rootfs {
        rootfs::remount_root_readonly()?;
    }
    // The user namespace last: every mount above was made by host root
    // (with the pod's mapping where ownership shows), so the container's
    // mount namespace stays owned by the host's user namespace and root in
    // the pod has no capability over it. From here on the process's ids
    // and capabilities are those of the pod's namespace.
    if let Some(user) = &user {
        nix::sched::setns(user, CloneFlags::CLONE_NEWUSER)
            .context("joining the pod's user namespace")?;
        become_namespace_root()?;
    }
    if config.process.tty {
        console::take_terminal(None, config.process.uid)?;
    }
    execute(&config.process, go)
}

fn run_exec(config: &ExecConfig) -> Result<()> {
    new_session()?;
    join_cgroups(&config.cgroup_procs)?;
    join_namespaces(&config.join)?;
    if config.process.tty {
        console::take_terminal(config.console_size, config.process.uid)?;
    }
    execute(&config.process, None)
}

/// A session of its own, so signals to the process group reach the
/// container's processes and nothing else (and a pty made later can
/// become its controlling terminal).
fn new_session() -> Result<()> {
    nix::unistd::setsid().context("setsid")?;
    Ok(())
}

fn join_cgroups(procs: &[PathBuf]) -> Result<()> {
    for path in procs {
        std::fs::write(path, "0").with_context(|| format!("joining cgroup {}", path.display()))?;
    }
    Ok(())
}

/// Opens every namespace first (the paths are host paths), then joins them
/// in order; the mount namespace, if any, is last in the list but for the
/// user namespace, joined after it (joined first, it would take host root's
/// capabilities over the namespaces owned by the host, the mount namespace
/// of a container among them).
fn join_namespaces(namespaces: &[NamespacePath]) -> Result<()> {
    let mut opened = Vec::new();
    for ns in namespaces {
        let file = File::open(&ns.path)
            .with_context(|| format!("opening namespace {}", ns.path.display()))?;
        opened.push((ns, file));
    }
    for (ns, file) in opened {
        let flag = match ns.kind.as_str() {
            "net" => CloneFlags::CLONE_NEWNET,
            "ipc" => CloneFlags::CLONE_NEWIPC,
            "uts" => CloneFlags::CLONE_NEWUTS,
            "mnt" => CloneFlags::CLONE_NEWNS,
            "cgroup" => CloneFlags::CLONE_NEWCGROUP,
            "user" => CloneFlags::CLONE_NEWUSER,
            other => bail!("unknown namespace kind {other}"),
        };
        nix::sched::setns(&file, flag)
            .with_context(|| format!("joining namespace {}", ns.path.display()))?;
        if flag == CloneFlags::CLONE_NEWUSER {
            become_namespace_root()?;
        }
    }
    Ok(())
}

/// Right after joining a user namespace: its root, as runc's init makes
/// itself. `setns` keeps the ids, and host uid 0 is not mapped there, so
/// what the process makes until its identity is applied (its pty, above
/// all) would otherwise belong to nobody. The capabilities the join gave
/// stay (a change to uid 0 keeps them).
fn become_namespace_root() -> Result<()> {
    let root = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root, root, root).context("setresgid to the namespace's root")?;
    let root = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root, root, root).context("setresuid to the namespace's root")?;
    Ok(())
}

/// Writes the pod's sysctls in the container's own namespaces. The
/// kubelet's admission let only namespaced ones through; one that is not
/// would reach the host, so it is refused here too.
fn set_sysctls(sysctls: &[(String, String)]) -> Result<()> {
    use crate::node::admission::{namespaced_by, to_dots};
    for (name, value) in sysctls {
        let dotted = to_dots(name);
        if namespaced_by(&dotted).is_none() {
            bail!("sysctl {dotted:?} is not namespaced and cannot be set in a container");
        }
        // `net.ipv4.conf.eth0/100.forwarding`: dots separate, a slash is
        // a dot of the name (a VLAN interface).
        let mut path = PathBuf::new();
        for part in dotted.split('.') {
            if part.is_empty() || part == ".." {
                bail!("invalid sysctl name {name:?}");
            }
            path.push(part.replace('/', "."));
        }
        write_sysctl(&path, value).with_context(|| format!("setting sysctl {name}={value}"))?;
    }
    Ok(())
}

/// Writes `value` to `/proc/sys/<path>` of the container's own procfs,
/// as the other writes to /proc are made ([`super::procfs`]): /proc opened
/// and checked to be the root of a procfs, the file resolved beneath it
/// through no other mount and no magic link. A mount over a sysctl file,
/// over a directory on the way, or over /proc/sys itself would otherwise
/// take the write somewhere else (runc's CVE-2025-52881 class).
pub fn write_sysctl(path: &Path, value: &str) -> Result<()> {
    write_sysctl_in(Path::new("/proc"), path, value)
}

/// [`write_sysctl`] with procfs looked for at `proc`.
pub fn write_sysctl_in(proc: &Path, path: &Path, value: &str) -> Result<()> {
    let rel = Path::new("sys").join(path);
    let rel = rel
        .to_str()
        .ok_or_else(|| anyhow!("invalid sysctl path {}", path.display()))?;
    let root = super::procfs::ProcRoot::open(proc)
        .map_err(|e| anyhow!("opening {}: {}", proc.display(), io_text(&e)))?;
    let mut file = root.open_write(rel).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied if e.raw_os_error().is_none() => anyhow!("{e}"),
        _ => anyhow!("open /proc/{rel}: {}", io_text(&e)),
    })?;
    file.write_all(value.as_bytes())?;
    Ok(())
}

/// An inherited descriptor, owned and made close-on-exec.
fn take_fd(fd: i32) -> File {
    use std::os::fd::FromRawFd;
    // SAFETY: placed by the runtime for this process, owned by nobody else.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        File::from_raw_fd(fd)
    }
}

/// Waits for the word to execute the container's program: one byte on
/// `go`. Its writer gone without a word (the pod's network failed, the
/// supervisor died) ends this process before anything of the container
/// runs.
fn wait_for_go(mut go: File) -> Result<()> {
    use std::io::Read;
    let mut word = [0u8; 1];
    loop {
        match go.read(&mut word) {
            Ok(1) => return Ok(()),
            Ok(_) => bail!("not started: the pod's sandbox was not made"),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("waiting for the word to start"),
        }
    }
}

/// Working directory, identity, capabilities, then `execve`; held before
/// the identity and the seccomp filter until `go` says so, if given.
fn execute(process: &Process, go: Option<File>) -> Result<()> {
    let cwd = Path::new(&process.cwd);
    // runc creates a missing working directory (as root, before the user
    // switch), so a workingDir the image lacks is not an error.
    if std::fs::metadata(cwd).is_err() {
        let _ = std::fs::create_dir_all(cwd);
    }
    nix::unistd::chdir(cwd).map_err(|e| {
        anyhow!(
            "chdir to cwd (\"{}\") set in config.json failed: {}",
            process.cwd,
            errno_text(e)
        )
    })?;
    if let Some(profile) = &process.apparmor_profile {
        super::apparmor::exec_under(profile)
            .with_context(|| format!("applying AppArmor profile {profile:?}"))?;
    }
    // Held here, every mount made, while it is still root with every
    // system call allowed (the filter may refuse the read).
    if let Some(go) = go {
        wait_for_go(go)?;
    }
    // Without no_new_privs, installing a filter takes CAP_SYS_ADMIN: done
    // while this process still has it, before the user switch (as runc);
    // with it, as late as possible.
    if !process.no_new_privileges {
        install_seccomp(process)?;
    }
    super::identity::apply(process)?;
    let program = find_program(process)?;
    let args = c_strings(&process.args)?;
    let env = c_strings(&process.env)?;
    default_signals()?;
    if process.no_new_privileges {
        install_seccomp(process)?;
    }
    let err = nix::unistd::execve(&program, &args, &env).unwrap_err();
    bail!(
        "exec: {:?}: {}",
        process.args.first().map(String::as_str).unwrap_or_default(),
        errno_text(err)
    )
}

fn install_seccomp(process: &Process) -> Result<()> {
    super::seccomp::profile::install(&process.seccomp).context("installing the seccomp filter")
}

/// Every signal back to its default action and unblocked, as a container
/// process starts under runc. An ignored signal survives `execve`: this
/// process ignores SIGPIPE (Rust's runtime does) and SIGHUP (inherited
/// from the supervisor), and a program that counts on SIGPIPE to end it,
/// such as `yes | head`, would otherwise spin on EPIPE for ever.
fn default_signals() -> Result<()> {
    super::vfork::default_signals(super::vfork::Ignored::Reset)
        .context("resetting the signals' actions and mask")
}

/// Resolves argv[0] through the container's PATH as Go's exec.LookPath
/// does, with runc's messages.
fn find_program(process: &Process) -> Result<CString> {
    let name = process
        .args
        .first()
        .ok_or_else(|| anyhow!("no command specified"))?;
    if name.contains('/') {
        std::fs::metadata(name)
            .map_err(|e| anyhow!("exec: {name:?}: stat {name}: {}", io_text(&e)))?;
        return Ok(CString::new(name.as_str())?);
    }
    let path = process
        .env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if is_executable(&candidate) {
            return Ok(CString::new(candidate.as_os_str().as_bytes())?);
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn c_strings(items: &[String]) -> Result<Vec<CString>> {
    items
        .iter()
        .map(|s| CString::new(s.as_str()).with_context(|| format!("{s:?} contains NUL")))
        .collect()
}

/// Go's lower-case errno text (`no such file or directory`).
pub fn errno_text(errno: nix::errno::Errno) -> String {
    lowercase_first(errno.desc())
}

pub fn io_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => errno_text(nix::errno::Errno::from_raw(code)),
        None => err.to_string(),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
