//! The write verbs: create (POST), update (PUT), patch (PATCH: JSON
//! patch, merge patch, strategic merge patch, server-side apply), delete,
//! deletecollection and pods/eviction, on the same store and through the
//! same code as the CLI: a create is `pod create -f`'s admission,
//! scheduling and supervisor start (`objects::admit_and_store`), a
//! delete is `pod delete`'s (`objects::delete_one`). What the API
//! adds is in `api`: the options (`api::request`), the patches
//! (`api::patch`), the update rules (`api::validation::update`) and the
//! managed fields (`api::managed`).
//!
//! Every write is done under the object's lock, from the version the
//! server last gave it: a write naming an older resourceVersion is 409
//! Conflict. `dryRun=All` goes through every check and stores nothing.

mod create;
mod delete;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::read::Item;
use super::request::{Reply, Request};
use super::resources::{Backing, Resource};
use super::routes::Target;
use super::status::Status;
use super::{Server, podstatus};
use crate::api::decode::{self, decode_object};
use crate::api::managed::{self, Manager};
use crate::api::patch::{self, PatchType};
use crate::api::request::{self as options, DeleteOptions, FieldValidation, Verb, WriteOptions};
use crate::api::validation::{self, update::validate_update};
use crate::api::{Kind, Object, defaults};
use crate::error::ApiError;
use create::{create, create_object};
use delete::{delete, delete_collection, evict};

/// What a write answers: the object (or a Status) and its warnings.
pub(super) type Answer = Result<(u16, Value, Vec<String>), Status>;

pub(super) fn reply(answer: Answer) -> Result<Reply, Status> {
    answer.map(|(code, body, warnings)| Reply::Warned {
        warnings,
        reply: Box::new(Reply::Json { code, body }),
    })
}

