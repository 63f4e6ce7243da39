//! The pod's keeper: the process the CLI starts as `pod-supervisor`,
//! which forks the supervisor and outlives it, so that a supervisor that
//! dies (`kill -9`, the OOM killer, a crash) is replaced by a new one that
//! adopts the running pod (`lifecycle::adopt`), as a restarted kubelet
//! adopts its containers.
//!
//! It is forked before the supervisor has made a thread or a runtime, and
//! does little, with plain system calls and no allocation:
//! - it is the child subreaper above the supervisor: the containers and
//!   the pause process, the supervisor's children, become its children
//!   when the supervisor dies, and it reaps them, writing each exit
//!   (pid and wait status, 8 bytes) to the exit pipe the next supervisor
//!   reads (`Reaper::adopted`); the pipe holds 8192 of them;
//! - it holds duplicates of the containers' stream ends, sent by the
//!   supervisor over a socket (SCM_RIGHTS) to numbered slots: a container
//!   whose supervisor died writes into a pipe that still has a reader
//!   (no EPIPE or SIGPIPE, no EOF on its stdin), and once the pipe is
//!   full its writes wait for the next supervisor instead of failing;
//! - when the supervisor dies of a signal (or of a panic), it forks the
//!   next one, which inherits the slots and the exit pipe; when the
//!   supervisor exits on its own (the pod is over, or it never started),
//!   the keeper exits with its status.
//!
//! A new supervisor follows at once after the first death; one that dies
//! within 5 s of its start is followed after a back-off (1 s doubling to
//! 60 s), so that a supervisor that cannot adopt its pod does not spin.
//! The keeper is the session leader and process group of the pod's
//! supervisors: `delete` without a supervisor kills that group first, so
//! no new supervisor starts behind it (`pods::terminate::release`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The first slot number: container `i`'s streams are kept at
/// `SLOT_BASE + 4 i + stream`, in the keeper and in every supervisor it
/// forks (which takes them over at those numbers).
pub const SLOT_BASE: i32 = 100;
/// The keeper keeps no slot at or above this.
const SLOT_END: i32 = 60_000;

const OP_KEEP: u32 = 1;
const OP_DROP: u32 = 2;
const OP_QUIT: u32 = 3;
const OP_ARM: u32 = 4;

/// A supervisor that lived less than this is restarted after a back-off.
const SHORT_LIFE_SECS: i64 = 5;
const MAX_BACKOFF_SECS: u32 = 60;

/// Exit code of a Rust panic: a crash, replaced like a killed supervisor.
const PANIC_EXIT: i32 = 101;

/// Which of a container's streams a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The read end of its stdout pipe.
    Stdout = 0,
    /// The read end of its stderr pipe.
    Stderr = 1,
    /// The write end of its stdin pipe.
    Stdin = 2,
    /// The master of its pty.
    Tty = 3,
}

/// The slot of container `index`'s `stream`.
pub fn slot(index: usize, stream: Stream) -> Option<i32> {
    let n = SLOT_BASE.checked_add(i32::try_from(index).ok()?.checked_mul(4)?)? + stream as i32;
    (n < SLOT_END).then_some(n)
}

