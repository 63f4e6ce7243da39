//! The Table form (meta.k8s.io/v1 `Table`) that kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, its cells
//! printed by pod's own printers (`print::table`, `print::events`), so
//! `kubectl get pods` shows what `pod get pods` shows. Columns only
//! `-o wide` shows have priority 1; kubectl itself adds NAMESPACE (`-A`)
//! and LABELS (`--show-labels`) from each row's object metadata.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::read::Item;
use super::request::Request;
use super::resources::Resource;
use super::versions::Stamped;
use crate::api::Kind;
use crate::print::{self, TableOptions};

/// Whether the client asked for a Table (before any plain JSON choice).
pub fn wanted(req: &Request) -> bool {
    req.header("accept")
        .split(',')
        .next()
        .is_some_and(|first| first.split(';').any(|p| p.trim() == "as=Table"))
}

/// How much of each object a row carries (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn of(req: &Request) -> Include {
        match req.param("includeObject") {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// The column names of one kind, and whether each shows only in wide.
fn columns(resource: &Resource, item_kind: Option<Kind>) -> Vec<(String, bool)> {
    let Some(kind) = item_kind else {
        return ["Last Seen", "Type", "Reason", "Object", "Message"]
            .iter()
            .map(|c| (c.to_string(), false))
            .collect();
    };
    let narrow = print::table::headers(kind, &TableOptions::default());
    let wide = print::table::headers(
        kind,
        &TableOptions {
            wide: true,
            ..TableOptions::default()
        },
    );
    let _ = resource;
    wide.into_iter()
        .map(|h| {
            let only_wide = !narrow.contains(&h);
            (title(&h), only_wide)
        })
        .collect()
}

/// `NOMINATED NODE` as the API server names it: `Nominated Node`
/// (kubectl prints names upper-cased, so this only shows to other
/// clients); IP keeps its capitals.
fn title(header: &str) -> String {
    header
        .split(' ')
        .map(|word| {
            word.split('-')
                .map(|part| match part {
                    "IP" | "OS" => part.to_string(),
                    _ => {
                        let lower = part.to_ascii_lowercase();
                        let mut chars = lower.chars();
                        chars.next().map_or(String::new(), |c| {
                            c.to_ascii_uppercase().to_string() + chars.as_str()
                        })
                    }
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cells of one object, wide columns included.
fn cells(item: &Item, now: Timestamp) -> Vec<String> {
    match item {
        Item::Stored(object) => print::table::row(
            object,
            &TableOptions {
                wide: true,
                ..TableOptions::default()
            },
            false,
            now,
        ),
        Item::Event(e) => print::events::row(e, now).to_vec(),
    }
}

/// The Table of `items` (of one resource); `version` is a list's
/// resourceVersion.
pub fn table(
    resource: &Resource,
    items: &[Stamped],
    version: Option<u64>,
    include: Include,
) -> Value {
    let kind = match resource.backing {
        super::resources::Backing::Kind(kind) => Some(kind),
        _ => None,
    };
    let now = Timestamp::now();
    let definitions: Vec<Value> = columns(resource, kind)
        .into_iter()
        .map(|(name, only_wide)| {
            json!({
                "name": name,
                "type": "string",
                "format": if name == "Name" { "name" } else { "" },
                "description": "",
                "priority": if only_wide { 1 } else { 0 },
            })
        })
        .collect();
    let rows: Vec<Value> = items.iter().map(|s| row(s, include, now)).collect();
    let mut metadata = json!({});
    if let Some(v) = version {
        metadata["resourceVersion"] = json!(v.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// One row: its cells and the object (its metadata by default).
pub fn row(stamped: &Stamped, include: Include, now: Timestamp) -> Value {
    let mut row = json!({"cells": cells(&stamped.item, now)});
    match include {
        Include::None => {}
        Include::Object => row["object"] = stamped.json.clone(),
        Include::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": stamped.json.get("metadata").cloned().unwrap_or_default(),
            })
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_the_api_servers() {
        assert_eq!(title("NOMINATED NODE"), "Nominated Node");
        assert_eq!(title("IP"), "IP");
        assert_eq!(title("INTERNAL-IP"), "Internal-IP");
        assert_eq!(title("OS-IMAGE"), "OS-Image");
        assert_eq!(title("CONTAINER-RUNTIME"), "Container-Runtime");
        let pods = super::super::resources::find("", "v1", "pods").unwrap();
        let cols = columns(pods, Some(Kind::Pod));
        let shown: Vec<_> = cols
            .iter()
            .filter(|(_, w)| !w)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(shown, ["Name", "Ready", "Status", "Restarts", "Age"]);
        let wide: Vec<_> = cols
            .iter()
            .filter(|(_, w)| *w)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(wide, ["IP", "Node", "Nominated Node", "Readiness Gates"]);
    }
}
