//! Starting a hidden re-execution of this binary (or the pause program) as
//! a direct child of the caller, in the right PID namespace, with a JSON
//! configuration on a pipe and a close-on-exec error pipe that tells the
//! caller whether the final `execve` happened.
//!
//! A process cannot move itself into another PID namespace: `setns` and
//! `unshare` with `CLONE_NEWPID` only decide where the caller's *next
//! child* is born. So the caller's PID namespace for children is switched
//! on a short-lived thread (both calls are per-thread and allowed in a
//! multi-threaded process), the child is forked from that thread (sharing
//! the caller's memory until it executes, see [`super::vfork`]; a child
//! with an error pipe is a plain fork, not waited for until it executes),
//! and the thread ends. The same thread first moves itself into the child's
//! cgroups, so the child is born there (see [`Reexec::born_in`]). The
//! child is then the caller's own child (no intermediate process), which
//! is what lets the supervisor `waitpid` a container's main process and
//! read its exit status.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use nix::sched::CloneFlags;

use super::Stdio;

/// The fd on which a re-executed child reads its JSON configuration.
pub const CONFIG_FD: i32 = 3;
/// The fd on which a re-executed child reports a failure before `execve`.
pub const ERROR_FD: i32 = 4;
/// The first of the fds passed with [`launch_with_fds`], in the child.
pub const INHERITED_FD: i32 = ERROR_FD + 1;

/// The PID namespace a new child is born in.
#[derive(Debug, Clone)]
pub enum PidNamespace {
    /// The caller's own.
    Inherit,
    /// A new one, whose PID 1 the child becomes.
    New,
    /// An existing one, named by a `/proc/<pid>/ns/pid` path.
    Join(PathBuf),
}

/// How the child ended its set-up.
pub enum Outcome {
    /// It reached `execve` (the error pipe closed without a message).
    Executed(i32),
    /// It failed before `execve`, said why, and has been reaped.
    Failed(String),
}

/// What the child executes.
#[derive(Clone, Copy)]
pub enum Program {
    /// This binary, through its sealed copy (see [`super::exe`]): the
    /// container init and exec entry points.
    Pod,
    /// An executable open at this descriptor, executed with `execveat` at
    /// the end of the `pre_exec` hook, where no path may resolve any more
    /// (the pause process, whose root is empty by then). No environment.
    Fd(BorrowedFd<'static>),
}

/// A re-execution to start.
pub struct Reexec<'a> {
    pub program: Program,
    /// argv[0] of the child (what `ps` shows until it executes something
    /// else).
    pub argv0: &'a str,
    /// Hidden arguments after argv[0].
    pub args: &'a [&'a str],
    pub pid_namespace: PidNamespace,
    /// cgroup v1 `tasks` files the forking thread moves itself into before
    /// it forks, so that the child is born in those cgroups (see
    /// [`super::cgroups::Cgroup::entry`]).
    pub born_in: Vec<PathBuf>,
    /// Bytes written to the child's CONFIG_FD, and an ERROR_FD to report
    /// on; None for a child that neither reads a configuration nor reports
    /// (the pause process, which must not hold the error pipe open).
    pub config: Option<Vec<u8>>,
    pub stdio: Stdio,
    /// Runs in the child between fork and exec, before the configuration,
    /// error and inherited fds are put at their numbers (it sees the
    /// caller's). Must only make async-signal-safe calls (raw syscalls, no
    /// allocation).
    pub pre_exec: Option<Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>>,
}

/// Forks and executes the program as described, then waits until the
/// child has executed its final program or failed.
pub fn spawn(reexec: Reexec<'_>) -> Result<Outcome> {
    spawn_with_fds(reexec, Vec::new())
}

/// As [`spawn`], and the child inherits `fds` (see [`launch_with_fds`]).
pub fn spawn_with_fds(reexec: Reexec<'_>, fds: Vec<OwnedFd>) -> Result<Outcome> {
    let launched = launch_with_fds(reexec, fds)?;
    let pid = launched.pid();
    match launched.finish()? {
        Ok(()) => Ok(Outcome::Executed(pid)),
        Err(message) => {
            reap(pid);
            Ok(Outcome::Failed(message))
        }
    }
}

