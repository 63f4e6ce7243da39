//! Raw mode on the caller's terminal for the length of a session.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::termios::{OptionalActions, Termios, tcgetattr, tcsetattr};

/// The terminal in raw mode (no echo, no line editing, no signals from
/// Ctrl-C: every byte goes to the remote process, whose own pty does the
/// cooking). The previous mode comes back on drop, also when the session
/// ends with an error or a panic unwinds.
#[derive(Debug)]
pub struct RawMode {
    /// A duplicate of the terminal's descriptor, valid however the
    /// caller's handle lives.
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Puts the terminal on `fd` (usually stdin) in raw mode.
    pub fn enable(fd: BorrowedFd<'_>) -> io::Result<RawMode> {
        let fd = fd.try_clone_to_owned()?;
        let saved = tcgetattr(&fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&fd, OptionalActions::Now, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // TCSADRAIN: let what the session wrote reach the screen before
        // the modes change back.
        let _ = tcsetattr(&self.fd, OptionalActions::Drain, &self.saved);
    }
}
