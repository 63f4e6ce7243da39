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
//! A pair not complete within the kubelet's stream creation timeout (30
//! s from its first stream) is given up as the kubelet gives it up: `(request=N)
//! timed out waiting for streams` on its error stream, if it has one.
//! Unlike the kubelet, which leaves both streams open, the pair's streams
//! are then ended, so a client reading the error stream to its end gets
//! the message. A second error or data stream of one pair is refused in
//! the kubelet's words on the pair's error stream; a stream without a
//! valid port or type is reset (CANCEL), as apimachinery refuses it.
//!
//! The session ends with its pod, as `pod port-forward` does: when the
//! pod's sandbox exits (a pidfd of its pause process), the client is sent
//! GOAWAY, which client-go takes for the end of the connection (kubectl
//! exits 1 with `lost connection to pod`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use bytes::Bytes;
use futures_util::{Sink, SinkExt as _, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::remotecommand::STREAM_CREATION_TIMEOUT;
use super::spdy::{self, Frame, Reset};
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
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    port: u16,
    /// When its first stream came: it is given up a timeout later.
    opened: Instant,
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
pub async fn run<I, O>(sandbox: Sandbox, incoming: I, outgoing: O) -> Result<()>
where
    I: Stream<Item = Bytes> + Unpin,
    O: Sink<Vec<u8>> + Unpin + Send + 'static,
{
    serve(sandbox, incoming, outgoing, STREAM_CREATION_TIMEOUT).await
}

/// [`run`], with pairs given up `pair_timeout` after their first stream.
async fn serve<I, O>(
    sandbox: Sandbox,
    mut incoming: I,
    outgoing: O,
    pair_timeout: Duration,
) -> Result<()>
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
        opened: VecDeque::new(),
        pair_timeout,
        to_pod: HashMap::new(),
        last: 0,
    };
    let ended = loop {
        let expiry = session.next_expiry();
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
            () = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                if let Err(e) = session.expire().await {
                    break Err(e);
                }
            }
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
    /// The request ids of `pairs` in the order they were opened (with
    /// when): the first is the first to time out.
    opened: VecDeque<(Instant, String)>,
    /// How long a pair may wait for its second stream.
    pair_timeout: Duration,
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
                Frame::InvalidStream { stream } => {
                    send(&self.out, spdy::reset(stream, Reset::ProtocolError)).await?
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
            // The kubelet's handler refuses it, and apimachinery resets it.
            return send(&self.out, spdy::reset(stream, Reset::Cancel)).await;
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
        let pair = self.pairs.entry(request.clone()).or_insert_with(|| {
            let now = Instant::now();
            self.opened.push_back((now, request.clone()));
            Pair {
                error: None,
                data: None,
                port,
                opened: now,
            }
        });
        let slot = match kind {
            "error" => &mut pair.error,
            _ => &mut pair.data,
        };
        if slot.is_some() {
            // The kubelet's words, on the pair's error stream; the pair
            // goes on waiting for its other stream.
            if let Some(error) = pair.error {
                let message = format!(
                    "error processing stream for request {request}: {kind} stream already assigned"
                );
                send(&self.out, spdy::data(error, false, message.as_bytes())).await?;
            }
            return Ok(());
        }
        *slot = Some(stream);
        pair.port = port;
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

    /// When the oldest pair still waiting times out.
    fn next_expiry(&self) -> Option<Instant> {
        self.opened
            .front()
            .map(|(opened, _)| *opened + self.pair_timeout)
    }

    /// Gives up the pairs that have waited too long for their second
    /// stream: the kubelet's message on the error stream, if there is
    /// one, then both streams' ends.
    async fn expire(&mut self) -> Result<()> {
        let now = Instant::now();
        while let Some((opened, _)) = self.opened.front()
            && *opened + self.pair_timeout <= now
        {
            let (opened, request) = self.opened.pop_front().expect("there is a front");
            // Complete since, or a later pair of the same id.
            if self.pairs.get(&request).is_none_or(|p| p.opened != opened) {
                continue;
            }
            let pair = self.pairs.remove(&request).expect("looked up");
            // The kubelet's message starts with its connection's Go
            // pointer, `(conn=&{0xc...}, `, which says nothing here.
            let message = format!("(request={request}) timed out waiting for streams");
            if let Some(error) = pair.error {
                send(&self.out, spdy::data(error, false, message.as_bytes())).await?;
            }
            for stream in [pair.data, pair.error].into_iter().flatten() {
                send(&self.out, spdy::data(stream, true, &[])).await?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use spdy::client::{Client, Seen};
    use tokio::net::TcpListener;

    /// A session on the sandbox of a hostNetwork pod whose pause process
    /// is a `sleep` of the test's; the client's end in the test's hands.
    struct Session {
        sleeper: std::process::Child,
        to_server: Option<mpsc::UnboundedSender<Bytes>>,
        from_server: mpsc::UnboundedReceiver<Vec<u8>>,
        served: tokio::task::JoinHandle<Result<()>>,
        spdy: Client,
    }

    impl Drop for Session {
        fn drop(&mut self) {
            // The test's own child, by its pid.
            let _ = self.sleeper.kill();
            let _ = self.sleeper.wait();
        }
    }

    impl Session {
        fn start(pair_timeout: Duration) -> Session {
            let sleeper = std::process::Command::new("sleep")
                .arg("600")
                .spawn()
                .unwrap();
            let sandbox = Sandbox::host_network_of(sleeper.id());
            let (to_server, incoming) = mpsc::unbounded_channel::<Bytes>();
            let incoming = Box::pin(futures_util::stream::unfold(incoming, |mut rx| async {
                rx.recv().await.map(|bytes| (bytes, rx))
            }));
            let (sent, from_server) = mpsc::unbounded_channel::<Vec<u8>>();
            let outgoing = Box::pin(futures_util::sink::unfold(
                sent,
                |sent, frame: Vec<u8>| async move { sent.send(frame).map(|()| sent) },
            ));
            let served = tokio::spawn(serve(sandbox, incoming, outgoing, pair_timeout));
            Session {
                sleeper,
                to_server: Some(to_server),
                from_server,
                served,
                spdy: Client::new(),
            }
        }

        fn open(&mut self, stream: u32, headers: &[(&str, &str)]) {
            let frame = self.spdy.syn_stream(stream, headers);
            self.send(frame);
        }

        fn open_of_request_0(&mut self, stream: u32, kind: &str, port: &str) {
            self.open(
                stream,
                &[("streamtype", kind), ("port", port), ("requestid", "0")],
            );
        }

        fn send(&self, bytes: Vec<u8>) {
            let to_server = self.to_server.as_ref().expect("the client is there");
            to_server.send(Bytes::from(bytes)).unwrap();
        }

        /// The server's next frame (each message is one whole frame).
        async fn next(&mut self) -> Seen {
            let next = tokio::time::timeout(Duration::from_secs(10), self.from_server.recv());
            let mut frame = next.await.expect("a frame in time").expect("a frame");
            let mut seen = spdy::client::frames(&mut frame);
            assert_eq!((seen.len(), frame.len()), (1, 0), "{seen:?}");
            seen.remove(0)
        }

        /// The client hangs up: the session ends.
        async fn end(mut self) {
            self.to_server = None;
            let served = tokio::time::timeout(Duration::from_secs(10), &mut self.served);
            served.await.expect("the session ended").unwrap().unwrap();
        }
    }

    fn data(stream: u32, fin: bool, data: &[u8]) -> Seen {
        Seen::Data {
            stream,
            fin,
            data: data.to_vec(),
        }
    }

    fn reply(stream: u32) -> Seen {
        Seen::Reply { stream, fin: false }
    }

    #[tokio::test]
    async fn a_pair_without_its_second_stream_is_given_up_after_the_timeout() {
        let timeout = Duration::from_millis(300);
        let mut session = Session::start(timeout);
        let started = Instant::now();
        // Connection 7's error stream, connection 9's data stream: neither
        // pair is ever complete.
        session.open(
            1,
            &[("streamtype", "error"), ("port", "80"), ("requestid", "7")],
        );
        session.open(
            3,
            &[("streamtype", "data"), ("port", "80"), ("requestid", "9")],
        );
        assert_eq!(session.next().await, reply(1));
        assert_eq!(session.next().await, reply(3));
        // The kubelet's words on 7's error stream, then its end; 9's data
        // stream ended.
        assert_eq!(
            session.next().await,
            data(1, false, b"(request=7) timed out waiting for streams")
        );
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
        assert_eq!(session.next().await, data(1, true, b""));
        assert_eq!(session.next().await, data(3, true, b""));
        session.end().await;
    }

    #[tokio::test]
    async fn bad_streams_are_refused_and_a_complete_pair_is_forwarded() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let mut session = Session::start(Duration::from_secs(30));
        session.open_of_request_0(1, "error", &port);
        // A second error stream for the same connection.
        session.open_of_request_0(3, "error", &port);
        // No such stream type; no port.
        session.open_of_request_0(5, "bogus", &port);
        session.open_of_request_0(7, "data", "0");
        // An id already used.
        session.open_of_request_0(7, "data", &port);
        assert_eq!(session.next().await, reply(1));
        assert_eq!(session.next().await, reply(3));
        assert_eq!(
            session.next().await,
            data(
                1,
                false,
                b"error processing stream for request 0: error stream already assigned"
            )
        );
        let reset = |stream, status: Reset| Seen::Reset {
            stream,
            status: status as u32,
        };
        assert_eq!(session.next().await, reset(5, Reset::Cancel));
        assert_eq!(session.next().await, reset(7, Reset::Cancel));
        assert_eq!(session.next().await, reset(7, Reset::ProtocolError));
        // The pair's data stream: the port is dialled and relayed.
        session.open_of_request_0(9, "data", &port);
        assert_eq!(session.next().await, reply(9));
        let (mut pod_side, _) = listener.accept().await.unwrap();
        pod_side.write_all(b"hello").await.unwrap();
        assert_eq!(session.next().await, data(9, false, b"hello"));
        session.send(spdy::data(9, true, b"bye"));
        let mut got = Vec::new();
        pod_side.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
        drop(pod_side);
        assert_eq!(session.next().await, data(9, true, b""));
        assert_eq!(session.next().await, data(1, true, b""));
        session.end().await;
    }
}