/// A child forked and executing this binary that may not have reached its
/// final `execve` yet (see [`Launched::finish`]).
#[must_use = "finish() says whether the child executed its program"]
pub struct Launched {
    pid: i32,
    /// The configuration not sent yet, and the pipe it goes on; None for
    /// a child without one, or once sent ([`Launched::send_config`]).
    config: Option<(Vec<u8>, File)>,
    /// The error pipe's read end; None for a child without one.
    errors: Option<File>,
}

impl Launched {
    /// The child's pid in the caller's PID namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends the configuration now, so the child sets itself up before
    /// anyone waits for it. The pipe is first made large enough to take
    /// all of it, so this does not wait for the child to read. Blocking
    /// only if that fails.
    pub fn send_config(&mut self) -> std::io::Result<()> {
        let Some((config, mut pipe)) = self.config.take() else {
            return Ok(());
        };
        if config.len() > PIPE_BUFFER {
            // A smaller buffer only makes the write wait for the child.
            // SAFETY: fcntl on a pipe this process owns.
            unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, config.len() as i32) };
        }
        pipe.write_all(&config)
    }

    /// Sends the configuration (unless sent already) and waits until the
    /// child has executed its final program (`Ok(())`) or says why it
    /// could not (`Err(message)`). Blocking, and callable from any
    /// thread. A child that failed is not reaped here: it is the caller's
    /// child, reaped the caller's way.
    pub fn finish(mut self) -> Result<std::result::Result<(), String>> {
        let Some(mut error_read) = self.errors.take() else {
            // No configuration and no error pipe (the pause process):
            // The fork already reported a failed hook or exec.
            return Ok(Ok(()));
        };
        // The child reads its configuration to the end before doing
        // anything.
        let written = self.send_config();
        let mut message = String::new();
        error_read
            .read_to_string(&mut message)
            .context("reading the child's error pipe")?;
        if message.is_empty() {
            written.context("sending the configuration to the child")?;
            return Ok(Ok(()));
        }
        Ok(Err(message))
    }
}

/// A pipe's default capacity on Linux.
const PIPE_BUFFER: usize = 65536;

