//! Strategic merge patch (`application/strategic-merge-patch+json`), as
//! apimachinery's strategicpatch applies it on the server: a JSON merge
//! patch whose lists merge by the key the schema names (containers by
//! name, ports by containerPort, ...; see `lists.rs`), with the
//! directives kubectl sends:
//!
//! - `$patch: replace` in a map (the map becomes the patch) or as an item
//!   of a list (the list becomes the patch's other items), `$patch:
//!   delete` in a map (emptied) or on a list item (that item removed);
//! - `$retainKeys: [..]` (members of a union left out are cleared);
//! - `$setElementOrder/<list>: [..]` (the order of the merged list);
//! - `$deleteFromPrimitiveList/<list>: [..]` (scalars removed).
//!
//! Items of a merged list keep the patch's order, with the items only the
//! server had placed between them by their order on the server.

use serde_json::{Map, Value};

use super::PatchError;
use super::lists::{self, List};
use crate::api::Kind;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `original`, an object of `kind` as JSON.
pub fn apply(kind: Kind, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(PatchError::BadRequest(
            "invalid JSON document: a strategic merge patch must be an object".into(),
        ));
    };
    let mut path = Vec::new();
    Ok(Value::Object(merge_map(
        kind,
        &mut path,
        original.clone(),
        patch.clone(),
    )?))
}

fn merge_map(
    kind: Kind,
    path: &mut Vec<String>,
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => Ok(strip(patch)),
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(&directive, &patch)),
        };
    }
    if let Some(retain) = patch.remove(RETAIN_KEYS) {
        let Value::Array(keys) = retain else {
            return Err(PatchError::BadRequest(
                "invalid patch format of retainKeys".into(),
            ));
        };
        let keep: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        original.retain(|k, _| keep.contains(&k.as_str()));
    }
    // The order lists are taken out first and applied after their lists
    // merged; the deletion lists go before the merge, as upstream.
    let mut orders = Vec::new();
    for key in patch.keys().cloned().collect::<Vec<_>>() {
        if let Some(field) = key.strip_prefix(SET_ORDER) {
            let order = patch.remove(&key).unwrap_or(Value::Null);
            let Value::Array(order) = order else {
                return Err(PatchError::BadRequest(format!(
                    "invalid type for {key}: expected a list"
                )));
            };
            orders.push((field.to_string(), order));
        } else if let Some(field) = key.strip_prefix(DELETE_FROM) {
            let doomed = match patch.remove(&key) {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(PatchError::BadRequest(format!(
                        "invalid type for {key}: expected a list"
                    )));
                }
            };
            if let Some(Value::Array(items)) = original.get_mut(field) {
                items.retain(|item| !doomed.contains(item));
            }
        }
    }
    for (key, change) in patch {
        if change.is_null() {
            original.remove(&key);
            continue;
        }
        path.push(key.clone());
        let merged = match (original.remove(&key), change) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                Value::Object(merge_map(kind, path, old, new)?)
            }
            (Some(Value::Array(old)), Value::Array(new)) => {
                Value::Array(merge_list(kind, path, old, new)?)
            }
            // Absent on the server: the patch's value, its directives
            // carried out against nothing.
            (None, Value::Object(new)) => Value::Object(merge_map(kind, path, Map::new(), new)?),
            (None, Value::Array(new)) => Value::Array(merge_list(kind, path, Vec::new(), new)?),
            (_, change) => change,
        };
        path.pop();
        original.insert(key, merged);
    }
    for (field, order) in orders {
        path.push(field.clone());
        let schema = lists::list(kind, &names(path));
        path.pop();
        if let Some(Value::Array(items)) = original.get(&field) {
            let merged = items.clone();
            let in_order: Vec<Value> = merged
                .iter()
                .filter(|item| position(&order, item, schema.merge_key).is_some())
                .cloned()
                .collect();
            let server_only: Vec<Value> = merged
                .iter()
                .filter(|item| position(&order, item, schema.merge_key).is_none())
                .cloned()
                .collect();
            let ordered = interleave(
                sorted_by(in_order, &order, schema.merge_key),
                server_only,
                items,
                schema.merge_key,
            );
            original.insert(field, Value::Array(ordered));
        }
    }
    Ok(original)
}

