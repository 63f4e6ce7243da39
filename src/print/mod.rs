//! Printing objects the way kubectl does: tables (with kubectl's tabwriter
//! spacing, STATUS algorithm and ages), yaml, json, kyaml, name, jsonpath
//! and custom-columns, describe, events, and `get -w`.
//!
//! Every renderer is a pure function of the objects and `now`, so tests
//! pin ages; `render` and `render_objects` read the clock for the CLI.

#[cfg(test)]
mod brief_tests;
pub mod custom_columns;
pub mod describe;
pub mod events;
pub mod json;
pub mod jsonpath;
#[cfg(test)]
mod kubectl_oracle;
pub mod kyaml;
pub mod node_status;
pub mod pod_status;
pub mod qos;
pub mod table;
pub mod tabwriter;
pub mod watch;
pub mod yaml;

use anyhow::{Result, bail};
use jiff::Timestamp;
use serde_json::Value;

use crate::api::Object;

/// What `-o` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Wide,
    Yaml,
    Json,
    Kyaml,
    Name,
    JsonPath(String),
    CustomColumns(String),
}

impl OutputFormat {
    pub fn parse(text: &str) -> Result<OutputFormat> {
        Ok(match text {
            "" => OutputFormat::Table,
            "wide" => OutputFormat::Wide,
            "yaml" => OutputFormat::Yaml,
            "json" => OutputFormat::Json,
            "kyaml" => OutputFormat::Kyaml,
            "name" => OutputFormat::Name,
            _ => {
                if let Some(t) = text.strip_prefix("jsonpath=") {
                    OutputFormat::JsonPath(t.to_string())
                } else if let Some(t) = text.strip_prefix("custom-columns=") {
                    OutputFormat::CustomColumns(t.to_string())
                } else {
                    bail!(
                        "unable to match a printer suitable for the output format \"{text}\", allowed formats are: custom-columns,json,jsonpath,kyaml,name,wide,yaml"
                    )
                }
            }
        })
    }

    /// Whether the format prints a table (headers once, a row per object).
    pub fn is_table(&self) -> bool {
        matches!(
            self,
            OutputFormat::Table | OutputFormat::Wide | OutputFormat::CustomColumns(_)
        )
    }
}

/// Switches of the human-readable table, and how machine formats wrap.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub no_headers: bool,
    pub show_labels: bool,
    pub with_namespace: bool,
    pub wide: bool,
    /// The user listed kinds (`get pods`) rather than naming one object,
    /// so yaml/json/jsonpath print a `List` even for a single object, as
    /// kubectl does.
    pub as_list: bool,
}

/// Renders `objects` (possibly of several kinds) in `format`, at the
/// current time.
pub fn render(objects: &[Object], format: &OutputFormat, options: &TableOptions) -> Result<String> {
    render_at(objects, format, options, Timestamp::now())
}

/// Renders `objects` in `format` with ages taken at `now`.
pub fn render_at(
    objects: &[Object],
    format: &OutputFormat,
    options: &TableOptions,
    now: Timestamp,
) -> Result<String> {
    match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let mut options = options.clone();
            options.wide |= *format == OutputFormat::Wide;
            Ok(table::render(objects, &options, now))
        }
        OutputFormat::CustomColumns(spec) => {
            let columns = custom_columns::parse(spec)?;
            let values: Vec<Value> = objects.iter().map(Object::to_json).collect();
            custom_columns::render(&columns, &values, options.no_headers)
        }
        OutputFormat::Name => Ok(objects.iter().map(name).collect()),
        other => {
            let value = if objects.len() == 1 && !options.as_list {
                printed(&objects[0])
            } else {
                list(objects)
            };
            machine(&value, other)
        }
    }
}

/// Renders objects in a machine format; several objects become a `List`.
pub fn render_objects(objects: &[Object], format: &OutputFormat) -> Result<String> {
    render(objects, format, &TableOptions::default())
}

/// `-o name`: `pod/nginx`.
pub fn name(object: &Object) -> String {
    format!("{}/{}\n", object.kind().singular(), object.name())
}

/// An object as kubectl prints it: without `metadata.managedFields`
/// (kubectl's default `--show-managed-fields=false`), which objects
/// written through `pod serve` carry.
fn printed(object: &Object) -> Value {
    let mut json = object.to_json();
    if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    json
}

/// kubectl's `List` wrapper around several objects.
pub fn list(objects: &[Object]) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "items": objects.iter().map(printed).collect::<Vec<_>>(),
        "kind": "List",
        "metadata": { "resourceVersion": "" },
    })
}

/// A value in yaml, json, kyaml or jsonpath.
pub fn machine(value: &Value, format: &OutputFormat) -> Result<String> {
    Ok(match format {
        OutputFormat::Json => json::to_json(value),
        OutputFormat::Yaml => yaml::to_yaml(value),
        OutputFormat::Kyaml => kyaml::to_kyaml(value),
        OutputFormat::JsonPath(template) => jsonpath::render(template, value)?,
        other => bail!("output format {other:?} cannot print a single value"),
    })
}
