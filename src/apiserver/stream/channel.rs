//! The remote command protocol `v5.channel.k8s.io` (client-go's
//! `remotecommand`, the API server's `wsstream`): every WebSocket message
//! is binary, its first byte the channel, the rest its data. Channels:
//! stdin 0, stdout 1, stderr 2, the error channel 3 (one `Status` at the
//! end: success, or the exit code), resize 4 (`{"Width":..,"Height":..}`).
//! v5 adds the close signal, channel 255 with the closed channel's number
//! as data: kubectl sends `[255, 0]` at the end of its stdin.

use anyhow::Result;
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
pub const CLOSE: u8 = 255;

/// What the client sent, read from one message.
#[derive(Debug, PartialEq)]
pub enum FromClient {
    Stdin(Bytes),
    /// The end of the client's stdin.
    CloseStdin,
    /// A window size: rows, columns.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// The client closed the connection (or it broke).
    Gone,
    /// Anything else (pings are answered by the WebSocket layer): ignored.
    Nothing,
}

/// Reads the next message of the client.
pub async fn next<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> FromClient {
    match ws.next().await {
        Some(Ok(Message::Binary(data))) => read(data),
        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => FromClient::Gone,
        Some(Ok(_)) => FromClient::Nothing,
    }
}

/// One binary message of the client.
fn read(data: Bytes) -> FromClient {
    match data.first() {
        Some(&STDIN) => FromClient::Stdin(data.slice(1..)),
        Some(&CLOSE) if data.get(1) == Some(&STDIN) => FromClient::CloseStdin,
        Some(&RESIZE) => resize(&data[1..]).unwrap_or(FromClient::Nothing),
        _ => FromClient::Nothing,
    }
}

/// A window size as client-go writes it (its `TerminalSize`: Go's field
/// names, no JSON tags), here and on SPDY's resize stream; `None` for
/// anything else or a zero size.
pub fn resize(json: &[u8]) -> Option<FromClient> {
    let size: Value = serde_json::from_slice(json).ok()?;
    let dim = |key: &str| {
        size[key]
            .as_u64()
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(0)
    };
    let (cols, rows) = (dim("Width"), dim("Height"));
    if cols == 0 || rows == 0 {
        return None;
    }
    Some(FromClient::Resize { rows, cols })
}

/// Sends `data` on `channel`.
pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    channel: u8,
    data: &[u8],
) -> Result<()> {
    let mut message = Vec::with_capacity(1 + data.len());
    message.push(channel);
    message.extend_from_slice(data);
    ws.send(Message::binary(message)).await?;
    Ok(())
}

/// Ends the session: `status` on the error channel, then a normal close
/// (which kubectl's readers take as the end of every stream).
pub async fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    status: &Value,
) -> Result<()> {
    send(ws, ERROR, &serde_json::to_vec(status)?).await?;
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await?;
    // Read until the client's close answers ours (or it goes away), so
    // the closing handshake completes before the connection drops.
    while let Some(Ok(_)) = ws.next().await {}
    Ok(())
}

/// The error channel's `Status` of a session that ended well.
pub fn success() -> Value {
    json!({"metadata": {}, "status": "Success"})
}

/// The error channel's `Status` of a command that exited with `code`:
/// the kubelet's words, and the `ExitCode` cause kubectl exits with.
pub fn exit_code(command: &[String], code: u8) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
    })
}

/// The error channel's `Status` of a session that failed (kubectl prints
/// the message).
pub fn failure(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_read_as_client_go_writes_them() {
        assert_eq!(
            read(Bytes::from_static(b"\x00abc")),
            FromClient::Stdin(Bytes::from_static(b"abc"))
        );
        assert_eq!(
            read(Bytes::from_static(b"\xff\x00")),
            FromClient::CloseStdin
        );
        assert_eq!(
            read(Bytes::from_static(b"\x04{\"Width\":120,\"Height\":40}")),
            FromClient::Resize {
                rows: 40,
                cols: 120
            }
        );
        assert_eq!(read(Bytes::from_static(b"\x04{}")), FromClient::Nothing);
        assert_eq!(read(Bytes::new()), FromClient::Nothing);
    }

    #[test]
    fn an_exit_code_is_a_cause_kubectl_reads() {
        let status = exit_code(&["sh".into(), "-c".into(), "exit 3".into()], 3);
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
    }
}
