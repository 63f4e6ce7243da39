//! exec and attach over SPDY/3.1, kubectl's fallback
//! (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`) and what older clients
//! speak: client-go's remotecommand over spdystream, served as the
//! kubelet serves it (`cri/streaming/remotecommand/httpstream.go`).
//!
//! The client opens one SPDY stream per channel, each named by its
//! `streamType` header: `error` first, then `stdin`, `stdout`, `stderr`
//! (not with a terminal) and `resize` (with one, from v3 on). Each is
//! accepted with a SYN_REPLY; the session starts once all the streams the
//! query asked for are there, or the connection is closed when they are
//! not there within the kubelet's 30 s. Then stdin is the stdin stream's
//! data (its FIN the end of input), window sizes are JSON objects on the
//! resize stream (`{"Width":..,"Height":..}`, one per line, Go's
//! encoder), output goes on the stdout and stderr streams. At the end
//! those are half-closed, the status goes on the error stream (v4: the
//! `Status` JSON, which carries the exit code; v2 and v3: a failure's
//! message only) and that stream is half-closed too, which is what the
//! client waits for.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Options;
use super::channel::{self, FromClient};
use super::spdy::{self, Frame, Reset};

/// The versions served, best first (the kubelet's list without v1, whose
/// error stream and stdin behave apart). client-go offers v5 first, which
/// the kubelet does not serve over SPDY either: v4 is taken.
pub const VERSIONS: [&str; 3] = [
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
];

/// How long the client has to open its streams (the kubelet's
/// `DefaultStreamCreationTimeout`).
pub const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a finished session waits for the client to close its end.
const LINGER: Duration = Duration::from_secs(10);

/// Frames waiting for the client (bounded: a process writing faster than
/// the client reads waits).
const QUEUE: usize = 64;

/// The largest data frame written (spdystream's own size).
const MAX_DATA: usize = 32 * 1024;

/// The streams of a session, by the ids the client gave them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Streams {
    error: Option<u32>,
    stdin: Option<u32>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    resize: Option<u32>,
}

impl Streams {
    fn count(&self) -> usize {
        [
            self.error,
            self.stdin,
            self.stdout,
            self.stderr,
            self.resize,
        ]
        .iter()
        .filter(|s| s.is_some())
        .count()
    }
}

/// The number of streams the client opens for `options` under `version`
/// (the kubelet's count: a terminal has no stderr, and a resize stream
/// from v3 on).
fn expected(options: &Options, version: &str) -> usize {
    let stderr = options.stderr && !options.tty;
    let resize = options.tty && version != VERSIONS[2];
    1 + [options.stdin, options.stdout, stderr, resize]
        .iter()
        .filter(|b| **b)
        .count()
}

/// One exec or attach session over SPDY.
pub struct Session {
    /// The connection's read side (its write side is the writer task's).
    read: Box<dyn AsyncRead + Send + Unpin>,
    reader: spdy::Reader,
    streams: Streams,
    v4: bool,
    /// Whole frames for the writer task.
    out: Option<mpsc::Sender<Vec<u8>>>,
    writer: Option<JoinHandle<()>>,
    /// Stream ids seen, the last for GOAWAY.
    last: u32,
    /// What was read but not handed out yet.
    pending: VecDeque<FromClient>,
    /// A partial line of the resize stream.
    resize: Vec<u8>,
    /// The connection's end was read.
    gone: bool,
}

