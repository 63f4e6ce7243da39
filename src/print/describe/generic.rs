//! kubectl's generic describer, for kinds without one of their own.

use k8s_openapi::api::core::v1::Event;

use super::Describer;
use crate::api::Object;

impl Describer {
    /// kubectl's generic describer, for kinds it has no describer of its
    /// own for (a PodPreset): name, namespace, labels, annotations, then
    /// every other field of the object, keys sorted, as
    /// `printUnstructuredContent` writes them.
    pub(super) fn generic(&mut self, object: &Object, events: &[Event]) {
        self.w(0, &format!("Name:\t{}\n", object.name()));
        self.w(0, &format!("Namespace:\t{}\n", object.namespace()));
        self.labels("Labels", object.metadata().labels.as_ref());
        self.annotations(object.metadata().annotations.as_ref());
        if let serde_json::Value::Object(content) = object.to_json() {
            const SKIP: [&str; 4] = [
                ".metadata.name",
                ".metadata.namespace",
                ".metadata.labels",
                ".metadata.annotations",
            ];
            self.unstructured(0, &content, "", &SKIP);
        }
        self.events(events);
    }

    fn unstructured(
        &mut self,
        level: usize,
        content: &serde_json::Map<String, serde_json::Value>,
        prefix: &str,
        skip: &[&str],
    ) {
        use serde_json::Value;
        let mut fields: Vec<&String> = content.keys().collect();
        fields.sort();
        for field in fields {
            let path = format!("{prefix}.{field}");
            if skip.contains(&path.as_str()) {
                continue;
            }
            let label = smart_label(field);
            match &content[field] {
                Value::Object(map) => {
                    self.w(level, &format!("{label}:\n"));
                    self.unstructured(level + 1, map, &path, skip);
                }
                Value::Array(items) => {
                    self.w(level, &format!("{label}:\n"));
                    for item in items {
                        match item {
                            Value::Object(map) => self.unstructured(level + 1, map, &path, skip),
                            other => self.w(level + 1, &format!("{}\n", go_value(other))),
                        }
                    }
                }
                other => self.w(level, &format!("{label}:\t{}\n", go_value(other))),
            }
        }
    }
}

/// A JSON scalar as Go's `%v` prints it from an unstructured object.
fn go_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

/// kubectl's `smartLabelFor`: `apiVersion` → `API Version`; a field with
/// characters other than letters and '-' is left as it is.
fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: [&str; 5] = ["API", "URL", "UID", "OSB", "GUID"];
    camel_case_split(field)
        .into_iter()
        .map(|part| {
            let upper = part.to_uppercase();
            if ACRONYMS.contains(&upper.as_str()) {
                upper
            } else {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// fatih/camelcase's `Split`: runs of lower-case, upper-case and other
/// characters, the last capital of a run of capitals starting the lower-case
/// run after it (`PDFLoader` → `PDF`, `Loader`).
fn camel_case_split(word: &str) -> Vec<String> {
    let class = |c: char| {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else {
            3
        }
    };
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in word.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i][0].is_uppercase() && runs[i + 1][0].is_lowercase() {
            let moved = runs[i].pop().expect("a run is never empty");
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}
