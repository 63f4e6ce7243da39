//! Starting the pause process with the pod's namespaces: a new network
//! namespace with loopback up, IPC and UTS namespaces with the pod's
//! hostname, and a new PID namespace when the pod shares one.
//!
//! The pause process holds nothing of the host (a container that shares
//! its PID namespace reaches it through `/proc/1`): its own mount
//! namespace whose root is an empty read-only tmpfs, so `/proc/1/root` and
//! `/proc/1/cwd` lead nowhere; the kubelet's pause identity 65535:65535 with
//! every capability set empty (the bounding set included) and no_new_privs;
//! no file descriptors but, in a pod with a `tty: true` container, the two
//! ends of the socket that keeps its terminals ([`super::kept_ttys`]); not
//! dumpable, so only a process with
//! CAP_SYS_PTRACE (the supervisor, root on the host) opens its
//! `/proc/<pid>/` entries, such as the `ns/` files containers join; and its
//! program is not the host's binary but the tiny static one of
//! [`super::pause`], executed from a sealed memfd.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::Stdio;
use super::reexec::PAUSE_ARGV0;
use super::spawn::{self, Outcome, PidNamespace, Program, Reexec};

/// The kubelet's pause image runs as this user (65535:65535).
const PAUSE_ID: libc::uid_t = 65535;

/// Where the empty root is mounted before the pause pivots into it. Any
/// directory does (the mount is made in the pause's private copy of the
/// host's mounts, and the pivot detaches everything else): /proc is one
/// every host has.
const EMPTY_ROOT_AT: &std::ffi::CStr = c"/proc";

/// Which namespaces the pod gets of its own (the rest are the host's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    pub hostname: String,
    pub network: bool,
    pub ipc: bool,
    pub uts: bool,
    pub pid: bool,
}

/// Starts the pause process, a child of the caller, born in the cgroups
/// whose v1 `tasks` files are `born_in`; returns its host pid. With
/// `user` (a `hostUsers: false` pod's user namespace, see
/// [`super::userns`]) it joins that namespace before it makes the others,
/// so they are owned by it: root in the pod then has its capabilities
/// over the pod's network (and sysfs can be mounted for it), and none over
/// the host's. It holds `kept` at [`super::kept_ttys::PAUSE_FDS`] (none,
/// or the two ends of [`super::kept_ttys::KeptTtys::new`]).
pub fn start(
    spec: &SandboxSpec,
    born_in: Vec<PathBuf>,
    user: Option<BorrowedFd<'_>>,
    kept: Vec<OwnedFd>,
) -> Result<i32> {
    let user = user.map(|fd| fd.as_raw_fd());
    let hostname = CString::new(spec.hostname.as_str()).context("hostname contains NUL")?;
    let mut flags = libc::CLONE_NEWNS;
    if spec.network {
        flags |= libc::CLONE_NEWNET;
    }
    if spec.ipc {
        flags |= libc::CLONE_NEWIPC;
    }
    if spec.uts {
        flags |= libc::CLONE_NEWUTS;
    }
    let (network, uts) = (spec.network, spec.uts);
    let pre_exec = move || -> io::Result<()> {
        // SAFETY: raw syscalls only, on memory prepared before the fork.
        unsafe {
            if let Some(fd) = user {
                check(libc::setns(fd, libc::CLONE_NEWUSER))?;
            }
            check(libc::unshare(flags))?;
            if uts {
                check(libc::sethostname(
                    hostname.as_ptr(),
                    hostname.as_bytes().len(),
                ))?;
            }
        }
        if network {
            loopback_up()?;
        }
        enter_empty_root()?;
        drop_privileges()?;
        // SAFETY: raw syscalls on no memory but a local sigset.
        unsafe {
            // The program blocks these too; blocking them before execve
            // (the mask survives it) loses none in between.
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGCHLD] {
                libc::sigaddset(&mut set, signal);
            }
            check(libc::sigprocmask(
                libc::SIG_BLOCK,
                &set,
                std::ptr::null_mut(),
            ))?;
            // Every descriptor, stdio included, ends at execve: the pause
            // holds nothing open but `kept`, placed after this hook.
            // (Closing them now would also close the pipe on which a
            // failed execve is reported.)
            check(libc::syscall(
                libc::SYS_close_range,
                0,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            ) as i32)?;
        }
        Ok(())
    };
    let outcome = spawn::spawn_with_fds(
        Reexec {
            program: Program::Fd(super::pause::image()?),
            argv0: PAUSE_ARGV0,
            args: &[],
            pid_namespace: if spec.pid {
                PidNamespace::New
            } else {
                PidNamespace::Inherit
            },
            born_in,
            config: None,
            stdio: Stdio::Null,
            pre_exec: Some(Box::new(pre_exec)),
        },
        kept,
    )?;
    match outcome {
        Outcome::Executed(pid) => Ok(pid),
        Outcome::Failed(message) => bail!("starting the pause process: {message}"),
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// In the new mount namespace: makes every mount private (nothing below
/// propagates to the host), mounts an empty read-only tmpfs, pivots into it
/// and detaches the host's mounts, runc's `pivot_root(".", ".")` way.
/// Async-signal-safe.
fn enter_empty_root() -> io::Result<()> {
    // SAFETY: raw syscalls with static NUL-terminated strings.
    unsafe {
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        check(libc::mount(
            c"pause".as_ptr(),
            EMPTY_ROOT_AT.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            c"mode=555,size=4k,nr_inodes=2".as_ptr().cast(),
        ))?;
        check(libc::chdir(EMPTY_ROOT_AT.as_ptr()))?;
        check(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as i32)?;
        check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
        check(libc::chdir(c"/".as_ptr()))?;
    }
    Ok(())
}

/// The pause identity with no capability in any set and no_new_privs.
/// Async-signal-safe.
fn drop_privileges() -> io::Result<()> {
    // SAFETY: raw syscalls on local, correctly sized structures.
    unsafe {
        // The bounding set needs CAP_SETPCAP, so it goes while still root;
        // EINVAL marks the first capability this kernel does not know.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINVAL) {
                    break;
                }
                return Err(err);
            }
        }
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setresgid(PAUSE_ID, PAUSE_ID, PAUSE_ID))?;
        // Leaving uid 0 clears the permitted, effective and ambient sets.
        check(libc::setresuid(PAUSE_ID, PAUSE_ID, PAUSE_ID))?;
        // The inheritable set survives a uid change: cleared explicitly.
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let header = Header {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let data = [
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
            Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            },
        ];
        check(libc::syscall(libc::SYS_capset, &header, data.as_ptr()) as i32)?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
    }
    Ok(())
}

/// Brings `lo` up in the current network namespace (SIOCSIFFLAGS, so no
/// netlink socket and no `ip` binary are needed). Async-signal-safe.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a socket and two ioctls on a zeroed, correctly sized ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        let mut result = libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut request);
        if result == 0 {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            result = libc::ioctl(sock, libc::SIOCSIFFLAGS, &request);
        }
        let error = io::Error::last_os_error();
        libc::close(sock);
        if result != 0 {
            return Err(error);
        }
    }
    Ok(())
}
