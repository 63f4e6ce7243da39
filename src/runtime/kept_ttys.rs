//! The pty masters of a pod's `tty: true` containers, kept by its pause
//! process, so that a container keeps its terminal when the supervisor
//! and its keeper both die (`kill -9` of both, the OOM killer).
//!
//! The kernel hangs a pty up when the last descriptor of its master
//! closes: the container's session gets SIGHUP and its reads fail, and
//! nothing opens that master again (its slave, which the container
//! holds, leads nowhere back). The supervisor and the keeper hold the
//! masters while they live; what outlives both is the pause process,
//! which lives as long as the pod's sandbox (a container whose sandbox
//! dies is killed anyway). So the pause process of a pod with a tty
//! container is given the two ends of a datagram socket pair, and never
//! reads them: the supervisor sends the masters of its running tty
//! containers over it (SCM_RIGHTS), one message holding them all, and
//! the message waits in the socket, its descriptors held by the kernel,
//! for as long as the pause process holds the socket. A supervisor that
//! adopts the pod after both deaths takes the ends from the pause process
//! (`pidfd_getfd`, which needs the CAP_SYS_PTRACE the supervisor has) and
//! receives the masters from the message.
//!
//! The pause process holds these two sockets and nothing else: sockets,
//! which `/proc/1/fd` does not open, in a process that is not dumpable,
//! so only a process with CAP_SYS_PTRACE over it reaches them, as it
//! reaches everything of the pod's processes anyway.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

/// Where the pause process holds the two ends: the first fds placed in a
/// child (`spawn::INHERITED_FD`), the end messages are sent on, then the
/// end they wait at.
pub const PAUSE_FDS: [RawFd; 2] = [super::spawn::INHERITED_FD, super::spawn::INHERITED_FD + 1];

/// At most this many masters go in the message (the kernel's SCM_MAX_FD).
const MOST: usize = 253;

/// The supervisor's copies of the two ends.
#[derive(Debug)]
pub struct KeptTtys {
    send: OwnedFd,
    wait: OwnedFd,
    /// Whether a message waits (the last one sent, not yet received).
    holding: bool,
}

impl KeptTtys {
    /// A new pair: the supervisor's copies, and the ends for the pause
    /// process (in the order of [`PAUSE_FDS`]).
    pub fn new() -> Result<(KeptTtys, Vec<OwnedFd>)> {
        let (send, wait) = socketpair(
            AddressFamily::Unix,
            SockType::Datagram,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("creating the socket that keeps the pod's terminals")?;
        let ends = vec![send.try_clone()?, wait.try_clone()?];
        Ok((
            KeptTtys {
                send,
                wait,
                holding: false,
            },
            ends,
        ))
    }

    /// The ends the pause process `pidfd` holds, if it holds them (one
    /// started by a build that kept no terminals holds nothing).
    pub fn of_pause(pidfd: BorrowedFd<'_>) -> Option<KeptTtys> {
        let end = |fd| {
            let end =
                rustix::process::pidfd_getfd(pidfd, fd, rustix::process::PidfdGetfdFlags::empty())
                    .ok()?;
            let stat = rustix::fs::fstat(&end).ok()?;
            (rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Socket)
                .then_some(end)
        };
        Some(KeptTtys {
            send: end(PAUSE_FDS[0])?,
            wait: end(PAUSE_FDS[1])?,
            // Unknown: `take` receives whatever waits.
            holding: true,
        })
    }

    /// Keeps `masters` (each with the number of its container), in place
    /// of what was kept: the new message is sent before the old one is
    /// received, so one of them always waits.
    pub fn keep(&mut self, masters: &[(u32, BorrowedFd<'_>)]) -> Result<()> {
        let masters = &masters[..masters.len().min(MOST)];
        let was_holding = self.holding;
        if !masters.is_empty() {
            let numbers: Vec<u8> = masters.iter().flat_map(|(n, _)| n.to_ne_bytes()).collect();
            let fds: Vec<RawFd> = masters.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
            sendmsg::<()>(
                self.send.as_raw_fd(),
                &[IoSlice::new(&numbers)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .context("keeping the terminals with the pause process")?;
            self.holding = true;
        } else {
            self.holding = false;
        }
        if was_holding {
            // The one before (with its descriptors, closed here).
            self.receive()?;
        }
        Ok(())
    }

    /// What is kept (the masters, each with the number of its container),
    /// received: nothing waits any more until the next [`keep`].
    ///
    /// [`keep`]: KeptTtys::keep
    pub fn take(&mut self) -> Result<Vec<(u32, OwnedFd)>> {
        let mut last = Vec::new();
        while let Some(kept) = self.receive()? {
            last = kept;
        }
        self.holding = false;
        Ok(last)
    }

    /// One waiting message, if any.
    fn receive(&self) -> Result<Option<Vec<(u32, OwnedFd)>>> {
        let mut numbers = [0u8; 4 * MOST];
        let mut iov = [IoSliceMut::new(&mut numbers)];
        let mut space = nix::cmsg_space!([RawFd; MOST]);
        let message = match recvmsg::<()>(
            self.wait.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e).context("receiving the terminals the pause process kept"),
        };
        let mut fds = Vec::new();
        for cmsg in message.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                // SAFETY: the kernel installed these descriptors for us.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let length = message.bytes;
        let numbers = numbers[..length]
            .chunks_exact(4)
            .map(|n| u32::from_ne_bytes([n[0], n[1], n[2], n[3]]));
        Ok(Some(numbers.zip(fds).collect()))
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    fn same_file(a: BorrowedFd, b: BorrowedFd) -> bool {
        let (a, b) = (rustix::fs::fstat(a).unwrap(), rustix::fs::fstat(b).unwrap());
        (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    }

    #[test]
    fn what_is_kept_replaces_what_was_and_is_taken_back() {
        let (mut kept, ends) = KeptTtys::new().unwrap();
        let (a, b) = nix::unistd::pipe().unwrap();
        kept.keep(&[(0, a.as_fd())]).unwrap();
        kept.keep(&[(0, a.as_fd()), (3, b.as_fd())]).unwrap();
        let taken = kept.take().unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!((taken[0].0, taken[1].0), (0, 3));
        assert!(same_file(taken[0].1.as_fd(), a.as_fd()));
        assert!(same_file(taken[1].1.as_fd(), b.as_fd()));
        assert!(kept.take().unwrap().is_empty());
        drop(ends);
    }

    #[test]
    fn the_last_one_kept_outlives_every_other_descriptor_of_it() {
        let (mut kept, ends) = KeptTtys::new().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        kept.keep(&[(7, w.as_fd())]).unwrap();
        drop(w);
        // The write end lives on in the message: no end of file.
        nix::fcntl::fcntl(
            &r,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(
            nix::unistd::read(&r, &mut byte),
            Err(nix::errno::Errno::EAGAIN)
        );
        // Keeping nothing lets it go.
        kept.keep(&[]).unwrap();
        assert_eq!(nix::unistd::read(&r, &mut byte), Ok(0));
        drop(ends);
    }
}
