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

/// The caller's stdout or stderr is a pipe whose reader has gone (`pod
/// exec … | head -1`). Sessions return it rather than stop quietly or go
/// on: the CLI then ends by SIGPIPE, as kubectl (any Go program) does when
/// a write to its descriptor 1 or 2 finds the pipe closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the reader of the output has gone")]
pub struct ReaderGone;

impl ReaderGone {
    /// [`ReaderGone`] for a closed pipe, the error itself otherwise: for
    /// the caller's streams, where other failures are errors too.
    pub fn or_io(err: std::io::Error) -> anyhow::Error {
        match err.kind() {
            std::io::ErrorKind::BrokenPipe => ReaderGone.into(),
            _ => err.into(),
        }
    }

    /// A message's write: [`ReaderGone`] for a closed pipe; any other
    /// failure is let pass, as kubectl lets its `Fprintf`s' pass.
    pub fn check(written: std::io::Result<()>) -> Result<(), ReaderGone> {
        match written {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Err(ReaderGone),
            _ => Ok(()),
        }
    }
}

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
