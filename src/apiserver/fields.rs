//! Field selectors (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`):
//! `key=value`, `key==value`, `key!=value`, joined by commas, over the
//! fields each resource supports (the API server refuses others with
//! `field label not supported: <key>`).

use serde_json::Value;

use super::resources::{Backing, Resource};
use super::status::Status;
use crate::api::Kind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses a selector for `resource`; an empty text selects everything.
    pub fn parse(text: &str, resource: &Resource) -> Result<FieldSelector, Status> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (key, equal, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(Status::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                )));
            };
            let key = key.trim();
            if !supported(resource, key) {
                return Err(Status::bad_request(format!(
                    "field label not supported: {key}"
                )));
            }
            terms.push((key.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    /// Whether the object (as JSON) is selected.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms
            .iter()
            .all(|(key, equal, value)| (field(object, key) == *value) == *equal)
    }
}

/// The fields the API server lets each resource be selected by.
fn supported(resource: &Resource, key: &str) -> bool {
    if matches!(key, "metadata.name" | "metadata.namespace") {
        return true;
    }
    match resource.backing {
        Backing::Kind(Kind::Pod) => matches!(
            key,
            "spec.nodeName"
                | "spec.restartPolicy"
                | "spec.schedulerName"
                | "spec.serviceAccountName"
                | "spec.hostNetwork"
                | "status.phase"
                | "status.podIP"
                | "status.nominatedNodeName"
        ),
        Backing::Kind(Kind::Node) => key == "spec.unschedulable",
        Backing::Kind(Kind::Namespace) => key == "status.phase",
        Backing::Kind(Kind::Secret) => key == "type",
        Backing::Kind(_) => false,
        Backing::CoreEvents => {
            key.starts_with("involvedObject.")
                && matches!(
                    &key["involvedObject.".len()..],
                    "kind"
                        | "namespace"
                        | "name"
                        | "uid"
                        | "apiVersion"
                        | "resourceVersion"
                        | "fieldPath"
                )
                || matches!(key, "reason" | "reportingComponent" | "source" | "type")
        }
        Backing::Events => {
            key.starts_with("regarding.")
                && matches!(
                    &key["regarding.".len()..],
                    "kind"
                        | "namespace"
                        | "name"
                        | "uid"
                        | "apiVersion"
                        | "resourceVersion"
                        | "fieldPath"
                )
                || matches!(key, "reason" | "reportingController" | "type")
        }
    }
}

/// A field's value as the API server's field set has it: the text of a
/// string, `true`/`false`, "" when absent. (`source` of a core Event is
/// its `source.component`.)
fn field(object: &Value, key: &str) -> String {
    let path = match key {
        "source" => "source.component",
        other => other,
    };
    let mut at = object;
    for part in path.split('.') {
        match at.get(part) {
            Some(next) => at = next,
            None => return String::new(),
        }
    }
    match at {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources;
    use serde_json::json;

    #[test]
    fn selects_as_the_api_server() {
        let pods = resources::find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "a", "namespace": "d"},
                         "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let sel = |t: &str| FieldSelector::parse(t, pods).unwrap().matches(&pod);
        assert!(sel(""));
        assert!(sel("metadata.name=a"));
        assert!(sel("spec.nodeName==n1,status.phase!=Failed"));
        assert!(!sel("status.phase=Pending"));
        assert!(!sel("metadata.namespace!=d"));
        assert_eq!(
            FieldSelector::parse("spec.containers=x", pods)
                .unwrap_err()
                .message,
            "field label not supported: spec.containers"
        );
        let events = resources::find("", "v1", "events").unwrap();
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "a"}, "source": {"component": "kubelet"}});
        assert!(
            FieldSelector::parse(
                "involvedObject.name=a,involvedObject.kind=Pod,source=kubelet",
                events
            )
            .unwrap()
            .matches(&ev)
        );
    }
}
