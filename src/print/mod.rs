//! Printing objects the way kubectl does: tables (with kubectl's tabwriter
//! spacing, STATUS algorithm and ages), yaml, json, name, jsonpath and
//! custom-columns, and describe.
//!
//! TODO(print): first cut; tabwriter, printPod, HumanDuration, jsonpath,
//! custom-columns and a kubectl-faithful YAML emitter replace it.

pub mod describe;
pub mod watch;
pub mod yaml;

use anyhow::{Result, bail};

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
}

/// Switches of the human-readable table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub no_headers: bool,
    pub show_labels: bool,
    pub with_namespace: bool,
    pub wide: bool,
}

/// Renders `objects` (possibly of several kinds) in `format`.
pub fn render(objects: &[Object], format: &OutputFormat, options: &TableOptions) -> Result<String> {
    match format {
        OutputFormat::Table | OutputFormat::Wide => Ok(render_table(objects, options)),
        other => render_objects(objects, other),
    }
}

/// Renders objects in a machine format; several objects become a `List`.
pub fn render_objects(objects: &[Object], format: &OutputFormat) -> Result<String> {
    let value = if objects.len() == 1 {
        objects[0].to_json()
    } else {
        serde_json::json!({
            "apiVersion": "v1",
            "items": objects.iter().map(Object::to_json).collect::<Vec<_>>(),
            "kind": "List",
            "metadata": { "resourceVersion": "" },
        })
    };
    Ok(match format {
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(&value)?),
        OutputFormat::Yaml => yaml::to_yaml(&value),
        OutputFormat::Name => objects
            .iter()
            .map(|o| format!("{}/{}\n", o.kind().singular(), o.name()))
            .collect(),
        other => bail!("output format {other:?} is not implemented yet"),
    })
}

fn render_table(objects: &[Object], options: &TableOptions) -> String {
    let mut out = String::new();
    if !options.no_headers {
        out.push_str("NAME\n");
    }
    for o in objects {
        out.push_str(o.name());
        out.push('\n');
    }
    out
}
