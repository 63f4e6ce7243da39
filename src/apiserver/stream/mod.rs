//! The streaming subresources of pods: `exec`, `attach` and
//! `portforward`, as kubectl 1.32 speaks them.
//!
//! kubectl opens a WebSocket on the subresource's URL (GET, with the
//! client certificate like any request): `v5.channel.k8s.io` for exec and
//! attach (`channel`: one byte of channel, then data), and for
//! port-forward `SPDY/3.1+portforward.k8s.io`, SPDY frames carried in
//! WebSocket messages (`spdy`, `portforward`). All three are also served
//! on a connection upgraded to SPDY/3.1 itself, kubectl's fallback and
//! what older clients speak (`remotecommand` for exec and attach; `client`
//! hides which of the two a session runs on). Whatever fails before the
//! upgrade (no such pod, a container that does not run) is answered as a
//! plain `Status`, which kubectl prints as `unable to upgrade connection:
//! <message>`.
//!
//! The sessions reuse the CLI's machinery: exec starts the process with
//! the runtime as `pod exec` does (it is a child of this server, which
//! waits for it), attach joins the supervisor's attach socket as `pod
//! attach` does, port-forward dials inside the pod's network namespace
//! as `pod port-forward` does.

mod attach;
mod channel;
mod client;
mod exec;
mod portforward;
mod remotecommand;
mod spdy;

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::Server;
use super::request;
use super::routes::{self, Route, Target};
use super::status::Status;
use crate::api::{Kind as ApiKind, Object};
use crate::pods::portforward::Sandbox;
use crate::pods::session::target::{Target as Session, Verb};
use client::Client;

/// The WebSocket subprotocol of exec and attach.
pub const V5: &str = "v5.channel.k8s.io";

/// Which streaming subresource a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Exec,
    Attach,
    PortForward,
}

/// The subresource and its target when `path` is a pod's exec, attach
/// or portforward: such a request is an upgrade, served by [`serve`].
pub fn subresource(path: &str) -> Option<(Kind, Target)> {
    let Some(Route::Resource(target)) = routes::parse(path) else {
        return None;
    };
    if !target.group.is_empty() || target.resource != "pods" || target.namespace.is_none() {
        return None;
    }
    let kind = match target.subresource.as_deref()? {
        "exec" => Kind::Exec,
        "attach" => Kind::Attach,
        "portforward" => Kind::PortForward,
        _ => return None,
    };
    Some((kind, target))
}

/// The streams a session asked for (`?stdin=true&tty=true...`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// exec's command, in order.
    pub command: Vec<String>,
}

impl Options {
    fn parse(query: &[(String, String)]) -> Options {
        let flag = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .is_some_and(|(_, v)| matches!(v.as_str(), "true" | "1" | ""))
        };
        Options {
            stdin: flag("stdin"),
            stdout: flag("stdout"),
            stderr: flag("stderr"),
            tty: flag("tty"),
            command: query
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }
}

/// Why an upgrade is refused: a `Status`, as the API server words its
/// own refusals, or the kubelet's plain-text answer, which reaches the
/// client as it is (the API server's proxy passes on an error response
/// of the kubelet whole).
#[derive(Debug)]
pub enum Refusal {
    Status(Status),
    Text {
        code: u16,
        headers: HeaderMap,
        body: String,
    },
}

impl From<Status> for Refusal {
    fn from(status: Status) -> Refusal {
        Refusal::Status(status)
    }
}

