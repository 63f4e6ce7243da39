//! Raw mode on the caller's terminal for the length of a session.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcsetattr};

/// Signals that end the CLI while the terminal is raw: their handler puts
/// the terminal back before the process dies of them, so that a `kill` of
/// `pod exec -it` does not leave the user's shell without echo.
const FATAL: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
];

/// The modes to restore from a signal handler (libc's copy, since the
/// handler can only make raw calls) and the terminal they belong to.
static SAVED: AtomicPtr<libc::termios> = AtomicPtr::new(std::ptr::null_mut());
static SAVED_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn restore_and_die(signal: libc::c_int) {
    let saved = SAVED.load(Ordering::SeqCst);
    let fd = SAVED_FD.load(Ordering::SeqCst);
    // SAFETY: tcsetattr, signal and raise are async-signal-safe; `saved`
    // stays allocated while the handler is installed.
    unsafe {
        if !saved.is_null() && fd >= 0 {
            libc::tcsetattr(fd, libc::TCSANOW, saved);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// The terminal in raw mode (no echo, no line editing, no signals from
/// Ctrl-C: every byte goes to the remote process, whose own pty does the
/// cooking). The previous mode comes back on drop, also when the session
/// ends with an error or a panic unwinds, and when a signal kills the CLI.
#[derive(Debug)]
pub struct RawMode {
    /// A duplicate of the terminal's descriptor, valid however the
    /// caller's handle lives.
    fd: OwnedFd,
    saved: Termios,
    previous: Vec<(Signal, SigAction)>,
}

impl RawMode {
    /// Puts the terminal on `fd` (usually stdin) in raw mode.
    pub fn enable(fd: BorrowedFd<'_>) -> io::Result<RawMode> {
        let fd = fd.try_clone_to_owned()?;
        let saved = tcgetattr(&fd)?;
        let mut libc_saved = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the struct when it returns 0.
        if unsafe { libc::tcgetattr(fd.as_raw_fd(), libc_saved.as_mut_ptr()) } == 0 {
            let boxed = Box::new(unsafe { libc_saved.assume_init() });
            SAVED_FD.store(fd.as_raw_fd(), Ordering::SeqCst);
            let old = SAVED.swap(Box::into_raw(boxed), Ordering::SeqCst);
            if !old.is_null() {
                // SAFETY: only `enable` stores boxes here.
                drop(unsafe { Box::from_raw(old) });
            }
        }
        let action = SigAction::new(
            SigHandler::Handler(restore_and_die),
            SaFlags::SA_RESETHAND,
            SigSet::empty(),
        );
        let mut previous = Vec::new();
        for signal in FATAL {
            // SAFETY: the handler only makes async-signal-safe calls.
            previous.push((signal, unsafe { sigaction(signal, &action) }?));
        }
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&fd, OptionalActions::Now, &raw)?;
        Ok(RawMode {
            fd,
            saved,
            previous,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // TCSADRAIN: let what the session wrote reach the screen before
        // the modes change back.
        let _ = tcsetattr(&self.fd, OptionalActions::Drain, &self.saved);
        for (signal, action) in &self.previous {
            // SAFETY: restoring the dispositions found by `enable`.
            let _ = unsafe { sigaction(*signal, action) };
        }
        SAVED_FD.store(-1, Ordering::SeqCst);
        let old = SAVED.swap(std::ptr::null_mut(), Ordering::SeqCst);
        if !old.is_null() {
            // SAFETY: only `enable` stores boxes here.
            drop(unsafe { Box::from_raw(old) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::pty::{OpenptFlags, ioctl_tiocgptpeer, openpt, unlockpt};

    #[test]
    fn raw_mode_comes_and_goes() {
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let master = openpt(flags).unwrap();
        unlockpt(&master).unwrap();
        let slave = ioctl_tiocgptpeer(&master, flags).unwrap();
        let before = tcgetattr(&slave).unwrap();
        assert!(
            before
                .local_modes
                .contains(rustix::termios::LocalModes::ECHO)
        );
        {
            let _raw = RawMode::enable(std::os::fd::AsFd::as_fd(&slave)).unwrap();
            let during = tcgetattr(&slave).unwrap();
            assert!(
                !during
                    .local_modes
                    .contains(rustix::termios::LocalModes::ECHO)
            );
            assert!(
                !during
                    .local_modes
                    .contains(rustix::termios::LocalModes::ICANON)
            );
        }
        let after = tcgetattr(&slave).unwrap();
        assert_eq!(after.local_modes, before.local_modes);
    }
}
