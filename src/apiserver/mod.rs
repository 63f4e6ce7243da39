//! `pod serve`: the Kubernetes API over the state directory, so kubectl,
//! client-go programs and the like work against this machine. It reads
//! and writes the same store as the CLI (`pod get` and `kubectl get` see
//! the same objects); the CLI never needs it.
//!
//! Layout (one job each):
//!
//! | module | owns |
//! |---|---|
//! | `pki` | CA, serving and client certificates, token, in `<root>/serve/` |
//! | `tls` | rustls config; client certificates judged after the handshake |
//! | `conn` | the listener, TLS, authentication, hyper, handlers on the blocking pool |
//! | `request` | `Request` (authenticated, body read) and `Reply` |
//! | `routes` | URL → route → handler (`routes::resource` picks the verb) |
//! | `resources` | the served resources: discovery, routing and openapi read it |
//! | `status` | errors as `Status` objects, from the CLI's errors |
//! | `discovery` | /version, /api, /apis, group versions, aggregated discovery |
//! | `logs` | pods/log: follow, previous, tailLines, sinceSeconds, timestamps |
//! | `openapi` | /openapi/v3: bundled schemas (tools/openapi-gen), paths from `resources` |
//! | `read` | get and list; `fields` the field selectors; `table` the Table form |
//! | `versions` | resourceVersions of what the store holds, the change history |
//! | `watch` | watch streams: replay from a version, 410, bookmarks |
//! | `changes` | the store's change feed followed: what wakes the watches |
//! | `openapi_v2` | /openapi/v2: the same schemas as Swagger 2.0, JSON or gnostic protobuf |
//! | `podstatus` | pods/status writes: the conditions the supervisor does not own |
//! | `protobuf` | request bodies in the Kubernetes protobuf encoding (DeleteOptions) |
//! | `whoami` | SelfSubjectReview (`kubectl auth whoami`) |
//! | `stream` | exec, attach, port-forward: WebSocket upgrades and their sessions |
//!
//! ## Adding a handler
//!
//! A handler is a plain function run on tokio's blocking pool (the store
//! is synchronous file I/O):
//!
//! ```text
//! fn create(server: &Server, req: &Request, resource: &Resource, target: &Target)
//!     -> Result<Reply, Status>
//! ```
//!
//! `req` is authenticated with its body read whole (`req.body`, at most
//! [`conn::MAX_BODY`]); `resource` is the row of `resources::RESOURCES`
//! the URL named; `target` has the namespace, name and subresource.
//! Answer `Reply::Json { code, body }` (or `Reply::ok(body)` for 200),
//! `Reply::Bytes` for other media types, or `Reply::Stream` for a body
//! written as it comes (watch, follow). Fail with a [`status::Status`]:
//! `Status::from_error(group, err)` turns the store's and the CLI's
//! errors (NotFound, AlreadyExists, Invalid with causes, refusals) into
//! the API server's codes and words. Then add the arm in
//! `routes::resource` (method, name or not, subresource) and the verb to
//! the resource's `verbs` in `resources`, which discovery reports. Give
//! every write a version from `server.versions` (see `versions`), so
//! watches see it.
//!
//! ## Security
//!
//! The API is root on this machine (it runs containers), so it listens on
//! 127.0.0.1 only, over TLS, and every request must carry the client
//! certificate `pod kubeconfig` hands out (or its bearer token): anything
//! else gets 401 before any handler runs.

mod changes;
mod conn;
mod discovery;
mod fields;
mod logs;
mod openapi;
mod openapi_v2;
pub mod pki;
mod podstatus;
mod protobuf;
mod read;
mod request;
mod resources;
mod routes;
mod status;
mod stream;
mod table;
mod tls;
mod versions;
mod watch;
mod whoami;
mod write;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::store::Store;

/// Where the server listens unless told: the API server's usual port.
pub const DEFAULT_PORT: u16 = 6443;

/// What every handler gets.
pub struct Server {
    pub store: Store,
    pub versions: versions::Versions,
    /// The bearer token the kubeconfig may carry instead of a certificate.
    token: String,
}

/// Serves the API for `store` on 127.0.0.1:`port` (0: any free port)
/// until SIGINT or SIGTERM. Once listening, records the URL in
/// `<root>/serve/address` for `pod kubeconfig` and hands it to `announce`
/// (the CLI prints it).
pub fn serve(store: Store, port: u16, announce: impl FnOnce(&str)) -> Result<()> {
    let pki = pki::ensure(&store)?;
    let tls = tls::Tls::new(&pki)?;
    let server = Arc::new(Server {
        versions: versions::Versions::new(&store)?,
        token: pki.token.clone(),
        store,
    });
    changes::follow(server.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let result = runtime.block_on(async {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        let bound = listener.local_addr()?;
        let url = format!("https://{bound}");
        let address_file = pki::dir(&server.store).join("address");
        crate::store::write_atomic(&address_file, url.as_bytes())
            .with_context(|| format!("writing {}", address_file.display()))?;
        announce(&url);
        tokio::select! {
            result = conn::run(server.clone(), listener, Arc::new(tls)) => result,
            () = stop_signal() => Ok(()),
        }
    });
    // Watches and follows run on blocking threads that end at their
    // client's next write: do not wait for them.
    runtime.shutdown_background();
    result
}

async fn stop_signal() {
    use crate::process::signal_pipe::SignalPipe;
    let (Ok(mut term), Ok(mut interrupt)) = (
        SignalPipe::new(libc::SIGTERM),
        SignalPipe::new(libc::SIGINT),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = term.recv() => {}
    }
}
