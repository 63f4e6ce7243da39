//! Starting the pause process with the pod's namespaces: a new network
//! namespace with loopback up, IPC and UTS namespaces with the pod's
//! hostname, and a new PID namespace when the pod shares one.

use std::ffi::CString;
use std::io;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::Stdio;
use super::reexec::PAUSE_ARGV0;
use super::spawn::{self, Outcome, PidNamespace, Reexec};

/// The kubelet's pause image runs as this user (65535:65535).
const PAUSE_ID: libc::uid_t = 65535;

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
/// whose v1 `tasks` files are `born_in`; returns its host pid.
pub fn start(spec: &SandboxSpec, born_in: Vec<PathBuf>) -> Result<i32> {
    let hostname = CString::new(spec.hostname.as_str()).context("hostname contains NUL")?;
    let mut flags = 0;
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
            if flags != 0 && libc::unshare(flags) != 0 {
                return Err(io::Error::last_os_error());
            }
            if uts && libc::sethostname(hostname.as_ptr(), hostname.as_bytes().len()) != 0 {
                return Err(io::Error::last_os_error());
            }
            if network {
                loopback_up()?;
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(PAUSE_ID, PAUSE_ID, PAUSE_ID) != 0
                || libc::setresuid(PAUSE_ID, PAUSE_ID, PAUSE_ID) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    let outcome = spawn::spawn(Reexec {
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
    })?;
    match outcome {
        Outcome::Executed(pid) => Ok(pid),
        Outcome::Failed(message) => bail!("starting the pause process: {message}"),
    }
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
