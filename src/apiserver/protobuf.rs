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
    /// Fixed 32 and 64 bit values, which DeleteOptions has none of.
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
                for (number, wire) in fields(type_meta)? {
                    if let (2, Wire::Bytes(named)) = (number, wire) {
                        kind = text(named)?;
                    }
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
    let read = match kind.as_str() {
        "ConfigMap" => config_map(raw),
        "Secret" => secret(raw),
        "Namespace" => namespace(raw),
        _ => return Err(ObjectError::NotDecoded(kind)),
    };
    let mut object = read.map_err(ObjectError::Broken)?;
    object.insert("apiVersion".into(), json!("v1"));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

/// A `map<string, string>` entry (key = 1, value = 2); bytes values as
/// base64, as JSON carries them.
fn entry(message: &[u8], bytes: bool) -> Result<(String, Value), String> {
    use base64::Engine as _;
    let (mut key, mut value) = (String::new(), json!(""));
    for (number, wire) in fields(message)? {
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

fn insert_entry(
    out: &mut Map<String, Value>,
    field: &str,
    message: &[u8],
    bytes: bool,
) -> Result<(), String> {
    let (key, value) = entry(message, bytes)?;
    let map = out.entry(field).or_insert_with(|| json!({}));
    map[key] = value;
    Ok(())
}

/// ObjectMeta: name = 1, generateName = 2, namespace = 3, uid = 5,
/// resourceVersion = 6, labels = 11, annotations = 12, finalizers = 14
/// (what a client sets; the rest is the server's).
fn object_meta(message: &[u8]) -> Result<Value, String> {
    let mut out = Map::new();
    for (number, wire) in fields(message)? {
        let Wire::Bytes(bytes) = wire else { continue };
        let key = match number {
            1 => "name",
            2 => "generateName",
            3 => "namespace",
            5 => "uid",
            6 => "resourceVersion",
            11 => {
                insert_entry(&mut out, "labels", bytes, false)?;
                continue;
            }
            12 => {
                insert_entry(&mut out, "annotations", bytes, false)?;
                continue;
            }
            14 => {
                let list = out.entry("finalizers").or_insert_with(|| json!([]));
                if let Value::Array(items) = list {
                    items.push(json!(text(bytes)?));
                }
                continue;
            }
            _ => continue,
        };
        out.insert(key.into(), json!(text(bytes)?));
    }
    Ok(Value::Object(out))
}

/// ConfigMap: metadata = 1, data = 2, binaryData = 3, immutable = 4.
fn config_map(message: &[u8]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (number, wire) in fields(message)? {
        match (number, wire) {
            (1, Wire::Bytes(meta)) => {
                out.insert("metadata".into(), object_meta(meta)?);
            }
            (2, Wire::Bytes(e)) => insert_entry(&mut out, "data", e, false)?,
            (3, Wire::Bytes(e)) => insert_entry(&mut out, "binaryData", e, true)?,
            (4, Wire::Varint(v)) => {
                out.insert("immutable".into(), json!(v != 0));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Secret: metadata = 1, data = 2 (bytes), type = 3, stringData = 4,
/// immutable = 5.
fn secret(message: &[u8]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (number, wire) in fields(message)? {
        match (number, wire) {
            (1, Wire::Bytes(meta)) => {
                out.insert("metadata".into(), object_meta(meta)?);
            }
            (2, Wire::Bytes(e)) => insert_entry(&mut out, "data", e, true)?,
            (3, Wire::Bytes(t)) => {
                out.insert("type".into(), json!(text(t)?));
            }
            (4, Wire::Bytes(e)) => insert_entry(&mut out, "stringData", e, false)?,
            (5, Wire::Varint(v)) => {
                out.insert("immutable".into(), json!(v != 0));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Namespace: metadata = 1, spec = 2 (finalizers = 1); its status is
/// the server's.
fn namespace(message: &[u8]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (number, wire) in fields(message)? {
        match (number, wire) {
            (1, Wire::Bytes(meta)) => {
                out.insert("metadata".into(), object_meta(meta)?);
            }
            (2, Wire::Bytes(spec)) => {
                let mut finalizers = Vec::new();
                for (number, wire) in fields(spec)? {
                    if let (1, Wire::Bytes(f)) = (number, wire) {
                        finalizers.push(json!(text(f)?));
                    }
                }
                if !finalizers.is_empty() {
                    out.insert("spec".into(), json!({ "finalizers": finalizers }));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A protobuf DeleteOptions (meta/v1 `generated.proto`: gracePeriodSeconds
/// = 1, preconditions = 2 {uid = 1, resourceVersion = 2},
/// orphanDependents = 3, propagationPolicy = 4, dryRun = 5) as its JSON.
pub fn delete_options(body: &[u8]) -> Result<Value, String> {
    let mut out = Map::new();
    let mut dry_run = Vec::new();
    for (number, wire) in fields(unwrap(body, "DeleteOptions")?)? {
        match (number, wire) {
            // int64: negative values come as their two's complement.
            (1, Wire::Varint(v)) => {
                out.insert("gracePeriodSeconds".into(), json!(v as i64));
            }
            (2, Wire::Bytes(message)) => {
                let mut preconditions = Map::new();
                for (number, wire) in fields(message)? {
                    let key = match number {
                        1 => "uid",
                        2 => "resourceVersion",
                        _ => continue,
                    };
                    if let Wire::Bytes(value) = wire {
                        preconditions.insert(key.into(), json!(text(value)?));
                    }
                }
                out.insert("preconditions".into(), Value::Object(preconditions));
            }
            (3, Wire::Varint(v)) => {
                out.insert("orphanDependents".into(), json!(v != 0));
            }
            (4, Wire::Bytes(policy)) => {
                out.insert("propagationPolicy".into(), json!(text(policy)?));
            }
            (5, Wire::Bytes(value)) => dry_run.push(json!(text(value)?)),
            // Fields of later releases (ignoreStoreReadError...) and
            // unknown ones are skipped, as proto2 readers do.
            _ => {}
        }
    }
    if !dry_run.is_empty() {
        out.insert("dryRun".into(), Value::Array(dry_run));
    }
    Ok(Value::Object(out))
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
        let entry = |k: &str, v: &[u8]| {
            let mut e = Vec::new();
            bytes(&mut e, 1, k.as_bytes());
            bytes(&mut e, 2, v);
            e
        };
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
        assert_eq!(
            object(&envelope("Pod", &[])),
            Err(ObjectError::NotDecoded("Pod".into()))
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
