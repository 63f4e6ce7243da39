//! Request bodies in the Kubernetes protobuf encoding
//! (`application/vnd.kubernetes.protobuf`), which client-go sends when a
//! client is configured for it, as the kube-controller-manager and many
//! operators are, and as kubectl's typed commands do (`kubectl create
//! configmap`, `create secret`, `create namespace`). Read into the JSON
//! the handlers already take: DeleteOptions (a delete's body), and the
//! ConfigMap, Secret and Namespace objects (field numbers from core/v1's
//! and meta/v1's generated.proto); other kinds are refused with 415. The
//! encoding: the magic `k8s\0`, then a `runtime.Unknown` message
//! (typeMeta = 1, raw = 2) whose `raw` is the object's own message, in
//! proto2's wire format.

use serde_json::{Map, Value, json};

/// What every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// A field's value as the wire gives it.
#[derive(Debug, PartialEq, Eq)]
enum Wire<'a> {
    Varint(u64),
    /// Length-delimited: strings, bytes, messages, packed lists.
    Bytes(&'a [u8]),
    /// Fixed 32 and 64 bit values, which no message read here has.
    Fixed,
}

fn varint(data: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = data
            .split_first()
            .ok_or("the protobuf message ends inside a number")?;
        *data = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a protobuf number is longer than 64 bits".into())
}

/// The fields of one message, in their order on the wire.
fn fields(mut data: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let key = varint(&mut data)?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(&mut data)?),
            2 => {
                let len = usize::try_from(varint(&mut data)?).unwrap_or(usize::MAX);
                if len > data.len() {
                    return Err("a protobuf field is longer than the message".into());
                }
                let (bytes, rest) = data.split_at(len);
                data = rest;
                Wire::Bytes(bytes)
            }
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                data = data
                    .get(width..)
                    .ok_or("the protobuf message ends inside a number")?;
                Wire::Fixed
            }
            other => return Err(format!("protobuf wire type {other} is not supported")),
        };
        out.push((key >> 3, wire));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a protobuf string is not UTF-8".to_string())
}

/// A field of a message this reads: its number, its JSON name and how
/// its value becomes JSON. Fields not listed, and fields whose wire type
/// is not the one their rule reads, are skipped, as proto2 readers skip
/// unknown fields.
struct Field {
    number: u64,
    name: &'static str,
    read: Read,
}

