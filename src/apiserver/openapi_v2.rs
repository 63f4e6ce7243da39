//! `/openapi/v2`: the one Swagger 2.0 document of every kind served, as
//! JSON or, when asked for (kubectl and client-go always ask), as the
//! protobuf of gnostic's `openapi.v2.Document`. kubectl reads it for
//! `explain --output=plaintext-openapiv2`, `kubectl apply` fetches it
//! when the OpenAPI 3 document offers no strategic merge patch, and
//! clients older than 1.27 look in it whether PATCH takes
//! `fieldValidation` (else they validate on their side against its
//! schemas). The lists carry the merge keys the server merges by
//! (`openapi::annotate`), as the API server's schemas do.
//!
//! It is made from the OpenAPI 3 documents (`openapi`): the schemas with
//! their references moved to `#/definitions/`, a reference wrapped in
//! `allOf` unwrapped, int-or-string as Swagger writes it; the paths with
//! their parameters in Swagger's form.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use super::openapi;
use super::request::{Reply, Request};
use super::status::Status;

struct Document {
    json: bytes::Bytes,
    protobuf: bytes::Bytes,
}

fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = swagger();
        Document {
            json: serde_json::to_vec(&doc)
                .expect("JSON values serialize")
                .into(),
            protobuf: pb::document(&doc).into(),
        }
    })
}

/// `GET /openapi/v2`.
pub fn v2(req: &Request) -> Result<Reply, Status> {
    let doc = document();
    // kubectl asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
    Ok(if req.header("accept").contains("protobuf") {
        Reply::Bytes {
            code: 200,
            content_type: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            body: doc.protobuf.clone(),
        }
    } else {
        Reply::Bytes {
            code: 200,
            content_type: "application/json",
            body: doc.json.clone(),
        }
    })
}

/// The Swagger 2.0 document as JSON.
fn swagger() -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for (group, version, schemas) in openapi::annotated_schemas() {
        for (name, schema) in schemas {
            definitions.insert(name, schema_v2(schema));
        }
        if let Value::Object(p) = openapi::paths(group, version) {
            for (path, ops) in p {
                paths.insert(path, path_v2(ops));
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": openapi::info_version()},
        "paths": paths,
        "definitions": definitions,
    })
}

/// A schema in Swagger's form.
fn schema_v2(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            // `allOf: [{$ref}]` (how OpenAPI 3 gives a reference its own
            // description) is a plain reference in Swagger.
            if let Some(Value::Array(all)) = map.get("allOf")
                && all.len() == 1
                && all[0].get("$ref").is_some()
            {
                let r = all[0]["$ref"].clone();
                map.remove("allOf");
                map.insert("$ref".into(), r);
            }
            if let Some(Value::String(r)) = map.get("$ref") {
                let r = r.replace("#/components/schemas/", "#/definitions/");
                map.insert("$ref".into(), Value::String(r));
            }
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                map.insert("type".into(), json!("string"));
                map.insert("format".into(), json!("int-or-string"));
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = match k.as_str() {
                            "properties" => match v {
                                Value::Object(props) => Value::Object(
                                    props.into_iter().map(|(n, s)| (n, schema_v2(s))).collect(),
                                ),
                                other => other,
                            },
                            "items" | "additionalProperties" | "allOf" => schema_v2(v),
                            _ => v,
                        };
                        (k, v)
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(schema_v2).collect()),
        other => other,
    }
}

