//! A signal as a readable pipe, for a single-threaded event loop: the
//! handler writes a byte to the pipe, the loop waits for it to be readable.
//!
//! tokio's own signal support does the same, but its first use (and any
//! runtime with an I/O driver, when its `signal` feature is built) sets up
//! a slot with a channel for every signal number: some 22 KiB of heap in
//! each supervisor, one per pod, for the one signal it waits for.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end of each signal's pipe (-1: none), indexed by signal
/// number; read by the handler, so plain atomics.
static WRITE_ENDS: [AtomicI32; 65] = [const { AtomicI32::new(-1) }; 65];

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: errno is this thread's; saved and restored around write(2),
    // the only async-signal-safe call made here.
    unsafe {
        let errno = *libc::__errno_location();
        if let Some(fd) = WRITE_ENDS.get(signal as usize) {
            let fd = fd.load(Ordering::Relaxed);
            if fd >= 0 {
                // A full pipe (EAGAIN) already says that a signal came.
                libc::write(fd, [0u8].as_ptr().cast(), 1);
            }
        }
        *libc::__errno_location() = errno;
    }
}

/// The arrivals of one signal.
pub struct SignalPipe {
    read: tokio::net::unix::pipe::Receiver,
}

impl SignalPipe {
    /// Handles `signal` from now on (once per signal in a process; call it
    /// inside a runtime with I/O enabled).
    pub fn new(signal: i32) -> io::Result<SignalPipe> {
        let slot = WRITE_ENDS
            .get(signal as usize)
            .filter(|_| signal > 0)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let flags = nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK;
        let (read, write): (OwnedFd, OwnedFd) = nix::unistd::pipe2(flags)?;
        let read = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
        if slot
            .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("signal {signal} is already handled"),
            ));
        }
        // The handler writes to it for the rest of the process's life.
        let _ = write.into_raw_fd();
        // SAFETY: a zeroed sigaction is valid; the handler only calls
        // async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(SignalPipe { read })
    }

    /// Waits until the signal came at least once since the last call.
    pub async fn recv(&mut self) -> io::Result<()> {
        let mut drained = [0u8; 64];
        loop {
            self.read.readable().await?;
            let mut got = false;
            loop {
                match self.read.try_read(&mut drained) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(_) => got = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if got {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_wakes_the_waiter_once_per_burst() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut pipe = SignalPipe::new(libc::SIGUSR2).unwrap();
            // SAFETY: raise(3) signals this thread, whose handler is ours now.
            unsafe {
                libc::raise(libc::SIGUSR2);
                libc::raise(libc::SIGUSR2);
            }
            pipe.recv().await.unwrap();
            // Both arrivals were one wake-up: nothing is pending now.
            let again = tokio::time::timeout(std::time::Duration::from_millis(50), pipe.recv());
            assert!(again.await.is_err(), "a second wake-up with no signal");
            unsafe { libc::raise(libc::SIGUSR2) };
            pipe.recv().await.unwrap();
            assert_eq!(
                SignalPipe::new(libc::SIGUSR2).err().map(|e| e.kind()),
                Some(io::ErrorKind::AlreadyExists)
            );
        });
    }
}