impl Session {
    /// Accepts the client's streams on `io`, the upgraded connection:
    /// the session, or an error (the connection is then dropped) when
    /// they do not all come within `timeout` (the kubelet's
    /// [`STREAM_CREATION_TIMEOUT`]; the kubelet tells the client nothing
    /// either).
    pub async fn accept<S>(
        io: S,
        version: &str,
        options: &Options,
        timeout: Duration,
    ) -> Result<Session>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, mut write) = tokio::io::split(io);
        let (out, mut queued) = mpsc::channel::<Vec<u8>>(QUEUE);
        // One writer, so that reading the client never waits on writing
        // to it; it ends the connection's write side when the session
        // drops its sender.
        let writer = tokio::spawn(async move {
            while let Some(frame) = queued.recv().await {
                if write.write_all(&frame).await.is_err() || write.flush().await.is_err() {
                    return;
                }
            }
            let _ = write.shutdown().await;
        });
        let mut session = Session {
            read: Box::new(read),
            reader: spdy::Reader::new(),
            streams: Streams::default(),
            v4: version == VERSIONS[0],
            out: Some(out),
            writer: Some(writer),
            last: 0,
            pending: VecDeque::new(),
            resize: Vec::new(),
            gone: false,
        };
        let wanted = expected(options, version);
        let setup = async {
            let mut replies = spdy::Writer::new();
            while session.streams.count() < wanted {
                let Some(frame) = session.frame().await? else {
                    bail!("the client closed the connection before opening its streams");
                };
                if let Frame::SynStream {
                    stream, headers, ..
                } = &frame
                {
                    let kind = headers
                        .iter()
                        .find(|(k, _)| k == "streamtype")
                        .map(|(_, v)| v.as_str())
                        .unwrap_or_default();
                    let slot = match kind {
                        "error" => &mut session.streams.error,
                        "stdin" => &mut session.streams.stdin,
                        "stdout" => &mut session.streams.stdout,
                        "stderr" => &mut session.streams.stderr,
                        "resize" => &mut session.streams.resize,
                        // The kubelet accepts it, logs it and goes on
                        // waiting: it does not count.
                        _ => {
                            session.queue(replies.syn_reply(*stream, false)?);
                            continue;
                        }
                    };
                    *slot = Some(*stream);
                    session.last = session.last.max(*stream);
                    session.queue(replies.syn_reply(*stream, false)?);
                } else {
                    session.handle(frame);
                }
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, setup).await {
            Ok(Ok(())) => Ok(session),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(anyhow!("timed out waiting for client to create streams")),
        }
    }

    /// The next frame off the connection (`None`: it ended). Cancel safe:
    /// bytes read are kept in the reader.
    async fn frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.reader.next()? {
                return Ok(Some(frame));
            }
            if self.gone {
                return Ok(None);
            }
            let mut buf = [0u8; 16 * 1024];
            match self.read.read(&mut buf).await {
                Ok(0) | Err(_) => self.gone = true,
                Ok(n) => self.reader.push(&buf[..n]),
            }
        }
    }

    /// Queues a frame without waiting: a control frame (a reply, a
    /// PING's echo) is dropped when the queue is full, which spdystream
    /// only logs.
    fn queue(&self, frame: Vec<u8>) {
        if let Some(out) = &self.out {
            let _ = out.try_send(frame);
        }
    }

    /// What a frame of the running session means for the process.
    fn handle(&mut self, frame: Frame) {
        match frame {
            Frame::Data { stream, fin, data } => {
                if Some(stream) == self.streams.stdin {
                    if !data.is_empty() {
                        self.pending.push_back(FromClient::Stdin(Bytes::from(data)));
                    }
                    if fin {
                        self.pending.push_back(FromClient::CloseStdin);
                    }
                } else if Some(stream) == self.streams.resize {
                    self.resize.extend_from_slice(&data);
                    while let Some(end) = self.resize.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = self.resize.drain(..=end).collect();
                        if let Some(size) = channel::resize(&line) {
                            self.pending.push_back(size);
                        }
                    }
                }
            }
            Frame::RstStream { stream } if Some(stream) == self.streams.stdin => {
                self.pending.push_back(FromClient::CloseStdin);
            }
            // A stream past the session's set: refused (the kubelet
            // never answers it).
            Frame::SynStream { stream, .. } => self.queue(spdy::reset(stream, Reset::Cancel)),
            Frame::InvalidStream { stream } => {
                self.queue(spdy::reset(stream, Reset::ProtocolError))
            }
            Frame::Ping(id) => self.queue(spdy::ping(id)),
            Frame::GoAway => self.pending.push_back(FromClient::Gone),
            Frame::RstStream { .. } | Frame::Other => {}
        }
    }

    /// The client's next message (cancel safe).
    pub async fn next(&mut self) -> FromClient {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return message;
            }
            match self.frame().await {
                Ok(Some(frame)) => self.handle(frame),
                Ok(None) | Err(_) => return FromClient::Gone,
            }
        }
    }

    /// Sends `data` on the stream of `channel` (stdout or stderr); data
    /// for a stream the client did not open is dropped.
    pub async fn send(&mut self, channel: u8, data: &[u8]) -> Result<()> {
        let stream = match channel {
            channel::STDOUT => self.streams.stdout,
            channel::STDERR => self.streams.stderr,
            _ => None,
        };
        let Some(stream) = stream else {
            return Ok(());
        };
        for chunk in data.chunks(MAX_DATA) {
            self.write(spdy::data(stream, false, chunk)).await?;
        }
        Ok(())
    }

    async fn write(&mut self, frame: Vec<u8>) -> Result<()> {
        match &self.out {
            Some(out) => out
                .send(frame)
                .await
                .map_err(|_| anyhow!("the client's connection is closed")),
            None => bail!("the session is finished"),
        }
    }

    /// Ends the session: the output streams' ends, then the status on
    /// the error stream and its end; then the connection is closed once
    /// the client has closed its side (or after a while).
    pub async fn finish(&mut self, status: &Value) -> Result<()> {
        for stream in [self.streams.stdout, self.streams.stderr]
            .into_iter()
            .flatten()
        {
            self.write(spdy::data(stream, true, &[])).await?;
        }
        if let Some(error) = self.streams.error {
            let text = error_text(status, self.v4)?;
            if !text.is_empty() {
                self.write(spdy::data(error, false, &text)).await?;
            }
            self.write(spdy::data(error, true, &[])).await?;
        }
        self.write(spdy::goaway(self.last)).await?;
        // The writer sends what is queued and closes the write side.
        self.out = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
        // Read until the client closes: closing with its bytes unread
        // would reset the connection under data it has not read yet.
        let drain = async {
            let mut buf = [0u8; 4096];
            while !matches!(self.read.read(&mut buf).await, Ok(0) | Err(_)) {}
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
        Ok(())
    }
}

