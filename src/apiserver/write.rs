//! The write verbs: create (POST), update (PUT), patch (PATCH: JSON
//! patch, merge patch, strategic merge patch, server-side apply), delete,
//! deletecollection and pods/eviction, on the same store and through the
//! same code as the CLI: a create is `pod create -f`'s admission,
//! scheduling and supervisor start (`cli::create::admit_and_store`), a
//! delete is `pod delete`'s (`cli::delete::delete_one`). What the API
//! adds is in `api`: the options (`api::request`), the patches
//! (`api::patch`), the update rules (`api::validation::update`) and the
//! managed fields (`api::managed`).
//!
//! Every write is done under the object's lock, from the version the
//! server last gave it: a write naming an older resourceVersion is 409
//! Conflict. `dryRun=All` goes through every check and stores nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::Server;
use super::read::{Item, Selection};
use super::request::{Reply, Request};
use super::resources::{Backing, Resource};
use super::routes::Target;
use super::status::Status;
use crate::api::decode::{self, decode_object};
use crate::api::managed::{self, Manager};
use crate::api::patch::{self, PatchType};
use crate::api::request::{self as options, FieldValidation, Verb, WriteOptions};
use crate::api::validation::{self, update::validate_update};
use crate::api::{Kind, Object, defaults};
use crate::cli::create::{DryRun, admit_and_store};
use crate::error::ApiError;
use crate::pods::Termination;

/// What a write answers: the object (or a Status) and its warnings.
type Answer = Result<(u16, Value, Vec<String>), Status>;

fn reply(answer: Answer) -> Result<Reply, Status> {
    answer.map(|(code, body, warnings)| Reply::Warned {
        warnings,
        reply: Box::new(Reply::Json { code, body }),
    })
}

