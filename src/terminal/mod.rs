//! The caller's terminal and streams during an interactive session (`pod
//! exec`, `pod attach`): raw mode, window sizes, SIGWINCH, and the
//! copy loop that relays bytes between the caller and a process.
//!
//! Nothing here knows about pods; `session` builds exec and attach on it.

pub mod raw;
pub mod relay;
pub mod winch;

use std::os::fd::AsFd;

pub use raw::RawMode;
pub use rustix::termios::Winsize;
pub use winch::WindowChanges;

/// The window size of the terminal on `fd`, or `None` when it is not a
/// terminal (or reports no size, as a fresh pty does).
pub fn window_size(fd: impl AsFd) -> Option<Winsize> {
    rustix::termios::tcgetwinsize(fd)
        .ok()
        .filter(|w| w.ws_row > 0 && w.ws_col > 0)
}

/// Gives the terminal on `fd` a new window size; the kernel sends SIGWINCH
/// to its foreground process group.
pub fn set_window_size(fd: impl AsFd, size: Winsize) -> std::io::Result<()> {
    rustix::termios::tcsetwinsize(fd, size)?;
    Ok(())
}