/// Checks the request, answers the WebSocket handshake (the headers of
/// the 101 returned) and runs the session on the upgraded connection.
pub async fn serve(
    server: Arc<Server>,
    kind: Kind,
    target: Target,
    mut req: hyper::Request<Incoming>,
) -> Result<HeaderMap, Refusal> {
    let query = request::parse_query(req.uri().query().unwrap_or_default());
    let options = Options::parse(&query);
    let container = query
        .iter()
        .rev()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone());
    let prepared = {
        let (server, options) = (server.clone(), options.clone());
        tokio::task::spawn_blocking(move || match kind {
            Kind::Exec => resolve(&server, kind, &target, container, &options).map(Prepared::Exec),
            Kind::Attach => {
                resolve(&server, kind, &target, container, &options).map(Prepared::Attach)
            }
            Kind::PortForward => sandbox(&server, &target).map(Prepared::Forward),
        })
        .await
        .map_err(|e| Status::internal(format!("handler failed: {e}")))??
    };
    let protocol = match kind {
        Kind::PortForward => portforward::PROTOCOL,
        _ => V5,
    };
    let spdy = match wants_spdy(req.headers()) {
        true => Some(spdy_handshake(req.headers(), kind)?),
        false => None,
    };
    let accept = match &spdy {
        Some((accept, _)) => accept.clone(),
        None => handshake(req.headers(), protocol)?,
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        let result = match (prepared, spdy) {
            (Prepared::Forward(sandbox), Some(_)) => portforward::spdy(sandbox, io).await,
            (Prepared::Forward(sandbox), None) => {
                let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
                portforward::websocket(sandbox, ws).await
            }
            (prepared, spdy) => {
                let client = match spdy {
                    Some((_, version)) => {
                        let timeout = remotecommand::STREAM_CREATION_TIMEOUT;
                        match remotecommand::Session::accept(io, version, &options, timeout).await {
                            Ok(session) => Client::Spdy(session),
                            Err(e) => {
                                eprintln!("{kind:?} session: {e:#}");
                                return;
                            }
                        }
                    }
                    None => Client::WebSocket(
                        WebSocketStream::from_raw_socket(io, Role::Server, None).await,
                    ),
                };
                match prepared {
                    Prepared::Exec(session) => exec::run(server, session, options, client).await,
                    Prepared::Attach(session) => {
                        attach::run(server, session, options, client).await
                    }
                    Prepared::Forward(_) => unreachable!("port-forward is matched above"),
                }
            }
        };
        if let Err(e) = result {
            eprintln!("{kind:?} session: {e:#}");
        }
    });
    Ok(accept)
}

/// What a session starts from.
enum Prepared {
    Exec(Session),
    Attach(Session),
    Forward(Sandbox),
}

/// The pod's sandbox to dial in, refused (before any upgrade) when the
/// pod does not run, in kubectl's words.
fn sandbox(server: &Server, target: &Target) -> Result<Sandbox, Status> {
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_deref().unwrap_or_default();
    let pod = match crate::objects::get_required(&server.store, ApiKind::Pod, namespace, name) {
        Ok(Object::Pod(pod)) => pod,
        Ok(_) => unreachable!("the store returns the kind it is asked for"),
        Err(e) => return Err(Status::from_error("", e.into())),
    };
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default();
    if phase != "Running" {
        return Err(Status::bad_request(format!(
            "unable to forward port because pod is not running. Current status={phase}"
        )));
    }
    Sandbox::open(&server.store, &pod).map_err(|e| Status::bad_request(format!("{e:#}")))
}

/// The pod and container of the session, refused (before any upgrade)
/// as the kubelet refuses them.
fn resolve(
    server: &Server,
    kind: Kind,
    target: &Target,
    container: Option<String>,
    options: &Options,
) -> Result<Session, Status> {
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_deref().unwrap_or_default();
    if kind == Kind::Exec && options.command.is_empty() {
        return Err(Status::bad_request(
            "you must specify at least 1 command".to_string(),
        ));
    }
    if !(options.stdin || options.stdout || options.stderr) {
        return Err(Status::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr".to_string(),
        ));
    }
    let verb = if kind == Kind::Exec {
        Verb::Exec
    } else {
        Verb::Attach
    };
    // A name the client did not choose is the pod's first container: no
    // "Defaulted container" line (kubectl prints its own).
    let container = container.filter(|c| !c.is_empty());
    let session = Session::resolve(&server.store, namespace, name, container.as_deref(), verb)
        .map_err(|e| match crate::error::into_api(e) {
            Ok(api) => Status::from_api("", &api),
            Err(other) => Status::bad_request(format!("{other:#}")),
        })?;
    let running = session
        .status()
        .and_then(|s| s.state.as_ref())
        .is_some_and(|s| s.running.is_some());
    if !running {
        return Err(Status::bad_request(format!(
            "container not found ({:?})",
            session.container.name
        )));
    }
    Ok(session)
}

/// SPDY/3.1's protocol of port-forward (`X-Stream-Protocol-Version`).
const PORT_FORWARD_V1: &str = "portforward.k8s.io";

/// Whether the request asks to upgrade to SPDY/3.1.
fn wants_spdy(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("SPDY/3.1"))
}