/// A write the router found: the verb and the object's name.
pub enum Write<'a> {
    /// `POST .../<resource>`.
    Create,
    /// `PUT .../<resource>/<name>`.
    Update(&'a str),
    /// `PATCH .../<resource>/<name>`.
    Patch(&'a str),
    /// `DELETE .../<resource>/<name>`.
    Delete(&'a str),
    /// `DELETE .../<resource>`.
    DeleteCollection,
    /// `POST .../pods/<name>/eviction`.
    Evict(&'a str),
    /// `PUT .../pods/<name>/status`.
    UpdateStatus(&'a str),
    /// `PATCH .../pods/<name>/status`.
    PatchStatus(&'a str),
}

impl Write<'_> {
    /// The verb the resource must serve (discovery's word for it).
    fn verb(&self) -> &'static str {
        match self {
            Write::Create => "create",
            Write::Update(_) | Write::UpdateStatus(_) => "update",
            Write::Patch(_) | Write::PatchStatus(_) => "patch",
            Write::Delete(_) | Write::Evict(_) => "delete",
            Write::DeleteCollection => "deletecollection",
        }
    }
}

/// Answers one write to `resource`.
pub fn handle(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
    write: Write,
) -> Result<Reply, Status> {
    let place = &Place::of(server, req, resource, target, write.verb())?;
    match write {
        Write::Create => create(place, req),
        Write::Update(name) => update(place, req, name),
        Write::Patch(name) => patch(place, req, name),
        Write::Delete(name) => delete(place, req, name),
        Write::DeleteCollection => delete_collection(place, req, target),
        Write::Evict(name) => evict(place, req, name),
        Write::UpdateStatus(name) => podstatus::write(place, req, name, false),
        Write::PatchStatus(name) => podstatus::write(place, req, name, true),
    }
}

/// Where one write goes: the resource the URL named, the kind stored
/// for it and the URL's namespace ("" for cluster-scoped kinds), with
/// the store and its versions behind them.
pub(super) struct Place<'a> {
    pub(super) server: &'a Server,
    pub(super) resource: &'a Resource,
    pub(super) kind: Kind,
    pub(super) namespace: String,
}

impl<'a> Place<'a> {
    /// The place of a `verb` write, or 405 when the resource does not
    /// serve it (events, a node's create or delete).
    fn of(
        server: &'a Server,
        req: &Request,
        resource: &'a Resource,
        target: &Target,
        verb: &str,
    ) -> Result<Place<'a>, Status> {
        match resource.backing {
            Backing::Kind(kind) if resource.verbs.contains(&verb) => Ok(Place {
                server,
                resource,
                kind,
                namespace: target.namespace.clone().unwrap_or_default(),
            }),
            _ => Err(Status::method_not_allowed(req.method.as_str(), &req.path)),
        }
    }

    /// The same resource in another namespace (a deletecollection across
    /// namespaces deletes each object in its own).
    fn in_namespace(&self, namespace: &str) -> Place<'a> {
        Place {
            namespace: namespace.to_string(),
            ..*self
        }
    }

    /// A failure of the store or of the CLI's code, as the API answers it.
    pub(super) fn fail(&self, e: impl Into<anyhow::Error>) -> Status {
        Status::from_error(self.resource.group, e.into())
    }

    /// A refusal of the request (its options, its object).
    pub(super) fn refuse(&self, e: ApiError) -> Status {
        Status::from_api(self.resource.group, &e)
    }

    fn get(&self, name: &str) -> Result<Option<Object>, Status> {
        crate::objects::get(&self.server.store, self.kind, &self.namespace, name)
            .map_err(|e| self.fail(e))
    }

    /// The stored object `name` and its JSON as served now (with its
    /// version), or 404.
    pub(super) fn current(&self, name: &str) -> Result<(Object, Value), Status> {
        let current = self
            .get(name)?
            .ok_or_else(|| Status::not_found(self.resource.group, self.resource.name, name))?;
        let json = self.served(current.clone())?;
        Ok((current, json))
    }

    /// The object as served now, with its version.
    fn served(&self, object: Object) -> Result<Value, Status> {
        let stamped = self
            .server
            .versions
            .stamp_one(
                &self.server.store,
                self.resource,
                Item::Stored(Box::new(object)),
            )
            .map_err(|e| self.fail(e))?;
        Ok(stamped.json)
    }

    /// What a stored write answers: the object `name` as the store holds
    /// it now (`written` if it went in between).
    pub(super) fn answer_stored(&self, name: &str, written: Object) -> Result<Value, Status> {
        let stored = self.get(name)?.unwrap_or(written);
        self.served(stored)
    }

    /// The options of a create, update or patch.
    pub(super) fn write_options(
        &self,
        req: &Request,
        verb: Verb,
        apply: bool,
    ) -> Result<WriteOptions, Status> {
        options::write_options(verb, params(req), req.header("user-agent"), apply)
            .map_err(|e| self.refuse(e))
    }

    /// The options of a delete: `body` is its DeleteOptions.
    fn delete_options(&self, req: &Request, body: &[u8]) -> Result<DeleteOptions, Status> {
        options::delete_options(body, params(req)).map_err(|e| self.refuse(e))
    }
}

fn params(req: &Request) -> impl Fn(&str) -> Vec<String> + '_ {
    move |name| {
        req.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The manager of the fields a write sets.
fn manager(opts: &WriteOptions) -> Manager<'_> {
    Manager {
        name: &opts.field_manager,
        subresource: None,
    }
}

