//! pods/portforward: kubectl 1.32's port-forward, SPDY/3.1 carried in
//! WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`, client-go's
//! tunneling dialer), protocol `portforward.k8s.io` inside; or SPDY/3.1
//! on the upgraded connection itself, kubectl's fallback.
//!
//! For each local connection the client opens two SPDY streams with the
//! same `requestID` header: an error stream (it closes its side at once,
//! and reads our error text, if any, to its end) and a data stream, both
//! with the `port`. Once both are there the port is dialled inside the
//! pod as `pod port-forward` dials it (`pods::portforward::Sandbox`), and
//! bytes are relayed: the client's end of input (FIN) is passed on as a
//! half close; the pod's end ends the data stream and then the error
//! stream, which is what the client waits for before it closes the local
//! connection. A failed dial is written on the error stream in the
//! kubelet's words: kubectl prints it and ends the session.
//!
//! The session ends with its pod, as `pod port-forward` does: when the
//! pod's sandbox exits (a pidfd of its pause process), the client is sent
//! GOAWAY, which client-go takes for the end of the connection (kubectl
//! exits 1 with `lost connection to pod`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::spdy::{self, Frame};
use crate::pods::portforward::Sandbox;

/// The WebSocket subprotocol kubectl asks for.
pub const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Frames waiting for the client. Bounded: a pod that writes faster than
/// the client reads waits, rather than filling this server's memory.
const QUEUE: usize = 64;

/// How long a session ended by its pod waits for the client to take
/// its GOAWAY and close its end.
const LINGER: Duration = Duration::from_secs(10);

/// The two streams of one forwarded connection, as they arrive.
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    port: u16,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client went away or said GOAWAY.
    Client,
    /// The pod's sandbox exited (the pod was deleted).
    PodGone,
}

/// Serves one port-forward session: `incoming` is the client's SPDY byte
/// stream in whatever pieces the transport cuts it, `outgoing` takes whole
/// frames. Ends when the client goes away or says GOAWAY, or when the
/// pod's sandbox exits: then the client is sent GOAWAY, which client-go
/// takes for the connection's end (kubectl exits 1 with `lost connection
/// to pod`, as `pod port-forward` does). Every connection of the session
/// ends with it.
pub async fn run<I, O>(sandbox: Sandbox, mut incoming: I, outgoing: O) -> Result<()>
where
    I: Stream<Item = Bytes> + Unpin,
    O: Sink<Vec<u8>> + Unpin + Send + 'static,
{
    let exited = sandbox.watch_exit()?;
    let (out, queued) = mpsc::channel::<Vec<u8>>(QUEUE);
    // One writer, so that the connections' frames and our replies go out
    // whole and in order, and reading the client never waits on writing
    // to it (which could wait on the client reading our answers).
    let mut writer = tokio::spawn(write(queued, outgoing));
    let mut session = Session {
        sandbox: Arc::new(sandbox),
        out,
        connections: JoinSet::new(),
        reader: spdy::Reader::new(),
        replies: spdy::Writer::new(),
        pairs: HashMap::new(),
        to_pod: HashMap::new(),
        last: 0,
    };
    let ended = loop {
        tokio::select! {
            bytes = incoming.next() => {
                let Some(bytes) = bytes else { break Ok(End::Client) };
                match session.take(&bytes).await {
                    Ok(true) => {}
                    Ok(false) => break Ok(End::Client),
                    Err(e) => break Err(e),
                }
            }
            _ = exited.readable() => break Ok(End::PodGone),
        }
    };
    let Session {
        mut connections,
        out,
        last,
        ..
    } = session;
    connections.shutdown().await;
    if ended.as_ref().is_ok_and(|e| *e == End::PodGone) {
        let _ = out.send(spdy::goaway(last)).await;
    }
    // The writer sends what is queued (the GOAWAY last) and closes its
    // side once the last sender is gone.
    drop(out);
    if tokio::time::timeout(LINGER, &mut writer).await.is_err() {
        writer.abort();
    }
    if ended.as_ref().is_ok_and(|e| *e == End::PodGone) {
        // Read until the client closes: closing with its bytes unread
        // would reset the connection under the GOAWAY it has not read.
        let drain = async { while incoming.next().await.is_some() {} };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }
    ended.map(|_| ())
}