/// The 101's headers for a SPDY/3.1 upgrade, with the version taken: the
/// first the client offers (in `X-Stream-Protocol-Version`, client-go's
/// order of preference) that `kind` serves, which client-go checks it
/// offered. Refused as the kubelet refuses it (`httpstream.Handshake`),
/// and so as the API server answers: no version offered is a 400 for exec
/// and attach (the kubelet's port-forward answers an empty 200, which the
/// API server's proxy turns into a 500); no common version is a 403 with
/// the versions served in `X-Accepted-Stream-Protocol-Versions`.
fn spdy_handshake(headers: &HeaderMap, kind: Kind) -> Result<(HeaderMap, &'static str), Refusal> {
    let served: &[&'static str] = match kind {
        Kind::PortForward => &[PORT_FORWARD_V1],
        _ => &remotecommand::VERSIONS,
    };
    let offered: Vec<&str> = headers
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if offered.is_empty() {
        return Err(match kind {
            Kind::PortForward => {
                Status::internal("invalid upgrade response: status code 200").into()
            }
            _ => text(
                400,
                HeaderMap::new(),
                "unable to upgrade: X-Stream-Protocol-Version is required\n".to_string(),
            ),
        });
    }
    let Some(version) = offered
        .iter()
        .find_map(|o| served.iter().find(|s| *s == o).copied())
    else {
        let message = format!(
            "unable to upgrade: unable to negotiate protocol: client supports {}, server accepts {}",
            go_list(&offered),
            go_list(served)
        );
        let mut accepted = HeaderMap::new();
        for version in served {
            accepted.append(
                "x-accepted-stream-protocol-versions",
                HeaderValue::from_static(version),
            );
        }
        // The kubelet's exec and attach write the message once more after
        // the 403, in a 400 whose status comes too late: the body has it
        // twice.
        let body = match kind {
            Kind::PortForward => format!("{message}\n"),
            _ => format!("{message}\n{message}\n"),
        };
        return Err(text(403, accepted, body));
    };
    let mut out = HeaderMap::new();
    out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    out.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static(version),
    );
    Ok((out, version))
}

/// A plain-text refusal, as Go's `http.Error` writes one.
fn text(code: u16, headers: HeaderMap, body: String) -> Refusal {
    Refusal::Text {
        code,
        headers,
        body,
    }
}

/// A list as Go's `%v` prints a `[]string`.
fn go_list(items: &[&str]) -> String {
    format!("[{}]", items.join(" "))
}

