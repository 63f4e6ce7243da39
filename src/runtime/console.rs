//! The pty of a process that runs with a terminal (`tty: true`, `exec
//! -t`), made inside the container as runc's console socket makes it.
//!
//! A pty from the host's devpts is a device the container does not have:
//! its slave is the host's /dev/pts/N, which inside the container's own
//! devpts instance names nothing or another pty, so `tty` prints "not a
//! tty" and programs that find their terminal by name (su, sudo, script,
//! screen, gpg) misbehave. So the child opens /dev/ptmx once it sees the
//! container's /dev (the init after mounting the container's devpts, an
//! exec after joining the container's mount namespace), makes the slave
//! its standard streams and controlling terminal, and sends the master
//! back over a unix socket (SCM_RIGHTS). The caller then owns the master:
//! the supervisor for the log and attach, the CLI for `exec -t`.
//!
//! The child's end of the socket is its stdin until the slave replaces
//! it; the child sends the master before it executes the program, so the
//! caller receives it without waiting once the runtime reports the exec.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use rustix::pty::OpenptFlags;

use super::init::errno_text;

/// The descriptor on which the child finds its end of the socket.
const CHILD_FD: RawFd = 0;

/// Major and minor number of /dev/ptmx, and of the ptmx node of every
/// devpts instance.
const PTMX: (u32, u32) = (5, 2);

/// The caller's end: where the master arrives.
#[derive(Debug)]
pub struct Receiver(OwnedFd);

/// Makes the socket: the caller's end, and the child's, which
/// [`child_hook`] puts on the child's stdin.
pub fn socket() -> Result<(Receiver, OwnedFd)> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("creating the console socket")?;
    // Above the descriptors the re-execution places by number in the
    // child before the hook runs, which would replace a low one.
    let theirs = rustix::io::fcntl_dupfd_cloexec(&theirs, super::spawn::ERROR_FD + 1)
        .context("moving the console socket")?;
    Ok((Receiver(ours), theirs))
}

/// A `pre_exec` hook that puts the child's end of the socket on its stdin
/// (after the standard streams were set up, before the re-execution).
/// Only `dup2`, so it is async-signal-safe. `theirs` must stay open until
/// the child is forked.
pub fn child_hook(theirs: &OwnedFd) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
    let fd = theirs.as_raw_fd();
    move || {
        // SAFETY: dup2 of a descriptor the forked child inherited; the
        // copy on stdin is not close-on-exec, the original is.
        if unsafe { libc::dup2(fd, CHILD_FD) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Receiver {
    /// The master the child sent. Call once the child has executed its
    /// program: the master is already waiting then, so this never blocks.
    pub fn receive(self) -> Result<OwnedFd> {
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let message = recvmsg::<()>(
            self.0.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| anyhow!("receiving the pty master from the container: {e}"))?;
        let mut master = None;
        for cmsg in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                for fd in fds {
                    // SAFETY: the kernel installed this descriptor for us.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                    master.get_or_insert(fd);
                }
            }
        }
        master.ok_or_else(|| anyhow!("the container's init sent no pty master"))
    }
}

/// In the child, once /dev is the container's: opens a pty in the
/// container's devpts instance, sizes it, gives the slave to `owner` (as
/// runc gives the container's user its stdio; the group stays the
/// devpts `gid=5` one, tty), sends the master to the caller on stdin and
/// makes the slave stdin, stdout, stderr and the controlling terminal of
/// this process, which leads a session of its own already.
pub fn take_terminal(size: Option<[u16; 2]>, owner: u32) -> Result<()> {
    let master = open_ptmx()?;
    rustix::pty::unlockpt(&master).map_err(failed("unlocking the pty"))?;
    // The slave by the master rather than by name: the kernel finds it in
    // the master's own devpts instance, whatever the container did to
    // the names under /dev/pts.
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )
    .map_err(failed("opening the pty slave"))?;
    if let Some([rows, cols]) = size {
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&master, size)
            .map_err(failed("setting the pty's window size"))?;
    }
    if owner != 0 {
        rustix::fs::fchown(&slave, Some(rustix::fs::Uid::from_raw(owner)), None)
            .map_err(failed("giving the pty slave to the container's user"))?;
    }
    send(&master)?;
    drop(master);
    for fd in 0..=2 {
        // SAFETY: dup2 onto the standard streams, which this process owns;
        // the socket on stdin closes with it.
        if unsafe { libc::dup2(slave.as_raw_fd(), fd) } < 0 {
            return Err(last_error("putting the pty on stdio"));
        }
    }
    // SAFETY: TIOCSCTTY on stdin, now the slave, from a session leader.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
        return Err(last_error("setting the controlling terminal"));
    }
    Ok(())
}

/// /dev/ptmx as the container sees it, refused unless it is a ptmx: a
/// container's root may have replaced the name with a FIFO or another
/// device. Opened non-blocking so that such a file cannot hold the open.
fn open_ptmx() -> Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags, fcntl_setfl, fstat, major, minor, open};
    let master = open(
        "/dev/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(failed("open /dev/ptmx"))?;
    let stat = fstat(&master).map_err(failed("stat /dev/ptmx"))?;
    let is_char =
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::CharacterDevice;
    if !is_char || (major(stat.st_rdev), minor(stat.st_rdev)) != PTMX {
        bail!("/dev/ptmx in the container is not a pty multiplexer");
    }
    fcntl_setfl(&master, OFlags::empty()).map_err(failed("making the pty master blocking"))?;
    Ok(master)
}

fn send(master: &OwnedFd) -> Result<()> {
    let fds = [master.as_fd().as_raw_fd()];
    let sent = sendmsg::<()>(
        CHILD_FD,
        &[IoSlice::new(b"p")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    );
    sent.map_err(|e| anyhow!("sending the pty master to the runtime: {}", errno_text(e)))?;
    Ok(())
}

/// Errors in the child read as runc's: `open /dev/ptmx: no such file or
/// directory`.
fn failed(what: &str) -> impl FnOnce(rustix::io::Errno) -> anyhow::Error + '_ {
    move |e| {
        let errno = nix::errno::Errno::from_raw(e.raw_os_error());
        anyhow!("{what}: {}", errno_text(errno))
    }
}

fn last_error(what: &str) -> anyhow::Error {
    anyhow!("{what}: {}", errno_text(nix::errno::Errno::last()))
}
