//! `GET .../pods/<name>/log`: a container's log as text, read from the
//! same CRI log files as `pod logs` (`pods::logs`), with the API's
//! parameters: `container`, `follow`, `previous`, `tailLines`,
//! `sinceSeconds`, `sinceTime`, `timestamps`, `limitBytes`. Written as
//! it is read (and, following, as the container writes), into the next
//! instance of a restarted container, until there will be none or the
//! client goes away.

use std::sync::Arc;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;

use super::Server;
use super::request::{Reply, Request};
use super::routes::Target;
use super::status::Status;
use crate::api::{Kind, Object};
use crate::pods::logs::{self, Filter, Source};
use crate::store::crilog::Line;

pub fn log(
    server: &Arc<Server>,
    req: &Request,
    target: &Target,
    name: &str,
) -> Result<Reply, Status> {
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let pod = match server.store.get(Kind::Pod, namespace, name) {
        Ok(Some(Object::Pod(pod))) => *pod,
        Ok(_) => return Err(Status::not_found("", "pods", name)),
        Err(e) => return Err(Status::from_error("", e.into())),
    };
    let container = container(&pod, req.param("container"))?;
    let filter = filter(req)?;
    let follow = req.flag("follow");
    let source = Source::open(&server.store, &pod, &container, req.flag("previous"))
        .map_err(|e| Status::from_error("", e))?;
    let (tx, rx) = mpsc::channel(64);
    let server = server.clone();
    std::thread::Builder::new()
        .name("log".into())
        .spawn(move || {
            let mut budget = filter.limit_bytes;
            let timestamps = filter.timestamps;
            let mut emit = |line: &Line| Ok(send(&tx, line, timestamps, &mut budget));
            let result = if follow {
                source.follow_all(&server.store, filter, || !tx.is_closed(), emit)
            } else {
                source.read(&filter, &mut emit).map(|_| ())
            };
            // The response has begun: a failure can only end it early.
            if let Err(e) = result {
                let _ = tx.blocking_send(Bytes::from(format!("\n{e:#}\n")));
            }
        })
        .map_err(|e| Status::internal(format!("starting the log reader: {e}")))?;
    Ok(Reply::Stream {
        content_type: "text/plain",
        chunks: rx,
    })
}

/// The container asked for, or the pod's only one; the API server's
/// words otherwise.
fn container(pod: &Pod, asked: Option<&str>) -> Result<String, Status> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let apps: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let init: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    match asked.filter(|c| !c.is_empty()) {
        Some(c) if apps.iter().chain(&init).any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(Status::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if apps.len() == 1 => Ok(apps[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                apps.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(Status::bad_request(message))
        }
    }
}

fn filter(req: &Request) -> Result<Filter, Status> {
    let number = |name: &str| -> Result<Option<i64>, Status> {
        req.param(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| Status::bad_request(format!("invalid {name}: {v:?}")))
            })
            .transpose()
    };
    let since_seconds = number("sinceSeconds")?;
    let since_time = req.param("sinceTime");
    if since_seconds.is_some() && since_time.is_some() {
        return Err(Status::bad_request(
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    let since = match (since_seconds, since_time) {
        (Some(s), _) if s < 1 => {
            return Err(Status::bad_request("sinceSeconds must be greater than 0"));
        }
        (Some(s), _) => Some(crate::duration::now() - SignedDuration::from_secs(s)),
        (None, Some(t)) => Some(
            t.parse::<Timestamp>()
                .map_err(|e| Status::bad_request(format!("invalid sinceTime {t:?}: {e}")))?,
        ),
        (None, None) => None,
    };
    let tail = match number("tailLines")? {
        Some(n) if n < 0 => {
            return Err(Status::bad_request(
                "tailLines must be greater than or equal to 0",
            ));
        }
        n => n.map(|n| n as usize),
    };
    let limit_bytes = match number("limitBytes")? {
        Some(n) if n < 1 => return Err(Status::bad_request("limitBytes must be greater than 0")),
        n => n.map(|n| n as u64),
    };
    Ok(Filter {
        since,
        tail,
        timestamps: req.flag("timestamps"),
        limit_bytes,
    })
}

/// Sends one line; false once the client is gone or the byte limit spent.
fn send(tx: &mpsc::Sender<Bytes>, line: &Line, timestamps: bool, budget: &mut Option<u64>) -> bool {
    let (bytes, more) = logs::render("", line, timestamps, budget);
    tx.blocking_send(Bytes::from(bytes)).is_ok() && more
}
