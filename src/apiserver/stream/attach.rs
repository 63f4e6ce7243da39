//! pods/attach: the container's main process, joined through its pod
//! supervisor's attach socket as `pod attach` joins it; the supervisor's
//! frames become v5 channel messages and back. When the process ends the
//! supervisor closes the socket, and the session ends with success.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::Options;
use super::channel::{self, FromClient};
use super::client::Client;
use crate::apiserver::Server;
use crate::pods::session::target::Target;
use crate::supervisor::attach::{self as frames, CLOSE_STDIN, MAX_FRAME, RESIZE, STDERR, STDIN};

pub async fn run(
    server: Arc<Server>,
    session: Target,
    options: Options,
    mut client: Client,
) -> Result<()> {
    let connected = tokio::task::spawn_blocking(move || {
        crate::pods::session::attach::connect(&server.store, &session)
    })
    .await
    .context("attaching")?;
    let socket = match connected {
        Ok(socket) => socket,
        Err(e) => return client.finish(&channel::failure(&format!("{e:#}"))).await,
    };
    socket.set_nonblocking(true)?;
    let mut socket = tokio::net::UnixStream::from_std(socket)?;
    let mut received = Vec::new();
    let mut chunk = vec![0u8; MAX_FRAME];
    loop {
        tokio::select! {
            message = client.next() => {
                let frame = match message {
                    FromClient::Stdin(data) if options.stdin => frames::frame(STDIN, &data),
                    FromClient::CloseStdin if options.stdin => frames::frame(CLOSE_STDIN, &[]),
                    FromClient::Resize { rows, cols } => {
                        let mut size = rows.to_be_bytes().to_vec();
                        size.extend_from_slice(&cols.to_be_bytes());
                        frames::frame(RESIZE, &size)
                    }
                    // The container keeps running without its client.
                    FromClient::Gone => return Ok(()),
                    _ => continue,
                };
                socket.write_all(&frame).await.context("writing to the supervisor")?;
            }
            read = socket.read(&mut chunk) => {
                match read {
                    // The process ended (or its supervisor went away).
                    Ok(0) | Err(_) => break,
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                }
                while let Some((kind, payload)) = frames::next_frame(&mut received)? {
                    let (wanted, to) = match kind {
                        STDERR if !options.tty => (options.stderr, channel::STDERR),
                        _ => (options.stdout, channel::STDOUT),
                    };
                    if wanted {
                        client.send(to, &payload).await?;
                    }
                }
            }
        }
    }
    client.finish(&channel::success()).await
}
