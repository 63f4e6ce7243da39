//! SIGWINCH as a readable file descriptor (the self-pipe trick), so that a
//! poll loop sees window changes next to its data.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// The write end of the pipe, for the signal handler. One `WindowChanges`
/// exists at a time (a process has one controlling terminal).
static WRITE_END: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigwinch(_: libc::c_int) {
    let fd = WRITE_END.load(Ordering::Relaxed);
    if fd >= 0 {
        // Async-signal-safe; a full pipe already says "changed".
        unsafe { libc::write(fd, b"w".as_ptr().cast(), 1) };
    }
}

/// Becomes readable each time the window size of the controlling terminal
/// changes. Restores the default SIGWINCH disposition on drop.
#[derive(Debug)]
pub struct WindowChanges {
    read: OwnedFd,
    /// Kept open for the handler.
    _write: OwnedFd,
    previous: SigAction,
}

impl WindowChanges {
    pub fn install() -> io::Result<WindowChanges> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        WRITE_END.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_sigwinch),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only calls write(2) on a descriptor that
        // stays open until the handler is uninstalled in `drop`.
        let previous = unsafe { sigaction(Signal::SIGWINCH, &action) }?;
        Ok(WindowChanges {
            read,
            _write: write,
            previous,
        })
    }

    /// Consumes the pending notifications; true if there was any.
    pub fn take(&self) -> bool {
        let mut buf = [0u8; 64];
        let mut any = false;
        while let Ok(n) = nix::unistd::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
            any = true;
        }
        any
    }
}

impl AsFd for WindowChanges {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

impl Drop for WindowChanges {
    fn drop(&mut self) {
        // SAFETY: restoring the disposition found at install time.
        let _ = unsafe { sigaction(Signal::SIGWINCH, &self.previous) };
        WRITE_END.store(-1, Ordering::Relaxed);
    }
}