/// Sends the queued frames in order; closes `outgoing` (a WebSocket's
/// Close) when the queue's last sender is gone, stops when the client is.
async fn write<O>(mut queued: mpsc::Receiver<Vec<u8>>, mut outgoing: O)
where
    O: Sink<Vec<u8>> + Unpin,
{
    while let Some(frame) = queued.recv().await {
        if outgoing.send(frame).await.is_err() {
            return;
        }
    }
    let _ = outgoing.close().await;
}

/// A session's state between the client's frames.
struct Session {
    sandbox: Arc<Sandbox>,
    /// Frames for the writer.
    out: mpsc::Sender<Vec<u8>>,
    /// The forwarded connections: aborted when the session ends.
    connections: JoinSet<()>,
    reader: spdy::Reader,
    replies: spdy::Writer,
    /// Pairs of streams not complete yet, by request id.
    pairs: HashMap<String, Pair>,
    /// A data stream's connection task: `None` is the client's FIN.
    to_pod: HashMap<u32, mpsc::Sender<Option<Bytes>>>,
    /// The highest stream id the client opened, for GOAWAY.
    last: u32,
}

impl Session {
    /// Takes the next piece of the client's byte stream and acts on the
    /// frames it completes; `false` once the client said GOAWAY.
    async fn take(&mut self, bytes: &[u8]) -> Result<bool> {
        self.reader.push(bytes);
        while let Some(frame) = self.reader.next()? {
            match frame {
                Frame::SynStream {
                    stream, headers, ..
                } => self.open(stream, &headers).await?,
                Frame::Data { stream, fin, data } => {
                    if let Some(tx) = self.to_pod.get(&stream) {
                        // A pod slow to read holds up the session's other
                        // connections, as spdystream's reader does.
                        if !data.is_empty() {
                            let _ = tx.send(Some(Bytes::from(data))).await;
                        }
                        if fin {
                            let _ = tx.send(None).await;
                            self.to_pod.remove(&stream);
                        }
                    }
                }
                // Its connection task sees its channel closed.
                Frame::RstStream { stream } => {
                    self.to_pod.remove(&stream);
                }
                Frame::Ping(id) => send(&self.out, spdy::ping(id)).await?,
                Frame::GoAway => return Ok(false),
                Frame::Other => {}
            }
        }
        // Finished connections leave the set.
        while self.connections.try_join_next().is_some() {}
        Ok(true)
    }

    /// A stream the client opened: one of a connection's pair, which is
    /// dialled once both are there.
    async fn open(&mut self, stream: u32, headers: &[(String, String)]) -> Result<()> {
        self.last = self.last.max(stream);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let kind = header("streamtype");
        let port = header("port").parse::<u16>().ok().filter(|p| *p > 0);
        let (Some(port), "error" | "data") = (port, kind) else {
            // The kubelet refuses such a stream in its reply (FIN at once).
            return send(&self.out, self.replies.syn_reply(stream, true)?).await;
        };
        // The reply first: the connection's frames follow it.
        send(&self.out, self.replies.syn_reply(stream, false)?).await?;
        // Clients of the first protocol send no requestID: the kubelet
        // pairs a data stream with the one before it.
        let request = match header("requestid") {
            "" if kind == "data" => stream.saturating_sub(2).to_string(),
            "" => stream.to_string(),
            id => id.to_string(),
        };
        let pair = self.pairs.entry(request.clone()).or_default();
        pair.port = port;
        match kind {
            "error" => pair.error = Some(stream),
            _ => pair.data = Some(stream),
        }
        if let (Some(error), Some(data)) = (pair.error, pair.data) {
            let port = pair.port;
            self.pairs.remove(&request);
            let (tx, rx) = mpsc::channel(QUEUE);
            self.to_pod.insert(data, tx);
            self.connections.spawn(forward(
                self.sandbox.clone(),
                port,
                (error, data),
                rx,
                self.out.clone(),
            ));
        }
        Ok(())
    }
}

