//! `GET .../<resource>?watch=true`: the changes of a resource as a stream
//! of `{"type": ..., "object": ...}` lines (ADDED, MODIFIED, DELETED,
//! BOOKMARK), from a resourceVersion (replayed from the history `versions`
//! keeps; older than the history: 410 Expired, and the client lists
//! again) or, without one, from the objects there now (each ADDED).
//!
//! The store's change feed is the kernel's notification of its writes
//! (`changes`): a watch sleeps until the files of its resource change,
//! then the resource is read again, once for every watch of it
//! (`Versions::refresh`), and what changed is sent. An object that stops
//! matching the selectors is sent DELETED, one that starts matching
//! ADDED, as the API server's watch cache does.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Server;
use super::read::Selection;
use super::request::{Reply, Request};
use super::resources::Resource;
use super::routes::Target;
use super::status::Status;
use super::table::{self, Include};
use super::versions::{self, Change, Stamped};

/// How often a sleeping watch looks whether its client went away (a
/// look at the connection, not at the store).
const CLIENT_CHECK: Duration = Duration::from_secs(1);

/// How long a watch runs without `timeoutSeconds` (the API server picks
/// 30 to 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How often a BOOKMARK is sent to a client that allows them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

pub fn watch(
    server: &std::sync::Arc<Server>,
    req: &Request,
    resource: &'static Resource,
    target: &Target,
) -> Result<Reply, Status> {
    let selection = Selection::of(req, resource)?;
    let since = match req.param("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| Status::bad_request(format!("invalid resource version: {v:?}")))?,
        ),
    };
    let timeout = match req.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| Status::bad_request(format!("invalid timeoutSeconds: {t:?}")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let opts = Options {
        namespace: target.namespace.clone(),
        selection,
        table: table::wanted(req).then(|| Include::of(req)),
        bookmarks: req.flag("allowWatchBookmarks"),
        initial_events_end: req.flag("sendInitialEvents"),
        deadline: Instant::now() + timeout,
    };
    // The starting point is checked before the stream begins, so a too
    // old version is the request's own 410.
    let (initial, cursor) = match since {
        Some(v) => {
            server
                .versions
                .refresh(&server.store, resource)
                .map_err(|e| Status::from_error(resource.group, e))?;
            let (events, _) = server
                .versions
                .since(versions::key_backing(resource), v)
                .map_err(|e| Status::gone(e.to_string()))?;
            let lines = events
                .into_iter()
                .filter_map(|e| opts.line(resource, &e))
                .collect::<Vec<_>>();
            (lines, events_end(&server.versions, v))
        }
        None => {
            let (items, latest) = server
                .versions
                .observe(&server.store, resource)
                .map_err(|e| Status::from_error(resource.group, e))?;
            let lines = items
                .into_iter()
                .filter(|s| opts.selects(s))
                .map(|s| opts.event_line(resource, Change::Added, &s))
                .collect();
            (lines, latest)
        }
    };
    let (tx, rx) = mpsc::channel(64);
    let server = server.clone();
    std::thread::Builder::new()
        .name("watch".into())
        .spawn(move || stream(&server, resource, &opts, initial, cursor, &tx))
        .map_err(|e| Status::internal(format!("starting the watch: {e}")))?;
    Ok(Reply::Stream {
        content_type: "application/json",
        chunks: rx,
    })
}

/// The newest version at the time the replay was read, at least `v`.
fn events_end(versions: &versions::Versions, v: u64) -> u64 {
    versions.latest().max(v)
}

struct Options {
    namespace: Option<String>,
    selection: Selection,
    table: Option<Include>,
    bookmarks: bool,
    initial_events_end: bool,
    deadline: Instant,
}

impl Options {
    fn selects(&self, s: &Stamped) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| s.item.namespace() == ns)
            && self.selection.matches(&s.item, &s.json)
    }

    /// The line of one recorded change, if the watch shows it: a change
    /// into the selection is ADDED, out of it DELETED.
    fn line(&self, resource: &Resource, e: &versions::Event) -> Option<Bytes> {
        let now = versions::stamp(resource, e.item.clone(), e.version);
        let was = e
            .previous
            .as_ref()
            .is_some_and(|p| self.selects(&versions::stamp(resource, p.clone(), e.version)));
        let is = self.selects(&now);
        let change = match (e.change, was, is) {
            (Change::Deleted, _, true) => Change::Deleted,
            (Change::Added, _, true) => Change::Added,
            (Change::Modified, true, true) => Change::Modified,
            (Change::Modified, false, true) => Change::Added,
            (Change::Modified, true, false) => Change::Deleted,
            _ => return None,
        };
        Some(self.event_line(resource, change, &now))
    }

    fn event_line(&self, resource: &Resource, change: Change, s: &Stamped) -> Bytes {
        let object = match self.table {
            Some(include) => table::table(resource, std::slice::from_ref(s), None, include),
            None => s.json.clone(),
        };
        line(change.as_str(), object)
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = serde_json::to_vec(&json!({"type": kind, "object": object}))
        .expect("JSON values serialize");
    text.push(b'\n');
    Bytes::from(text)
}

/// A BOOKMARK: the version the client has seen everything up to.
fn bookmark(resource: &Resource, version: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": version.to_string(), "creationTimestamp": null});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        json!({"kind": resource.kind, "apiVersion": resource.api_version(), "metadata": metadata}),
    )
}

/// Sends the initial lines, then each change, until the deadline or the
/// client goes away.
fn stream(
    server: &Server,
    resource: &'static Resource,
    opts: &Options,
    initial: Vec<Bytes>,
    mut cursor: u64,
    tx: &mpsc::Sender<Bytes>,
) {
    for chunk in initial {
        if tx.blocking_send(chunk).is_err() {
            return;
        }
    }
    if opts.initial_events_end
        && opts.bookmarks
        && tx.blocking_send(bookmark(resource, cursor, true)).is_err()
    {
        return;
    }
    let backing = versions::key_backing(resource);
    let mut last_sent = Instant::now();
    while Instant::now() < opts.deadline {
        if tx.is_closed() {
            return;
        }
        if let Err(e) = server.versions.refresh(&server.store, resource) {
            let status = Status::from_error(resource.group, e);
            let _ = tx.blocking_send(line("ERROR", status.to_json()));
            return;
        }
        let mut wait = CLIENT_CHECK.min(opts.deadline.saturating_duration_since(Instant::now()));
        if opts.bookmarks {
            wait = wait.min(BOOKMARK_EVERY.saturating_sub(last_sent.elapsed()));
        }
        let (events, latest) = match server.versions.wait_since(backing, cursor, wait) {
            Ok(found) => found,
            Err(too_old) => {
                let _ =
                    tx.blocking_send(line("ERROR", Status::gone(too_old.to_string()).to_json()));
                return;
            }
        };
        for e in &events {
            if let Some(chunk) = opts.line(resource, e) {
                if tx.blocking_send(chunk).is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
        }
        cursor = cursor.max(latest);
        if opts.bookmarks && last_sent.elapsed() >= BOOKMARK_EVERY {
            if tx.blocking_send(bookmark(resource, cursor, false)).is_err() {
                return;
            }
            last_sent = Instant::now();
        }
    }
}