/// The 101's headers for a WebSocket request offering `protocol`, or the
/// 400 of a request that is not one.
fn handshake(headers: &HeaderMap, protocol: &str) -> Result<HeaderMap, Status> {
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY);
    let (true, Some(key)) = (websocket, key) else {
        return Err(Status::bad_request(format!(
            "Upgrade request required: a WebSocket ({protocol}) or SPDY/3.1"
        )));
    };
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == protocol);
    if !offered {
        return Err(Status::bad_request(format!(
            "the WebSocket subprotocol {protocol} was not offered"
        )));
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut out = HeaderMap::new();
    out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    out.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a header value"),
    );
    out.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(protocol).expect("a protocol name is a header value"),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pod_sessions_are_streams() {
        let (kind, target) = subresource("/api/v1/namespaces/a/pods/web/exec").unwrap();
        assert_eq!(kind, Kind::Exec);
        assert_eq!(target.name.as_deref(), Some("web"));
        assert_eq!(
            subresource("/api/v1/namespaces/a/pods/web/attach")
                .unwrap()
                .0,
            Kind::Attach
        );
        assert_eq!(
            subresource("/api/v1/namespaces/a/pods/web/portforward")
                .unwrap()
                .0,
            Kind::PortForward
        );
        assert!(subresource("/api/v1/namespaces/a/pods/web/log").is_none());
        assert!(subresource("/api/v1/namespaces/a/pods/web").is_none());
        assert!(subresource("/api/v1/namespaces/a/secrets/web/exec").is_none());
    }

    #[test]
    fn commands_keep_their_order_and_spaces() {
        let query = request::parse_query(
            "command=sh&command=-c&command=exit+3&container=c&stdin=true&stdout=1&tty=false",
        );
        let options = Options::parse(&query);
        assert_eq!(options.command, ["sh", "-c", "exit 3"]);
        assert!(options.stdin && options.stdout && !options.stderr && !options.tty);
    }

    #[test]
    fn a_spdy_port_forward_is_upgraded_to_the_kubelets_one_version() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(wants_spdy(&headers));
        headers.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("portforward.k8s.io"),
        );
        let (reply, version) = spdy_handshake(&headers, Kind::PortForward).unwrap();
        assert_eq!(version, PORT_FORWARD_V1);
        assert_eq!(reply[header::UPGRADE], "SPDY/3.1");
        assert_eq!(reply["x-stream-protocol-version"], "portforward.k8s.io");
        headers.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("portforward.k8s.io.v2"),
        );
        let Err(Refusal::Text {
            code,
            headers: accepted,
            body,
        }) = spdy_handshake(&headers, Kind::PortForward)
        else {
            panic!("a version mismatch is the kubelet's plain-text 403");
        };
        assert_eq!(code, 403);
        assert_eq!(
            accepted["x-accepted-stream-protocol-versions"],
            "portforward.k8s.io"
        );
        assert_eq!(
            body,
            "unable to upgrade: unable to negotiate protocol: client supports \
             [portforward.k8s.io.v2], server accepts [portforward.k8s.io]\n"
        );
        // No version at all: the kubelet's port-forward answers 200 and
        // nothing, which the API server's proxy calls invalid.
        headers.remove("x-stream-protocol-version");
        let Err(Refusal::Status(status)) = spdy_handshake(&headers, Kind::PortForward) else {
            panic!("the API server's 500");
        };
        assert_eq!(
            (status.code, status.message.as_str()),
            (500, "invalid upgrade response: status code 200")
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(!wants_spdy(&headers));
    }

    #[test]
    fn exec_over_spdy_takes_the_clients_first_version_the_kubelet_serves() {
        // client-go's offer, one header each, best first: v5 is not
        // served over SPDY (by the kubelet either), v4 is taken.
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        for v in [
            "v5.channel.k8s.io",
            "v4.channel.k8s.io",
            "v3.channel.k8s.io",
            "v2.channel.k8s.io",
            "channel.k8s.io",
        ] {
            headers.append("x-stream-protocol-version", HeaderValue::from_static(v));
        }
        let (reply, version) = spdy_handshake(&headers, Kind::Exec).unwrap();
        assert_eq!(version, "v4.channel.k8s.io");
        assert_eq!(reply["x-stream-protocol-version"], "v4.channel.k8s.io");
        let mut old = HeaderMap::new();
        old.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("v2.channel.k8s.io, channel.k8s.io"),
        );
        assert_eq!(
            spdy_handshake(&old, Kind::Attach).unwrap().1,
            "v2.channel.k8s.io"
        );
        old.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("channel.k8s.io"),
        );
        // Only v1, which is not served: the kubelet's 403, its message
        // twice (exec and attach write it again after the 403).
        let Err(Refusal::Text {
            code,
            headers,
            body,
        }) = spdy_handshake(&old, Kind::Exec)
        else {
            panic!("a version mismatch is the kubelet's plain-text 403");
        };
        assert_eq!(code, 403);
        let accepted: Vec<_> = headers
            .get_all("x-accepted-stream-protocol-versions")
            .iter()
            .collect();
        assert_eq!(accepted, remotecommand::VERSIONS);
        let message = "unable to upgrade: unable to negotiate protocol: client supports \
                       [channel.k8s.io], server accepts \
                       [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io]\n";
        assert_eq!(body, format!("{message}{message}"));
        // None offered: 400, in the same words as the kubelet.
        old.remove("x-stream-protocol-version");
        let Err(Refusal::Text { code, body, .. }) = spdy_handshake(&old, Kind::Exec) else {
            panic!("the kubelet's plain-text 400");
        };
        assert_eq!(
            (code, body.as_str()),
            (
                400,
                "unable to upgrade: X-Stream-Protocol-Version is required\n"
            )
        );
    }

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        // RFC 6455, section 1.3's example.
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v4.channel.k8s.io, v5.channel.k8s.io"),
        );
        let reply = handshake(&headers, V5).unwrap();
        assert_eq!(
            reply[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(reply[header::SEC_WEBSOCKET_PROTOCOL], V5);
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        assert_eq!(handshake(&headers, V5).unwrap_err().code, 400);
        headers.remove(header::UPGRADE);
        assert_eq!(handshake(&headers, V5).unwrap_err().code, 400);
    }
}