/// Queues a frame for the client; an error once the writer has stopped
/// (the client is gone).
async fn send(out: &mpsc::Sender<Vec<u8>>, frame: Vec<u8>) -> Result<()> {
    out.send(frame)
        .await
        .map_err(|_| anyhow!("the client's connection is closed"))
}

/// A session over kubectl's WebSocket: each binary message is a piece of
/// the SPDY byte stream (client-go's `TunnelingConnection` writes one per
/// write, its reader takes messages cut anywhere).
pub async fn websocket<S>(sandbox: Sandbox, ws: WebSocketStream<S>) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = ws.split();
    let incoming = futures_util::stream::unfold(stream, |mut stream| async move {
        loop {
            match stream.next().await? {
                Ok(Message::Binary(bytes)) => return Some((bytes, stream)),
                Ok(Message::Close(_)) | Err(_) => return None,
                // Pings are answered by the WebSocket layer.
                Ok(_) => {}
            }
        }
    });
    let outgoing = sink.with(|frame: Vec<u8>| {
        std::future::ready(Ok::<_, tokio_tungstenite::tungstenite::Error>(
            Message::binary(frame),
        ))
    });
    run(sandbox, std::pin::pin!(incoming), outgoing).await
}

/// A session over a connection upgraded to SPDY/3.1 itself (kubectl's
/// fallback, `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`, and older clients):
/// the frames are the connection's bytes.
pub async fn spdy<S>(sandbox: Sandbox, io: S) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read, write) = tokio::io::split(io);
    let incoming = futures_util::stream::unfold(read, |mut read| async move {
        let mut buf = vec![0u8; 16 * 1024];
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Bytes::from(buf), read))
            }
        }
    });
    let outgoing = futures_util::sink::unfold(write, |mut write, frame: Vec<u8>| async move {
        write.write_all(&frame).await?;
        write.flush().await?;
        Ok::<_, std::io::Error>(write)
    });
    run(sandbox, std::pin::pin!(incoming), Box::pin(outgoing)).await
}

/// One forwarded connection: dialled in the pod, then relayed.
async fn forward(
    sandbox: Arc<Sandbox>,
    port: u16,
    (error_stream, data_stream): (u32, u32),
    mut from_client: mpsc::Receiver<Option<Bytes>>,
    out: mpsc::Sender<Vec<u8>>,
) {
    let conn = match sandbox.dial(port).await {
        Ok(conn) => conn,
        Err(why) => {
            // The kubelet's words; kubectl prints them after "an error
            // occurred forwarding L -> R: ".
            let message = format!(
                "error forwarding port {port} to pod {}, uid : {why}",
                sandbox.id
            );
            let _ = send(&out, spdy::data(error_stream, false, message.as_bytes())).await;
            let _ = send(&out, spdy::data(data_stream, true, &[])).await;
            let _ = send(&out, spdy::data(error_stream, true, &[])).await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = conn.into_split();
    let up = async {
        while let Some(Some(data)) = from_client.recv().await {
            if to_pod.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = to_pod.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if send(&out, spdy::data(data_stream, false, &buf[..n]))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    tokio::pin!(up, down);
    // The client's end of input is a half close: the pod's answer still
    // comes. The pod's end ends the whole connection.
    tokio::select! {
        () = &mut down => {}
        () = &mut up => down.await,
    }
    // The data stream's end, then the error stream's (empty: no error),
    // which is what the client waits for before closing its connection.
    let _ = send(&out, spdy::data(data_stream, true, &[])).await;
    let _ = send(&out, spdy::data(error_stream, true, &[])).await;
}
