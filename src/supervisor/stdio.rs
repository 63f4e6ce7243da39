//! A container's standard streams: pipes whose far ends go to the runtime
//! (or, for `tty: true`, the master of the pty the container's init makes
//! in the container's own devpts), and the pumps that copy what the container
//! writes into its CRI log file.
//!
//! The pumps read in 64 KiB chunks and write straight to the file, so a
//! container writing as fast as it can waits at most for one page-cache
//! write; nothing is dropped. Every pump of the pod reads into the same
//! buffers (`memory::with_scratch`): a read and its log entries are
//! handled between two awaits.

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Rc;

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::jiff::Timestamp;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

use super::attach::{Chunk, Tap};
use super::memory::with_scratch;
use crate::runtime::Stdio;
use crate::store::crilog::{LineSplitter, LogFile, Stream};

/// The supervisor's ends kept for attach.
#[derive(Debug, Default)]
pub struct Kept {
    /// The write end of stdin (`stdin: true`).
    pub stdin: Option<OwnedFd>,
    /// The pty master (`tty: true`).
    pub tty: Option<OwnedFd>,
}

/// What the container writes, to be pumped into its log.
#[derive(Debug)]
pub enum Output {
    Pipes { stdout: OwnedFd, stderr: OwnedFd },
    Tty(OwnedFd),
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

/// The supervisor's ends of a container instance's streams while it is
/// being created: its pipes, or, for `tty: true`, the pty its init makes
/// inside the container and hands over once it runs.
#[derive(Debug)]
pub enum Ends {
    Pipes(Kept, Output),
    Tty,
}

impl Ends {
    /// What the supervisor keeps and reads once the instance runs;
    /// `console` is the pty master the runtime received
    /// (`Started::console`).
    pub fn running(self, console: Option<OwnedFd>) -> io::Result<(Kept, Output)> {
        match (self, console) {
            (Ends::Pipes(kept, output), _) => Ok((kept, output)),
            (Ends::Tty, Some(master)) => {
                let reader = master.try_clone()?;
                let kept = Kept {
                    stdin: None,
                    tty: Some(master),
                };
                Ok((kept, Output::Tty(reader)))
            }
            (Ends::Tty, None) => Err(io::Error::other("the runtime returned no pty")),
        }
    }
}

/// Makes the streams of one container instance: what the runtime gets,
/// and the supervisor's ends.
pub fn open(container: &Container) -> io::Result<(Stdio, Ends)> {
    if container.tty == Some(true) {
        // Kubernetes sizes a container's terminal when a client attaches.
        return Ok((Stdio::Tty { size: None }, Ends::Tty));
    }
    let (stdin_r, stdin_w) = match container.stdin {
        Some(true) => {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        }
        _ => (None, None),
    };
    let (stdout_r, stdout_w) = pipe()?;
    let (stderr_r, stderr_w) = pipe()?;
    let stdio = Stdio::Pipes {
        stdin: stdin_r,
        stdout: stdout_w,
        stderr: stderr_w,
    };
    let kept = Kept {
        stdin: stdin_w,
        tty: None,
    };
    let output = Output::Pipes {
        stdout: stdout_r,
        stderr: stderr_r,
    };
    Ok((stdio, Ends::Pipes(kept, output)))
}

/// Starts copying the container's output into `log`; the handle ends when
/// every writer of the streams has closed them.
/// Every chunk also goes to `tap`, for attached clients.
pub fn pump(output: Output, log: LogFile, tap: Tap) -> io::Result<JoinHandle<()>> {
    let log = Rc::new(RefCell::new(log));
    Ok(match output {
        Output::Pipes { stdout, stderr } => {
            let out = pump_pipe(stdout, Stream::Stdout, log.clone(), tap.clone())?;
            let err = pump_pipe(stderr, Stream::Stderr, log, tap)?;
            tokio::task::spawn_local(async move {
                let _ = out.await;
                let _ = err.await;
            })
        }
        Output::Tty(master) => pump_tty(master, log, tap)?,
    })
}

/// Writes one entry stamped `time`: the time of the read it came from, as
/// conmon stamps the lines of one read.
fn write(
    log: &Rc<RefCell<LogFile>>,
    out: &mut Vec<u8>,
    stream: Stream,
    time: Timestamp,
    content: &[u8],
    partial: bool,
) {
    let mut log = log.borrow_mut();
    if let Err(e) = log.write_entry(out, time, stream, partial, content)
        && log.first_failure()
    {
        eprintln!(
            "pod-supervisor: writing {}: {e} (the log stops here until writes succeed again)",
            log.path().display()
        );
    }
}

/// Hands a chunk to the attached clients, if any.
fn share(tap: &Tap, stream: Stream, data: &[u8]) {
    if tap.receiver_count() > 0 {
        let _ = tap.send(Chunk {
            stream,
            data: Rc::from(data),
        });
    }
}

fn flush(log: &Rc<RefCell<LogFile>>, out: &mut Vec<u8>) {
    let mut log = log.borrow_mut();
    match log.flush(out) {
        Ok(()) => log.recovered(),
        Err(e) if log.first_failure() => eprintln!(
            "pod-supervisor: writing {}: {e} (the log stops here until writes succeed again)",
            log.path().display()
        ),
        Err(_) => {}
    }
}

/// Hands what a read got to the attached clients and the log.
fn got(
    data: &[u8],
    out: &mut Vec<u8>,
    stream: Stream,
    lines: &mut LineSplitter,
    log: &Rc<RefCell<LogFile>>,
    tap: &Tap,
) {
    share(tap, stream, data);
    let now = crate::duration::now();
    lines.feed(data, |c, p| write(log, out, stream, now, c, p));
    flush(log, out);
}

/// The end of a stream: its unfinished last line.
fn ended(stream: Stream, lines: &mut LineSplitter, log: &Rc<RefCell<LogFile>>) {
    let _ = with_scratch(|_, out| {
        let now = crate::duration::now();
        lines.finish(|c, p| write(log, out, stream, now, c, p));
        flush(log, out);
    });
}

fn pump_pipe(
    fd: OwnedFd,
    stream: Stream,
    log: Rc<RefCell<LogFile>>,
    tap: Tap,
) -> io::Result<JoinHandle<()>> {
    let pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)?;
    Ok(tokio::task::spawn_local(async move {
        let mut lines = LineSplitter::default();
        loop {
            if pipe.readable().await.is_err() {
                break;
            }
            let read = with_scratch(|input, out| {
                let n = pipe.try_read(input)?;
                got(&input[..n], out, stream, &mut lines, &log, &tap);
                Ok::<_, io::Error>(n)
            });
            match read {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Ok(Err(_)) => break,
            }
        }
        ended(stream, &mut lines, &log);
    }))
}

