//! gRPC probes: one `grpc.health.v1.Health/Check` call over HTTP/2
//! cleartext, as the kubelet makes it (pkg/probe/grpc), with its messages.
//!
//! h2 carries the call; the two protobuf messages are one optional string
//! and one enum, encoded here by hand rather than through tonic and prost.
//! Like the kubelet's blocking dial, a connection that cannot be made is
//! retried until the probe's timeout and then reported as a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::duration::go_string;

/// The health service's Check method.
const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";

/// Calls Check for `service` on `addr`; `connect` opens a TCP connection
/// (in the pod's network namespace). Ok when the answer is SERVING.
pub async fn check<F, Fut>(
    connect: F,
    addr: SocketAddr,
    service: &str,
    timeout: Duration,
) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = std::io::Result<TcpStream>>,
{
    let deadline = Instant::now() + timeout;
    let within = go_string(timeout);
    let Some(mut client) = dial(&connect, deadline).await else {
        return Err(format!(
            "timeout: failed to connect service \"{addr}\" within {within}: context deadline exceeded"
        ));
    };
    let call = call(&mut client.send, addr, service, deadline);
    let reply = match tokio::time::timeout_at(deadline, call).await {
        Ok(reply) => reply,
        Err(_) => Err(Status::new(4, "context deadline exceeded".into())),
    };
    client.connection.abort();
    match reply {
        Ok(1) => Ok(()),
        Ok(status) => Err(format!(
            "service unhealthy (responded with \"{}\")",
            serving_status(status)
        )),
        Err(status) if status.code == UNIMPLEMENTED => Err(format!(
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
            status.message
        )),
        Err(status) if status.code == DEADLINE_EXCEEDED => Err(format!(
            "timeout: health rpc did not complete within {within}"
        )),
        Err(status) => Err(format!("error: health rpc probe failed: {status}")),
    }
}

/// An HTTP/2 connection: the handle to send on and the task driving it.
struct Client {
    send: h2::client::SendRequest<Bytes>,
    connection: tokio::task::JoinHandle<()>,
}

/// Connects and says the HTTP/2 preface, retrying with gRPC's back-off
/// (1 s growing by 1.6) until `deadline`.
async fn dial<F, Fut>(connect: &F, deadline: Instant) -> Option<Client>
where
    F: Fn() -> Fut,
    Fut: Future<Output = std::io::Result<TcpStream>>,
{
    let mut delay = Duration::from_secs(1);
    loop {
        let attempt = async {
            let stream = connect().await.ok()?;
            let (send, connection) = h2::client::handshake(stream).await.ok()?;
            let connection = tokio::spawn(async move {
                let _ = connection.await;
            });
            Some(Client { send, connection })
        };
        if let Ok(Some(client)) = tokio::time::timeout_at(deadline, attempt).await {
            return Some(client);
        }
        if Instant::now() + delay >= deadline {
            tokio::time::sleep_until(deadline).await;
            return None;
        }
        tokio::time::sleep(delay).await;
        delay = delay.mul_f64(1.6).min(Duration::from_secs(120));
    }
}