/// A path's operations with Swagger's parameters (`type` beside the
/// name, not in a `schema`).
fn path_v2(ops: Value) -> Value {
    let Value::Object(ops) = ops else { return ops };
    Value::Object(
        ops.into_iter()
            .map(|(method, mut op)| {
                // Swagger 2.0 has no request body: its `consumes` lists
                // the media types a PATCH takes.
                if let Some(body) = op.as_object_mut().and_then(|o| o.remove("requestBody")) {
                    let types: Vec<&String> = body["content"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    op["consumes"] = json!(types);
                }
                if let Some(Value::Array(params)) = op.get_mut("parameters") {
                    for p in params.iter_mut() {
                        let ty = p["schema"]["type"].clone();
                        if let Some(p) = p.as_object_mut() {
                            p.remove("schema");
                            p.insert("type".into(), ty);
                        }
                    }
                }
                (method, op)
            })
            .collect(),
    )
}

/// The protobuf encoding of the document, in gnostic's
/// `openapiv2/OpenAPIv2.proto` messages (field numbers from there). Only
/// what the document has is encoded; vendor extensions carry their value
/// as YAML, and JSON is YAML.
mod pb {
    use serde_json::Value;

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
        varint(out, u64::from(field) << 3 | 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }

    fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        if !s.is_empty() {
            bytes(out, field, s.as_bytes());
        }
    }

    fn boolean(out: &mut Vec<u8>, field: u32, b: bool) {
        if b {
            varint(out, u64::from(field) << 3);
            out.push(1);
        }
    }

    /// `Any { yaml = 2 }`.
    fn any(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, 2, &value.to_string());
        out
    }

    /// `NamedAny { name = 1, value = 2 }`.
    fn named_any(out: &mut Vec<u8>, field: u32, name: &str, value: &Value) {
        let mut m = Vec::new();
        string(&mut m, 1, name);
        bytes(&mut m, 2, &any(value));
        bytes(out, field, &m);
    }

    fn str_of(v: &Value) -> &str {
        v.as_str().unwrap_or_default()
    }

    /// `Schema`.
    pub fn schema(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        let Some(map) = value.as_object() else {
            return out;
        };
        for (k, v) in map {
            match k.as_str() {
                "$ref" => string(&mut out, 1, str_of(v)),
                "format" => string(&mut out, 2, str_of(v)),
                "title" => string(&mut out, 3, str_of(v)),
                "description" => string(&mut out, 4, str_of(v)),
                "default" => bytes(&mut out, 5, &any(v)),
                "required" => {
                    for r in v.as_array().into_iter().flatten() {
                        bytes(&mut out, 19, str_of(r).as_bytes());
                    }
                }
                "enum" => {
                    for e in v.as_array().into_iter().flatten() {
                        bytes(&mut out, 20, &any(e));
                    }
                }
                "additionalProperties" => {
                    // `AdditionalPropertiesItem { schema = 1 | boolean = 2 }`.
                    let mut item = Vec::new();
                    match v {
                        Value::Bool(b) => {
                            varint(&mut item, 2 << 3);
                            item.push(u8::from(*b));
                        }
                        s => bytes(&mut item, 1, &schema(s)),
                    }
                    bytes(&mut out, 21, &item);
                }
                "type" => {
                    // `TypeItem { repeated value = 1 }`.
                    let mut item = Vec::new();
                    match v {
                        Value::Array(types) => {
                            for t in types {
                                bytes(&mut item, 1, str_of(t).as_bytes());
                            }
                        }
                        t => bytes(&mut item, 1, str_of(t).as_bytes()),
                    }
                    bytes(&mut out, 22, &item);
                }
                "items" => {
                    // `ItemsItem { repeated schema = 1 }`.
                    let mut item = Vec::new();
                    match v {
                        Value::Array(all) => {
                            for s in all {
                                bytes(&mut item, 1, &schema(s));
                            }
                        }
                        s => bytes(&mut item, 1, &schema(s)),
                    }
                    bytes(&mut out, 23, &item);
                }
                "allOf" => {
                    for s in v.as_array().into_iter().flatten() {
                        bytes(&mut out, 24, &schema(s));
                    }
                }
                "properties" => {
                    // `Properties { repeated NamedSchema additional_properties = 1 }`.
                    let mut props = Vec::new();
                    for (name, s) in v.as_object().into_iter().flatten() {
                        let mut named = Vec::new();
                        string(&mut named, 1, name);
                        bytes(&mut named, 2, &schema(s));
                        bytes(&mut props, 1, &named);
                    }
                    bytes(&mut out, 25, &props);
                }
                "readOnly" => boolean(&mut out, 27, v.as_bool().unwrap_or(false)),
                x if x.starts_with("x-") => named_any(&mut out, 31, x, v),
                _ => {}
            }
        }
        out
    }

    /// `Operation`.
    fn operation(op: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, 3, str_of(&op["description"]));
        string(&mut out, 5, str_of(&op["operationId"]));
        for p in op["parameters"].as_array().into_iter().flatten() {
            // ParametersItem { Parameter { NonBodyParameter {
            //   QueryParameterSubSchema { in = 2, name = 4, type = 6 } } } }
            let mut query = Vec::new();
            string(&mut query, 2, str_of(&p["in"]));
            string(&mut query, 4, str_of(&p["name"]));
            string(&mut query, 6, str_of(&p["type"]));
            let mut non_body = Vec::new();
            bytes(&mut non_body, 3, &query);
            let mut parameter = Vec::new();
            bytes(&mut parameter, 2, &non_body);
            let mut item = Vec::new();
            bytes(&mut item, 1, &parameter);
            bytes(&mut out, 8, &item);
        }
        // Responses { repeated NamedResponseValue response_code = 1 }.
        let mut responses = Vec::new();
        for (code, r) in op["responses"].as_object().into_iter().flatten() {
            let mut response = Vec::new();
            string(&mut response, 1, str_of(&r["description"]));
            let mut value = Vec::new();
            bytes(&mut value, 1, &response);
            let mut named = Vec::new();
            string(&mut named, 1, code);
            bytes(&mut named, 2, &value);
            bytes(&mut responses, 1, &named);
        }
        bytes(&mut out, 9, &responses);
        for (k, v) in op.as_object().into_iter().flatten() {
            if k.starts_with("x-") {
                named_any(&mut out, 13, k, v);
            }
        }
        out
    }

    /// `Document`.
    pub fn document(doc: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, 1, str_of(&doc["swagger"]));
        let mut info = Vec::new();
        string(&mut info, 1, str_of(&doc["info"]["title"]));
        string(&mut info, 2, str_of(&doc["info"]["version"]));
        bytes(&mut out, 2, &info);
        // Paths { repeated NamedPathItem path = 2 }.
        let mut paths = Vec::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            let mut item = Vec::new();
            for (method, field) in [
                ("get", 2),
                ("put", 3),
                ("post", 4),
                ("delete", 5),
                ("patch", 8),
            ] {
                if let Some(op) = ops.get(method) {
                    bytes(&mut item, field, &operation(op));
                }
            }
            let mut named = Vec::new();
            string(&mut named, 1, path);
            bytes(&mut named, 2, &item);
            bytes(&mut paths, 2, &named);
        }
        bytes(&mut out, 8, &paths);
        // Definitions { repeated NamedSchema additional_properties = 1 }.
        let mut defs = Vec::new();
        for (name, s) in doc["definitions"].as_object().into_iter().flatten() {
            let mut named = Vec::new();
            string(&mut named, 1, name);
            bytes(&mut named, 2, &schema(s));
            bytes(&mut defs, 1, &named);
        }
        bytes(&mut out, 9, &defs);
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn fields_are_tagged_and_length_prefixed() {
            let mut out = Vec::new();
            varint(&mut out, 300);
            assert_eq!(out, [0xac, 0x02]);
            let s = schema(&serde_json::json!({"type": "string", "description": "d"}));
            // description (4, "d"), then type (22: TypeItem { 1: "string" }).
            assert_eq!(
                s,
                [
                    0x22, 1, b'd', 0xb2, 0x01, 8, 0x0a, 6, b's', b't', b'r', b'i', b'n', b'g'
                ]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_lists_carry_the_servers_merge_keys() {
        let doc = swagger();
        let defs = doc["definitions"].as_object().unwrap();
        let text = doc.to_string();
        assert!(!text.contains("#/components/"));
        for piece in text.split("\"$ref\":\"#/definitions/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(defs.contains_key(name), "{name}");
        }
        let spec = &defs["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            spec["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        assert_eq!(
            spec["schedulingGates"]["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(spec["tolerations"].get("x-kubernetes-patch-strategy"), None);
        let container = &defs["io.k8s.api.core.v1.Container"]["properties"];
        assert_eq!(
            container["ports"]["x-kubernetes-patch-merge-key"],
            "containerPort"
        );
        assert_eq!(
            container["ports"]["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        assert_eq!(
            defs["io.k8s.api.core.v1.NodeStatus"]["properties"]["conditions"]["x-kubernetes-patch-merge-key"],
            "type"
        );
        // A reference with its own description, unwrapped.
        assert_eq!(
            spec["affinity"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.Affinity"
        );
        // PATCH of pods takes fieldValidation (what older clients check).
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
        );
        assert!(!document().protobuf.is_empty());
    }
}