fn merge_list(
    kind: Kind,
    path: &mut Vec<String>,
    original: Vec<Value>,
    patch: Vec<Value>,
) -> Result<Vec<Value>, PatchError> {
    let schema: List = lists::list(kind, &names(path));
    if schema.merge_scalars {
        let mut merged = original.clone();
        for item in &patch {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        return Ok(order_by_patch(merged, &patch, &original, None));
    }
    let Some(key) = schema.merge_key else {
        return Ok(patch.into_iter().map(strip_value).collect());
    };
    // Directive items first: deletions and a whole-list replacement.
    let mut plain = Vec::new();
    let mut server = original.clone();
    let mut replace = false;
    for item in patch {
        let Value::Object(mut map) = item else {
            return Err(PatchError::BadRequest(format!(
                "cannot merge list {} of non-objects by the key {key}",
                names(path).join(".")
            )));
        };
        match map.get(DIRECTIVE).cloned() {
            None => plain.push(map),
            Some(Value::String(d)) if d == "delete" => {
                let Some(value) = map.get(key).cloned() else {
                    return Err(no_merge_key(&map, key));
                };
                server.retain(|o| o.get(key) != Some(&value));
            }
            Some(Value::String(d)) if d == "replace" => replace = true,
            Some(Value::String(d)) if d == "merge" => {
                return Err(PatchError::BadRequest(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            Some(other) => {
                map.remove(DIRECTIVE);
                return Err(bad_patch_type(&other, &map));
            }
        }
    }
    if replace {
        return plain
            .into_iter()
            .map(|m| merge_map(kind, path, Map::new(), m).map(Value::Object))
            .collect();
    }
    let patch_keys: Vec<Value> = plain.iter().map(|m| Value::Object(m.clone())).collect();
    for map in plain {
        let Some(value) = map.get(key).cloned() else {
            return Err(no_merge_key(&map, key));
        };
        match server.iter().position(|o| o.get(key) == Some(&value)) {
            Some(at) => {
                let old = match server[at].take() {
                    Value::Object(old) => old,
                    _ => Map::new(),
                };
                server[at] = Value::Object(merge_map(kind, path, old, map)?);
            }
            None => server.push(Value::Object(merge_map(kind, path, Map::new(), map)?)),
        }
    }
    Ok(order_by_patch(server, &patch_keys, &original, Some(key)))
}

/// The merged items in the patch's order, the server-only ones placed by
/// their order on the server (`normalizeElementOrder`).
fn order_by_patch(
    merged: Vec<Value>,
    patch: &[Value],
    original: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(patch, item, key).is_some());
    interleave(sorted_by(in_patch, patch, key), server_only, original, key)
}

/// The index in `list` of the item with `item`'s key (or equal to the
/// scalar `item`).
fn position(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(key) => {
            let wanted = item.get(key)?;
            list.iter().position(|o| o.get(key) == Some(wanted))
        }
        None => list.iter().position(|o| o == item),
    }
}

fn sorted_by(mut items: Vec<Value>, order: &[Value], key: Option<&str>) -> Vec<Value> {
    items.sort_by_key(|item| position(order, item, key).unwrap_or(usize::MAX));
    items
}

/// `mergeSortedSlice`: server-only items go before a patch item when the
/// server had them before it; otherwise the patch's items come first.
fn interleave(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, key), position(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// The field names of a path, as the schema table takes them.
fn names(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

/// A value with its directives and nulls taken out, for a value that
/// replaces what the server had.
fn strip_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_value).collect()),
        other => other,
    }
}

fn strip(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| (k, strip_value(v)))
        .collect()
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::BadRequest(format!(
        "map: {} does not contain declared merge key: {key}",
        go_map(map)
    ))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    let directive = match directive {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    PatchError::BadRequest(format!(
        "unknown patch type: {directive} in map: {}",
        go_map(map)
    ))
}

