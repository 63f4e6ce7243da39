//! `pod attach`: the caller's terminal or streams joined to a container's
//! main process through the pod supervisor's socket (`supervisor::attach`
//! has the other end and the frame format).

use std::io::{self, Write, stdin};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::target::Target;
use crate::pods::client::Client;
use crate::store::Store;
use crate::store::record::Records;
use crate::supervisor::attach::{
    self as frames, CLOSE_STDIN, MAX_FRAME, RESIZE, STDERR, STDIN, STDOUT,
};
use crate::supervisor::socket::{Reply, Request};
use crate::terminal::{self, RawMode, ReaderGone, WindowChanges};

/// How the caller joins the process.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    /// Send the caller's stdin (`-i`).
    pub stdin: bool,
    /// Raw mode on the caller's terminal, window sizes passed on.
    pub raw: bool,
    /// Say kubectl's `If you don't see a command prompt, try pressing
    /// enter.` once connected.
    pub prompt_hint: bool,
}

/// Relays until the container's process ends (or the caller leaves:
/// the container keeps running); fails with [`ReaderGone`] when the
/// reader of the caller's output has gone.
pub fn run(store: &Store, target: &Target, streams: Streams) -> Result<()> {
    target.require_running()?;
    let mut socket = connect(store, target)?;
    if streams.prompt_hint {
        eprintln!("If you don't see a command prompt, try pressing enter.");
    }
    let input = stdin();
    let _raw = match streams.raw {
        true => Some(RawMode::enable(input.as_fd()).context("putting the terminal in raw mode")?),
        false => None,
    };
    let winch = match streams.raw {
        true => Some(WindowChanges::install()?),
        false => None,
    };
    if streams.raw {
        send_size(&mut socket, &input)?;
    }
    let mut input_open = streams.stdin;
    let mut received = Vec::new();
    let mut chunk = vec![0u8; MAX_FRAME];
    loop {
        let mut fds = vec![PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        if input_open {
            fds.push(PollFd::new(input.as_fd(), PollFlags::POLLIN));
        }
        if let Some(w) = &winch {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        drop(fds);
        if ready[0] {
            match io::Read::read(&mut socket, &mut chunk) {
                // The process ended (or the supervisor went away).
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e).context("reading from the supervisor"),
            }
            while let Some((kind, payload)) = frames::next_frame(&mut received)? {
                match kind {
                    STDOUT => write_all(io::stdout().lock(), &payload)?,
                    STDERR => write_all(io::stderr().lock(), &payload)?,
                    _ => {}
                }
            }
        }
        let mut next = 1;
        if input_open {
            if ready[next] {
                match nix::unistd::read(input.as_fd(), &mut chunk) {
                    Ok(0) => {
                        input_open = false;
                        socket.write_all(&frames::frame(CLOSE_STDIN, &[]))?;
                    }
                    Ok(n) => socket.write_all(&frames::frame(STDIN, &chunk[..n]))?,
                    Err(Errno::EINTR | Errno::EAGAIN) => {}
                    Err(e) => return Err(e).context("reading stdin"),
                }
            }
            next += 1;
        }
        if let Some(w) = &winch
            && ready[next]
            && w.take()
        {
            send_size(&mut socket, &input)?;
        }
    }
    Ok(())
}

/// Asks the pod's supervisor to attach to the target container: the
/// socket returned carries frames from here on (see `supervisor::attach`).
/// `pod serve` relays the same frames to its WebSocket clients.
pub fn connect(store: &Store, target: &Target) -> Result<UnixStream> {
    let uid = crate::store::pod_uid(&target.pod)?;
    let socket = Records::new(&store.pod_run_dir(uid)).socket();
    let mut client = Client::connect(&socket)
        .with_context(|| format!("connecting to the supervisor of pod {}", target.pod_name()))?;
    client.send(&Request::Attach {
        container: target.container.name.clone(),
    })?;
    // The reply line is read byte by byte: frames may follow it at once,
    // and a buffered reader would swallow them.
    let mut socket = client.into_stream();
    match read_reply(&mut socket)? {
        Reply::Accepted => Ok(socket),
        Reply::Error { message } => bail!("{message}"),
        other => bail!("unexpected reply from the supervisor: {other:?}"),
    }
}

fn read_reply(socket: &mut UnixStream) -> Result<Reply> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match io::Read::read(socket, &mut byte) {
            Ok(0) => bail!("the supervisor closed the connection"),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the supervisor's reply"),
        }
        if line.len() > 64 * 1024 {
            bail!("the supervisor's reply is too long");
        }
    }
    serde_json::from_slice(&line).context("the supervisor's reply")
}

fn send_size(socket: &mut UnixStream, terminal: &impl AsFd) -> Result<()> {
    if let Some(size) = terminal::window_size(terminal) {
        let mut payload = size.ws_row.to_be_bytes().to_vec();
        payload.extend_from_slice(&size.ws_col.to_be_bytes());
        socket.write_all(&frames::frame(RESIZE, &payload))?;
    }
    Ok(())
}

/// Writes to the caller's stdout or stderr; a reader that has gone (`pod
/// attach p | head -1`) ends the session with [`ReaderGone`].
fn write_all(mut out: impl Write, data: &[u8]) -> Result<()> {
    out.write_all(data)
        .and_then(|()| out.flush())
        .map_err(ReaderGone::or_io)
}
