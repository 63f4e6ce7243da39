//! `/openapi/v3` (the index of group versions) and `/openapi/v3/<gv>`
//! (one OpenAPI 3 document), which `kubectl explain` reads and kubectl
//! checks for the `fieldValidation` parameter of a kind's PATCH before it
//! relies on the server's field validation.
//!
//! The schemas (`openapi/*.json`, 333 KB for core/v1 and 39 KB for
//! events.k8s.io/v1, the kinds served and what they refer to) are made by
//! `tools/openapi-gen` from k8s-openapi's, which carry Kubernetes'
//! descriptions; the paths are made here from the `resources` table, so
//! an operation is described exactly when its verb is served. A
//! document's URL carries a hash of it, as the API server's do, so
//! clients' caches of an older one are not used.
//!
//! PodPresets (settings.k8s.io/v1alpha1) are older than k8s-openapi's
//! Kubernetes release: their three schemas are written by hand in
//! `openapi/apis__settings.k8s.io__v1alpha1.json`, with the descriptions
//! of the last release that served them (1.19's `settings/v1alpha1`
//! types), and take the core/v1 schemas they refer to (EnvVar, Volume,
//! LabelSelector...) from that document.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::request::Reply;
use super::resources::{self, Resource};
use super::status::Status;
use crate::api::Kind;
use crate::api::patch::lists::{self, ListType};

/// The group versions with a document, with their schemas.
const SCHEMAS: &[(&str, &str, &str)] = &[
    ("", "v1", include_str!("openapi/api__v1.json")),
    (
        "events.k8s.io",
        "v1",
        include_str!("openapi/apis__events.k8s.io__v1.json"),
    ),
    (
        "settings.k8s.io",
        "v1alpha1",
        include_str!("openapi/apis__settings.k8s.io__v1alpha1.json"),
    ),
];

/// One group version's document, serialized, and its hash.
struct Document {
    path: String,
    body: bytes::Bytes,
    hash: String,
}

/// The version the documents' `info` gives.
pub fn info_version() -> String {
    format!("v{}.{}.0", super::discovery::MAJOR, super::discovery::MINOR)
}

/// Each group version's schemas, with the core/v1 ones they refer to
/// and the list rules the server merges by (`annotate`).
pub fn annotated_schemas() -> Vec<(&'static str, &'static str, Map<String, Value>)> {
    let parse = |schemas: &str| -> Map<String, Value> {
        serde_json::from_str(schemas).expect("the bundled schemas are JSON")
    };
    let core = parse(SCHEMAS[0].2);
    SCHEMAS
        .iter()
        .map(|(group, version, schemas)| {
            let mut schemas = parse(schemas);
            borrow_references(&mut schemas, &core);
            annotate(&mut schemas);
            (*group, *version, schemas)
        })
        .collect()
}

/// Adds to `schemas` each schema of `from` they refer to and lack, and
/// what those refer to in turn: a document holds every schema it names.
fn borrow_references(schemas: &mut Map<String, Value>, from: &Map<String, Value>) {
    let mut wanted: Vec<String> = schemas.values().flat_map(references).collect();
    while let Some(name) = wanted.pop() {
        if schemas.contains_key(&name) {
            continue;
        }
        if let Some(schema) = from.get(&name) {
            wanted.extend(references(schema));
            schemas.insert(name, schema.clone());
        }
    }
}

/// The names of the schemas `schema` refers to, at any depth.
fn references(schema: &Value) -> Vec<String> {
    match schema {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, value)| match (key.as_str(), value) {
                ("$ref", Value::String(r)) => r
                    .strip_prefix("#/components/schemas/")
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
                _ => references(value),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(references).collect(),
        _ => Vec::new(),
    }
}

/// The stored kinds whose lists merge by rules, and their schemas' names.
const ROOTS: &[(Kind, &str)] = &[
    (Kind::Pod, "io.k8s.api.core.v1.Pod"),
    (Kind::Node, "io.k8s.api.core.v1.Node"),
    (Kind::Namespace, "io.k8s.api.core.v1.Namespace"),
    (Kind::ConfigMap, "io.k8s.api.core.v1.ConfigMap"),
    (Kind::Secret, "io.k8s.api.core.v1.Secret"),
    (Kind::PodPreset, "io.k8s.api.settings.v1alpha1.PodPreset"),
];