/// A PUT's object or an apply's configuration must name the object of
/// the URL.
pub(super) fn same_name(body: &Value, name: &str) -> Result<(), Status> {
    let body_name = body["metadata"]["name"].as_str().unwrap_or("");
    if body_name != name {
        return Err(Status::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    Ok(())
}

pub(super) fn now() -> Time {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap_or_default())
}

/// The request's body as JSON: JSON, or YAML for the YAML media types
/// (an apply's `application/apply-patch+yaml`).
pub(super) fn body_json(req: &Request) -> Result<Value, Status> {
    if req
        .header("content-type")
        .starts_with("application/vnd.kubernetes.protobuf")
    {
        return super::protobuf::object(&req.body).map_err(|e| match e {
            super::protobuf::ObjectError::NotDecoded(kind) => Status {
                code: 415,
                reason: "UnsupportedMediaType",
                message: format!("the body of the request was in an unknown format - a protobuf {kind} is not read here; accepted media types include: application/json, application/yaml"),
                details: None,
            },
            super::protobuf::ObjectError::Broken(m) => Status::bad_request(format!("the body of the request could not be decoded: {m}")),
        });
    }
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| Status::bad_request("the body of the request is not UTF-8"))?;
    if req.header("content-type").contains("yaml") {
        let mut docs = decode::yaml::to_json(text)
            .map_err(|e| Status::bad_request(format!("error converting YAML to JSON: {e}")))?;
        return match docs.len() {
            1 => Ok(docs.remove(0)),
            _ => Err(Status::bad_request("the body must hold one object")),
        };
    }
    serde_json::from_str(text).map_err(|e| {
        Status::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// The typed object of a body (or a patched object) for the place's
/// kind, decoded with the request's field validation; the unknown fields
/// it dropped are warnings under Warn.
pub(super) fn typed(
    place: &Place,
    value: Value,
    validation: FieldValidation,
) -> Result<(Object, Vec<String>), Status> {
    let (kind, resource) = (place.kind, place.resource);
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let body_kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    if (!api_version.is_empty() && api_version != kind.api_version())
        || (!body_kind.is_empty() && body_kind != resource.kind)
    {
        return Err(Status::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            kind.api_version()
        )));
    }
    let (object, unknown) = decode_object(kind, value).map_err(|e| place.refuse(e))?;
    let warnings = match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            let version = kind.api_version().rsplit('/').next().unwrap_or_default();
            let fields: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {}", crate::api::field::go_quote(f)))
                .collect();
            return Err(Status::bad_request(format!(
                "{k} in version \"{version}\" cannot be handled as a {k}: strict decoding error: {}",
                fields.join(", "),
                k = resource.kind
            )));
        }
        FieldValidation::Warn => unknown
            .iter()
            .map(|f| format!("unknown field {}", crate::api::field::go_quote(f)))
            .collect(),
        _ => Vec::new(),
    };
    Ok((object, warnings))
}

pub(super) fn invalid(object: &Object, causes: Vec<crate::api::FieldError>) -> ApiError {
    ApiError::Invalid {
        kind: object.kind().to_string(),
        name: object.name().to_string(),
        causes,
    }
}