/// A map as Go's `%v` prints it: `map[image:x name:c]`.
fn go_map(map: &Map<String, Value>) -> String {
    fn go_value(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Object(map) => go_map(map),
            Value::Array(items) => format!(
                "[{}]",
                items.iter().map(go_value).collect::<Vec<_>>().join(" ")
            ),
            Value::Null => "<nil>".into(),
            other => other.to_string(),
        }
    }
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let fields: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{k}:{}", go_value(&map[k])))
        .collect();
    format!("map[{}]", fields.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "web", "tier": "a"}, "finalizers": ["x"]},
            "spec": {
                "containers": [
                    {"name": "a", "image": "busybox", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}], "args": ["x", "y"]},
                    {"name": "b", "image": "busybox"}
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"key": "k", "operator": "Exists"}]
            }
        })
    }

    fn patched(patch: Value) -> Value {
        apply(Kind::Pod, &pod(), &patch).unwrap()
    }

    #[test]
    fn maps_merge_and_null_removes() {
        let out = patched(json!({"metadata": {"labels": {"tier": null, "new": "v"}}}));
        assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "v"}));
    }

    #[test]
    fn containers_merge_by_name_and_keep_the_others() {
        let out = patched(json!({"spec": {"containers": [{"name": "b", "image": "nginx"}]}}));
        let containers = &out["spec"]["containers"];
        assert_eq!(containers[0]["name"], "a");
        assert_eq!(containers[0]["image"], "busybox");
        assert_eq!(containers[1], json!({"name": "b", "image": "nginx"}));
    }

    #[test]
    fn nested_lists_merge_by_their_own_keys() {
        let out = patched(json!({"spec": {"containers": [{"name": "a",
            "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
            "ports": [{"containerPort": 80, "name": "http"}]}]}}));
        let a = &out["spec"]["containers"][0];
        assert_eq!(
            a["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(
            a["ports"],
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
        );
        // An untagged list is replaced.
        let out = patched(
            json!({"spec": {"containers": [{"name": "a", "args": ["z"]}],
            "tolerations": [{"key": "other", "operator": "Exists"}]}}),
        );
        assert_eq!(out["spec"]["containers"][0]["args"], json!(["z"]));
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "other", "operator": "Exists"}])
        );
    }

    #[test]
    fn directives_on_list_items() {
        let out = patched(json!({"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}));
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 1);
        let out = patched(
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "i"}]}}),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "c", "image": "i"}])
        );
        let out = patched(
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "A", "$patch": "delete"}]}]}}),
        );
        assert_eq!(
            out["spec"]["containers"][0]["env"],
            json!([{"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn directives_on_maps() {
        let out = patched(json!({"metadata": {"labels": {"$patch": "replace", "only": "this"}}}));
        assert_eq!(out["metadata"]["labels"], json!({"only": "this"}));
        let out = patched(json!({"metadata": {"labels": {"$patch": "delete"}}}));
        assert_eq!(out["metadata"]["labels"], json!({}));
    }

    #[test]
    fn retain_keys_clears_the_other_members_of_a_union() {
        // What kubectl sends to turn an emptyDir volume into a hostPath one.
        let out = patched(json!({"spec": {"volumes": [{"name": "data",
            "$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/x"}}]}}));
        assert_eq!(
            out["spec"]["volumes"],
            json!([{"name": "data", "hostPath": {"path": "/x"}}])
        );
    }

    #[test]
    fn set_element_order_as_kubectl_sends_it() {
        // kubectl apply adding container c before a and dropping b.
        let out = patched(json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"name": "c", "image": "i"}, {"name": "b", "$patch": "delete"}]}}));
        let names: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["c", "a"]);
        // A server-only item keeps its place relative to the others.
        let out = patched(
            json!({"spec": {"containers": [{"name": "b", "image": "x"}, {"name": "z", "image": "z"}]}}),
        );
        let names: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "z"]);
    }

    #[test]
    fn primitive_lists_with_merge_strategy() {
        let out = patched(json!({"metadata": {"finalizers": ["y", "x"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["y", "x"]));
        let out = patched(json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!([]));
        let out = patched(
            json!({"metadata": {"finalizers": ["z"], "$setElementOrder/finalizers": ["z", "x"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["z", "x"]));
    }

    #[test]
    fn malformed_patches_are_refused_in_the_servers_words() {
        let err = |patch: Value| match apply(Kind::Pod, &pod(), &patch) {
            Err(PatchError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(json!({"spec": {"containers": [{"image": "x"}]}})),
            "map: map[image:x] does not contain declared merge key: name"
        );
        assert_eq!(
            err(json!({"metadata": {"labels": {"$patch": "frob", "a": "b"}}})),
            "unknown patch type: frob in map: map[a:b]"
        );
        assert_eq!(
            err(json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}})),
            "merging lists cannot yet be specified in the patch"
        );
    }

    #[test]
    fn a_new_subtree_has_its_directives_carried_out() {
        let original = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        let out = apply(
            Kind::Pod,
            &original,
            &json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}, "$retainKeys": ["emptyDir", "name"]}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["volumes"],
            json!([{"name": "v", "emptyDir": {}}])
        );
    }
}