/// Marks every list of the kinds' schemas with how the server merges it
/// (`api::patch::lists`, the one table of merge keys): the
/// `x-kubernetes-patch-merge-key` and `-patch-strategy` a strategic merge
/// patch is computed with (kubectl apply reads them from /openapi/v2),
/// and the `x-kubernetes-list-type` and `-list-map-keys` of server-side
/// apply, as the API server's schemas have them. The bundled schemas
/// lack them; a client computing a patch from schemas without them would
/// replace lists the server merges.
fn annotate(schemas: &mut Map<String, Value>) {
    for (kind, root) in ROOTS {
        if schemas.contains_key(*root) {
            walk(schemas, *kind, root, &mut Vec::new());
        }
    }
}

fn reference(schema: &Value) -> Option<String> {
    let r = schema
        .get("$ref")
        .or_else(|| schema.get("allOf").and_then(|a| a.get(0)?.get("$ref")))?;
    r.as_str()?
        .strip_prefix("#/components/schemas/")
        .map(str::to_string)
}

fn walk(schemas: &mut Map<String, Value>, kind: Kind, name: &str, path: &mut Vec<String>) {
    // Deep enough for every list of the kinds served; a guard against
    // schemas that refer to themselves.
    if path.len() > 12 {
        return;
    }
    let props: Vec<String> = match schemas.get(name).and_then(|s| s.get("properties")) {
        Some(Value::Object(p)) => p.keys().cloned().collect(),
        _ => return,
    };
    for prop in props {
        path.push(prop.clone());
        let schema = schemas[name]["properties"][&prop].clone();
        let child = if schema["type"] == "array" {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let rules = lists::list(kind, &segments);
            let ext = &mut schemas[name]["properties"][&prop];
            if let Some(key) = rules.merge_key {
                ext["x-kubernetes-patch-merge-key"] = json!(key);
            }
            if rules.merge_key.is_some() || rules.merge_scalars {
                ext["x-kubernetes-patch-strategy"] = json!(if rules.retain_keys {
                    "merge,retainKeys"
                } else {
                    "merge"
                });
            }
            match rules.list_type {
                ListType::Map(keys) => {
                    ext["x-kubernetes-list-type"] = json!("map");
                    ext["x-kubernetes-list-map-keys"] = json!(keys);
                }
                ListType::Set => ext["x-kubernetes-list-type"] = json!("set"),
                ListType::Atomic => {}
            }
            reference(&schema["items"])
        } else {
            reference(&schema)
        };
        if let Some(child) = child {
            walk(schemas, kind, &child, path);
        }
        path.pop();
    }
}

fn documents() -> &'static [Document] {
    static DOCS: OnceLock<Vec<Document>> = OnceLock::new();
    DOCS.get_or_init(|| {
        annotated_schemas()
            .into_iter()
            .map(|(group, version, schemas)| {
                let doc = json!({
                    "openapi": "3.0.0",
                    "info": {
                        "title": "Kubernetes",
                        "version": info_version(),
                    },
                    "paths": paths(group, version),
                    "components": {"schemas": schemas},
                });
                let body = serde_json::to_vec(&doc).expect("JSON values serialize");
                let hash = hex::encode_upper(Sha256::digest(&body));
                Document {
                    path: group_version_path(group, version),
                    body: body.into(),
                    hash,
                }
            })
            .collect()
    })
}

