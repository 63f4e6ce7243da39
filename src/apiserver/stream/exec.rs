//! pods/exec: a new process in the container, started as `pod exec`
//! starts it (the runtime makes it a child of this server, with pipes or
//! a pty made in the container), relayed over the v5 channels until its
//! output ends and it has exited; then its exit code on the error
//! channel.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use super::Options;
use super::channel::{self, FromClient};
use super::client::Client;
use crate::apiserver::Server;
use crate::pods::session::target::Target;
use crate::runtime::{ExecFailed, PodRuntime, Stdio};

/// The process's ends, on this side.
struct Process {
    pid: i32,
    /// Where the client's stdin goes (`None`: not asked for).
    stdin: Option<pipe::Sender>,
    stdout: pipe::Receiver,
    /// `None` with a pty: stderr is the terminal too.
    stderr: Option<pipe::Receiver>,
    /// The pty master, for window sizes.
    pty: Option<OwnedFd>,
}

pub async fn run(
    server: Arc<Server>,
    session: Target,
    options: Options,
    mut client: Client,
) -> Result<()> {
    let command = options.command.clone();
    let (tty, stdin) = (options.tty, options.stdin);
    let started =
        tokio::task::spawn_blocking(move || start(&server, &session, &command, tty, stdin))
            .await
            .context("starting the process")?;
    let fds = match started {
        Ok(fds) => fds,
        Err(e) if e.downcast_ref::<ExecFailed>().is_some() => {
            // What the container runtimes pass on through the kubelet: the
            // runtime's message on the output, exit code 126.
            let message = format!("{e:#}: unknown\r\n");
            client.send(channel::STDOUT, message.as_bytes()).await?;
            return client
                .finish(&channel::exit_code(&options.command, 126))
                .await;
        }
        Err(e) => return client.finish(&channel::failure(&format!("{e:#}"))).await,
    };
    let process = fds.into_async()?;
    relay(client, process, &options).await
}

/// The descriptors `start` returns, made async on the server's runtime.
struct Fds {
    pid: i32,
    stdin: Option<OwnedFd>,
    stdout: OwnedFd,
    stderr: Option<OwnedFd>,
    pty: Option<OwnedFd>,
}

impl Fds {
    fn into_async(self) -> Result<Process> {
        let (stdout, stdin) = match &self.pty {
            // The master is a character device, not a pipe: made
            // non-blocking here, then read and written like one.
            Some(master) => {
                let flags = rustix::fs::fcntl_getfl(master)?;
                rustix::fs::fcntl_setfl(master, flags | rustix::fs::OFlags::NONBLOCK)?;
                let reader = pipe::Receiver::from_owned_fd_unchecked(master.try_clone()?)?;
                let writer = match self.stdin.is_some() {
                    true => Some(pipe::Sender::from_owned_fd_unchecked(master.try_clone()?)?),
                    false => None,
                };
                (reader, writer)
            }
            None => (
                pipe::Receiver::from_owned_fd(self.stdout)?,
                self.stdin.map(pipe::Sender::from_owned_fd).transpose()?,
            ),
        };
        Ok(Process {
            pid: self.pid,
            stdin,
            stdout,
            stderr: self.stderr.map(pipe::Receiver::from_owned_fd).transpose()?,
            pty: self.pty,
        })
    }
}

/// Starts the process (blocking: the runtime forks and waits for its
/// start to be confirmed).
fn start(
    server: &Server,
    session: &Target,
    command: &[String],
    tty: bool,
    stdin: bool,
) -> Result<Fds> {
    let runtime = PodRuntime::open(&server.store, &session.pod)?;
    let name = &session.container.name;
    if tty {
        // Sized by the client's first resize message.
        let started = runtime.exec(name, command, Stdio::Tty { size: None })?;
        let master = started.console.context("the container's pty")?;
        return Ok(Fds {
            pid: started.pid,
            // A marker only: the pty master carries stdin.
            stdin: stdin.then(|| master.try_clone()).transpose()?,
            stdout: master.try_clone()?,
            stderr: None,
            pty: Some(master),
        });
    }
    let pipe =
        || -> Result<(OwnedFd, OwnedFd)> { Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?) };
    let (stdin_r, stdin_w) = match stdin {
        true => {
            let (r, w) = pipe()?;
            (Some(r), Some(w))
        }
        false => (None, None),
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let started = runtime.exec(
        name,
        command,
        Stdio::Pipes {
            stdin: stdin_r,
            stdout: out_w,
            stderr: err_w,
        },
    )?;
    Ok(Fds {
        pid: started.pid,
        stdin: stdin_w,
        stdout: out_r,
        stderr: Some(err_r),
        pty: None,
    })
}

/// Copies until the output has ended and the process has exited, then
/// sends its exit code. A client that goes away first leaves the process
/// its pipes closed (or its terminal hung up), as the kubelet does.
async fn relay(mut client: Client, process: Process, options: &Options) -> Result<()> {
    let Process {
        pid,
        stdin,
        stdout,
        stderr,
        pty,
    } = process;
    let mut exited =
        tokio::task::spawn_blocking(move || crate::pods::session::exec::wait(pid).unwrap_or(255));
    // A writer task: a process that does not read its stdin must not stop
    // this loop from reading its output.
    let mut to_stdin = stdin.map(|pipe| {
        let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
        tokio::spawn(feed(pipe, rx));
        tx
    });
    let mut stdout = Some(stdout);
    let mut stderr = stderr;
    let mut code = None;
    let (mut out_buf, mut err_buf) = (vec![0u8; 32 * 1024], vec![0u8; 32 * 1024]);
    let stdout_channel = channel::STDOUT;
    let stderr_channel = channel::STDERR;
    while stdout.is_some() || stderr.is_some() || code.is_none() {
        tokio::select! {
            message = client.next() => match message {
                FromClient::Stdin(data) => {
                    if let Some(tx) = &to_stdin {
                        let _ = tx.send(data);
                    }
                }
                FromClient::CloseStdin => to_stdin = None,
                FromClient::Resize { rows, cols } => {
                    if let Some(master) = &pty {
                        let size = rustix::termios::Winsize {
                            ws_row: rows,
                            ws_col: cols,
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        let _ = crate::terminal::set_window_size(master.as_fd(), size);
                    }
                }
                FromClient::Gone => return Ok(()),
                FromClient::Nothing => {}
            },
            read = read_some(&mut stdout, &mut out_buf) => match read {
                Some(n) if options.stdout => client.send(stdout_channel, &out_buf[..n]).await?,
                Some(_) => {}
                None => stdout = None,
            },
            read = read_some(&mut stderr, &mut err_buf) => match read {
                Some(n) if options.stderr => client.send(stderr_channel, &err_buf[..n]).await?,
                Some(_) => {}
                None => stderr = None,
            },
            status = &mut exited, if code.is_none() => code = Some(status.unwrap_or(255)),
        }
    }
    let status = match code {
        Some(0) => channel::success(),
        Some(code) => channel::exit_code(&options.command, code),
        None => unreachable!("the loop ends once the process has exited"),
    };
    client.finish(&status).await
}

/// Reads from `from` while it is open: `None` once it has ended (a pty's
/// EIO, once the process and its children have closed it, included).
async fn read_some(from: &mut Option<pipe::Receiver>, buf: &mut [u8]) -> Option<usize> {
    match from {
        Some(pipe) => match pipe.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// Writes what the client types into the process's stdin; dropping the
/// pipe at the end is the process's end of input.
async fn feed(mut pipe: pipe::Sender, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(data) = rx.recv().await {
        if pipe.write_all(&data).await.is_err() {
            return;
        }
    }
}
