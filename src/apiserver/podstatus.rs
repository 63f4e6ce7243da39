//! `pods/<name>/status`: a pod's status written through the API (`PUT`,
//! and `PATCH` with a JSON, merge or strategic merge patch), as the API
//! server's status strategy does it: only the status of what was sent is
//! kept, the spec and metadata stay as stored. Of the status, what the
//! kubelet owns (phase, container statuses, addresses, its own condition
//! types) stays the supervisor's record: on a cluster the kubelet writes
//! it back at its next status sync, here the record simply wins. The
//! conditions of other types (a readiness gate's, `DisruptionTarget`, a
//! controller's own) are kept in the store beside the record
//! (`store::conditions`) and read with it, by `pod get` as by the API.

use k8s_openapi::api::core::v1::PodCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};
use serde_json::{Value, json};

use super::request::{Reply, Request};
use super::status::Status;
use super::write::{
    Place, body_json, conflict, invalid, now, patched, reply, same_name, typed, unsupported_patch,
    version_of,
};
use crate::api::field::{BadValue, ErrorType, FieldError};
use crate::api::managed::{self, Manager};
use crate::api::patch::PatchType;
use crate::api::request::{self as options, Verb};
use crate::api::validation::names;
use crate::api::{Kind, Object};
use crate::store::Detail;
use crate::store::conditions::KUBELET_OWNED;

/// `PUT` (`patching` false) or `PATCH .../pods/<name>/status`.
pub fn write(place: &Place, req: &Request, name: &str, patching: bool) -> Result<Reply, Status> {
    let patch_type = match patching {
        false => None,
        true => match PatchType::from_content_type(req.header("content-type")) {
            None => return Err(unsupported_patch()),
            Some(t) => Some(t),
        },
    };
    let verb = if patching { Verb::Patch } else { Verb::Update };
    let apply = patch_type == Some(PatchType::Apply);
    let opts = place.write_options(req, verb, apply)?;
    let manager = Manager {
        name: &opts.field_manager,
        subresource: Some("status"),
    };
    let store = &place.server.store;
    let _lock = store
        .lock(Kind::Pod, &place.namespace, name)
        .map_err(|e| place.fail(e))?;
    let (current, current_json) = place.current(name)?;
    let current_version = version_of(&current_json);
    let entries = current
        .metadata()
        .managed_fields
        .clone()
        .unwrap_or_default();
    // A server-side apply's managed fields come with its merge.
    let mut applied = None;
    let sent = match patch_type {
        Some(PatchType::Apply) => {
            let config = body_json(req)?;
            same_name(&config, name)?;
            let (merged, after) = managed::apply(
                Kind::Pod,
                Some(&current_json),
                &config,
                entries.clone(),
                manager,
                opts.force,
                &now(),
            )
            .map_err(|c| conflict(place.resource, c))?;
            applied = Some(after);
            merged
        }
        Some(t) => patched(Kind::Pod, t, &current_json, &req.body)?,
        None => {
            let body = body_json(req)?;
            same_name(&body, name)?;
            body
        }
    };
    options::check_version(
        place.resource.name,
        name,
        sent["metadata"]["resourceVersion"].as_str(),
        &current_version,
    )
    .map_err(|e| place.refuse(e))?;
    let (object, warnings) = typed(place, sent, opts.field_validation)?;
    let (Object::Pod(sent), Object::Pod(mut pod)) = (object, current.clone()) else {
        return Err(Status::bad_request("the object is not a Pod"));
    };
    let conditions: Vec<PodCondition> = sent
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let causes = validate_conditions(&conditions);
    if !causes.is_empty() {
        return Err(place.refuse(invalid(&current, causes)));
    }
    let kept: Vec<PodCondition> = conditions
        .into_iter()
        .filter(|c| !KUBELET_OWNED.contains(&c.type_.as_str()))
        .collect();
    // The answer: the pod as stored, with the conditions it now has.
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.clone())
        .unwrap_or_default();
    let status = pod.status.get_or_insert_with(Default::default);
    let stored = store
        .read_pod_conditions(&place.namespace, name)
        .map_err(|e| place.fail(e))?;
    if let Some(own) = status.conditions.as_mut() {
        own.retain(|c| KUBELET_OWNED.contains(&c.type_.as_str()));
    }
    crate::store::conditions::merge(status, kept.clone(), &gates);
    // The writer's managed fields, through status: what it changed of
    // the conditions it can set (the supervisor's own, which it cannot,
    // and the Ready a gate moves, are no client's).
    let after = applied.unwrap_or_else(|| {
        managed::record_update(
            Kind::Pod,
            Some(&with_conditions(&current_json, &stored)),
            &with_conditions(&current_json, &kept),
            entries.clone(),
            manager,
            &now(),
        )
    });
    pod.metadata.managed_fields = Some(after.clone());
    if opts.dry_run {
        let mut json = Object::Pod(pod).to_json();
        json["metadata"]["resourceVersion"] = current_version.into();
        return reply(Ok((200, json, warnings)));
    }
    if kept != stored {
        store
            .write_pod_conditions(&place.namespace, name, kept)
            .map_err(|e| place.fail(e))?;
    }
    if after != entries {
        record_managers(place, name, after)?;
    }
    reply(Ok((
        200,
        place.answer_stored(name, Object::Pod(pod))?,
        warnings,
    )))
}