/// One unary call; the response's serving status, or the call's status
/// when it failed.
async fn call(
    send: &mut h2::client::SendRequest<Bytes>,
    addr: SocketAddr,
    service: &str,
    deadline: Instant,
) -> Result<u64, Status> {
    let unavailable = |e: h2::Error| Status::new(UNAVAILABLE, e.to_string());
    let remaining = deadline.saturating_duration_since(Instant::now());
    let request = http::Request::post(format!("http://{addr}{CHECK_PATH}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", super::handler::USER_AGENT)
        .header("grpc-timeout", format!("{}m", remaining.as_millis().max(1)))
        .body(())
        .map_err(|e| Status::new(INTERNAL, e.to_string()))?;
    let mut ready = send.clone().ready().await.map_err(unavailable)?;
    let (response, mut body) = ready.send_request(request, false).map_err(unavailable)?;
    body.send_data(frame(&request_message(service)), true)
        .map_err(unavailable)?;
    let response = response.await.map_err(unavailable)?;
    let (head, mut body) = response.into_parts();
    if head.status != http::StatusCode::OK {
        return Err(Status::from_http(head.status));
    }
    // A failed call may carry its status in the headers alone.
    if let Some(status) = Status::of(&head.headers) {
        return Err(status);
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(unavailable)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.map_err(unavailable)?;
    match trailers.as_ref().and_then(Status::of) {
        Some(status) => Err(status),
        None if trailers.is_none() => Err(Status::new(
            INTERNAL,
            "server closed the stream without sending trailers".into(),
        )),
        None => {
            let message = unframe(data.freeze())?;
            Ok(response_status(&message))
        }
    }
}

/// HealthCheckRequest: `string service = 1`, left out when empty.
fn request_message(service: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if !service.is_empty() {
        out.push(0x0a);
        put_varint(&mut out, service.len() as u64);
        out.extend_from_slice(service.as_bytes());
    }
    out
}

/// HealthCheckResponse's `ServingStatus status = 1`; UNKNOWN (0) when
/// absent. Other fields are skipped.
fn response_status(mut message: &[u8]) -> u64 {
    let mut status = 0;
    while let Some(key) = take_varint(&mut message) {
        let value = match key & 7 {
            0 => take_varint(&mut message),
            1 => skip(&mut message, 8),
            2 => take_varint(&mut message).and_then(|n| skip(&mut message, n as usize)),
            5 => skip(&mut message, 4),
            _ => None,
        };
        match value {
            Some(v) if key == 0x08 => status = v,
            Some(_) => {}
            None => break,
        }
    }
    status
}

/// grpc.health.v1's ServingStatus names, as Go prints the enum.
fn serving_status(status: u64) -> String {
    match status {
        0 => "UNKNOWN".into(),
        1 => "SERVING".into(),
        2 => "NOT_SERVING".into(),
        3 => "SERVICE_UNKNOWN".into(),
        n => n.to_string(),
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(n);
        }
    }
    None
}

fn skip(input: &mut &[u8], n: usize) -> Option<u64> {
    *input = input.get(n..)?;
    Some(0)
}

/// A gRPC length-prefixed message, uncompressed.
fn frame(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out.into()
}

/// The one message of a unary response.
fn unframe(mut data: Bytes) -> Result<Bytes, Status> {
    if data.len() < 5 {
        return Err(Status::new(
            INTERNAL,
            "grpc: received no response message".into(),
        ));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 {
        return Err(Status::new(
            INTERNAL,
            "grpc: compressed flag set with identity or empty encoding".into(),
        ));
    }
    if data.len() < len {
        return Err(Status::new(
            INTERNAL,
            "grpc: truncated response message".into(),
        ));
    }
    Ok(data.split_to(len))
}

const DEADLINE_EXCEEDED: u32 = 4;
const UNIMPLEMENTED: u32 = 12;
const INTERNAL: u32 = 13;
const UNAVAILABLE: u32 = 14;

/// A gRPC status: code and message.
#[derive(Debug, PartialEq)]
struct Status {
    code: u32,
    message: String,
}

impl Status {
    fn new(code: u32, message: String) -> Status {
        Status { code, message }
    }

    /// `grpc-status` and `grpc-message` of headers or trailers; None for
    /// OK or when absent.
    fn of(headers: &http::HeaderMap) -> Option<Status> {
        let code: u32 = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        if code == 0 {
            return None;
        }
        let message = headers
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .map(percent_decode)
            .unwrap_or_default();
        Some(Status::new(code, message))
    }

    /// grpc-go's reading of a non-200 HTTP status.
    fn from_http(status: http::StatusCode) -> Status {
        let code = match status.as_u16() {
            400 => INTERNAL,
            401 => 16,
            403 => 7,
            404 => UNIMPLEMENTED,
            429 | 502..=504 => UNAVAILABLE,
            _ => 2,
        };
        let reason = status.canonical_reason().unwrap_or("");
        Status::new(
            code,
            format!(
                "unexpected HTTP status code received from server: {} ({reason})",
                status.as_u16()
            ),
        )
    }
}

impl std::fmt::Display for Status {
    /// grpc-go's `rpc error: code = NotFound desc = unknown service`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [&str; 17] = [
            "OK",
            "Canceled",
            "Unknown",
            "InvalidArgument",
            "DeadlineExceeded",
            "NotFound",
            "AlreadyExists",
            "PermissionDenied",
            "ResourceExhausted",
            "FailedPrecondition",
            "Aborted",
            "OutOfRange",
            "Unimplemented",
            "Internal",
            "Unavailable",
            "DataLoss",
            "Unauthenticated",
        ];
        match NAMES.get(self.code as usize) {
            Some(name) => write!(f, "rpc error: code = {name} desc = {}", self.message),
            None => write!(
                f,
                "rpc error: code = Code({}) desc = {}",
                self.code, self.message
            ),
        }
    }
}

/// grpc-message is percent-encoded (RFC 3986 style, any byte).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_encode_the_service_name() {
        assert_eq!(request_message(""), b"");
        assert_eq!(request_message("live"), b"\x0a\x04live");
        let long = "s".repeat(200);
        assert_eq!(&request_message(&long)[..3], b"\x0a\xc8\x01");
        assert_eq!(
            &frame(b"\x0a\x04live")[..],
            b"\x00\x00\x00\x00\x06\x0a\x04live"
        );
    }

    #[test]
    fn responses_decode_the_serving_status() {
        assert_eq!(response_status(b""), 0);
        assert_eq!(response_status(b"\x08\x01"), 1);
        assert_eq!(response_status(b"\x08\x02"), 2);
        // An unknown string field before the status is skipped.
        assert_eq!(response_status(b"\x12\x02ab\x08\x03"), 3);
        assert_eq!(serving_status(2), "NOT_SERVING");
        assert_eq!(serving_status(9), "9");
        let framed = Bytes::from_static(b"\x00\x00\x00\x00\x02\x08\x01");
        assert_eq!(&unframe(framed).unwrap()[..], b"\x08\x01");
    }

    #[test]
    fn statuses_read_like_grpc_go() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", "5".parse().unwrap());
        headers.insert("grpc-message", "unknown%20service".parse().unwrap());
        assert_eq!(
            Status::of(&headers).unwrap().to_string(),
            "rpc error: code = NotFound desc = unknown service"
        );
        assert_eq!(
            Status::from_http(http::StatusCode::NOT_FOUND).to_string(),
            "rpc error: code = Unimplemented desc = unexpected HTTP status code received from server: 404 (Not Found)"
        );
        assert_eq!(percent_decode("100%25 %zz"), "100% %zz");
    }
}