/// Forks and executes the program as described; returns once the child
/// runs it (see [`Launched::finish`] for the rest). The child inherits
/// `fds` as [`INHERITED_FD`], `INHERITED_FD + 1`, ... (in order, without
/// close-on-exec: the child takes them over).
pub fn launch_with_fds(reexec: Reexec<'_>, fds: Vec<OwnedFd>) -> Result<Launched> {
    let Reexec {
        program,
        argv0,
        args,
        pid_namespace,
        born_in,
        config,
        stdio,
        pre_exec,
    } = reexec;
    let handshake = match &config {
        Some(_) => Some((pipe()?, pipe()?)),
        None => None,
    };
    // (fd here, fd in the child), computed before the fork: the child may
    // not allocate.
    let mut placement: Vec<(i32, i32)> = Vec::with_capacity(2 + fds.len());
    if let Some(((config_read, _), (_, error_write))) = &handshake {
        placement.push((config_read.as_raw_fd(), CONFIG_FD));
        placement.push((error_write.as_raw_fd(), ERROR_FD));
    }
    for (i, fd) in fds.iter().enumerate() {
        placement.push((fd.as_raw_fd(), INHERITED_FD + i as i32));
    }
    // Above every number placed (a child without a configuration has
    // nothing at CONFIG_FD and ERROR_FD, and its inherited fds still
    // start at INHERITED_FD).
    let first_free = placement.iter().map(|&(_, at)| at + 1).max().unwrap_or(3);

    // Everything the child uses is made here: it shares this memory and
    // may not allocate (see `vfork`).
    let argv: Vec<CString> = std::iter::once(argv0)
        .chain(args.iter().copied())
        .map(CString::new)
        .collect::<std::result::Result<_, _>>()
        .context("NUL in an argument")?;
    let (target, env) = match program {
        Program::Pod => {
            let sealed = super::exe::fd()?;
            // The caller's environment, as `Command` passes it on.
            let env: Vec<CString> = std::env::vars_os()
                .filter_map(|(key, value)| {
                    let mut pair = key.into_vec();
                    pair.push(b'=');
                    pair.extend(value.into_vec());
                    CString::new(pair).ok()
                })
                .collect();
            (Target::Sealed(sealed), env)
        }
        Program::Fd(fd) => (Target::Fd(fd.as_raw_fd()), Vec::new()),
    };
    let null_in = || File::open("/dev/null").map(OwnedFd::from);
    let null_out = || {
        File::options()
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
    };
    let streams: [OwnedFd; 3] = match stdio {
        Stdio::Pipes {
            stdin,
            stdout,
            stderr,
        } => [
            match stdin {
                Some(fd) => fd,
                None => null_in().context("opening /dev/null")?,
            },
            stdout,
            stderr,
        ],
        // A child with a terminal makes its pty itself (see `console`);
        // its streams are /dev/null until then.
        Stdio::Tty { .. } | Stdio::Null => [
            null_in().context("opening /dev/null")?,
            null_out().context("opening /dev/null")?,
            null_out().context("opening /dev/null")?,
        ],
    };
    let stream_fds = streams.each_ref().map(|fd| fd.as_raw_fd());
    // A child with an error pipe reports there, and is not waited for
    // until it executes (see `vfork::fork_reporting`).
    let report = handshake
        .as_ref()
        .map(|(_, (_, error_write))| error_write.as_raw_fd());
    let prefix = format!("starting {argv0}: ");
    let pid = std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<i32> {
                // This thread ends right after the fork: what it joins
                // only decides where the child is born.
                for file in &born_in {
                    std::fs::write(file, "0")
                        .with_context(|| format!("joining cgroup {}", file.display()))?;
                }
                enter_pid_namespace(&pid_namespace)?;
                let mut child = Child {
                    streams: stream_fds,
                    pre_exec,
                    target: &target,
                    argv: null_terminated(&argv),
                    env: null_terminated(&env),
                    placement,
                    first_free,
                };
                let mut run = || match child.run() {
                    Ok(never) => match never {},
                    Err(e) => e,
                };
                let forked = match report {
                    Some(fd) => super::vfork::fork_reporting(&mut run, fd, prefix.as_bytes()),
                    None => super::vfork::spawn(&mut run),
                };
                forked.with_context(|| format!("starting {argv0}"))
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the spawning thread panicked")))
    })?;
    drop(streams);
    let (config, errors) = match (config, handshake) {
        (Some(config), Some(((config_read, config_write), (error_read, error_write)))) => {
            drop(config_read);
            drop(error_write);
            (
                Some((config, File::from(config_write))),
                Some(File::from(error_read)),
            )
        }
        _ => (None, None),
    };
    Ok(Launched {
        pid,
        config,
        errors,
    })
}

/// The forked child's work, all of it prepared before the fork (it may
/// not allocate, see [`super::vfork`]).
struct Child<'a> {
    /// Put at 0, 1 and 2 first.
    streams: [i32; 3],
    pre_exec: Option<Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>>,
    target: &'a Target,
    argv: Vec<*const libc::c_char>,
    env: Vec<*const libc::c_char>,
    /// (fd here, fd in the child), see [`place_fds`].
    placement: Vec<(i32, i32)>,
    first_free: i32,
}

impl Child<'_> {
    /// Sets the child up as `Command` would (streams, SIGPIPE's default
    /// action), runs the caller's hook, places the descriptors and
    /// executes the program; returns only on failure.
    fn run(&mut self) -> std::io::Result<std::convert::Infallible> {
        put_streams(self.streams)?;
        // SAFETY: signal(2) with a constant action.
        if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) } == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error());
        }
        // Then, while every fd still has the caller's number (placing ours
        // could land on one the hook uses).
        if let Some(hook) = self.pre_exec.as_mut() {
            hook()?;
        }
        let (Target::Sealed(fd) | Target::Fd(fd)) = *self.target;
        // The program's fd out of the way of the numbers placed below: it
        // may sit on one of them (the sealed binary's number is wherever
        // the supervisor had a free one; a container with many mount
        // sources has them placed at 5, 6, 7... up to and past it), and
        // executing that number after the placing would run the mount
        // source, a file a container may have written, as root.
        // SAFETY: fcntl on a descriptor the child inherited.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, self.first_free) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        place_fds(&mut self.placement, self.first_free)?;
        close_on_exec_from(self.first_free)?;
        execute_fd(copy, &self.argv, &self.env)
    }
}

