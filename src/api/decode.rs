//! Reading manifests: files, directories and stdin; YAML (block and flow),
//! JSON, multi-document streams and `kind: List`.
//!
//! TODO(api): strict decoding (unknown fields, duplicate keys, YAML 1.1
//! scalars, line/column in syntax errors) replaces this first cut.

use anyhow::{Context, Result, bail};

use super::{Kind, Object};

/// Manifest text together with the name kubectl reports it by (the path as
/// given, or `STDIN`).
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// An object and the source it came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub source: String,
    pub object: Object,
}

/// Reads `-f` arguments: files, directories (their `.yaml`, `.yml` and
/// `.json` files; subdirectories only with `recursive`), and `-` for stdin.
pub fn read_sources(paths: &[String], recursive: bool) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for path in paths {
        if path == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading manifest from stdin")?;
            out.push(Source {
                name: "STDIN".into(),
                text,
            });
            continue;
        }
        read_path(std::path::Path::new(path), recursive, true, &mut out)?;
    }
    Ok(out)
}

fn read_path(
    path: &std::path::Path,
    recursive: bool,
    top: bool,
    out: &mut Vec<Source>,
) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|_| anyhow::anyhow!("the path \"{}\" does not exist", path.display()))?;
    if meta.is_dir() {
        if !top && !recursive {
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("reading directory \"{}\"", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            let is_manifest = entry
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
            if entry.is_dir() || is_manifest {
                read_path(&entry, recursive, false, out)?;
            }
        }
        return Ok(());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading \"{}\"", path.display()))?;
    out.push(Source {
        name: path.display().to_string(),
        text,
    });
    Ok(())
}

/// Decodes every object in `source`.
pub fn decode(source: &Source) -> Result<Vec<Document>> {
    let values: Vec<serde_json::Value> = serde_saphyr::from_multiple(&source.text)
        .map_err(|e| anyhow::anyhow!("error parsing {}: {e}", source.name))?;
    let mut out = Vec::new();
    for value in values {
        if value.is_null() {
            continue;
        }
        decode_value(&source.name, value, &mut out)?;
    }
    Ok(out)
}

fn decode_value(source: &str, value: serde_json::Value, out: &mut Vec<Document>) -> Result<()> {
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind == "List" {
        if let Some(items) = value.get("items").and_then(|i| i.as_array()) {
            for item in items.clone() {
                decode_value(source, item, out)?;
            }
        }
        return Ok(());
    }
    let object = match Kind::from_manifest(kind) {
        Some(Kind::Pod) => Object::Pod(Box::new(serde_json::from_value(value)?)),
        Some(Kind::ConfigMap) => Object::ConfigMap(serde_json::from_value(value)?),
        Some(Kind::Secret) => Object::Secret(serde_json::from_value(value)?),
        None if kind.is_empty() => bail!("error validating \"{source}\": kind not set"),
        None => bail!(
            "error validating \"{source}\": kind \"{kind}\" is not supported (pod stores Pod, ConfigMap and Secret)"
        ),
    };
    out.push(Document {
        source: source.to_string(),
        object,
    });
    Ok(())
}
