//! Reading manifests: files, directories and stdin; YAML (block and flow),
//! JSON, multi-document streams and `kind: List`.
//!
//! Decoding runs in two steps, as in the API server: YAML to JSON
//! (`yaml.rs`: YAML 1.1 scalars, duplicate keys refused, positions in
//! syntax errors), then JSON to the typed object (`strict.rs`: unknown
//! fields and wrong types refused with their field paths).

pub mod strict;
pub mod yaml;

use anyhow::{Context, Result};
use serde_json::Value;

use super::field::go_quote;
use super::{Kind, Object};
use crate::api::error::{ApiError, FromSource};

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
    /// `Warning:` lines from decoding: fields of newer Kubernetes releases
    /// that were left out.
    pub warnings: Vec<String>,
}

/// Reads `-f` arguments: files, directories (their `.yaml`, `.yml` and
/// `.json` files; subdirectories only with `recursive`), and `-` for stdin.
pub fn read_sources(paths: &[String], recursive: bool) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    for path in paths {
        if path == "-" {
            let text = read_bounded(std::io::stdin()).context("reading manifest from stdin")?;
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

/// The most a manifest source may hold: far beyond any real one (the API
/// server takes 3 MiB a request), and a bound for `-f /dev/zero`, which
/// read whole took memory until the kernel killed pod.
const MAX_SOURCE: u64 = 64 << 20;

/// Reads all of `reader` as text, refusing more than [`MAX_SOURCE`].
fn read_bounded(reader: impl std::io::Read) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let mut bytes = Vec::new();
    reader.take(MAX_SOURCE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SOURCE {
        return Err(Error::other(format!(
            "more than {} MiB, too big for a manifest",
            MAX_SOURCE >> 20
        )));
    }
    // The words read_to_string used.
    String::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
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
    let text = std::fs::File::open(path)
        .and_then(read_bounded)
        .with_context(|| format!("reading \"{}\"", path.display()))?;
    out.push(Source {
        name: path.display().to_string(),
        text,
    });
    Ok(())
}

/// Why a manifest could not be decoded, in kubectl's words.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// `error parsing nginx.yaml: error converting YAML to JSON: yaml: line 4, column 7: …`
    #[error("error parsing {file}: error converting YAML to JSON: {error}")]
    Syntax {
        file: String,
        error: yaml::YamlError,
    },
    /// A document that is not a mapping.
    #[error("unable to decode {}: a manifest must be a mapping with apiVersion and kind, not {found}", go_quote(.file))]
    NotAnObject { file: String, found: &'static str },
    /// `error validating "x.yaml": error validating data: kind not set`
    #[error("error validating {}: error validating data: {}", go_quote(.file), render_missing(.missing))]
    MissingTypeInfo {
        file: String,
        missing: Vec<&'static str>,
    },
    /// A kind (or version) `pod` does not store, in kubectl's words
    /// (cli-runtime's mapper).
    #[error(
        "resource mapping not found for name: {} namespace: {} from {}: no matches for kind {} in version {}\nensure CRDs are installed first",
        go_quote(.name), go_quote(.namespace), go_quote(.file), go_quote(.kind), go_quote(.api_version)
    )]
    UnsupportedKind {
        file: String,
        name: String,
        namespace: String,
        kind: String,
        api_version: String,
    },
}

