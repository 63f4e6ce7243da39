//! The copy loop of a session: bytes from the caller to the process and
//! back, in one thread with poll(2), until the process's output ends.
//!
//! Writes into descriptors the session owns (a child's stdin pipe, a pty
//! master, a socket) are non-blocking and buffered, so a process that stops
//! reading its stdin while it fills its stdout cannot deadlock the loop.
//! The caller's own stdout and stderr stay blocking: their file
//! descriptions are shared with the caller's shell, and a slow terminal
//! should slow the copy down, not lose bytes. When the reader of one of
//! them has gone the session is over: [`Relay::run`] says [`ReaderGone`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::ReaderGone;

/// Where one direction of the copy writes.
#[derive(Debug)]
pub enum Target<'a> {
    /// A descriptor of the caller (stdout, stderr): blocking writes, left
    /// open at the end.
    Caller(BorrowedFd<'a>),
    /// A descriptor owned by the session: non-blocking writes; closed when
    /// the source reaches end of file, which is how the process sees EOF
    /// on its stdin.
    Owned(OwnedFd),
    /// A descriptor owned by the session and shared with another copy (a
    /// pty master written by one direction and read by the other): left
    /// open at end of file.
    Shared(BorrowedFd<'a>),
}

impl Target<'_> {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Target::Caller(fd) | Target::Shared(fd) => fd.as_fd(),
            Target::Owned(fd) => fd.as_fd(),
        }
    }

    fn nonblocking(&self) -> bool {
        !matches!(self, Target::Caller(_))
    }
}

/// One direction: everything read from `from` is written to `to`.
#[derive(Debug)]
struct Copy<'a> {
    from: BorrowedFd<'a>,
    to: Option<Target<'a>>,
    /// Bytes read but not yet written.
    pending: Vec<u8>,
    /// The session is over when every copy that ends it has reached EOF.
    ends_session: bool,
    done: bool,
}

/// A set of copies and an optional resize hook, run by [`Relay::run`].
pub struct Relay<'a> {
    copies: Vec<Copy<'a>>,
    resize: Option<(BorrowedFd<'a>, Box<dyn FnMut() + 'a>)>,
}

const CHUNK: usize = 32 * 1024;

impl<'a> Relay<'a> {
    pub fn new() -> Relay<'a> {
        Relay {
            copies: Vec::new(),
            resize: None,
        }
    }

    /// Copies the process's output (`from`) to the caller: the session
    /// lasts until every output reaches end of file.
    pub fn output(mut self, from: BorrowedFd<'a>, to: Target<'a>) -> Self {
        self.copies.push(Copy::new(from, to, true));
        self
    }

    /// Copies the caller's input to the process; the session does not wait
    /// for it to end.
    pub fn input(mut self, from: BorrowedFd<'a>, to: Target<'a>) -> Self {
        self.copies.push(Copy::new(from, to, false));
        self
    }

    /// Calls `on_change` whenever `signal` (a [`super::WindowChanges`])
    /// becomes readable.
    pub fn on_resize(mut self, signal: BorrowedFd<'a>, on_change: impl FnMut() + 'a) -> Self {
        self.resize = Some((signal, Box::new(on_change)));
        self
    }

    /// Runs until every output has ended, or fails with [`ReaderGone`]
    /// when the reader of a [`Target::Caller`] has.
    pub fn run(mut self) -> anyhow::Result<()> {
        for copy in &self.copies {
            if let Some(to) = &copy.to
                && to.nonblocking()
            {
                rustix::io::ioctl_fionbio(to.fd(), true)?;
            }
        }
        while self.copies.iter().any(|c| c.ends_session && !c.done) {
            let mut fds = Vec::new();
            let mut owners = Vec::new();
            for (i, copy) in self.copies.iter().enumerate() {
                if copy.done {
                    continue;
                }
                if copy.pending.is_empty() {
                    fds.push(PollFd::new(copy.from, PollFlags::POLLIN));
                } else if let Some(to) = &copy.to {
                    fds.push(PollFd::new(to.fd(), PollFlags::POLLOUT));
                }
                owners.push(Some(i));
            }
            if let Some((signal, _)) = &self.resize {
                fds.push(PollFd::new(*signal, PollFlags::POLLIN));
                owners.push(None);
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let ready: Vec<(Option<usize>, bool)> = fds
                .iter()
                .zip(&owners)
                .map(|(fd, owner)| (*owner, fd.any().unwrap_or(false)))
                .collect();
            drop(fds);
            // A window change goes through before the keys that arrived
            // with it: what the user typed after resizing runs at the
            // new size.
            if ready
                .iter()
                .any(|&(owner, is_ready)| owner.is_none() && is_ready)
                && let Some((signal, on_change)) = &mut self.resize
            {
                drain(*signal);
                on_change();
            }
            for (owner, is_ready) in ready {
                if let (Some(i), true) = (owner, is_ready) {
                    self.copies[i].step()?;
                }
            }
        }
        Ok(())
    }
}

