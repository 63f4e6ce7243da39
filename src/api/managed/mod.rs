//! `metadata.managedFields`: which manager owns which fields, as the API
//! server's field manager keeps it. Every write records its manager
//! (`fieldManager`, or the client's user agent up to its first `/`):
//! an update takes the fields it changed from everyone; a server-side
//! apply (`application/apply-patch+yaml`) merges the applied
//! configuration into the object, owns exactly what it applied, removes
//! what it applied before and no longer does (when nobody else owns it),
//! and is refused with 409 Conflict when it would change a value another
//! manager owns, unless forced (`--force-conflicts`), which takes it.

pub mod set;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};
use serde_json::{Map, Value};

use crate::api::Kind;
use crate::api::patch::lists::{self, ListType};
pub use set::{FieldPath, FieldSet};

/// Who writes: the manager's name and the subresource it writes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manager<'a> {
    pub name: &'a str,
    pub subresource: Option<&'a str>,
}

impl Manager<'_> {
    fn owns(&self, entry: &ManagedFieldsEntry, operation: &str) -> bool {
        entry.manager.as_deref() == Some(self.name)
            && entry.operation.as_deref() == Some(operation)
            && entry.subresource.as_deref().filter(|s| !s.is_empty()) == self.subresource
    }
}

/// The manager name the server takes from a user agent when the request
/// names none (`kubectl/v1.32.0 (linux/amd64) ...` → `kubectl`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    user_agent.split('/').next().unwrap_or("").to_string()
}

/// A refused apply: values other managers own that it would change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Conflicts {
    /// `Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .spec.containers[name="c"].image`
    pub message: String,
    /// Each conflict as the Status's causes give it: the field and
    /// `conflict with "<manager>"...`.
    pub causes: Vec<(String, String)>,
}

/// What the server never records as owned, whoever writes: identity,
/// versions and the record itself.
fn identity(path: &[String], whole: bool) -> bool {
    let elements: Vec<&str> = path.iter().map(String::as_str).collect();
    match elements.as_slice() {
        ["f:apiVersion"] | ["f:kind"] => true,
        // An empty metadata, not what is under it.
        ["f:metadata"] => whole,
        ["f:metadata", field] => matches!(
            *field,
            "f:name"
                | "f:namespace"
                | "f:creationTimestamp"
                | "f:selfLink"
                | "f:uid"
                | "f:generation"
                | "f:managedFields"
                | "f:resourceVersion"
                | "f:deletionTimestamp"
                | "f:deletionGracePeriodSeconds"
        ),
        _ => false,
    }
}

/// What a write through `subresource` never records as owned: identity,
/// and the part of the object the endpoint does not write (a pod's
/// status through the pod, its spec through pods/status).
fn unowned(kind: Kind, subresource: Option<&str>, path: &[String], whole: bool) -> bool {
    identity(path, whole)
        || match path {
            [field] if field == "f:status" => {
                subresource.is_none() && kind != Kind::ConfigMap && kind != Kind::Secret
            }
            [field] if field == "f:spec" => subresource == Some("status"),
            _ => false,
        }
}

fn owned_fields(kind: Kind, subresource: Option<&str>, object: &Value) -> FieldSet {
    FieldSet::of(kind, object).without(|prefix, whole| unowned(kind, subresource, prefix, whole))
}

/// Every field of `object` some manager can own, through whichever
/// endpoint: the other managers' entries keep what of theirs is still
/// there. (A write through the pod keeps the entry of a manager of its
/// status, and a status write the entries of the spec's managers.)
fn present_fields(kind: Kind, object: &Value) -> FieldSet {
    FieldSet::of(kind, object).without(identity)
}

fn entry_set(entry: &ManagedFieldsEntry) -> FieldSet {
    entry
        .fields_v1
        .as_ref()
        .map(|f| FieldSet::from_fields_v1(&f.0))
        .unwrap_or_default()
}

fn with_set(mut entry: ManagedFieldsEntry, set: &FieldSet) -> ManagedFieldsEntry {
    entry.fields_v1 = Some(FieldsV1(set.to_fields_v1()));
    entry
}