enum Read {
    /// `string`.
    Text,
    /// `int64`: negative values come as their two's complement.
    Int64,
    Bool,
    /// `repeated string`: a JSON list, left out when the wire has none.
    Texts,
    /// `map<string, string>` (entries: key = 1, value = 2): a JSON
    /// object, left out when the wire has no entry.
    TextMap,
    /// `map<string, bytes>`, the values as base64, as JSON carries them.
    BytesMap,
    /// An embedded message, present in the JSON whenever it is on the
    /// wire (as Go's JSON gives a struct, empty or not).
    Message(&'static [Field]),
}

const fn field(number: u64, name: &'static str, read: Read) -> Field {
    Field { number, name, read }
}

/// meta/v1 TypeMeta, the envelope's first field.
const TYPE_META: &[Field] = &[
    field(1, "apiVersion", Read::Text),
    field(2, "kind", Read::Text),
];

/// ObjectMeta: what a client sets (the rest is the server's).
const OBJECT_META: &[Field] = &[
    field(1, "name", Read::Text),
    field(2, "generateName", Read::Text),
    field(3, "namespace", Read::Text),
    field(5, "uid", Read::Text),
    field(6, "resourceVersion", Read::Text),
    field(11, "labels", Read::TextMap),
    field(12, "annotations", Read::TextMap),
    field(14, "finalizers", Read::Texts),
];

const CONFIG_MAP: &[Field] = &[
    field(1, "metadata", Read::Message(OBJECT_META)),
    field(2, "data", Read::TextMap),
    field(3, "binaryData", Read::BytesMap),
    field(4, "immutable", Read::Bool),
];

const SECRET: &[Field] = &[
    field(1, "metadata", Read::Message(OBJECT_META)),
    field(2, "data", Read::BytesMap),
    field(3, "type", Read::Text),
    field(4, "stringData", Read::TextMap),
    field(5, "immutable", Read::Bool),
];

/// A Namespace's status is the server's.
const NAMESPACE: &[Field] = &[
    field(1, "metadata", Read::Message(OBJECT_META)),
    field(
        2,
        "spec",
        Read::Message(&[field(1, "finalizers", Read::Texts)]),
    ),
];

/// Fields of later releases (ignoreStoreReadError...) are skipped.
const DELETE_OPTIONS: &[Field] = &[
    field(1, "gracePeriodSeconds", Read::Int64),
    field(
        2,
        "preconditions",
        Read::Message(&[
            field(1, "uid", Read::Text),
            field(2, "resourceVersion", Read::Text),
        ]),
    ),
    field(3, "orphanDependents", Read::Bool),
    field(4, "propagationPolicy", Read::Text),
    field(5, "dryRun", Read::Texts),
];

/// A message of the given fields as its JSON.
fn message(schema: &[Field], data: &[u8]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (number, wire) in fields(data)? {
        let Some(field) = schema.iter().find(|f| f.number == number) else {
            continue;
        };
        let value = match (&field.read, wire) {
            (Read::Text, Wire::Bytes(bytes)) => json!(text(bytes)?),
            (Read::Int64, Wire::Varint(v)) => json!(v as i64),
            (Read::Bool, Wire::Varint(v)) => json!(v != 0),
            (Read::Message(inner), Wire::Bytes(bytes)) => Value::Object(message(inner, bytes)?),
            (Read::Texts, Wire::Bytes(bytes)) => {
                let list = out.entry(field.name).or_insert_with(|| json!([]));
                if let Value::Array(items) = list {
                    items.push(json!(text(bytes)?));
                }
                continue;
            }
            (Read::TextMap | Read::BytesMap, Wire::Bytes(entry)) => {
                let (key, value) = map_entry(entry, matches!(field.read, Read::BytesMap))?;
                out.entry(field.name).or_insert_with(|| json!({}))[key] = value;
                continue;
            }
            _ => continue,
        };
        out.insert(field.name.into(), value);
    }
    Ok(out)
}

/// A map entry: key = 1, value = 2 (as base64 when `bytes`).
fn map_entry(entry: &[u8], bytes: bool) -> Result<(String, Value), String> {
    use base64::Engine as _;
    let (mut key, mut value) = (String::new(), json!(""));
    for (number, wire) in fields(entry)? {
        match (number, wire) {
            (1, Wire::Bytes(k)) => key = text(k)?,
            (2, Wire::Bytes(v)) if bytes => {
                value = json!(base64::engine::general_purpose::STANDARD.encode(v));
            }
            (2, Wire::Bytes(v)) => value = json!(text(v)?),
            _ => {}
        }
    }
    Ok((key, value))
}

/// The envelope's kind (empty if it names none) and the object message
/// inside it.
fn open(body: &[u8]) -> Result<(String, &[u8]), String> {
    let inner = body.strip_prefix(MAGIC).ok_or(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
    )?;
    let (mut kind, mut raw) = (String::new(), &[][..]);
    for (number, wire) in fields(inner)? {
        match (number, wire) {
            (1, Wire::Bytes(type_meta)) => {
                if let Some(Value::String(named)) = message(TYPE_META, type_meta)?.remove("kind") {
                    kind = named;
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    Ok((kind, raw))
}

/// The object message inside the envelope, checked to be of `kind`
/// (an envelope that names no kind is taken as one).
fn unwrap<'a>(body: &'a [u8], kind: &str) -> Result<&'a [u8], String> {
    let (named, raw) = open(body)?;
    if !named.is_empty() && named != kind {
        return Err(format!("the body holds a {named}, not a {kind}"));
    }
    Ok(raw)
}

/// Why an object is not read: a kind whose message is not decoded here
/// (the request is refused as of an unknown media type), or a broken one.
#[derive(Debug, PartialEq, Eq)]
pub enum ObjectError {
    NotDecoded(String),
    Broken(String),
}

/// A protobuf ConfigMap, Secret or Namespace as its JSON.
pub fn object(body: &[u8]) -> Result<Value, ObjectError> {
    let (kind, raw) = open(body).map_err(ObjectError::Broken)?;
    let schema = match kind.as_str() {
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "Namespace" => NAMESPACE,
        _ => return Err(ObjectError::NotDecoded(kind)),
    };
    let mut object = message(schema, raw).map_err(ObjectError::Broken)?;
    object.insert("apiVersion".into(), json!("v1"));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

/// A protobuf DeleteOptions as its JSON.
pub fn delete_options(body: &[u8]) -> Result<Value, String> {
    Ok(Value::Object(message(
        DELETE_OPTIONS,
        unwrap(body, "DeleteOptions")?,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field's key and a length-delimited value.
    fn bytes(out: &mut Vec<u8>, number: u8, value: &[u8]) {
        out.push((number << 3) | 2);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    }

    /// A map entry.
    fn entry(key: &str, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bytes(&mut out, 1, key.as_bytes());
        bytes(&mut out, 2, value);
        out
    }

    /// The envelope client-go writes around `raw`.
    fn envelope(kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = Vec::new();
        bytes(&mut type_meta, 1, b"v1");
        bytes(&mut type_meta, 2, kind.as_bytes());
        let mut out = MAGIC.to_vec();
        bytes(&mut out, 1, &type_meta);
        bytes(&mut out, 2, raw);
        bytes(&mut out, 4, b"");
        out
    }

    #[test]
    fn delete_options_read_as_their_json() {
        let mut preconditions = Vec::new();
        bytes(&mut preconditions, 1, b"1234-uid");
        bytes(&mut preconditions, 2, b"17");
        let mut raw = vec![1 << 3, 5]; // gracePeriodSeconds: 5
        bytes(&mut raw, 2, &preconditions);
        bytes(&mut raw, 4, b"Foreground");
        bytes(&mut raw, 5, b"All");
        raw.extend([6 << 3, 1]); // a later release's bool, skipped
        assert_eq!(
            delete_options(&envelope("DeleteOptions", &raw)).unwrap(),
            json!({"gracePeriodSeconds": 5, "propagationPolicy": "Foreground", "dryRun": ["All"],
                   "preconditions": {"uid": "1234-uid", "resourceVersion": "17"}})
        );
        // int64 -1: ten bytes of two's complement.
        let mut raw = vec![1 << 3];
        raw.extend([0xff; 9]);
        raw.push(0x01);
        assert_eq!(
            delete_options(&envelope("", &raw)).unwrap(),
            json!({"gracePeriodSeconds": -1})
        );
        assert_eq!(delete_options(&envelope("", &[])).unwrap(), json!({}));
    }

    #[test]
    fn config_maps_secrets_and_namespaces_read_as_their_json() {
        let mut meta = Vec::new();
        bytes(&mut meta, 1, b"c");
        bytes(&mut meta, 3, b"default");
        bytes(&mut meta, 11, &entry("app", b"web"));
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &meta);
        bytes(&mut raw, 2, &entry("k", b"v"));
        bytes(&mut raw, 3, &entry("b", b"\x00\x01"));
        assert_eq!(
            object(&envelope("ConfigMap", &raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "namespace": "default", "labels": {"app": "web"}},
                   "data": {"k": "v"}, "binaryData": {"b": "AAE="}})
        );
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &meta);
        bytes(&mut raw, 2, &entry("pw", b"hunter2"));
        bytes(&mut raw, 3, b"Opaque");
        assert_eq!(
            object(&envelope("Secret", &raw)).unwrap()["data"],
            json!({"pw": "aHVudGVyMg=="})
        );
        let mut spec = Vec::new();
        bytes(&mut spec, 1, b"kubernetes");
        let mut raw = Vec::new();
        bytes(&mut raw, 2, &spec);
        assert_eq!(
            object(&envelope("Namespace", &raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "spec": {"finalizers": ["kubernetes"]}})
        );
        // An empty spec (client-go always writes one) reads as kubectl's
        // JSON of the object has it.
        assert_eq!(
            object(&envelope("Namespace", &[(2 << 3) | 2, 0])).unwrap()["spec"],
            json!({})
        );
        assert_eq!(
            object(&envelope("Pod", &[])),
            Err(ObjectError::NotDecoded("Pod".into()))
        );
    }

    /// Every field each kind's table names, and what is skipped: fields
    /// of other numbers, and of another wire type than their rule's.
    #[test]
    fn every_field_read_and_the_rest_skipped() {
        let mut meta = Vec::new();
        bytes(&mut meta, 2, b"c-");
        bytes(&mut meta, 3, b"ns");
        bytes(&mut meta, 5, b"uid-1");
        bytes(&mut meta, 6, b"42");
        bytes(&mut meta, 11, &entry("a", b"1"));
        bytes(&mut meta, 11, &entry("b", b"2"));
        bytes(&mut meta, 12, &entry("note", b"x"));
        bytes(&mut meta, 14, b"f1");
        bytes(&mut meta, 14, b"f2");
        meta.extend([1 << 3, 7]); // name as a number: skipped
        meta.extend([(4 << 3) | 1, 0, 0, 0, 0, 0, 0, 0, 0]); // fixed64: skipped
        bytes(&mut meta, 9, b"server's"); // deletionTimestamp's number
        let meta_json = json!({"generateName": "c-", "namespace": "ns", "uid": "uid-1",
            "resourceVersion": "42", "labels": {"a": "1", "b": "2"},
            "annotations": {"note": "x"}, "finalizers": ["f1", "f2"]});
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &meta);
        raw.extend([4 << 3, 1]);
        assert_eq!(
            object(&envelope("ConfigMap", &raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta_json,
                   "immutable": true})
        );
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &meta);
        bytes(&mut raw, 2, &entry("k", b"\xff"));
        bytes(&mut raw, 3, b"kubernetes.io/tls");
        bytes(&mut raw, 4, &entry("s", b"plain"));
        raw.extend([5 << 3, 0]);
        bytes(&mut raw, 6, b"unknown");
        assert_eq!(
            object(&envelope("Secret", &raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta_json,
                   "data": {"k": "/w=="}, "type": "kubernetes.io/tls",
                   "stringData": {"s": "plain"}, "immutable": false})
        );
        let raw = [(3 << 3) | 2, 0];
        assert_eq!(
            object(&envelope("Namespace", &raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace"}),
            "the status is the server's"
        );
        let mut raw = vec![3 << 3, 1];
        bytes(&mut raw, 2, &[]);
        bytes(&mut raw, 5, b"All");
        bytes(&mut raw, 5, b"All");
        assert_eq!(
            delete_options(&envelope("DeleteOptions", &raw)).unwrap(),
            json!({"orphanDependents": true, "preconditions": {}, "dryRun": ["All", "All"]})
        );
        let mut bad = Vec::new();
        bytes(&mut bad, 1, b"\xff");
        let mut raw = Vec::new();
        bytes(&mut raw, 1, &bad);
        assert_eq!(
            object(&envelope("ConfigMap", &raw)),
            Err(ObjectError::Broken("a protobuf string is not UTF-8".into()))
        );
    }

    #[test]
    fn what_is_no_delete_options_is_refused() {
        assert!(
            delete_options(b"{}")
                .unwrap_err()
                .starts_with("provided data does not appear to be a protobuf message")
        );
        assert_eq!(
            delete_options(&envelope("Pod", &[])).unwrap_err(),
            "the body holds a Pod, not a DeleteOptions"
        );
        let mut cut = envelope("DeleteOptions", &[(4 << 3) | 2, 3, b'a']);
        cut.truncate(cut.len() - 1);
        assert!(delete_options(&cut).is_err());
        assert!(delete_options(&envelope("DeleteOptions", &[1 << 3, 0x80])).is_err());
    }
}