fn render_missing(missing: &[&str]) -> String {
    match missing {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Decodes every object in `source`: YAML (block or flow) or JSON, several
/// documents, `kind: List`. Unknown fields and wrong types fail the way the
/// API server's strict decoding does (`Error from server (BadRequest): error
/// when creating "x.yaml": Pod in version "v1" cannot be handled as a Pod:
/// strict decoding error: unknown field "spec.foo"`).
#[cfg(test)]
pub fn decode(source: &Source) -> Result<Vec<Document>> {
    let (documents, mut unmapped) = decode_all(source)?;
    match unmapped.is_empty() {
        true => Ok(documents),
        false => Err(unmapped.remove(0).into()),
    }
}

/// Like [`decode`], but a document of a kind `pod` does not store is
/// set aside with its error, as kubectl maps each document on its own and
/// goes on with the others.
pub fn decode_all(source: &Source) -> Result<(Vec<Document>, Vec<DecodeError>)> {
    let values = yaml::to_json(&source.text).map_err(|error| DecodeError::Syntax {
        file: source.name.clone(),
        error,
    })?;
    let mut out = Vec::new();
    let mut unmapped = Vec::new();
    for value in values {
        if value.is_null() {
            continue;
        }
        decode_value(&source.name, value, &mut out, &mut unmapped)?;
    }
    Ok((out, unmapped))
}

fn decode_value(
    source: &str,
    value: Value,
    out: &mut Vec<Document>,
    unmapped: &mut Vec<DecodeError>,
) -> Result<()> {
    let Value::Object(map) = &value else {
        return Err(DecodeError::NotAnObject {
            file: source.to_string(),
            found: json_type(&value),
        }
        .into());
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion").to_string(), text("kind").to_string());
    let missing: Vec<&'static str> = [
        (api_version.is_empty(), "apiVersion not set"),
        (kind.is_empty(), "kind not set"),
    ]
    .into_iter()
    .filter_map(|(absent, message)| absent.then_some(message))
    .collect();
    if !missing.is_empty() {
        return Err(DecodeError::MissingTypeInfo {
            file: source.to_string(),
            missing,
        }
        .into());
    }
    if kind == "List" && api_version == "v1" {
        let items = match map.get("items") {
            Some(Value::Array(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(bad_request(
                    source,
                    "List",
                    "v1",
                    format!(
                        "json: cannot unmarshal {} into Go struct field items of type array",
                        json_type(other)
                    ),
                ));
            }
        };
        for item in items {
            decode_value(source, item, out, unmapped)?;
        }
        return Ok(());
    }
    let Some(known) = Kind::from_manifest(&api_version, &kind) else {
        let metadata = map.get("metadata");
        let field = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        unmapped.push(DecodeError::UnsupportedKind {
            file: source.to_string(),
            name: field("name"),
            namespace: field("namespace"),
            kind,
            api_version,
        });
        return Ok(());
    };
    let (object, left_out) = match known {
        Kind::Pod => {
            strict::from_value_lenient(value).map(|d| (Object::Pod(Box::new(d.value)), d.left_out))
        }
        Kind::ConfigMap => strict::from_value(value).map(|c| (Object::ConfigMap(c), Vec::new())),
        Kind::Secret => strict::from_value(value).map(|s| (Object::Secret(s), Vec::new())),
        Kind::Namespace => strict::from_value(value).map(|n| (Object::Namespace(n), Vec::new())),
        Kind::PodPreset => {
            strict::from_value(value).map(|p| (Object::PodPreset(Box::new(p)), Vec::new()))
        }
        Kind::Node => strict::from_value(value).map(|n| (Object::Node(Box::new(n)), Vec::new())),
    }
    .map_err(|e| bad_request(source, &kind, known.api_version(), e.to_string()))?;
    let warnings = left_out
        .into_iter()
        .map(|path| {
            format!("{path}: ignored: a field of a Kubernetes release newer than pod's API (v1.37)")
        })
        .collect();
    out.push(Document {
        source: source.to_string(),
        object,
        warnings,
    });
    Ok(())
}

/// Decodes one object of `kind` from a request body as the API server's
/// decoder does: a wrong type is 400 BadRequest (`Pod in version "v1"
/// cannot be handled as a Pod: json: cannot unmarshal ...`); the unknown
/// fields are returned, for the request's field validation.
pub fn decode_object(kind: Kind, value: Value) -> Result<(Object, Vec<String>), ApiError> {
    let decoded = match kind {
        Kind::Pod => strict::from_value_unknown(value).map(|(p, u)| (Object::Pod(Box::new(p)), u)),
        Kind::ConfigMap => {
            strict::from_value_unknown(value).map(|(c, u)| (Object::ConfigMap(c), u))
        }
        Kind::Secret => strict::from_value_unknown(value).map(|(s, u)| (Object::Secret(s), u)),
        Kind::Namespace => {
            strict::from_value_unknown(value).map(|(n, u)| (Object::Namespace(n), u))
        }
        Kind::PodPreset => {
            strict::from_value_unknown(value).map(|(p, u)| (Object::PodPreset(Box::new(p)), u))
        }
        Kind::Node => {
            strict::from_value_unknown(value).map(|(n, u)| (Object::Node(Box::new(n)), u))
        }
    };
    decoded.map_err(|e| {
        let version = kind.api_version().rsplit('/').next().unwrap_or_default();
        ApiError::Refused {
            reason: "BadRequest".into(),
            message: format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {e}"),
        }
    })
}

/// The server's answer to a body it cannot decode:
/// `Pod in version "v1" cannot be handled as a Pod: <why>`.
fn bad_request(source: &str, kind: &str, api_version: &str, why: String) -> anyhow::Error {
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    FromSource {
        verb: "creating",
        source: source.to_string(),
        error: ApiError::Refused {
            reason: "BadRequest".into(),
            message: format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}"
            ),
        },
    }
    .into()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_text(text: &str) -> Result<Vec<Document>> {
        decode(&Source {
            name: "x.yaml".into(),
            text: text.into(),
        })
    }

    fn names(docs: &[Document]) -> Vec<String> {
        docs.iter()
            .map(|d| format!("{}/{}", d.object.kind().singular(), d.object.name()))
            .collect()
    }

    #[test]
    fn reads_several_documents_lists_and_json() {
        let docs = decode_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# nothing\n---\n\
             apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n\
             - {apiVersion: v1, kind: Pod, metadata: {name: c}, spec: {containers: [{name: c, image: i}]}}\n",
        )
        .unwrap();
        assert_eq!(names(&docs), ["configmap/a", "secret/b", "pod/c"]);
        let docs = decode_text(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}, "data": {"k": "v"}}"#).unwrap();
        assert_eq!(names(&docs), ["configmap/j"]);
        assert!(decode_text("").unwrap().is_empty());
    }
}
