//! Deletes: one object (`pod delete`'s code), a collection chosen by
//! selectors, and a pod's eviction.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::{Place, body_json, reply, version_of};
use crate::api::Kind;
use crate::api::request::{self as options, DeleteOptions};
use crate::apiserver::read;
use crate::apiserver::request::{Reply, Request};
use crate::apiserver::routes::Target;
use crate::apiserver::status::Status;
use crate::apiserver::{podstatus, protobuf};
use crate::pods::Termination;

/// The termination a delete's grace period asks for.
fn termination(grace: Option<i64>) -> Termination {
    match grace {
        None => Termination::PodDefault,
        Some(0) => Termination::Immediate,
        // The server turns a negative period into the shortest one.
        Some(n) if n < 0 => Termination::Grace(1),
        Some(n) => Termination::Grace(n as u64),
    }
}

/// A delete's body as JSON, from the media types the API server reads
/// DeleteOptions in (`NegotiateInputSerializer`): JSON (also when the
/// type is left out), YAML, and protobuf, which client-go sends when it
/// is configured for it.
fn options_body(req: &Request) -> Result<Cow<'_, [u8]>, Status> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Cow::Borrowed(&req.body));
    }
    let content_type = req.header("content-type");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    match media_type {
        "" | "application/json" => Ok(Cow::Borrowed(&req.body)),
        "application/yaml" => Ok(Cow::Owned(body_json(req)?.to_string().into_bytes())),
        "application/vnd.kubernetes.protobuf" => protobuf::delete_options(&req.body)
            .map(|options| Cow::Owned(options.to_string().into_bytes()))
            .map_err(|e| Status::bad_request(format!("error decoding DeleteOptions: {e}"))),
        _ => Err(Status {
            code: 415,
            reason: "UnsupportedMediaType",
            message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf".to_string(),
            details: None,
        }),
    }
}

/// `DELETE .../<resource>/<name>`.
pub(super) fn delete(place: &Place, req: &Request, name: &str) -> Result<Reply, Status> {
    let opts = place.delete_options(req, &options_body(req)?)?;
    reply(delete_one(place, name, &opts).map(|(code, body)| (code, body, Vec::new())))
}

fn delete_one(place: &Place, name: &str, opts: &DeleteOptions) -> Result<(u16, Value), Status> {
    let (kind, resource, store) = (place.kind, place.resource, &place.server.store);
    let (current, current_json) = place.current(name)?;
    options::check_preconditions(
        resource.name,
        name,
        opts,
        current.metadata().uid.as_deref().unwrap_or(""),
        &version_of(&current_json),
    )
    .map_err(|e| place.refuse(e))?;
    if opts.dry_run {
        return Ok((200, current_json));
    }
    let found = crate::objects::delete_one(
        store,
        kind,
        &place.namespace,
        name,
        termination(opts.grace_period_seconds),
        false,
    )
    .map_err(|e| place.fail(e))?;
    if !found {
        return Err(Status::not_found(resource.group, resource.name, name));
    }
    // A pod (or namespace) that is still there ends gracefully: it is
    // answered as it is now, marked for deletion; what went at once is
    // answered with a Status.
    match place.get(name)? {
        Some(now) if matches!(kind, Kind::Pod | Kind::Namespace) => Ok((200, place.served(now)?)),
        _ => Ok((
            200,
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": resource.group, "kind": resource.name,
                            "uid": current.metadata().uid.clone().unwrap_or_default()},
            }),
        )),
    }
}

/// `DELETE .../<resource>` (deletecollection): every object the
/// selectors choose, each as a delete of its own.
pub(super) fn delete_collection(
    place: &Place,
    req: &Request,
    target: &Target,
) -> Result<Reply, Status> {
    let opts = place.delete_options(req, &options_body(req)?)?;
    let (chosen, version) = read::chosen(place.server, req, place.resource, target)?;
    let mut deleted = Vec::new();
    for stamped in chosen {
        let one = place.in_namespace(stamped.item.namespace());
        match delete_one(&one, stamped.item.name(), &opts) {
            Ok(_) => deleted.push(stamped.json),
            // Gone in between: nothing left to delete.
            Err(status) if status.code == 404 => {}
            Err(status) => return Err(status),
        }
    }
    reply(Ok((
        200,
        read::list_json(place.resource, version, deleted),
        Vec::new(),
    )))
}

/// `POST .../pods/<name>/eviction`: with no disruption budgets on this
/// node, an eviction is a delete with the Eviction's options, after the
/// pod is marked with the `DisruptionTarget` condition.
pub(super) fn evict(place: &Place, req: &Request, name: &str) -> Result<Reply, Status> {
    let body = body_json(req)?;
    let evicted = body["metadata"]["name"].as_str().unwrap_or("");
    if evicted != name {
        return Err(Status::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let delete_body = body
        .get("deleteOptions")
        .map(Value::to_string)
        .unwrap_or_default();
    let opts = place.delete_options(req, delete_body.as_bytes())?;
    if !opts.dry_run {
        podstatus::mark_evicted(place, name)?;
    }
    delete_one(place, name, &opts)?;
    reply(Ok((
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        Vec::new(),
    )))
}
