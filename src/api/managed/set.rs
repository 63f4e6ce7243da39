//! Sets of fields, as server-side apply records who owns what: paths of
//! `f:<field>`, `k:<keys as JSON>` (an item of a keyed list), `v:<value as
//! JSON>` (an item of a set) and `i:<index>` elements, serialized as the
//! nested `fieldsV1` object of `metadata.managedFields` (`{"f:spec":
//! {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}}}`).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::api::Kind;
use crate::api::patch::lists::{self, ListType};

/// One path: its elements from the object's root.
pub type FieldPath = Vec<String>;

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<FieldPath>);

impl FieldSet {
    /// The leaves of `object` (an object of `kind` as JSON): every scalar,
    /// empty map and atomic list, every item of a keyed list or a set.
    pub fn of(kind: Kind, object: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        collect(kind, object, &mut Vec::new(), &mut set.0);
        set
    }

    pub fn contains(&self, path: &FieldPath) -> bool {
        self.0.contains(path)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// The set without the paths `strip` says to leave out, and what lies
    /// under them: `strip` is asked about each prefix of a path, and told
    /// whether that prefix is the whole path.
    pub fn without(&self, strip: impl Fn(&[String], bool) -> bool) -> FieldSet {
        FieldSet(
            self.0
                .iter()
                .filter(|path| !(1..=path.len()).any(|n| strip(&path[..n], n == path.len())))
                .cloned()
                .collect(),
        )
    }

    /// The `fieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for element in path {
                let child = node
                    .entry(element.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                node = child.as_object_mut().expect("built of objects");
            }
        }
        // A member that has members under it is marked with ".".
        fn mark(node: &mut Map<String, Value>, path: &mut FieldPath, set: &FieldSet) {
            for (element, child) in node.iter_mut() {
                path.push(element.clone());
                let child = child.as_object_mut().expect("built of objects");
                if !child.is_empty() {
                    mark(child, path, set);
                    if set.contains(path) {
                        child.insert(".".into(), Value::Object(Map::new()));
                    }
                }
                path.pop();
            }
        }
        mark(&mut root, &mut Vec::new(), self);
        Value::Object(root)
    }

    /// Reads a `fieldsV1` object.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        fn walk(node: &Map<String, Value>, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
            for (element, child) in node {
                if element == "." {
                    out.insert(path.clone());
                    continue;
                }
                path.push(element.clone());
                match child.as_object() {
                    Some(map) if !map.is_empty() => walk(map, path, out),
                    _ => {
                        out.insert(path.clone());
                    }
                }
                path.pop();
            }
        }
        let mut out = BTreeSet::new();
        if let Some(map) = value.as_object() {
            walk(map, &mut Vec::new(), &mut out);
        }
        FieldSet(out)
    }
}

fn collect(kind: Kind, value: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(format!("f:{key}"));
                collect(kind, child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => match lists::list(kind, &field_names(path)).list_type {
            ListType::Atomic => {
                out.insert(path.clone());
            }
            ListType::Set => {
                for item in items {
                    path.push(format!("v:{item}"));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Map(keys) => {
                for item in items {
                    path.push(item_element(item, keys));
                    out.insert(path.clone());
                    collect(kind, item, path, out);
                    path.pop();
                }
            }
        },
        _ if path.is_empty() => {}
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The `k:` element of a keyed list's item: its key fields as compact JSON.
pub fn item_element(item: &Value, keys: &[&str]) -> String {
    let mut map = Map::new();
    for key in keys {
        if let Some(v) = item.get(*key) {
            map.insert((*key).to_string(), v.clone());
        }
    }
    format!("k:{}", Value::Object(map))
}

/// The field names of a path (list items left out), as the list table
/// takes them.
pub fn field_names(path: &[String]) -> Vec<&str> {
    path.iter().filter_map(|e| e.strip_prefix("f:")).collect()
}

/// A path as the API server prints it in a conflict:
/// `.spec.containers[name="c"].image`.
pub fn render(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(keys) = element.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let pairs: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", pairs.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

/// The value at `path` in `object`, if there is one.
pub fn value_at<'v>(object: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut value = object;
    for element in path {
        value = step(value, element)?;
    }
    Some(value)
}

fn step<'v>(value: &'v Value, element: &str) -> Option<&'v Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.as_object()?.get(field);
    }
    let items = value.as_array()?;
    if let Some(keys) = element.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(keys).ok()?;
        return items
            .iter()
            .find(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)));
    }
    if let Some(wanted) = element.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(wanted).ok()?;
        return items.iter().find(|item| **item == wanted);
    }
    let index: usize = element.strip_prefix("i:")?.parse().ok()?;
    items.get(index)
}