fn pump_tty(master: OwnedFd, log: Rc<RefCell<LogFile>>, tap: Tap) -> io::Result<JoinHandle<()>> {
    rustix::io::ioctl_fionbio(&master, true)?;
    // SAFETY: the AsyncFd owns the OwnedFd, which stays open and the same
    // descriptor until the AsyncFd is dropped.
    let fd = unsafe { AsyncFd::register_with_interest(master, tokio::io::Interest::READABLE) }?;
    Ok(tokio::task::spawn_local(async move {
        let mut lines = LineSplitter::default();
        loop {
            let Ok(mut guard) = fd.readable().await else {
                break;
            };
            let read = with_scratch(|input, out| {
                let n = guard.try_io(|inner| {
                    rustix::io::read(inner.get_ref(), &mut *input).map_err(io::Error::from)
                })?;
                if let Ok(n) = n {
                    got(&input[..n], out, Stream::Stdout, &mut lines, &log, &tap);
                }
                Ok::<_, tokio::io::unix::TryIoError>(n)
            });
            match read {
                // EIO: every slave is closed (the container is gone).
                Ok(Ok(Ok(0))) | Ok(Ok(Err(_))) | Err(_) => break,
                Ok(Ok(Ok(_))) => {}
                Ok(Err(_would_block)) => continue,
            }
        }
        ended(Stream::Stdout, &mut lines, &log);
    }))
}