impl Default for Relay<'_> {
    fn default() -> Self {
        Relay::new()
    }
}

impl<'a> Copy<'a> {
    fn new(from: BorrowedFd<'a>, to: Target<'a>, ends_session: bool) -> Copy<'a> {
        Copy {
            from,
            to: Some(to),
            pending: Vec::new(),
            ends_session,
            done: false,
        }
    }

    /// One read or one flush, whichever this copy was waiting for.
    fn step(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            let mut buf = vec![0u8; CHUNK];
            match nix::unistd::read(self.from, &mut buf) {
                // EIO: a pty master whose slave side every process closed.
                Ok(0) | Err(Errno::EIO) => {
                    self.finish();
                    return Ok(());
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        self.flush()
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let Some(to) = &self.to else {
            self.pending.clear();
            return Ok(());
        };
        let blocking = !to.nonblocking();
        while !self.pending.is_empty() {
            match nix::unistd::write(to.fd(), &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) if !blocking => return Ok(()),
                Err(Errno::EPIPE) if matches!(to, Target::Caller(_)) => {
                    return Err(ReaderGone.into());
                }
                // The reader went away (the process closed its stdin or
                // its pty): this direction is over.
                Err(Errno::EPIPE | Errno::EIO) => {
                    self.finish();
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.done = true;
        self.pending.clear();
        // Dropping an owned target closes it: EOF for the process.
        self.to = None;
    }
}

fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 64];
    while matches!(nix::unistd::read(fd, &mut buf), Ok(n) if n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
    }

    /// `cat` fed more than a pipe holds while its output is also copied:
    /// the loop must not deadlock, and EOF on the input reaches `cat`.
    #[test]
    fn copies_through_a_process_without_deadlock_and_passes_eof() {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let child_in: OwnedFd = child.stdin.take().unwrap().into();
        let child_out: OwnedFd = child.stdout.take().unwrap().into();

        let (input_r, input_w) = pipe();
        let (result_r, result_w) = pipe();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let writer = std::thread::spawn(move || {
            std::fs::File::from(input_w).write_all(&data).unwrap();
        });
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            std::fs::File::from(result_r).read_to_end(&mut out).unwrap();
            out
        });
        Relay::new()
            .input(input_r.as_fd(), Target::Owned(child_in))
            .output(child_out.as_fd(), Target::Caller(result_w.as_fd()))
            .run()
            .unwrap();
        drop(result_w);
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), expected);
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn a_process_that_ignores_its_input_ends_the_session() {
        let mut child = Command::new("true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let child_in: OwnedFd = child.stdin.take().unwrap().into();
        let child_out: OwnedFd = child.stdout.take().unwrap().into();
        // The caller's input never ends.
        let (input_r, _input_w) = pipe();
        let sink = std::fs::File::options()
            .write(true)
            .open("/dev/null")
            .unwrap();
        Relay::new()
            .input(input_r.as_fd(), Target::Owned(child_in))
            .output(child_out.as_fd(), Target::Caller(sink.as_fd()))
            .run()
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// The caller's stdout is a pipe nobody reads any more: the session
    /// is over with `ReaderGone` (the CLI then dies of SIGPIPE), where it
    /// used to drop that output silently and end well.
    #[test]
    fn a_caller_whose_reader_has_gone_ends_the_session() {
        let (from_r, from_w) = pipe();
        std::fs::File::from(from_w).write_all(b"hello\n").unwrap();
        let (gone_r, gone_w) = pipe();
        drop(gone_r);
        let err = Relay::new()
            .output(from_r.as_fd(), Target::Caller(gone_w.as_fd()))
            .run()
            .unwrap_err();
        assert!(err.is::<ReaderGone>(), "{err:#}");
    }
}