/// The stored kind a write of `verb` goes to, or 405 when the resource
/// does not serve it (events, a node's create or delete).
fn kind_of(resource: &Resource, req: &Request, verb: &str) -> Result<Kind, Status> {
    match resource.backing {
        Backing::Kind(kind) if resource.verbs.contains(&verb) => Ok(kind),
        _ => Err(Status::method_not_allowed(req.method.as_str(), &req.path)),
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

fn fail(resource: &Resource) -> impl Fn(anyhow::Error) -> Status + '_ {
    move |e| Status::from_error(resource.group, e)
}

fn api(resource: &Resource, e: ApiError) -> Status {
    Status::from_api(resource.group, &e)
}

fn now() -> Time {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    Time(k8s_openapi::jiff::Timestamp::from_second(seconds).unwrap_or_default())
}

/// The request's body as JSON: JSON, or YAML for the YAML media types
/// (an apply's `application/apply-patch+yaml`).
fn body_json(req: &Request) -> Result<Value, Status> {
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

/// The typed object of a body (or a patched object) for `kind`, decoded
/// with the request's field validation; the unknown fields it dropped are
/// warnings under Warn.
fn typed(
    resource: &Resource,
    kind: Kind,
    value: Value,
    validation: FieldValidation,
) -> Result<(Object, Vec<String>), Status> {
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
    let (object, unknown) = decode_object(kind, value).map_err(|e| api(resource, e))?;
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

fn invalid(object: &Object, causes: Vec<crate::api::FieldError>) -> ApiError {
    ApiError::Invalid {
        kind: object.kind().to_string(),
        name: object.name().to_string(),
        causes,
    }
}

/// The object as served now, with its version.
fn served(server: &Server, resource: &Resource, object: Object) -> Result<Value, Status> {
    let stamped = server
        .versions
        .stamp_one(&server.store, resource, Item::Stored(Box::new(object)))
        .map_err(fail(resource))?;
    Ok(stamped.json)
}

fn version_of(json: &Value) -> String {
    json["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// `POST .../<resource>`.
pub fn create(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
) -> Result<Reply, Status> {
    let kind = kind_of(resource, req, "create")?;
    let opts = options::write_options(Verb::Create, params(req), req.header("user-agent"), false)
        .map_err(|e| api(resource, e))?;
    let body = body_json(req)?;
    reply(create_object(
        server, resource, target, kind, body, &opts, None,
    ))
}

/// Creates `body` (a manifest as JSON); `applied` names the manager of a
/// server-side apply that creates it.
fn create_object(
    server: &Server,
    resource: &Resource,
    target: &Target,
    kind: Kind,
    body: Value,
    opts: &WriteOptions,
    applied: Option<(&Value, Manager)>,
) -> Answer {
    let namespace = target.namespace.clone().unwrap_or_default();
    let (mut object, mut warnings) = typed(resource, kind, body, opts.field_validation)?;
    if kind.namespaced() && !object.namespace().is_empty() && object.namespace() != namespace {
        return Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    defaults::apply(&mut object, &namespace);
    let causes = validation::validate(&object);
    if !causes.is_empty() {
        return Err(api(resource, invalid(&object, causes)));
    }
    warnings.extend(validation::warnings(&object));
    let manager = Manager {
        name: &opts.field_manager,
        subresource: None,
    };
    let entries = match applied {
        Some((config, manager)) => {
            managed::apply(kind, None, config, Vec::new(), manager, opts.force, &now())
                .map_err(|c| conflict(resource, c))?
                .1
        }
        None => managed::record_update(kind, None, &object.to_json(), Vec::new(), manager, &now()),
    };
    object.metadata_mut().managed_fields = Some(entries);
    let store = &server.store;
    let dry_run = if opts.dry_run {
        DryRun::Server
    } else {
        DryRun::None
    };
    let mut queue = None;
    let (admitted, starting) =
        admit_and_store(store, &mut queue, &mut object, dry_run).map_err(fail(resource))?;
    warnings.extend(admitted);
    if let Some(starting) = starting {
        starting.wait(store).map_err(fail(resource))?;
    }
    drop(queue);
    if opts.dry_run {
        return Ok((201, object.to_json(), warnings));
    }
    let stored = store
        .get(kind, &namespace, object.name())
        .map_err(|e| fail(resource)(e.into()))?
        .unwrap_or(object);
    Ok((201, served(server, resource, stored)?, warnings))
}

/// `PUT .../<resource>/<name>`.
pub fn update(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
    name: &str,
) -> Result<Reply, Status> {
    let kind = kind_of(resource, req, "update")?;
    let opts = options::write_options(Verb::Update, params(req), req.header("user-agent"), false)
        .map_err(|e| api(resource, e))?;
    let body = body_json(req)?;
    let body_name = body["metadata"]["name"].as_str().unwrap_or("");
    if body_name != name {
        return Err(Status::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    reply(write(
        server,
        resource,
        target,
        kind,
        name,
        &opts,
        |_current| Ok(Change::Replace(body)),
    ))
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
    server: &Server,
    resource: &Resource,
    target: &Target,
    kind: Kind,
    name: &str,
    opts: &WriteOptions,
    change: impl FnOnce(&Value) -> Result<Change, Status>,
) -> Answer {
    let store = &server.store;
    let namespace = target.namespace.clone().unwrap_or_default();
    let _lock = store
        .lock(kind, &namespace, name)
        .map_err(|e| fail(resource)(e.into()))?;
    let current = store
        .get(kind, &namespace, name)
        .map_err(|e| fail(resource)(e.into()))?
        .ok_or_else(|| Status::not_found(resource.group, resource.name, name))?;
    let current_json = served(server, resource, current.clone())?;
    let current_version = version_of(&current_json);
    let (new_json, entries) = match change(&current_json)? {
        Change::Replace(json) => (json, None),
        Change::Applied(json, entries) => (json, Some(entries)),
    };
    let asked = new_json["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string);
    options::check_version(resource.name, name, asked.as_deref(), &current_version)
        .map_err(|e| api(resource, e))?;
    let (mut object, mut warnings) = typed(resource, kind, new_json, opts.field_validation)?;
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
        return Err(api(resource, invalid(&object, causes)));
    }
    warnings.extend(validation::warnings(&object));
    let manager = Manager {
        name: &opts.field_manager,
        subresource: None,
    };
    let entries = match entries {
        Some(entries) => entries,
        None => {
            let before = object.metadata().managed_fields.clone().unwrap_or_default();
            managed::record_update(
                kind,
                Some(&current.to_json()),
                &object.to_json(),
                before,
                manager,
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
    store
        .replace(&stored)
        .map_err(|e| fail(resource)(e.into()))?;
    if !matches!(stored, Object::Pod(_)) {
        crate::runtime::refresh_volumes(store, &stored).map_err(fail(resource))?;
    }
    let now_stored = store
        .get(kind, &namespace, name)
        .map_err(|e| fail(resource)(e.into()))?
        .unwrap_or(object);
    Ok((200, served(server, resource, now_stored)?, warnings))
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

fn conflict(resource: &Resource, c: managed::Conflicts) -> Status {
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

/// `PATCH .../<resource>/<name>`.
pub fn patch(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
    name: &str,
) -> Result<Reply, Status> {
    let kind = kind_of(resource, req, "patch")?;
    let Some(patch_type) = PatchType::from_content_type(req.header("content-type")) else {
        return Err(Status {
            code: 415,
            reason: "UnsupportedMediaType",
            message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json".to_string(),
            details: None,
        });
    };
    let apply = patch_type == PatchType::Apply;
    let opts = options::write_options(Verb::Patch, params(req), req.header("user-agent"), apply)
        .map_err(|e| api(resource, e))?;
    let manager = Manager {
        name: &opts.field_manager,
        subresource: None,
    };
    if apply {
        let config = body_json(req)?;
        let config_name = config["metadata"]["name"].as_str().unwrap_or("");
        if config_name != name {
            return Err(Status::bad_request(format!(
                "the name of the object ({config_name}) does not match the name on the URL ({name})"
            )));
        }
        let namespace = target.namespace.clone().unwrap_or_default();
        let exists = server
            .store
            .get(kind, &namespace, name)
            .map_err(|e| fail(resource)(e.into()))?
            .is_some();
        if !exists {
            return reply(create_object(
                server,
                resource,
                target,
                kind,
                config.clone(),
                &opts,
                Some((&config, manager)),
            ));
        }
        return reply(write(
            server,
            resource,
            target,
            kind,
            name,
            &opts,
            |current| {
                let entries = current["metadata"]["managedFields"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|e| serde_json::from_value(e.clone()).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                let (merged, entries) = managed::apply(
                    kind,
                    Some(current),
                    &config,
                    entries,
                    manager,
                    opts.force,
                    &now(),
                )
                .map_err(|c| conflict(resource, c))?;
                Ok(Change::Applied(merged, entries))
            },
        ));
    }
    let body = req.body.clone();
    reply(write(
        server,
        resource,
        target,
        kind,
        name,
        &opts,
        |current| {
            let patched = patch::apply(kind, patch_type, current, &body).map_err(|e| match e {
                patch::PatchError::BadRequest(m) => Status::bad_request(m),
                patch::PatchError::Invalid(m) => Status {
                    code: 422,
                    reason: "Invalid",
                    message: m,
                    details: None,
                },
            })?;
            Ok(Change::Replace(patched))
        },
    ))
}

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

/// `DELETE .../<resource>/<name>`.
pub fn delete(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
    name: &str,
) -> Result<Reply, Status> {
    let kind = kind_of(resource, req, "delete")?;
    let opts = options::delete_options(&req.body, params(req)).map_err(|e| api(resource, e))?;
    reply(
        delete_one(server, resource, target, kind, name, &opts)
            .map(|(code, body)| (code, body, Vec::new())),
    )
}

fn delete_one(
    server: &Server,
    resource: &Resource,
    target: &Target,
    kind: Kind,
    name: &str,
    opts: &options::DeleteOptions,
) -> Result<(u16, Value), Status> {
    let store = &server.store;
    let namespace = target.namespace.clone().unwrap_or_default();
    let current = store
        .get(kind, &namespace, name)
        .map_err(|e| fail(resource)(e.into()))?
        .ok_or_else(|| Status::not_found(resource.group, resource.name, name))?;
    let current_json = served(server, resource, current.clone())?;
    options::check_preconditions(
        resource.name,
        name,
        opts,
        current.metadata().uid.as_deref().unwrap_or(""),
        &version_of(&current_json),
    )
    .map_err(|e| api(resource, e))?;
    if opts.dry_run {
        return Ok((200, current_json));
    }
    let found = crate::cli::delete::delete_one(
        store,
        kind,
        &namespace,
        name,
        termination(opts.grace_period_seconds),
        false,
    )
    .map_err(fail(resource))?;
    if !found {
        return Err(Status::not_found(resource.group, resource.name, name));
    }
    // A pod (or namespace) that is still there ends gracefully: it is
    // answered as it is now, marked for deletion; what went at once is
    // answered with a Status.
    match store
        .get(kind, &namespace, name)
        .map_err(|e| fail(resource)(e.into()))?
    {
        Some(now) if matches!(kind, Kind::Pod | Kind::Namespace) => {
            Ok((200, served(server, resource, now)?))
        }
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
pub fn delete_collection(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
) -> Result<Reply, Status> {
    let kind = kind_of(resource, req, "deletecollection")?;
    let opts = options::delete_options(&req.body, params(req)).map_err(|e| api(resource, e))?;
    let selection = Selection::of(req, resource)?;
    let (items, version) = server
        .versions
        .observe(&server.store, resource)
        .map_err(fail(resource))?;
    let mut deleted = Vec::new();
    for stamped in items {
        let in_namespace = target
            .namespace
            .as_deref()
            .is_none_or(|ns| stamped.item.namespace() == ns);
        if !in_namespace || !selection.matches(&stamped.item, &stamped.json) {
            continue;
        }
        let one = Target {
            namespace: Some(stamped.item.namespace().to_string()).filter(|n| !n.is_empty()),
            ..target.clone()
        };
        match delete_one(server, resource, &one, kind, stamped.item.name(), &opts) {
            Ok(_) => deleted.push(stamped.json),
            // Gone in between: nothing left to delete.
            Err(status) if status.code == 404 => {}
            Err(status) => return Err(status),
        }
    }
    reply(Ok((
        200,
        json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": version.to_string()},
            "items": deleted,
        }),
        Vec::new(),
    )))
}

/// `POST .../pods/<name>/eviction`: with no disruption budgets on this
/// node, an eviction is a delete with the Eviction's options.
pub fn evict(
    server: &Server,
    req: &Request,
    resource: &Resource,
    target: &Target,
    name: &str,
) -> Result<Reply, Status> {
    let kind = kind_of(resource, req, "delete")?;
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
    let opts = options::delete_options(delete_body.as_bytes(), params(req))
        .map_err(|e| api(resource, e))?;
    delete_one(server, resource, target, kind, name, &opts)?;
    reply(Ok((
        201,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        Vec::new(),
    )))
}
