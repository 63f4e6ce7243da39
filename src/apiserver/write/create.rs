//! A create (POST), and the create a server-side apply of a missing
//! object does: defaults, validation, managed fields, then `pod create
//! -f`'s admission, scheduling and supervisor start.

use serde_json::Value;

use super::{Answer, Place, body_json, conflict, invalid, manager, now, reply, typed};
use crate::api::defaults;
use crate::api::managed;
use crate::api::request::{Verb, WriteOptions};
use crate::api::validation;
use crate::apiserver::request::{Reply, Request};
use crate::apiserver::status::Status;
use crate::objects::{DryRun, admit_and_store};

/// `POST .../<resource>`.
pub(super) fn create(place: &Place, req: &Request) -> Result<Reply, Status> {
    let opts = place.write_options(req, Verb::Create, false)?;
    let body = body_json(req)?;
    reply(create_object(place, body, &opts, None))
}

/// Creates `body` (a manifest as JSON); `applied` is the configuration
/// of a server-side apply that creates it.
pub(super) fn create_object(
    place: &Place,
    body: Value,
    opts: &WriteOptions,
    applied: Option<&Value>,
) -> Answer {
    let (kind, namespace) = (place.kind, &place.namespace);
    let (mut object, mut warnings) = typed(place, body, opts.field_validation)?;
    if kind.namespaced() && !object.namespace().is_empty() && object.namespace() != namespace {
        return Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    defaults::apply(&mut object, namespace);
    let causes = validation::validate(&object);
    if !causes.is_empty() {
        return Err(place.refuse(invalid(&object, causes)));
    }
    warnings.extend(validation::warnings(&object));
    let entries = match applied {
        Some(config) => {
            managed::apply(
                kind,
                None,
                config,
                Vec::new(),
                manager(opts),
                opts.force,
                &now(),
            )
            .map_err(|c| conflict(place.resource, c))?
            .1
        }
        None => managed::record_update(
            kind,
            None,
            &object.to_json(),
            Vec::new(),
            manager(opts),
            &now(),
        ),
    };
    object.metadata_mut().managed_fields = Some(entries);
    let store = &place.server.store;
    let dry_run = if opts.dry_run {
        DryRun::Server
    } else {
        DryRun::None
    };
    let mut queue = None;
    let (admitted, starting) =
        admit_and_store(store, &mut queue, &mut object, dry_run).map_err(|e| place.fail(e))?;
    warnings.extend(admitted);
    if let Some(starting) = starting {
        starting.wait(store).map_err(|e| place.fail(e))?;
    }
    drop(queue);
    if opts.dry_run {
        return Ok((201, object.to_json(), warnings));
    }
    let name = object.name().to_string();
    Ok((201, place.answer_stored(&name, object)?, warnings))
}
