//! Connections: accept on the listener, TLS handshake, HTTP/1.1 with
//! hyper, authentication of each request, then the handler on tokio's
//! blocking pool (the store is synchronous file I/O) and its reply
//! written back (streamed for watches and follows).

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use futures_util::stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::pki::{ADMIN_GROUP, ADMIN_USER};
use super::request::{self, Reply, Request, User};
use super::status::Status;
use super::tls::Tls;
use super::{Server, routes, stream as streams};

/// The largest request body read (the API server's limit, 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Accepts connections until the listener fails.
pub async fn run(server: Arc<Server>, listener: TcpListener, tls: Arc<Tls>) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls.config.clone());
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors and the like: the next accept may work.
            Err(e) => {
                eprintln!("accepting a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let server = server.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A failed handshake (a client that does not trust our CA)
            // ends the connection; rustls has sent its alert.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let certified = tls.client_verified(stream.get_ref().1.peer_certificates());
            let service = service_fn(move |req| handle(server.clone(), certified, req));
            // Upgrades: exec, attach and port-forward become WebSockets.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// The user a request is made by: the kubeconfig's certificate (checked
/// at the handshake) or its bearer token. `None`: 401.
fn authenticate(server: &Server, certified: bool, headers: &http::HeaderMap) -> Option<User> {
    let token_ok = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), server.token.as_bytes()));
    (certified || token_ok).then(|| User {
        name: ADMIN_USER.to_string(),
        groups: vec![ADMIN_GROUP.to_string(), "system:authenticated".to_string()],
    })
}

/// Compares without an early exit, so the time taken tells nothing of
/// how much of the token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(
    server: Arc<Server>,
    certified: bool,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let Some(user) = authenticate(&server, certified, req.headers()) else {
        return Ok(status_response(&Status::unauthorized()));
    };
    if let Some((kind, target)) = streams::subresource(req.uri().path()) {
        return Ok(match streams::serve(server, kind, target, req).await {
            Ok(headers) => {
                let mut response = hyper::Response::new(full(Bytes::new()));
                *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
                *response.headers_mut() = headers;
                response
            }
            Err(streams::Refusal::Status(status)) => status_response(&status),
            Err(streams::Refusal::Text {
                code,
                headers,
                body,
            }) => text_response(code, headers, body),
        });
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(status_response(&Status::too_large())),
    };
    let request = Request {
        path: parts.uri.path().to_string(),
        query: request::parse_query(parts.uri.query().unwrap_or_default()),
        method: parts.method,
        headers: parts.headers,
        body,
        user,
    };
    let reply = tokio::task::spawn_blocking(move || routes::dispatch(&server, &request)).await;
    Ok(match reply {
        Ok(Ok(reply)) => response(reply),
        Ok(Err(status)) => status_response(&status),
        Err(panic) => status_response(&Status::internal(format!("handler failed: {panic}"))),
    })
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

fn status_response(status: &Status) -> hyper::Response<Body> {
    json_response(status.code, &status.to_json())
}

/// A plain-text error as Go's `http.Error` writes it (the kubelet's
/// refusals of an upgrade), with `headers` added.
fn text_response(code: u16, headers: http::HeaderMap, body: String) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(full(body));
    *response.status_mut() = http::StatusCode::from_u16(code).unwrap_or_default();
    let all = response.headers_mut();
    all.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    all.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    all.extend(headers);
    response
}

fn json_response(code: u16, body: &serde_json::Value) -> hyper::Response<Body> {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    build(code, "application/json", full(bytes))
}

fn build(code: u16, content_type: &str, body: Body) -> hyper::Response<Body> {
    hyper::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, content_type)
        .header("cache-control", "no-cache, private")
        .body(body)
        .expect("a status code and a content type always make a response")
}

fn response(reply: Reply) -> hyper::Response<Body> {
    match reply {
        Reply::Warned { warnings, reply } => {
            let mut response = response(*reply);
            for warning in warnings {
                // RFC 7234's warn-code 299 ("miscellaneous persistent
                // warning"), as the API server sends them.
                let quoted = warning.replace('\\', "\\\\").replace('"', "\\\"");
                if let Ok(value) = http::HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
                    response.headers_mut().append("warning", value);
                }
            }
            response
        }
        Reply::Json { code, body } => json_response(code, &body),
        Reply::Bytes {
            code,
            content_type,
            body,
        } => build(code, content_type, full(body)),
        Reply::Stream {
            content_type,
            chunks,
        } => {
            let frames = stream::unfold(chunks, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), rx))
            });
            build(200, content_type, StreamBody::new(frames).boxed_unsync())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubelet_refusal_is_plain_text_with_its_headers() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            "x-accepted-stream-protocol-versions",
            http::HeaderValue::from_static("portforward.k8s.io"),
        );
        let response = text_response(403, headers, "no\n".to_string());
        assert_eq!(response.status(), 403);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["x-accepted-stream-protocol-versions"],
            "portforward.k8s.io"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
