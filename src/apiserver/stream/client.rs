//! What exec and attach talk to: kubectl's WebSocket (the v5 channels,
//! `channel`) or a SPDY/3.1 session (`remotecommand`). The same three
//! things either way: the client's next message, output on a channel,
//! and the end with a status.

use anyhow::Result;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_tungstenite::WebSocketStream;

use super::channel::{self, FromClient};
use super::remotecommand;

pub enum Client {
    WebSocket(WebSocketStream<TokioIo<Upgraded>>),
    Spdy(remotecommand::Session),
}

impl Client {
    /// The client's next message (cancel safe).
    pub async fn next(&mut self) -> FromClient {
        match self {
            Client::WebSocket(ws) => channel::next(ws).await,
            Client::Spdy(session) => session.next().await,
        }
    }

    /// `data` on `channel` (stdout or stderr).
    pub async fn send(&mut self, channel: u8, data: &[u8]) -> Result<()> {
        match self {
            Client::WebSocket(ws) => channel::send(ws, channel, data).await,
            Client::Spdy(session) => session.send(channel, data).await,
        }
    }

    /// Ends the session with `status` (the error channel's `Status`).
    pub async fn finish(&mut self, status: &Value) -> Result<()> {
        match self {
            Client::WebSocket(ws) => channel::finish(ws, status).await,
            Client::Spdy(session) => session.finish(status).await,
        }
    }
}