/// `pod` (as JSON) with `conditions` for its whole status: what a
/// status write's manager is recorded from.
fn with_conditions(pod: &Value, conditions: &[PodCondition]) -> Value {
    let mut pod = pod.clone();
    pod["status"] = match conditions {
        [] => json!({}),
        _ => json!({ "conditions": conditions }),
    };
    pod
}

/// Stores the pod's managed fields (in its manifest, where a write
/// through the pod keeps them too).
fn record_managers(
    place: &Place,
    name: &str,
    entries: Vec<ManagedFieldsEntry>,
) -> Result<(), Status> {
    let store = &place.server.store;
    let manifest = store
        .get_as(Kind::Pod, &place.namespace, name, Detail::Manifest)
        .map_err(|e| place.fail(e))?;
    let Some(Object::Pod(mut manifest)) = manifest else {
        return Err(Status::not_found(
            place.resource.group,
            place.resource.name,
            name,
        ));
    };
    manifest.metadata.managed_fields = Some(entries);
    manifest.status = None;
    crate::objects::replace(store, &Object::Pod(manifest)).map_err(|e| place.fail(e))
}

/// `validatePodConditions`: a condition type other than the system's is
/// a qualified name. (The API server's path says `Type`, capitalized.)
fn validate_conditions(conditions: &[PodCondition]) -> Vec<FieldError> {
    let mut causes = Vec::new();
    for (i, c) in conditions.iter().enumerate() {
        if matches!(c.type_.as_str(), "PodScheduled" | "Ready" | "Initialized") {
            continue;
        }
        for detail in names::qualified_name(&c.type_) {
            causes.push(FieldError::new(
                ErrorType::Invalid,
                format!("status.conditions[{i}].Type"),
                BadValue::Str(c.type_.clone()),
                detail,
            ));
        }
    }
    causes
}

/// What an eviction sets before it deletes the pod, as the API server
/// does (`DisruptionTarget`, True, `EvictionByEvictionAPI`); a condition
/// already True keeps the time it became so.
pub fn mark_evicted(place: &Place, name: &str) -> Result<(), Status> {
    let store = &place.server.store;
    let _lock = store
        .lock(Kind::Pod, &place.namespace, name)
        .map_err(|e| place.fail(e))?;
    let mut conditions = store
        .read_pod_conditions(&place.namespace, name)
        .map_err(|e| place.fail(e))?;
    let since: Option<Time> = conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True")
        .and_then(|c| c.last_transition_time.clone());
    conditions.retain(|c| c.type_ != "DisruptionTarget");
    conditions.push(PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("EvictionByEvictionAPI".into()),
        message: Some("Eviction API: evicting".into()),
        last_transition_time: Some(since.unwrap_or_else(now)),
        ..Default::default()
    });
    store
        .write_pod_conditions(&place.namespace, name, conditions)
        .map_err(|e| place.fail(e))
}