/// Removes what `path` names from `object` (a field, a list item, a set
/// member); nothing when it is not there.
pub fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut value = object;
    for element in parents {
        let next = match element.strip_prefix("f:") {
            Some(field) => value.as_object_mut().and_then(|m| m.get_mut(field)),
            None => {
                let position = value.as_array().and_then(|items| {
                    items
                        .iter()
                        .position(|i| Some(i) == step_item(items, element))
                });
                match position {
                    Some(at) => value.as_array_mut().and_then(|items| items.get_mut(at)),
                    None => None,
                }
            }
        };
        match next {
            Some(next) => value = next,
            None => return,
        }
    }
    match last.strip_prefix("f:") {
        Some(field) => {
            if let Some(map) = value.as_object_mut() {
                map.remove(field);
            }
        }
        None => {
            let Some(items) = value.as_array() else {
                return;
            };
            if let Some(at) = items.iter().position(|i| Some(i) == step_item(items, last)) {
                value.as_array_mut().expect("checked").remove(at);
            }
        }
    }
}

fn step_item<'v>(items: &'v [Value], element: &str) -> Option<&'v Value> {
    let array = Value::Array(items.to_vec());
    let found = step(&array, element)?.clone();
    items.iter().find(|i| **i == found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(elements: &[&str]) -> FieldPath {
        elements.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn the_fields_of_a_pod_in_fields_v1() {
        let pod = json!({
            "metadata": {"labels": {"app": "web"}, "finalizers": ["f"]},
            "spec": {"containers": [{"name": "c", "image": "busybox", "args": ["a"], "resources": {},
                                     "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}
        });
        let set = FieldSet::of(Kind::Pod, &pod);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"f\"": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {}, "f:args": {}, "f:image": {}, "f:name": {}, "f:resources": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}}
                }}}
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    #[test]
    fn paths_print_and_resolve_as_the_server_names_them() {
        let image = path(&["f:spec", "f:containers", "k:{\"name\":\"c\"}", "f:image"]);
        assert_eq!(render(&image), ".spec.containers[name=\"c\"].image");
        let port = path(&[
            "f:spec",
            "f:containers",
            "k:{\"name\":\"c\"}",
            "f:ports",
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}",
        ]);
        assert_eq!(
            render(&port),
            ".spec.containers[name=\"c\"].ports[containerPort=80,protocol=\"TCP\"]"
        );
        assert_eq!(
            render(&path(&["f:metadata", "f:finalizers", "v:\"f\""])),
            ".metadata.finalizers[=\"f\"]"
        );

        let mut pod = json!({"spec": {"containers": [{"name": "b", "image": "x"}, {"name": "c", "image": "busybox"}]}});
        assert_eq!(value_at(&pod, &image), Some(&json!("busybox")));
        remove_at(&mut pod, &image);
        assert_eq!(pod["spec"]["containers"][1], json!({"name": "c"}));
        remove_at(
            &mut pod,
            &path(&["f:spec", "f:containers", "k:{\"name\":\"b\"}"]),
        );
        assert_eq!(pod["spec"]["containers"], json!([{"name": "c"}]));
    }
}