/// The error stream's bytes for `status`: v4 the `Status` itself; before,
/// a failure's message (`StatusError.Error()`) and nothing for success.
fn error_text(status: &Value, v4: bool) -> Result<Vec<u8>> {
    if v4 {
        return Ok(serde_json::to_vec(status)?);
    }
    if status["status"] == "Success" {
        return Ok(Vec::new());
    }
    Ok(status["message"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> Options {
        Options {
            stdin,
            stdout,
            stderr,
            tty,
            command: Vec::new(),
        }
    }

    #[test]
    fn the_streams_waited_for_are_the_kubelets_count() {
        let v4 = VERSIONS[0];
        // exec: error, stdout, stderr.
        assert_eq!(expected(&options(false, true, true, false), v4), 3);
        // exec -i: stdin too.
        assert_eq!(expected(&options(true, true, true, false), v4), 4);
        // exec -it: no stderr with a terminal, a resize stream.
        assert_eq!(expected(&options(true, true, true, true), v4), 4);
        assert_eq!(expected(&options(true, true, false, true), v4), 4);
        // v2 has no resize stream.
        assert_eq!(expected(&options(true, true, false, true), VERSIONS[2]), 3);
    }

    #[test]
    fn the_error_stream_carries_the_status_from_v4_on_and_a_message_before() {
        let failed = channel::exit_code(&["false".into()], 1);
        let v4: Value = serde_json::from_slice(&error_text(&failed, true).unwrap()).unwrap();
        assert_eq!(v4["details"]["causes"][0]["message"], "1");
        assert_eq!(
            String::from_utf8(error_text(&failed, false).unwrap()).unwrap(),
            "command terminated with non-zero exit code: error executing command [false], exit code 1"
        );
        assert!(error_text(&channel::success(), false).unwrap().is_empty());
        assert_eq!(
            error_text(&channel::success(), true).unwrap(),
            br#"{"metadata":{},"status":"Success"}"#
        );
    }

    /// The client's end of a connection to a session, and what it read.
    struct Peer {
        io: tokio::io::DuplexStream,
        spdy: spdy::client::Client,
        read: Vec<u8>,
    }

    impl Peer {
        async fn open(&mut self, stream: u32, kind: &str) {
            let frame = self.spdy.syn_stream(stream, &[("streamtype", kind)]);
            self.io.write_all(&frame).await.unwrap();
        }

        /// Every frame until the session closes the connection.
        async fn frames_to_the_end(&mut self) -> Vec<spdy::client::Seen> {
            let read = self.io.read_to_end(&mut self.read);
            tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("the session closed the connection")
                .unwrap();
            spdy::client::frames(&mut self.read)
        }
    }

    fn connection() -> (tokio::io::DuplexStream, Peer) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        let peer = Peer {
            io: client,
            spdy: spdy::client::Client::new(),
            read: Vec::new(),
        };
        (server, peer)
    }

    #[tokio::test]
    async fn a_client_that_opens_only_its_error_stream_is_let_go_after_the_timeout() {
        use spdy::client::Seen;
        let (server, mut client) = connection();
        // exec's streams would be error, stdout, stderr: only error comes.
        client.open(1, "error").await;
        let timeout = Duration::from_millis(300);
        let started = tokio::time::Instant::now();
        let accepted = tokio::time::timeout(
            Duration::from_secs(10),
            Session::accept(
                server,
                VERSIONS[0],
                &options(false, true, true, false),
                timeout,
            ),
        )
        .await
        .expect("accept gave up by itself");
        let Err(e) = accepted else {
            panic!("a session with one of its three streams");
        };
        assert_eq!(
            e.to_string(),
            "timed out waiting for client to create streams"
        );
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
        // Its stream was accepted, then the connection closed.
        assert_eq!(
            client.frames_to_the_end().await,
            [Seen::Reply {
                stream: 1,
                fin: false
            }]
        );
    }

    #[tokio::test]
    async fn streams_past_the_sessions_set_or_with_a_used_id_are_reset() {
        use spdy::client::Seen;
        let (server, mut client) = connection();
        client.open(1, "error").await;
        // Not one of the kubelet's types: accepted, not counted.
        client.open(3, "bogus").await;
        client.open(5, "stdout").await;
        // An id already used: spdystream's PROTOCOL_ERROR.
        client.open(5, "stderr").await;
        client.open(7, "stderr").await;
        let mut session = Session::accept(
            server,
            VERSIONS[0],
            &options(false, true, true, false),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        // One more once the session runs: CANCEL, how a stream the
        // server will not serve is refused.
        client.open(9, "stdin").await;
        client.io.write_all(&spdy::goaway(9)).await.unwrap();
        client.io.shutdown().await.unwrap();
        assert!(matches!(session.next().await, FromClient::Gone));
        session.finish(&channel::success()).await.unwrap();
        let frames = client.frames_to_the_end().await;
        let reply = |stream| Seen::Reply { stream, fin: false };
        let end = |stream| Seen::Data {
            stream,
            fin: true,
            data: Vec::new(),
        };
        assert_eq!(
            frames[..6],
            [
                reply(1),
                reply(3),
                reply(5),
                Seen::Reset {
                    stream: 5,
                    status: Reset::ProtocolError as u32
                },
                reply(7),
                Seen::Reset {
                    stream: 9,
                    status: Reset::Cancel as u32
                },
            ]
        );
        // Then the end: stdout's and stderr's, the status, GOAWAY.
        assert_eq!(frames[6..8], [end(5), end(7)]);
        assert!(matches!(
            frames[8],
            Seen::Data {
                stream: 1,
                fin: false,
                ..
            }
        ));
        assert_eq!(frames[9..], [end(1), Seen::GoAway]);
    }
}