/// What a supervisor gets from its keeper.
#[derive(Debug)]
pub struct Generation {
    /// 0 for the first supervisor of the pod, then 1, 2, ...: a later one
    /// adopts the pod.
    pub number: u32,
    /// Whether this supervisor adopts the pod: every later one, and a
    /// first one started to recover a pod whose supervisor and keeper
    /// both died (`launch::Args::recover`).
    pub adopt: bool,
    /// The supervisor's end of the control socket.
    pub control: OwnedFd,
    /// The read end of the exit pipe.
    pub exits: OwnedFd,
    /// The keeper's pid.
    pub keeper: i32,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Forks the supervisor and becomes its keeper. Returns only in a
/// supervisor (the first, or one that replaces a dead one); the keeper
/// itself exits from here. `ready`: the CLI's ready pipe, which only the
/// first supervisor answers (the keeper closes its copy).
///
/// Call before any thread exists: the keeper forks again later.
pub fn start(ready: Option<RawFd>) -> io::Result<Generation> {
    let keeper = std::process::id() as i32;
    let mut exit_fds = [0; 2];
    // SAFETY: plain system calls on integers and a local array.
    unsafe {
        check(libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))?;
        check(libc::pipe2(exit_fds.as_mut_ptr(), libc::O_CLOEXEC))?;
        // An exit that finds the pipe full is lost rather than block the
        // keeper.
        check(libc::fcntl(exit_fds[1], libc::F_SETFL, libc::O_NONBLOCK))?;
    }
    let (exits_r, exits_w) = (exit_fds[0], exit_fds[1]);
    // SAFETY: a sigset on the stack, filled by libc; SIGCHLD is blocked
    // (no thread exists) and read from a signalfd instead.
    let sigfd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        check(libc::sigprocmask(
            libc::SIG_BLOCK,
            &set,
            std::ptr::null_mut(),
        ))?;
        check(libc::signalfd(-1, &set, libc::SFD_CLOEXEC))?
    };
    // The supervisors keep the name the keeper renames itself from.
    let mut comm = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes into the local.
    unsafe { libc::prctl(libc::PR_GET_NAME, comm.as_mut_ptr(), 0, 0, 0) };
    let mut ready = ready;
    let mut number = 0u32;
    let mut short_lives = 0u32;
    loop {
        let mut pair = [0; 2];
        // SAFETY: socketpair fills the local array.
        check(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                pair.as_mut_ptr(),
            )
        })?;
        let (mine, theirs) = (pair[0], pair[1]);
        let born = monotonic_secs();
        // SAFETY: the process has one thread (see above).
        let pid = check(unsafe { libc::fork() })?;
        if pid == 0 {
            // The supervisor: what is the keeper's alone is closed; its
            // signal mask is the normal one again.
            // SAFETY: closing descriptors this process owns and does not
            // use; restoring the mask blocked above.
            unsafe {
                libc::close(mine);
                libc::close(sigfd);
                libc::close(exits_w);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGCHLD);
                libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::prctl(libc::PR_SET_NAME, comm.as_ptr(), 0, 0, 0);
                // SAFETY: each descriptor is this process's own from here.
                return Ok(Generation {
                    number,
                    adopt: number > 0,
                    control: OwnedFd::from_raw_fd(theirs),
                    exits: OwnedFd::from_raw_fd(exits_r),
                    keeper,
                });
            }
        }
        // SAFETY: the keeper's copies of what only the supervisor uses.
        unsafe {
            libc::close(theirs);
            if let Some(fd) = ready.take() {
                libc::close(fd);
            }
            // The comm name, so that `ps` tells the two apart.
            libc::prctl(libc::PR_SET_NAME, c"pod-keeper".as_ptr(), 0, 0, 0);
        }
        // What the keeper ran to get here it does not run again.
        super::memory::drop_code_mappings();
        let (said, status) = serve(mine, sigfd, exits_w, pid);
        // SAFETY: the control socket of the generation that ended.
        unsafe { libc::close(mine) };
        let crashed = libc::WIFSIGNALED(status)
            || (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == PANIC_EXIT);
        // One that died before it ran the pod (its start failed, and the
        // CLI waits for the keeper's exit) is not replaced.
        if said.quit || !said.armed || !crashed {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                0
            };
            // SAFETY: the keeper's work is over.
            unsafe { libc::_exit(code) };
        }
        if monotonic_secs() - born < SHORT_LIFE_SECS {
            if short_lives > 0 {
                let secs = (1u32 << (short_lives - 1).min(6)).min(MAX_BACKOFF_SECS);
                sleep_secs(secs);
            }
            short_lives += 1;
        } else {
            short_lives = 0;
        }
        number = number.wrapping_add(1).max(1);
    }
}

/// What a supervisor said to its keeper.
#[derive(Default)]
struct Said {
    /// It runs the pod: replaced if it dies.
    armed: bool,
    /// The pod is over.
    quit: bool,
}

/// Serves one supervisor until it ends; what it said, and its wait
/// status.
fn serve(control: RawFd, sigfd: RawFd, exits_w: RawFd, supervisor: i32) -> (Said, i32) {
    let mut open = true;
    let mut said = Said::default();
    let mut ended = None;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: if open { control } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on a local array of two entries.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            continue;
        }
        if open && fds[0].revents != 0 {
            open = drain(control, &mut said);
        }
        if fds[1].revents != 0 {
            let mut info = [0u8; 128];
            // SAFETY: reads one signalfd_siginfo into a local buffer.
            unsafe { libc::read(sigfd, info.as_mut_ptr().cast(), info.len()) };
            reap(exits_w, supervisor, &mut ended);
        }
        if said.quit {
            return (said, 0);
        }
        if let Some(status) = ended {
            // What it sent before it died is still queued: taken first.
            if open {
                drain(control, &mut said);
            }
            return (said, status);
        }
    }
}

/// Reaps every child that ended: the supervisor's status is kept, any
/// other's goes into the exit pipe.
fn reap(exits_w: RawFd, supervisor: i32, ended: &mut Option<i32>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child, status into a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if pid == supervisor {
            *ended = Some(status);
            continue;
        }
        let mut record = [0u8; 8];
        record[..4].copy_from_slice(&pid.to_ne_bytes());
        record[4..].copy_from_slice(&status.to_ne_bytes());
        // SAFETY: an 8-byte write from a local array; a full pipe loses
        // the record (8192 exits unread).
        unsafe { libc::write(exits_w, record.as_ptr().cast(), record.len()) };
    }
}

