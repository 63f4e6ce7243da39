//! Attach: clients of the supervisor's socket connected to a container's
//! main process (`pod attach`).
//!
//! The container's streams exist once, here: the pumps copy what it
//! writes into its log *and* into a broadcast channel that every attached
//! client reads, so several attaches see the same output; what clients
//! type goes through one writer task into the container's stdin pipe or
//! pty master. A client leaving changes nothing for the container (except
//! `stdinOnce: true`, whose stdin closes when the first session ends, as
//! in Kubernetes).
//!
//! After the `accepted` reply line the connection carries frames, in both
//! directions: one kind byte, a big-endian u32 length, the payload.
//! Client to supervisor: [`STDIN`] bytes, [`RESIZE`] (rows, cols as
//! big-endian u16), [`CLOSE_STDIN`]. Supervisor to client: [`STDOUT`] and
//! [`STDERR`] bytes. The supervisor closes the connection when the process
//! has ended.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc};

use super::socket::Reply;
use super::stdio::Kept;
use crate::store::crilog::Stream;

pub const STDIN: u8 = 0;
pub const RESIZE: u8 = 1;
pub const CLOSE_STDIN: u8 = 2;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// The largest payload a frame may carry; bigger reads are split.
pub const MAX_FRAME: usize = 64 * 1024;

/// Encodes one frame.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Takes the next whole frame off the front of `buf`, if there is one.
pub fn next_frame(buf: &mut Vec<u8>) -> io::Result<Option<(u8, Vec<u8>)>> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("attach frame of {len} bytes"),
        ));
    }
    if buf.len() < 5 + len {
        return Ok(None);
    }
    let kind = buf[0];
    let payload = buf[5..5 + len].to_vec();
    buf.drain(..5 + len);
    Ok(Some((kind, payload)))
}

/// A piece of the container's output.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub stream: Stream,
    pub data: Rc<[u8]>,
}

/// The sending side the pumps feed; `send` never waits, and a client too
/// slow to keep up loses the oldest chunks rather than slowing the
/// container.
pub type Tap = broadcast::Sender<Chunk>;

/// Chunks kept for a client that falls behind (each one read, up to
/// 64 KiB). The ring is allocated whole when the container starts, about
/// 56 bytes a place, attached to or not: 1024 places cost every container
/// 56 KiB of the supervisor's memory.
const TAP_CHUNKS: usize = 64;

pub fn tap() -> Tap {
    broadcast::channel(TAP_CHUNKS).0
}

enum Input {
    Data(Vec<u8>),
    Close,
}

/// What a running container instance offers to attach clients.
#[derive(Debug)]
pub struct Streams {
    output: Tap,
    input: Option<mpsc::UnboundedSender<Input>>,
    /// The pty master, for window sizes.
    tty: Option<Rc<OwnedFd>>,
    stdin_once: bool,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Data(d) => write!(f, "Data({} bytes)", d.len()),
            Input::Close => f.write_str("Close"),
        }
    }
}

impl Streams {
    /// Takes over the supervisor's ends of a new instance's streams (call
    /// inside the supervisor's LocalSet).
    /// `closed`: called when the container's stdin is closed (so that
    /// the keeper lets its duplicate go too).
    pub fn new(
        kept: Kept,
        output: Tap,
        stdin_once: bool,
        closed: Option<Box<dyn FnOnce()>>,
    ) -> io::Result<Streams> {
        let (input, tty) = match (kept.tty, kept.stdin) {
            (Some(master), _) => {
                let writer = master.try_clone()?;
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::task::spawn_local(write_pty(writer, rx));
                (Some(tx), Some(Rc::new(master)))
            }
            (None, Some(stdin)) => {
                let pipe = tokio::net::unix::pipe::Sender::from_owned_fd(stdin)?;
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::task::spawn_local(write_pipe(pipe, rx, closed));
                (Some(tx), None)
            }
            (None, None) => (None, None),
        };
        Ok(Streams {
            output,
            input,
            tty,
            stdin_once,
        })
    }