pub(super) fn version_of(json: &Value) -> String {
    json["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// `PUT .../<resource>/<name>`.
fn update(place: &Place, req: &Request, name: &str) -> Result<Reply, Status> {
    let opts = place.write_options(req, Verb::Update, false)?;
    let body = body_json(req)?;
    same_name(&body, name)?;
    reply(write(place, name, &opts, |_current| {
        Ok(Change::Replace(body))
    }))
}

/// What a write does to the current object's JSON.
enum Change {
    /// The object the client sent (PUT, or a patched object).
    Replace(Value),
    /// A server-side apply: the merged object and its managed fields.
    Applied(
        Value,
        Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry>,
    ),
}

/// An update of the stored object `name` through `change`, which sees
/// the object as served (with its version).
fn write(
    place: &Place,
    name: &str,
    opts: &WriteOptions,
    change: impl FnOnce(&Value) -> Result<Change, Status>,
) -> Answer {
    let (kind, resource, store) = (place.kind, place.resource, &place.server.store);
    let _lock = store
        .lock(kind, &place.namespace, name)
        .map_err(|e| place.fail(e))?;
    let (current, current_json) = place.current(name)?;
    let current_version = version_of(&current_json);
    let (new_json, entries) = match change(&current_json)? {
        Change::Replace(json) => (json, None),
        Change::Applied(json, entries) => (json, Some(entries)),
    };
    let asked = new_json["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string);
    options::check_version(resource.name, name, asked.as_deref(), &current_version)
        .map_err(|e| place.refuse(e))?;
    let (mut object, mut warnings) = typed(place, new_json, opts.field_validation)?;
    // What the server keeps whatever the client sent: identity when left
    // out, the deletion mark, the status of an object updated through
    // the object itself.
    {
        let (meta, old) = (object.metadata_mut(), current.metadata());
        if meta.uid.as_deref().unwrap_or("").is_empty() {
            meta.uid = old.uid.clone();
        }
        if meta.namespace.as_deref().unwrap_or("").is_empty() {
            meta.namespace = old.namespace.clone();
        }
        meta.creation_timestamp = old.creation_timestamp.clone();
        meta.deletion_timestamp = old.deletion_timestamp.clone();
        meta.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
        meta.resource_version = None;
        // The client's managedFields when it sent some (kubectl rewrites
        // them when it moves client-side apply to server-side), else the
        // stored ones, as the server's field manager decides.
        if meta.managed_fields.as_ref().is_none_or(Vec::is_empty) {
            meta.managed_fields = old.managed_fields.clone();
        }
    }
    match (&mut object, &current) {
        (Object::Pod(new), Object::Pod(old)) => new.status = old.status.clone(),
        (Object::Namespace(new), Object::Namespace(old)) => new.status = old.status.clone(),
        (Object::Node(new), Object::Node(old)) => new.status = old.status.clone(),
        _ => {}
    }
    defaults::default_fields(&mut object);
    let mut causes = validation::validate(&object);
    causes.extend(validate_update(&object, &current));
    if !causes.is_empty() {
        return Err(place.refuse(invalid(&object, causes)));
    }
    warnings.extend(validation::warnings(&object));
    let entries = match entries {
        Some(entries) => entries,
        None => {
            let before = object.metadata().managed_fields.clone().unwrap_or_default();
            managed::record_update(
                kind,
                Some(&current.to_json()),
                &object.to_json(),
                before,
                manager(opts),
                &now(),
            )
        }
    };
    object.metadata_mut().managed_fields = Some(entries);
    if opts.dry_run {
        // Not stamped: the server's versions record only what is stored.
        return Ok((
            200,
            object.to_json().with_version(&current_version),
            warnings,
        ));
    }
    if object == current {
        return Ok((200, current_json, warnings));
    }
    let mut stored = object.clone();
    if let Object::Pod(pod) = &mut stored {
        // A pod's status is the supervisor's record, not the manifest.
        pod.status = None;
    }
    crate::objects::replace(store, &stored).map_err(|e| place.fail(e))?;
    if !matches!(stored, Object::Pod(_)) {
        crate::runtime::refresh_volumes(store, &stored).map_err(|e| place.fail(e))?;
    }
    Ok((200, place.answer_stored(name, object)?, warnings))
}

trait WithVersion {
    fn with_version(self, version: &str) -> Value;
}

impl WithVersion for Value {
    fn with_version(mut self, version: &str) -> Value {
        self["metadata"]["resourceVersion"] = json!(version);
        self
    }
}

pub(super) fn conflict(resource: &Resource, c: managed::Conflicts) -> Status {
    Status {
        code: 409,
        reason: "Conflict",
        message: c.message.clone(),
        details: Some(json!({
            "group": resource.group,
            "kind": resource.name,
            "causes": c.causes.iter().map(|(field, message)| json!({
                "reason": "FieldManagerConflict", "message": message, "field": field,
            })).collect::<Vec<_>>(),
        })),
    }
}

/// `current` with a JSON, merge or strategic merge `body` applied.
pub(super) fn patched(
    kind: Kind,
    patch_type: PatchType,
    current: &Value,
    body: &[u8],
) -> Result<Value, Status> {
    patch::apply(kind, patch_type, current, body).map_err(|e| match e {
        patch::PatchError::BadRequest(m) => Status::bad_request(m),
        patch::PatchError::Invalid(m) => Status {
            code: 422,
            reason: "Invalid",
            message: m,
            details: None,
        },
    })
}

/// A PATCH whose media type is none of the patches'.
pub(super) fn unsupported_patch() -> Status {
    Status {
        code: 415,
        reason: "UnsupportedMediaType",
        message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json".to_string(),
        details: None,
    }
}

/// `PATCH .../<resource>/<name>`.
fn patch(place: &Place, req: &Request, name: &str) -> Result<Reply, Status> {
    let Some(patch_type) = PatchType::from_content_type(req.header("content-type")) else {
        return Err(unsupported_patch());
    };
    let apply = patch_type == PatchType::Apply;
    let opts = place.write_options(req, Verb::Patch, apply)?;
    if apply {
        let config = body_json(req)?;
        same_name(&config, name)?;
        if place.get(name)?.is_none() {
            return reply(create_object(place, config.clone(), &opts, Some(&config)));
        }
        return reply(write(place, name, &opts, |current| {
            let entries = current["metadata"]["managedFields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| serde_json::from_value(e.clone()).ok())
                        .collect()
                })
                .unwrap_or_default();
            let (merged, entries) = managed::apply(
                place.kind,
                Some(current),
                &config,
                entries,
                manager(&opts),
                opts.force,
                &now(),
            )
            .map_err(|c| conflict(place.resource, c))?;
            Ok(Change::Applied(merged, entries))
        }));
    }
    let body = req.body.clone();
    reply(write(place, name, &opts, |current| {
        Ok(Change::Replace(patched(
            place.kind, patch_type, current, &body,
        )?))
    }))
}
