//! JSON patch (RFC 6902, `application/json-patch+json`): a list of
//! operations on JSON pointers, applied in order; any failing operation
//! fails the whole patch and the object is left as it was.
//!
//! Written here rather than taken from a crate: it is small, and the
//! messages are those the API server's library (evanphx/json-patch) gives,
//! which clients show to users.

use serde_json::{Map, Value};

use super::PatchError;

/// The most operations one patch may hold, as the API server limits them.
const MAX_OPERATIONS: usize = 10_000;

/// Applies the RFC 6902 patch `patch` (the request body) to `document`.
pub fn apply(document: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let operations: Vec<Map<String, Value>> = serde_json::from_slice(patch)
        .map_err(|e| PatchError::BadRequest(format!("error decoding patch: {e}")))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(PatchError::BadRequest(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            operations.len()
        )));
    }
    let mut doc = document.clone();
    for op in &operations {
        apply_one(&mut doc, op)?;
    }
    Ok(doc)
}

fn apply_one(doc: &mut Value, op: &Map<String, Value>) -> Result<(), PatchError> {
    let text = |key: &str| -> Result<&str, PatchError> {
        match op.get(key) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(invalid(format!("operation missing \"{key}\" string"))),
        }
    };
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
    let path = text("path")?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| invalid(format!("{kind} operation, missing value field")))
    };
    match kind {
        "add" => add(doc, path, value()?)
            .map_err(|e| invalid(format!("add operation does not apply: {e}"))),
        "remove" => remove(doc, path)
            .map(drop)
            .map_err(|e| invalid(format!("remove operation does not apply: {e}"))),
        "replace" => {
            let new = value()?;
            let target = get_mut(doc, path).ok_or_else(|| {
                invalid(format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                ))
            })?;
            *target = new;
            Ok(())
        }
        "move" => {
            let from = text("from")?;
            if path.starts_with(from) && path[from.len()..].starts_with('/') {
                return Err(invalid(format!(
                    "move operation does not apply: from \"{from}\" is a prefix of path \"{path}\""
                )));
            }
            let moved = remove(doc, from)
                .map_err(|e| invalid(format!("move operation does not apply: {e}")))?;
            add(doc, path, moved)
                .map_err(|e| invalid(format!("move operation does not apply: {e}")))
        }
        "copy" => {
            let from = text("from")?;
            let copied = get(doc, from)
                .cloned()
                .ok_or_else(|| invalid(format!("copy operation does not apply: doc is missing from path: \"{from}\": missing value")))?;
            add(doc, path, copied)
                .map_err(|e| invalid(format!("copy operation does not apply: {e}")))
        }
        "test" => {
            let expected = value()?;
            match get(doc, path) {
                Some(found) if *found == expected => Ok(()),
                _ => Err(invalid(format!("testing value {path} failed: test failed"))),
            }
        }
        other => Err(invalid(format!("Unexpected kind: {other}"))),
    }
}

fn invalid(message: String) -> PatchError {
    PatchError::Invalid(message)
}

/// The reference tokens of a JSON pointer (`/a/b~1c` → `a`, `b/c`), or
/// `None` for a string that is not a pointer.
fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// An array index: digits only, no leading zero (RFC 6901).
fn index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