fn new_entry(manager: Manager, operation: &str, now: &Time) -> ManagedFieldsEntry {
    ManagedFieldsEntry {
        api_version: Some("v1".into()),
        fields_type: Some("FieldsV1".into()),
        fields_v1: None,
        manager: Some(manager.name.to_string()),
        operation: Some(operation.into()),
        subresource: manager.subresource.map(str::to_string),
        time: Some(now.clone()),
    }
}

/// The managed fields after an update (create, PUT, or a JSON, merge or
/// strategic patch) from `old` (none for a create) to `new`, both objects
/// of `kind` as JSON.
pub fn record_update(
    kind: Kind,
    old: Option<&Value>,
    new: &Value,
    entries: Vec<ManagedFieldsEntry>,
    manager: Manager,
    now: &Time,
) -> Vec<ManagedFieldsEntry> {
    let new_set = owned_fields(kind, manager.subresource, new);
    let present = present_fields(kind, new);
    let changed = match old {
        None => new_set.clone(),
        Some(old) => {
            let old_set = owned_fields(kind, manager.subresource, old);
            FieldSet(
                new_set
                    .0
                    .iter()
                    .filter(|p| {
                        // An item of a keyed list or set is the same item
                        // while it is there: only values change.
                        let is_value = p.last().is_some_and(|e| e.starts_with("f:"));
                        !old_set.contains(p)
                            || (is_value && set::value_at(old, p) != set::value_at(new, p))
                    })
                    .cloned()
                    .collect(),
            )
        }
    };
    let mut out = Vec::new();
    let mut own = None;
    for entry in entries {
        if manager.owns(&entry, "Update") {
            own = Some(entry);
            continue;
        }
        let set = entry_set(&entry)
            .intersection(&present)
            .difference(&changed);
        if !set.is_empty() {
            out.push(with_set(entry, &set));
        }
    }
    let kept = own.as_ref().map(entry_set).unwrap_or_default();
    let set = kept.intersection(&new_set).union(&changed);
    if !set.is_empty() {
        let mut entry = own.unwrap_or_else(|| new_entry(manager, "Update", now));
        if !changed.is_empty() {
            entry.time = Some(now.clone());
        }
        out.push(with_set(entry, &set));
    }
    out
}

