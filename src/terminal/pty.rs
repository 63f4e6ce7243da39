//! A new pseudo-terminal pair for a process that runs with `-t`.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use super::Winsize;

/// The two ends of a pty: the master stays with the caller, the slave
/// becomes the process's stdin, stdout, stderr and controlling terminal.
#[derive(Debug)]
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

impl Pty {
    /// Opens a pty with `size` (the caller's window, so that the first
    /// screenful of a full-screen program is already right).
    pub fn open(size: Option<Winsize>) -> io::Result<Pty> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let slave: OwnedFd = std::fs::File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(OsStr::from_bytes(name.as_bytes()))?
            .into();
        if let Some(size) = size {
            super::set_window_size(&master, size)?;
        }
        Ok(Pty { master, slave })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_pty_has_the_size_it_was_given() {
        let size = Winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = Pty::open(Some(size)).unwrap();
        let seen = crate::terminal::window_size(&pty.slave).unwrap();
        assert_eq!((seen.ws_row, seen.ws_col), (33, 101));
        assert!(rustix::termios::isatty(&pty.slave));
    }
}