fn get<'v>(doc: &'v Value, pointer: &str) -> Option<&'v Value> {
    let mut value = doc;
    for token in tokens(pointer)? {
        value = match value {
            Value::Object(map) => map.get(&token)?,
            Value::Array(items) => items.get(index(&token)?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn get_mut<'v>(doc: &'v mut Value, pointer: &str) -> Option<&'v mut Value> {
    let mut value = doc;
    for token in tokens(pointer)? {
        value = match value {
            Value::Object(map) => map.get_mut(&token)?,
            Value::Array(items) => items.get_mut(index(&token)?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The parent of the pointer's target and the last token.
fn parent<'v>(doc: &'v mut Value, pointer: &str) -> Result<(&'v mut Value, String), String> {
    let mut all = tokens(pointer).ok_or_else(|| format!("invalid JSON pointer: \"{pointer}\""))?;
    let Some(last) = all.pop() else {
        return Err(format!("doc is missing path: \"{pointer}\": missing value"));
    };
    let mut value = doc;
    for token in all {
        value = match value {
            Value::Object(map) => map.get_mut(&token),
            Value::Array(items) => index(&token).and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("doc is missing path: \"{pointer}\": missing value"))?;
    }
    Ok((value, last))
}

fn add(doc: &mut Value, pointer: &str, new: Value) -> Result<(), String> {
    if pointer.is_empty() {
        *doc = new;
        return Ok(());
    }
    let (target, last) = parent(doc, pointer)?;
    match target {
        Value::Object(map) => {
            map.insert(last, new);
            Ok(())
        }
        Value::Array(items) => {
            let at = if last == "-" {
                items.len()
            } else {
                index(&last).filter(|&i| i <= items.len()).ok_or_else(|| {
                    format!("Unable to access invalid index: {last}: invalid index referenced")
                })?
            };
            items.insert(at, new);
            Ok(())
        }
        _ => Err(format!("doc is missing path: \"{pointer}\": missing value")),
    }
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, String> {
    let missing = || format!("doc is missing path: \"{pointer}\": missing value");
    let (target, last) = parent(doc, pointer)?;
    match target {
        Value::Object(map) => map.remove(&last).ok_or_else(missing),
        Value::Array(items) => match index(&last).filter(|&i| i < items.len()) {
            Some(i) => Ok(items.remove(i)),
            None => Err(format!(
                "Unable to remove nonexistent key: {last}: missing value"
            )),
        },
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, patch: Value) -> Result<Value, PatchError> {
        apply(&doc, patch.to_string().as_bytes())
    }

    #[test]
    fn operations_of_rfc_6902() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
        let cases = [
            (
                json!([{"op": "add", "path": "/metadata/labels/b", "value": "2"}]),
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            ),
            (
                json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "y"}]),
                json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "y"}]}}),
            ),
            (
                json!([{"op": "remove", "path": "/metadata/labels/a"}]),
                json!({"metadata": {"labels": {}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            ),
            (
                json!([{"op": "add", "path": "/spec/containers/-", "value": {"name": "d"}},
                       {"op": "copy", "from": "/spec/containers/0/image", "path": "/spec/containers/1/image"},
                       {"op": "move", "from": "/metadata/labels", "path": "/metadata/annotations"},
                       {"op": "test", "path": "/spec/containers/1/image", "value": "x"}]),
                json!({"metadata": {"annotations": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}, {"name": "d", "image": "x"}]}}),
            ),
            (
                json!([{"op": "add", "path": "/metadata/labels/a~1b", "value": "s"}, {"op": "remove", "path": "/metadata/labels/a"}]),
                json!({"metadata": {"labels": {"a/b": "s"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            ),
        ];
        for (patch, want) in cases {
            assert_eq!(
                patched(doc.clone(), patch.clone()).unwrap(),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn a_failing_operation_fails_the_patch_with_the_servers_words() {
        let doc = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
        let cases = [
            (
                json!([{"op": "test", "path": "/metadata/name", "value": "q"}]),
                "testing value /metadata/name failed: test failed",
            ),
            (
                json!([{"op": "replace", "path": "/metadata/labels", "value": {}}]),
                "replace operation does not apply: doc is missing key: /metadata/labels: missing value",
            ),
            (
                json!([{"op": "remove", "path": "/metadata/labels/a"}]),
                "remove operation does not apply: doc is missing path: \"/metadata/labels/a\": missing value",
            ),
            (
                json!([{"op": "add", "path": "/spec/containers/5", "value": {}}]),
                "add operation does not apply: Unable to access invalid index: 5: invalid index referenced",
            ),
            (
                json!([{"op": "add", "path": "/nope/x", "value": 1}]),
                "add operation does not apply: doc is missing path: \"/nope/x\": missing value",
            ),
            (
                json!([{"op": "frob", "path": "/a"}]),
                "Unexpected kind: frob",
            ),
            (
                json!([{"op": "add", "path": "/a"}]),
                "add operation, missing value field",
            ),
        ];
        for (patch, want) in cases {
            match patched(doc.clone(), patch.clone()) {
                Err(PatchError::Invalid(message)) => assert_eq!(message, want, "{patch}"),
                other => panic!("{patch}: {other:?}"),
            }
        }
        assert!(matches!(
            apply(&doc, b"{\"op\": \"add\"}"),
            Err(PatchError::BadRequest(_))
        ));
    }
}