/// Handles what the supervisor sent; false once it closed its end.
fn drain(control: RawFd, said: &mut Said) -> bool {
    loop {
        let mut data = [0u8; 8];
        // Room for one descriptor's control message (CMSG_SPACE of an int
        // is 24 bytes on 64-bit Linux); u64s keep it aligned.
        let mut cmsg = [0u64; 4];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: a zeroed msghdr pointing at the locals above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cmsg) as _;
        // SAFETY: recvmsg into the buffers described by `msg`.
        let n = unsafe {
            libc::recvmsg(
                control,
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if n == 0 {
            return false;
        }
        if n < 0 {
            let errno = io::Error::last_os_error().raw_os_error();
            return matches!(errno, Some(libc::EAGAIN) | Some(libc::EINTR));
        }
        let received = received_fd(&msg);
        let op = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
        let slot = i32::from_ne_bytes([data[4], data[5], data[6], data[7]]);
        let valid = n == 8 && (SLOT_BASE..SLOT_END).contains(&slot);
        // SAFETY: dup3/close on the received descriptor and on slot
        // numbers, which nothing else in the keeper uses.
        unsafe {
            match op {
                OP_KEEP if valid => {
                    if let Some(fd) = received {
                        libc::dup3(fd, slot, libc::O_CLOEXEC);
                    }
                }
                OP_DROP if valid => {
                    libc::close(slot);
                }
                OP_QUIT => said.quit = true,
                OP_ARM => said.armed = true,
                _ => {}
            }
            if let Some(fd) = received {
                libc::close(fd);
            }
        }
    }
}

/// The descriptor that came with a message, if any.
fn received_fd(msg: &libc::msghdr) -> Option<RawFd> {
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let mut fd: RawFd = -1;
        std::ptr::copy_nonoverlapping(
            libc::CMSG_DATA(cmsg),
            (&mut fd as *mut RawFd).cast(),
            std::mem::size_of::<RawFd>(),
        );
        (fd >= 0).then_some(fd)
    }
}

fn monotonic_secs() -> i64 {
    // SAFETY: clock_gettime into a local.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts.tv_sec
    }
}

fn sleep_secs(secs: u32) {
    let mut ts = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    // SAFETY: nanosleep with locals, resumed after interruptions.
    unsafe {
        let mut rest: libc::timespec = std::mem::zeroed();
        while libc::nanosleep(&ts, &mut rest) < 0 {
            ts = rest;
        }
    }
}

/// The supervisor's side of the control socket.
#[derive(Debug)]
pub struct Keeper {
    control: OwnedFd,
}

impl Keeper {
    pub fn new(control: OwnedFd) -> Keeper {
        Keeper { control }
    }

    fn send(&self, op: u32, slot: i32, fd: Option<BorrowedFd>) -> io::Result<()> {
        let mut data = [0u8; 8];
        data[..4].copy_from_slice(&op.to_ne_bytes());
        data[4..].copy_from_slice(&slot.to_ne_bytes());
        let iov = [std::io::IoSlice::new(&data)];
        let fds;
        let cmsgs: &[nix::sys::socket::ControlMessage] = match fd {
            Some(fd) => {
                fds = [fd.as_raw_fd()];
                &[nix::sys::socket::ControlMessage::ScmRights(&fds)]
            }
            None => &[],
        };
        // Never waits: a keeper that is stopped or gone costs the
        // supervisor nothing but the keeping.
        nix::sys::socket::sendmsg::<()>(
            self.control.as_raw_fd(),
            &iov,
            cmsgs,
            nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }

    /// This supervisor runs the pod: should it die, the keeper starts
    /// another.
    pub fn arm(&self) {
        let _ = self.send(OP_ARM, 0, None);
    }

    /// The keeper keeps a duplicate of `fd` in `slot`.
    pub fn keep(&self, slot: i32, fd: BorrowedFd) {
        let _ = self.send(OP_KEEP, slot, Some(fd));
    }

    /// The keeper closes `slot`.
    pub fn release(&self, slot: i32) {
        let _ = self.send(OP_DROP, slot, None);
    }

    /// The pod is over: the keeper exits now (so that nothing of the pod
    /// outlives a deletion's answer); waits up to 2 s for it to be gone.
    pub fn quit(&self) {
        if self.send(OP_QUIT, 0, None).is_err() {
            return;
        }
        let mut fd = libc::pollfd {
            fd: self.control.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: poll on one local entry; POLLHUP comes when the
        // keeper's end closes, at its exit.
        unsafe { libc::poll(&mut fd, 1, 2000) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_four_per_container_and_bounded() {
        assert_eq!(slot(0, Stream::Stdout), Some(100));
        assert_eq!(slot(0, Stream::Tty), Some(103));
        assert_eq!(slot(2, Stream::Stderr), Some(109));
        assert_eq!(slot(100_000, Stream::Stdout), None);
    }
}