/// `api/v1` or `apis/events.k8s.io/v1`.
fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3` and `/openapi/v3/<gv>`.
pub fn v3(path: Option<&str>) -> Result<Reply, Status> {
    let Some(path) = path else {
        let index: Map<String, Value> = documents()
            .iter()
            .map(|d| {
                (
                    d.path.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{}?hash={}", d.path, d.hash)}),
                )
            })
            .collect();
        return Ok(Reply::ok(json!({"paths": index})));
    };
    let doc = documents()
        .iter()
        .find(|d| d.path == path)
        .ok_or_else(Status::no_route)?;
    // Any `?hash=` gets the current document (the API server redirects
    // an outdated one to the current URL; the body is the same).
    Ok(Reply::Bytes {
        code: 200,
        content_type: "application/json",
        body: doc.body.clone(),
    })
}

/// The paths of a group version's resources, with the operations their
/// verbs serve.
pub fn paths(group: &str, version: &str) -> Value {
    let mut out = Map::new();
    for r in resources::of(group, version) {
        let prefix = format!("/{}", group_version_path(group, version));
        let collection = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.name)
        } else {
            format!("{prefix}/{}", r.name)
        };
        let item = format!("{collection}/{{name}}");
        let has = |verb: &str| r.verbs.contains(&verb);
        let mut ops = Map::new();
        if has("list") {
            ops.insert("get".into(), operation(r, "list", &list_params()));
        }
        if has("create") {
            ops.insert("post".into(), operation(r, "post", &write_params(false)));
        }
        if has("deletecollection") {
            ops.insert("delete".into(), operation(r, "deletecollection", &[]));
        }
        if !ops.is_empty() {
            out.insert(collection.clone(), Value::Object(ops));
        }
        let mut ops = Map::new();
        if has("get") {
            ops.insert("get".into(), operation(r, "get", &[]));
        }
        if has("update") {
            ops.insert("put".into(), operation(r, "put", &write_params(false)));
        }
        if has("patch") {
            let mut patch = operation(r, "patch", &write_params(true));
            patch["requestBody"] = patch_body();
            ops.insert("patch".into(), patch);
        }
        if has("delete") {
            ops.insert(
                "delete".into(),
                operation(
                    r,
                    "delete",
                    &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
                ),
            );
        }
        if !ops.is_empty() {
            out.insert(item, Value::Object(ops));
        }
        if r.namespaced && has("list") {
            out.insert(
                format!("{prefix}/{}", r.name),
                json!({"get": operation(r, "list", &list_params())}),
            );
        }
    }
    Value::Object(out)
}

/// The patch types a PATCH takes, as the API server lists them: kubectl
/// sends a strategic merge patch only when the operation's request body
/// names `application/strategic-merge-patch+json` (otherwise it logs
/// "does not support strategic merge patch" and sends a merge patch).
fn patch_body() -> Value {
    let object = json!({"schema": {"type": "object"}});
    json!({
        "content": {
            "application/apply-patch+yaml": object,
            "application/json-patch+json": object,
            "application/merge-patch+json": object,
            "application/strategic-merge-patch+json": object,
        },
        "required": true,
    })
}

fn list_params() -> Vec<&'static str> {
    vec![
        "allowWatchBookmarks",
        "fieldSelector",
        "labelSelector",
        "resourceVersion",
        "sendInitialEvents",
        "timeoutSeconds",
        "watch",
    ]
}

fn write_params(patch: bool) -> Vec<&'static str> {
    let mut params = vec!["dryRun", "fieldManager", "fieldValidation"];
    if patch {
        params.push("force");
    }
    params
}

/// One operation: its action, the kind it is about, its query
/// parameters.
fn operation(r: &Resource, action: &str, params: &[&str]) -> Value {
    json!({
        "description": format!("{action} {}", r.kind),
        "parameters": params.iter().map(|p| json!({
            "name": p,
            "in": "query",
            "schema": {"type": if matches!(*p, "watch" | "allowWatchBookmarks" | "sendInitialEvents" | "force") { "boolean" } else if *p == "timeoutSeconds" || *p == "gracePeriodSeconds" { "integer" } else { "string" }},
        })).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_with_a_schema_has_its_group_version_kind() {
        for doc in documents() {
            let value: Value = serde_json::from_slice(&doc.body).unwrap();
            let schemas = value["components"]["schemas"].as_object().unwrap();
            for (group, version, _) in SCHEMAS {
                if group_version_path(group, version) != doc.path {
                    continue;
                }
                for r in resources::of(group, version) {
                    let found = schemas.values().any(|s| {
                        s["x-kubernetes-group-version-kind"]
                            .as_array()
                            .is_some_and(|gvks| {
                                gvks.iter().any(|g| {
                                    g["group"] == r.group
                                        && g["version"] == r.version
                                        && g["kind"] == r.kind
                                })
                            })
                    });
                    assert!(found, "{} {}", doc.path, r.kind);
                }
            }
            // Every reference resolves.
            let text = String::from_utf8_lossy(&doc.body);
            for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
                let name = piece.split('"').next().unwrap();
                assert!(schemas.contains_key(name), "{} refers to {name}", doc.path);
            }
        }
        assert_eq!(documents().len(), 3);
    }
}