/// `execveat(fd, "", argv, env, AT_EMPTY_PATH)`; returns only on failure.
/// Allocation-free: `argv` and `env` are NULL-terminated arrays made
/// before the fork.
fn execute_fd(
    fd: i32,
    argv: &[*const libc::c_char],
    env: &[*const libc::c_char],
) -> std::io::Result<std::convert::Infallible> {
    // SAFETY: NUL-terminated strings and NULL-terminated arrays that
    // outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            env.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    Err(std::io::Error::last_os_error())
}

/// What the child executes, resolved before the fork.
#[derive(Clone, Copy)]
enum Target {
    /// This binary's sealed copy (`exe::fd`), with the caller's environment.
    Sealed(i32),
    /// A descriptor, with no environment.
    Fd(i32),
}

/// Pointers to `strings`, then NULL: an argv or envp.
fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Puts the three streams at 0, 1 and 2 (in the forked child), none
/// close-on-exec. A stream already at its number only loses that flag
/// (`dup2` onto itself would keep it).
fn put_streams(streams: [i32; 3]) -> std::io::Result<()> {
    for (target, fd) in streams.into_iter().enumerate() {
        let target = target as i32;
        // SAFETY: plain syscalls on descriptors the child inherited.
        let rc = unsafe {
            if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, target)
            }
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn enter_pid_namespace(ns: &PidNamespace) -> Result<()> {
    match ns {
        PidNamespace::Inherit => Ok(()),
        PidNamespace::New => {
            nix::sched::unshare(CloneFlags::CLONE_NEWPID).context("creating a PID namespace")
        }
        PidNamespace::Join(path) => {
            let fd = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
                .with_context(|| format!("joining the PID namespace {}", path.display()))
        }
    }
}

/// Waits for a child that failed before `execve`.
fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("creating a pipe")
}

/// Puts each `(fd, target)` at its target without close-on-exec (in the
/// forked child). An fd may already sit on another's target, so all go
/// through close-on-exec copies at `first_free` or above first (written
/// back in place of the sources: no allocation after fork).
fn place_fds(placement: &mut [(i32, i32)], first_free: i32) -> std::io::Result<()> {
    // SAFETY: plain syscalls on fds this process owns.
    unsafe {
        for (fd, _) in placement.iter_mut() {
            *fd = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, first_free);
            if *fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        for (copy, target) in placement.iter() {
            if libc::dup2(*copy, *target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Marks every fd from `first` up close-on-exec, so nothing the caller
/// left inheritable (its own pipes, sockets) leaks into the pod: a pause
/// process holding a pipe's write end open would keep the reader waiting.
fn close_on_exec_from(first: i32) -> std::io::Result<()> {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only changes flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// In the child: reads the whole configuration from CONFIG_FD.
pub fn read_config() -> std::io::Result<Vec<u8>> {
    use std::os::fd::FromRawFd;
    // SAFETY: CONFIG_FD was placed by `spawn` and is owned by nobody else.
    let mut file = unsafe { File::from_raw_fd(CONFIG_FD) };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// In the child: the error pipe, made close-on-exec again so a successful
/// `execve` closes it.
pub fn error_pipe() -> File {
    use std::os::fd::FromRawFd;
    // SAFETY: ERROR_FD was placed by `spawn` and is owned by nobody else.
    unsafe {
        libc::fcntl(ERROR_FD, libc::F_SETFD, libc::FD_CLOEXEC);
        File::from_raw_fd(ERROR_FD)
    }
}
