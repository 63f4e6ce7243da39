//! Typed decoding that refuses what the API server's strict decoder
//! refuses. `k8s-openapi` types skip unknown fields, so every skipped field
//! is collected (serde_ignored) and reported the way the server does
//! (`unknown field "spec.containers[1].volumeMount"`); a wrong type names
//! its field path (serde_path_to_error).

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a JSON value does not decode into an API type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictError {
    /// Fields the type does not have, as paths in the server's notation.
    #[error("strict decoding error: {}", render_unknown(.0))]
    UnknownFields(Vec<String>),
    /// A value of the wrong type, in the words of Go's JSON decoder.
    #[error("{0}")]
    WrongType(String),
}

fn render_unknown(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("unknown field {}", crate::api::field::go_quote(f)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fields that Kubernetes releases newer than the built-in API types
/// (k8s-openapi v1_37) accept, with `[]` for any index. A manifest using
/// them is accepted; the field is left out with a warning instead of
/// failing as unknown.
const NEWER_FIELDS: &[&str] = &[
    "spec.containers[].securityContext.cgroupOptions",
    "spec.initContainers[].securityContext.cgroupOptions",
    "spec.ephemeralContainers[].securityContext.cgroupOptions",
];

/// A decoded value and the newer fields it left out.
#[derive(Debug)]
pub struct Decoded<T> {
    pub value: T,
    pub left_out: Vec<String>,
}

/// Decodes `value` into `T`, refusing unknown fields and wrong types.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, StrictError> {
    let decoded = from_value_lenient(value)?;
    if decoded.left_out.is_empty() {
        Ok(decoded.value)
    } else {
        Err(StrictError::UnknownFields(decoded.left_out))
    }
}

/// Like [`from_value`], but fields of newer Kubernetes releases are left
/// out and named rather than refused.
pub fn from_value_lenient<T: DeserializeOwned>(value: Value) -> Result<Decoded<T>, StrictError> {
    let (value, unknown) = decode_collecting(value)?;
    let (newer, unknown): (Vec<String>, Vec<String>) = unknown
        .into_iter()
        .partition(|path| NEWER_FIELDS.contains(&without_indices(path).as_str()));
    if unknown.is_empty() {
        Ok(Decoded {
            value,
            left_out: newer,
        })
    } else {
        Err(StrictError::UnknownFields(unknown))
    }
}

/// Decodes `value` into `T` and returns the unknown fields it dropped
/// (those of newer releases left out of them, as elsewhere), for a
/// request's field validation to refuse, warn of or ignore.
pub fn from_value_unknown<T: DeserializeOwned>(
    value: Value,
) -> Result<(T, Vec<String>), StrictError> {
    let (value, unknown) = decode_collecting(value)?;
    let unknown = unknown
        .into_iter()
        .filter(|path| !NEWER_FIELDS.contains(&without_indices(path).as_str()))
        .collect();
    Ok((value, unknown))
}

/// `spec.containers[1].x` → `spec.containers[].x`
fn without_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

fn decode_collecting<T: DeserializeOwned>(
    mut value: Value,
) -> Result<(T, Vec<String>), StrictError> {
    // Go's decoder leaves a field at its zero value when given `null`.
    drop_nulls(&mut value);
    let mut unknown = Vec::new();
    let decoded = {
        let mut record = |path: serde_ignored::Path| unknown.push(render_ignored(&path));
        let ignoring = serde_ignored::Deserializer::new(&value, &mut record);
        serde_path_to_error::deserialize(ignoring)
    };
    match decoded {
        Err(err) => Err(StrictError::WrongType(describe_type_error(&value, &err))),
        Ok(decoded) => Ok((decoded, unknown)),
    }
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// `spec.containers[1].volumeMount`
fn render_ignored(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_ignored(parent)),
        Path::Map { parent, key } => {
            let parent = render_ignored(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_ignored(parent),
    }
}

/// Go's `json: cannot unmarshal bool into Go struct field … of type string`,
/// with the full field path; other failures keep serde's words after the
/// path.
fn describe_type_error(
    root: &Value,
    err: &serde_path_to_error::Error<serde_json::Error>,
) -> String {
    let path = err.path().to_string();
    let inner = err.inner().to_string();
    let expected = inner
        .strip_prefix("invalid type: ")
        .or_else(|| inner.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "))
        .map(|(_, expected)| expected);
    let Some(expected) = expected else {
        return format!("{path}: {}", go_base64_message(&inner).unwrap_or(inner));
    };
    let found = match lookup(root, err.path()) {
        Some(Value::String(_)) => "string".to_string(),
        Some(Value::Bool(_)) => "bool".to_string(),
        Some(Value::Number(n)) => format!("number {n}"),
        Some(Value::Array(_)) => "array".to_string(),
        Some(Value::Object(_)) => "object".to_string(),
        Some(Value::Null) | None => return format!("{path}: {inner}"),
    };
    format!(
        "json: cannot unmarshal {found} into Go struct field {path} of type {}",
        go_type(expected)
    )
}

/// The base64 crate's `Invalid symbol 32, offset 3.` in the words of Go's
/// decoder: `illegal base64 data at input byte 3`.
fn go_base64_message(message: &str) -> Option<String> {
    if message.starts_with("Invalid input length") || message.starts_with("Invalid padding") {
        return Some("illegal base64 data at input byte 0".into());
    }
    let offset = message
        .strip_prefix("Invalid ")?
        .split("offset ")
        .nth(1)?
        .trim_end_matches('.');
    Some(format!("illegal base64 data at input byte {offset}"))
}

/// serde's "expected …" phrase as the Go type name of the field.
fn go_type(expected: &str) -> String {
    match expected {
        "a string" => "string".into(),
        "a boolean" => "bool".into(),
        "i32" => "int32".into(),
        "i64" => "int64".into(),
        "u32" => "uint32".into(),
        "u64" => "uint64".into(),
        "f64" => "float64".into(),
        "a sequence" => "array".into(),
        "a map" => "map".into(),
        "a base64-encoded string" => "[]byte".into(),
        "Quantity" => "resource.Quantity".into(),
        "IntOrString" => "intstr.IntOrString".into(),
        name if name.chars().all(|c| c.is_ascii_alphanumeric()) => format!("v1.{name}"),
        other => other.to_string(),
    }
}

fn lookup<'v>(root: &'v Value, path: &serde_path_to_error::Path) -> Option<&'v Value> {
    use serde_path_to_error::Segment;
    let mut value = root;
    for segment in path.iter() {
        value = match segment {
            Segment::Seq { index } => value.get(*index)?,
            Segment::Map { key } => value.get(key)?,
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Pod, Secret};
    use serde_json::json;

    #[test]
    fn reports_every_unknown_field_with_its_path() {
        let value = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "lables": {"a": "b"}},
            "spec": {"containers": [
                {"name": "a", "image": "busybox"},
                {"name": "b", "image": "busybox", "volumeMount": [], "ports": [{"containerPort": 80, "hostport": 1}]}
            ]}
        });
        let err = from_value::<Pod>(value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "strict decoding error: unknown field \"metadata.lables\", unknown field \"spec.containers[1].ports[0].hostport\", unknown field \"spec.containers[1].volumeMount\""
        );
    }

    #[test]
    fn names_the_path_of_a_wrong_type() {
        let value =
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": true}]}]}});
        assert_eq!(
            from_value::<Pod>(value).unwrap_err().to_string(),
            "json: cannot unmarshal bool into Go struct field spec.containers[0].env[0].value of type string"
        );
        let value =
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 1.5}]}]}});
        assert_eq!(
            from_value::<Pod>(value).unwrap_err().to_string(),
            "json: cannot unmarshal number 1.5 into Go struct field spec.containers[0].ports[0].containerPort of type int32"
        );
        let value = json!({"spec": {"containers": {"name": "a"}}});
        assert_eq!(
            from_value::<Pod>(value).unwrap_err().to_string(),
            "json: cannot unmarshal object into Go struct field spec.containers of type array"
        );
        let value = json!({"spec": "x"});
        assert_eq!(
            from_value::<Pod>(value).unwrap_err().to_string(),
            "json: cannot unmarshal string into Go struct field spec of type v1.PodSpec"
        );
    }

    #[test]
    fn leaves_out_fields_of_newer_releases_by_name() {
        let value = json!({"spec": {"containers": [{"name": "a", "securityContext": {"privileged": false, "cgroupOptions": {"mountMode": "ReadWrite"}}}]}});
        let decoded = from_value_lenient::<Pod>(value.clone()).unwrap();
        assert_eq!(
            decoded.left_out,
            vec!["spec.containers[0].securityContext.cgroupOptions"]
        );
        assert!(from_value::<Pod>(value).is_err());
    }

    #[test]
    fn null_means_unset() {
        let value = json!({"metadata": {"name": "x", "creationTimestamp": null}, "spec": {"containers": [{"name": null}]}});
        let pod: Pod = from_value(value).unwrap();
        assert_eq!(pod.spec.unwrap().containers[0].name, "");
    }

    #[test]
    fn quantities_accept_numbers() {
        let value = json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 1, "memory": "64Mi"}}}]}});
        let pod: Pod = from_value(value).unwrap();
        let limits = pod.spec.unwrap().containers[0]
            .resources
            .clone()
            .unwrap()
            .limits
            .unwrap();
        assert_eq!(limits["cpu"].0, "1");
    }

    #[test]
    fn secret_data_must_be_base64() {
        let value = json!({"data": {"k": "not base64!"}});
        let err = from_value::<Secret>(value).unwrap_err().to_string();
        assert_eq!(err, "data.k: illegal base64 data at input byte 3");
    }
}