    /// Serves one client until the process ends or the client leaves. The
    /// client is subscribed to the output before it hears `accepted`.
    pub fn serve(&self, stream: UnixStream) {
        let output = self.output.subscribe();
        let input = self.input.clone();
        let tty = self.tty.clone();
        let stdin_once = self.stdin_once;
        tokio::task::spawn_local(async move {
            let (mut reader, mut writer) = stream.into_split();
            let mut accepted = serde_json::to_vec(&Reply::Accepted).expect("a reply serializes");
            accepted.push(b'\n');
            if writer.write_all(&accepted).await.is_err() {
                return;
            }
            let from_client = async {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; MAX_FRAME];
                loop {
                    match reader.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Ok(Some((kind, payload))) = next_frame(&mut buf) {
                        match kind {
                            STDIN => {
                                if let Some(tx) = &input {
                                    let _ = tx.send(Input::Data(payload));
                                }
                            }
                            RESIZE if payload.len() == 4 => {
                                if let Some(master) = &tty {
                                    resize(master, &payload);
                                }
                            }
                            CLOSE_STDIN if stdin_once => {
                                if let Some(tx) = &input {
                                    let _ = tx.send(Input::Close);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            };
            let to_client = async {
                let mut output = output;
                loop {
                    match output.recv().await {
                        Ok(chunk) => {
                            let kind = match chunk.stream {
                                Stream::Stdout => STDOUT,
                                Stream::Stderr => STDERR,
                            };
                            if writer.write_all(&frame(kind, &chunk.data)).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            };
            tokio::select! {
                () = from_client => {
                    // The first session of a stdinOnce container closes
                    // its stdin when it ends.
                    if stdin_once && let Some(tx) = &input {
                        let _ = tx.send(Input::Close);
                    }
                }
                () = to_client => {}
            }
        });
    }
}

fn resize(master: &OwnedFd, payload: &[u8]) {
    let rows = u16::from_be_bytes([payload[0], payload[1]]);
    let cols = u16::from_be_bytes([payload[2], payload[3]]);
    if rows > 0 && cols > 0 {
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let _ = rustix::termios::tcsetwinsize(master.as_fd(), size);
    }
}

async fn write_pty(master: OwnedFd, mut rx: mpsc::UnboundedReceiver<Input>) {
    // The master is non-blocking (the log pump set it so on the shared
    // file description).
    // SAFETY: the AsyncFd owns the descriptor until it is dropped.
    let Ok(fd) =
        (unsafe { AsyncFd::register_with_interest(master, tokio::io::Interest::WRITABLE) })
    else {
        return;
    };
    while let Some(Input::Data(data)) = rx.recv().await {
        let mut rest = &data[..];
        while !rest.is_empty() {
            let Ok(mut guard) = fd.writable().await else {
                return;
            };
            match guard
                .try_io(|inner| rustix::io::write(inner.get_ref(), rest).map_err(io::Error::from))
            {
                Ok(Ok(n)) => rest = &rest[n..],
                Ok(Err(_)) => return,
                Err(_would_block) => continue,
            }
        }
    }
    // Close: a terminal has no end of input to give; the master stays
    // with the log pump.
}

async fn write_pipe(
    mut pipe: tokio::net::unix::pipe::Sender,
    mut rx: mpsc::UnboundedReceiver<Input>,
    closed: Option<Box<dyn FnOnce()>>,
) {
    while let Some(Input::Data(data)) = rx.recv().await {
        if pipe.write_all(&data).await.is_err() {
            break;
        }
    }
    // Dropping the pipe (and every duplicate) is the container's end of
    // stdin.
    drop(pipe);
    if let Some(closed) = closed {
        closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_apart_as_they_were_put_together() {
        let mut buf = frame(STDIN, b"echo hi\r");
        buf.extend(frame(RESIZE, &[0, 24, 0, 80]));
        buf.extend(&frame(STDOUT, b"partial")[..3]);
        assert_eq!(
            next_frame(&mut buf).unwrap(),
            Some((STDIN, b"echo hi\r".to_vec()))
        );
        assert_eq!(
            next_frame(&mut buf).unwrap(),
            Some((RESIZE, vec![0, 24, 0, 80]))
        );
        assert_eq!(next_frame(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 3);
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut buf = vec![STDIN, 0xff, 0xff, 0xff, 0xff];
        assert!(next_frame(&mut buf).is_err());
    }
}