/// A server-side apply of `applied` (the configuration as JSON) by
/// `manager` to `live` (none when the object does not exist yet): the
/// merged object and its managed fields, or the conflicts that refuse it.
pub fn apply(
    kind: Kind,
    live: Option<&Value>,
    applied: &Value,
    entries: Vec<ManagedFieldsEntry>,
    manager: Manager,
    force: bool,
    now: &Time,
) -> Result<(Value, Vec<ManagedFieldsEntry>), Conflicts> {
    let empty = Value::Object(Map::new());
    let live = live.unwrap_or(&empty);
    let applied_set = owned_fields(kind, manager.subresource, applied);
    let mut conflicts: Vec<(String, FieldPath)> = Vec::new();
    let mut previous = FieldSet::default();
    for entry in &entries {
        if manager.owns(entry, "Apply") {
            previous = entry_set(entry);
            continue;
        }
        for path in entry_set(entry).intersection(&applied_set).0 {
            // An item of a keyed list or a set is the same item by its key:
            // only values can differ.
            let is_value = path.last().is_some_and(|e| e.starts_with("f:"));
            if is_value && set::value_at(live, &path) != set::value_at(applied, &path) {
                conflicts.push((holder(entry), path));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    let mut merged = merge(kind, live, applied, &mut Vec::new());
    // What this manager applied before and no longer does goes, unless
    // another manager owns it too.
    let taken: FieldSet = FieldSet(conflicts.into_iter().map(|(_, p)| p).collect());
    let others: FieldSet = entries
        .iter()
        .filter(|e| !manager.owns(e, "Apply"))
        .map(|e| entry_set(e).difference(&taken))
        .fold(FieldSet::default(), |all, s| all.union(&s));
    for path in previous
        .difference(&applied_set)
        .difference(&others)
        .0
        .iter()
        .rev()
    {
        set::remove_at(&mut merged, path);
    }
    let present = present_fields(kind, &merged);
    let mut out = Vec::new();
    let mut own = None;
    for entry in entries {
        if manager.owns(&entry, "Apply") {
            own = Some(entry);
            continue;
        }
        let set = entry_set(&entry).difference(&taken).intersection(&present);
        if !set.is_empty() {
            out.push(with_set(entry, &set));
        }
    }
    if !applied_set.is_empty() {
        let mut entry = own.unwrap_or_else(|| new_entry(manager, "Apply", now));
        entry.time = Some(now.clone());
        out.push(with_set(entry, &applied_set));
    }
    Ok((merged, out))
}

/// The applied configuration merged into the live object: maps by key,
/// keyed lists by their keys, sets by value; atomic lists and scalars are
/// the applied ones.
fn merge(kind: Kind, live: &Value, applied: &Value, path: &mut FieldPath) -> Value {
    match (live, applied) {
        (Value::Object(live), Value::Object(applied)) => {
            let mut out = live.clone();
            for (key, value) in applied {
                if value.is_null() {
                    continue;
                }
                path.push(format!("f:{key}"));
                let merged = merge(kind, live.get(key).unwrap_or(&Value::Null), value, path);
                path.pop();
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(live), Value::Array(applied)) => {
            match lists::list(kind, &set::field_names(path)).list_type {
                ListType::Atomic => Value::Array(applied.clone()),
                ListType::Set => {
                    let mut out = live.clone();
                    out.extend(applied.iter().filter(|i| !live.contains(i)).cloned());
                    Value::Array(out)
                }
                ListType::Map(keys) => {
                    let mut out = live.clone();
                    for item in applied {
                        let element = set::item_element(item, keys);
                        path.push(element.clone());
                        match out
                            .iter()
                            .position(|o| set::item_element(o, keys) == element)
                        {
                            Some(at) => out[at] = merge(kind, &out[at].clone(), item, path),
                            None => out.push(merge(kind, &Value::Null, item, path)),
                        }
                        path.pop();
                    }
                    Value::Array(out)
                }
            }
        }
        (_, Value::Object(applied)) => merge(
            kind,
            &Value::Object(Map::new()),
            &Value::Object(applied.clone()),
            path,
        ),
        (_, applied) => applied.clone(),
    }
}

/// How a conflict names the other manager (`printManager`): an applier by
/// its name, an updater with the version it wrote.
fn holder(entry: &ManagedFieldsEntry) -> String {
    let mut out = crate::api::field::go_quote(entry.manager.as_deref().unwrap_or(""));
    if let Some(sub) = entry.subresource.as_deref().filter(|s| !s.is_empty()) {
        out.push_str(&format!(
            " with subresource {}",
            crate::api::field::go_quote(sub)
        ));
    }
    if entry.operation.as_deref() == Some("Update") {
        out.push_str(&format!(
            " using {}",
            entry.api_version.as_deref().unwrap_or("")
        ));
    }
    out
}

fn conflict_error(conflicts: &[(String, FieldPath)]) -> Conflicts {
    let causes: Vec<(String, String)> = conflicts
        .iter()
        .map(|(holder, path)| (set::render(path), format!("conflict with {holder}")))
        .collect();
    let message = if let [(holder, path)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {holder}: {}",
            set::render(path)
        )
    } else {
        let mut holders: Vec<&String> = conflicts.iter().map(|(h, _)| h).collect();
        holders.sort();
        holders.dedup();
        let mut lines = Vec::new();
        for h in holders {
            lines.push(format!("conflicts with {h}:"));
            for (_, path) in conflicts.iter().filter(|(other, _)| other == h) {
                lines.push(format!("- {}", set::render(path)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    Conflicts { message, causes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap())
    }

    const CREATE: Manager = Manager {
        name: "kubectl-create",
        subresource: None,
    };
    const KUBECTL: Manager = Manager {
        name: "kubectl",
        subresource: None,
    };
    const OTHER: Manager = Manager {
        name: "other",
        subresource: None,
    };

    fn pod(image: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]},
            "status": {"phase": "Running"}
        })
    }

    /// An update of a pod by `manager`, at the tests' time.
    fn update(
        before: Option<&Value>,
        after: &Value,
        entries: Vec<ManagedFieldsEntry>,
        manager: Manager,
    ) -> Vec<ManagedFieldsEntry> {
        record_update(Kind::Pod, before, after, entries, manager, &now())
    }

    /// kubectl's server-side apply of `config` to a pod, at the tests'
    /// time.
    fn apply_pod(
        live: Option<&Value>,
        config: &Value,
        entries: Vec<ManagedFieldsEntry>,
        force: bool,
    ) -> Result<(Value, Vec<ManagedFieldsEntry>), Conflicts> {
        apply(Kind::Pod, live, config, entries, KUBECTL, force, &now())
    }

    /// What `pod("busybox")`'s create leaves to kubectl-create once the
    /// image is another manager's.
    fn created_without_image() -> Value {
        json!({"f:metadata": {"f:labels": {"f:app": {}}},
               "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:name": {}}}}})
    }

    /// The operation of `manager`'s entry.
    fn operation<'a>(entries: &'a [ManagedFieldsEntry], manager: &str) -> Option<&'a str> {
        entries
            .iter()
            .find(|e| e.manager.as_deref() == Some(manager))?
            .operation
            .as_deref()
    }

    fn fields(entries: &[ManagedFieldsEntry], manager: &str) -> Value {
        entries
            .iter()
            .find(|e| e.manager.as_deref() == Some(manager))
            .and_then(|e| e.fields_v1.clone())
            .map(|f| f.0)
            .unwrap_or(Value::Null)
    }

    #[test]
    fn a_create_owns_its_fields_but_identity_and_status() {
        let entries = update(None, &pod("busybox"), Vec::new(), CREATE);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].operation.as_deref(), Some("Update"));
        assert_eq!(
            fields(&entries, "kubectl-create"),
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
        );
    }

    #[test]
    fn an_update_takes_what_it_changed() {
        let created = update(None, &pod("busybox"), Vec::new(), CREATE);
        let mut labelled = pod("busybox");
        labelled["metadata"]["labels"]["tier"] = json!("a");
        let label = Manager {
            name: "kubectl-label",
            subresource: None,
        };
        let entries = update(Some(&pod("busybox")), &labelled, created, label);
        assert_eq!(
            fields(&entries, "kubectl-label"),
            json!({"f:metadata": {"f:labels": {"f:tier": {}}}})
        );
        let mut reimaged = labelled.clone();
        reimaged["spec"]["containers"][0]["image"] = json!("nginx");
        let entries = update(Some(&labelled), &reimaged, entries, OTHER);
        assert_eq!(fields(&entries, "kubectl-create"), created_without_image());
        assert_eq!(
            fields(&entries, "other"),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {"f:image": {}}}}})
        );
    }

    /// A manager writing through pods/status, as kubectl patch
    /// --subresource=status does.
    const STATUS: Manager = Manager {
        name: "kubectl-patch",
        subresource: Some("status"),
    };

    #[test]
    fn status_writes_and_spec_writes_keep_each_others_managers() {
        let created = update(None, &pod("busybox"), Vec::new(), CREATE);
        let mut gated = pod("busybox");
        gated["status"]["conditions"] = json!([{"type": "example.com/gate", "status": "True"}]);
        // The status write owns the condition it added, through status,
        // and the creator keeps the spec and labels it owns.
        let entries = update(Some(&pod("busybox")), &gated, created.clone(), STATUS);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            fields(&entries, "kubectl-create"),
            fields(&created, "kubectl-create")
        );
        let status = entries
            .iter()
            .find(|e| e.manager.as_deref() == Some("kubectl-patch"));
        assert_eq!(status.unwrap().subresource.as_deref(), Some("status"));
        assert_eq!(
            fields(&entries, "kubectl-patch"),
            json!({"f:status": {"f:conditions": {"k:{\"type\":\"example.com/gate\"}": {
                ".": {}, "f:status": {}, "f:type": {}}}}})
        );
        // A label through the pod itself keeps the status manager's entry.
        let mut labelled = gated.clone();
        labelled["metadata"]["labels"]["tier"] = json!("a");
        let label = Manager {
            name: "kubectl-label",
            subresource: None,
        };
        let after = update(Some(&gated), &labelled, entries.clone(), label);
        assert_eq!(
            fields(&after, "kubectl-patch"),
            fields(&entries, "kubectl-patch")
        );
        // So does an apply of the spec.
        let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let (_, after) = apply_pod(Some(&gated), &applied, entries.clone(), false).unwrap();
        assert_eq!(
            fields(&after, "kubectl-patch"),
            fields(&entries, "kubectl-patch")
        );
        // An apply through status owns what it applied there, and no spec.
        let status_config = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            "status": {"conditions": [{"type": "example.com/other", "status": "False"}]}});
        let applier = Manager {
            name: "kubectl",
            subresource: Some("status"),
        };
        let (merged, after) = apply(
            Kind::Pod,
            Some(&gated),
            &status_config,
            entries,
            applier,
            false,
            &now(),
        )
        .unwrap();
        assert_eq!(merged["status"]["conditions"].as_array().unwrap().len(), 2);
        assert_eq!(
            fields(&after, "kubectl"),
            json!({"f:status": {"f:conditions": {"k:{\"type\":\"example.com/other\"}": {
                ".": {}, "f:status": {}, "f:type": {}}}}})
        );
        assert_eq!(
            fields(&after, "kubectl-create"),
            fields(&created, "kubectl-create")
        );
    }

    #[test]
    fn apply_conflicts_with_another_managers_value_unless_forced() {
        let created = update(None, &pod("busybox"), Vec::new(), CREATE);
        let applied = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let err = apply_pod(Some(&pod("busybox")), &applied, created.clone(), false).unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .spec.containers[name=\"c\"].image"
        );
        assert_eq!(
            err.causes,
            [(
                ".spec.containers[name=\"c\"].image".to_string(),
                "conflict with \"kubectl-create\" using v1".to_string()
            )]
        );
        // The same value is shared, not a conflict.
        let same = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let (merged, entries) =
            apply_pod(Some(&pod("busybox")), &same, created.clone(), false).unwrap();
        assert_eq!(merged, pod("busybox"));
        assert_eq!(entries.len(), 2);
        // Forced: the value changes and kubectl takes the field.
        let (merged, entries) = apply_pod(Some(&pod("busybox")), &applied, created, true).unwrap();
        assert_eq!(merged["spec"]["containers"][0]["image"], "nginx");
        assert_eq!(merged["status"], json!({"phase": "Running"}));
        assert_eq!(fields(&entries, "kubectl-create"), created_without_image());
        assert_eq!(operation(&entries, "kubectl"), Some("Apply"));
    }

    #[test]
    fn several_conflicts_are_listed_by_manager() {
        let created = update(None, &pod("busybox"), Vec::new(), CREATE);
        let mut live = pod("busybox");
        live["metadata"]["labels"]["tier"] = json!("a");
        let entries = update(Some(&pod("busybox")), &live, created, OTHER);
        let applied = json!({"metadata": {"name": "p", "labels": {"app": "x", "tier": "b"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let err = apply_pod(Some(&live), &applied, entries, false).unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 3 conflicts: conflicts with \"kubectl-create\" using v1:\n- .metadata.labels.app\n- .spec.containers[name=\"c\"].image\nconflicts with \"other\" using v1:\n- .metadata.labels.tier"
        );
    }

    #[test]
    fn apply_removes_what_it_no_longer_applies_and_nobody_else_owns() {
        let first = json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let (live, entries) = apply_pod(None, &first, Vec::new(), false).unwrap();
        assert_eq!(live, first);
        // Another manager shares label b.
        let entries = update(Some(&live), &live, entries, OTHER);
        let mut shared = entries.clone();
        shared.push(with_set(
            new_entry(OTHER, "Apply", &now()),
            &FieldSet(
                [vec![
                    "f:metadata".to_string(),
                    "f:labels".into(),
                    "f:b".into(),
                ]]
                .into(),
            ),
        ));
        let second = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let (merged, _) = apply_pod(Some(&live), &second, shared, false).unwrap();
        assert_eq!(merged["metadata"]["labels"], json!({"b": "2"}));
        let (merged, _) = apply_pod(Some(&live), &second, entries, false).unwrap();
        assert_eq!(merged["metadata"]["labels"], json!({}));
    }

    #[test]
    fn managers_from_user_agents() {
        assert_eq!(
            manager_from_user_agent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc"),
            "kubectl"
        );
        assert_eq!(
            manager_from_user_agent("OpenAPI-Generator/31.0.0/python"),
            "OpenAPI-Generator"
        );
    }
}
