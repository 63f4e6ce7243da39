//! YAML to JSON the way the API server's reader does it (sigs.k8s.io/yaml
//! over go-yaml v2): plain scalars resolve by YAML 1.1 rules (`yes`, `on`,
//! `y` are booleans, `0777` is octal, `1_000` is a number), mapping keys
//! become strings, anchors, aliases and merge keys (`<<`) expand. Unlike
//! that reader, a duplicate key is an error rather than a silent overwrite,
//! and every error carries a line and a column.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Number, Value};

use crate::api::field::go_quote;
use crate::api::yaml11::{self, Plain};
use serde_saphyr::granit_parser::{
    Event, Marker, Options, Parser, ScalarStyle, Span, StrInput, Tag,
};

/// A YAML error at a position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "yaml: line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for YamlError {}

fn error_at(mark: &Marker, message: impl Into<String>) -> YamlError {
    YamlError {
        line: mark.line(),
        column: mark.col() + 1,
        message: message.into(),
    }
}

/// Every document of a YAML stream as JSON; empty documents are `Null`.
pub fn to_json(text: &str) -> Result<Vec<Value>, YamlError> {
    // go-yaml accepts `\'` in double-quoted scalars (an escape YAML 1.2
    // lacks; some Kubernetes docs examples use it): unescape and retry.
    let mut text = std::borrow::Cow::Borrowed(text);
    loop {
        match read_stream(&text) {
            Err(e) if e.message.contains("unknown escape character") => {
                match unescape_single_quotes(&text, e.line, e.column) {
                    Some(fixed) => text = std::borrow::Cow::Owned(fixed),
                    None => return Err(e),
                }
            }
            Err(e) if e.message.contains("found a tab") => return Err(at_the_tab(&text, e)),
            other => return other,
        }
    }
}

/// The parser reports a stray tab where the scalar it interrupts begins;
/// point at the tab itself, as go-yaml does ("found a tab character that
/// violates indentation").
fn at_the_tab(text: &str, mut error: YamlError) -> YamlError {
    let tab = text
        .lines()
        .enumerate()
        .skip(error.line.saturating_sub(1))
        .find_map(|(i, line)| {
            let from = if i + 1 == error.line {
                error.column - 1
            } else {
                0
            };
            line.chars()
                .enumerate()
                .skip(from)
                .find(|(_, c)| *c == '\t')
                .map(|(col, _)| (i + 1, col + 1))
        });
    if let Some((line, column)) = tab {
        error.line = line;
        error.column = column;
        error.message = "found a tab character that violates indentation".into();
    }
    error
}

/// Rewrites `\'` as `'` in the double-quoted scalar that starts at
/// `line`:`column`, or `None` when it holds no such escape.
fn unescape_single_quotes(text: &str, line: usize, column: usize) -> Option<String> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let start = line_start
        + text[line_start..]
            .char_indices()
            .nth(column - 1)
            .map(|(i, _)| i)?;
    let rest = text[start..].strip_prefix('"')?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..=start]);
    let mut chars = rest.char_indices();
    let mut changed = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\'')) => {
                    out.push('\'');
                    changed = true;
                }
                Some((_, next)) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '"' => {
                out.push_str(&rest[i..]);
                return changed.then_some(out);
            }
            c => out.push(c),
        }
    }
    None
}

fn read_stream(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut reader = Reader {
        parser: Parser::new_from_str_with_options(text, parser_options()),
        anchors: HashMap::new(),
        last: Marker::default(),
        expanded: 0,
    };
    let mut documents = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart => {}
            Event::StreamEnd => return Ok(documents),
            Event::DocumentStart(..) => {
                reader.anchors.clear();
                reader.expanded = 0;
                let (event, span) = reader.next()?;
                let value = if matches!(event, Event::DocumentEnd) {
                    Value::Null
                } else {
                    let value = reader.node(event, span)?;
                    reader.expect_document_end()?;
                    value
                };
                documents.push(value);
            }
            other => return Err(error_at(&span.start, format!("unexpected {other:?}"))),
        }
    }
}

fn parser_options() -> Options {
    let mut options = Options::default();
    options.set_emit_comments(false);
    options
}

/// How much a document's aliases may expand to, in [`weight`] units
/// (nodes plus string bytes). Each alias copies its anchor's value, so a
/// few lines of nested aliases (the "billion laughs") would otherwise
/// take exponential memory and time; real manifests stay far below this.
/// go-yaml bounds the same thing by a ratio ("document contains excessive
/// aliasing"), which refuses a document made mostly of aliases after a
/// thousand nodes. At 1 << 24 a bomb was refused only after 1.2 s and
/// 316 MiB (found by the manifest fuzzer); at 1 << 20 it is a sixteenth
/// of that, and a megabyte of expanded aliases is still far above what
/// a Pod manifest uses.
const MAX_EXPANSION: u64 = 1 << 20;

struct Reader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    /// Anchored values with their [`weight`].
    anchors: HashMap<usize, (Value, u64)>,
    /// Where the last event ended, for errors at the end of input.
    last: Marker,
    /// The weight of the values aliases copied so far in this document.
    expanded: u64,
}

/// A value's size for [`MAX_EXPANSION`]: one per node, plus the bytes of
/// its strings and keys.
fn weight(value: &Value) -> u64 {
    match value {
        Value::String(s) => 1 + s.len() as u64,
        Value::Array(items) => 1 + items.iter().map(weight).sum::<u64>(),
        Value::Object(map) => {
            1 + map
                .iter()
                .map(|(k, v)| k.len() as u64 + weight(v))
                .sum::<u64>()
        }
        _ => 1,
    }
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        loop {
            match self.parser.next_event() {
                Some(Ok((event, span))) => {
                    self.last = span.end;
                    if matches!(event, Event::Anchor(..)) {
                        continue;
                    }
                    return Ok((event, span));
                }
                Some(Err(e)) => {
                    let message = e.info();
                    let message = if message.is_empty() {
                        "syntax error".to_string()
                    } else {
                        message
                    };
                    return Err(error_at(e.marker(), message));
                }
                None => return Err(error_at(&self.last, "unexpected end of input")),
            }
        }
    }

    fn expect_document_end(&mut self) -> Result<(), YamlError> {
        let (event, span) = self.next()?;
        match event {
            Event::DocumentEnd => Ok(()),
            _ => Err(error_at(&span.start, "expected the end of the document")),
        }
    }

    /// Reads the node that starts with `event`.
    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Value, YamlError> {
        let anchor = event.anchor_id();
        let value = match event {
            Event::Scalar(text, style, _, tag) => scalar(&text, style, tag.as_deref(), &span)?,
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                Value::Array(items)
            }
            Event::MappingStart(..) => self.mapping()?,
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((value, weight)) => {
                    // Counted before the copy is made, so a bomb stops
                    // before it takes the memory.
                    self.expanded += weight;
                    if self.expanded > MAX_EXPANSION {
                        return Err(error_at(
                            &span.start,
                            "document contains excessive aliasing",
                        ));
                    }
                    value.clone()
                }
                None => return Err(error_at(&span.start, "unknown anchor referenced")),
            },
            other => return Err(error_at(&span.start, format!("unexpected {other:?}"))),
        };
        if let Some(id) = anchor {
            self.anchors.insert(id, (value.clone(), weight(&value)));
        }
        Ok(value)
    }

    /// Reads a mapping's entries up to its end. Keys written in the mapping
    /// win over merged ones; among merged mappings the first wins.
    fn mapping(&mut self) -> Result<Value, YamlError> {
        let mut explicit = Map::new();
        let mut merged = Map::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge =
                matches!(&event, Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<");
            let key = self.node(event, span)?;
            let (value_event, value_span) = self.next()?;
            let value = self.node(value_event, value_span)?;
            if is_merge {
                merge_into(&mut merged, value, &span)?;
                continue;
            }
            let key = key_string(key, &span)?;
            if explicit.contains_key(&key) {
                return Err(error_at(
                    &span.start,
                    format!("key {} already set in map", go_quote(&key)),
                ));
            }
            explicit.insert(key, value);
        }
        for (key, value) in merged {
            explicit.entry(key).or_insert(value);
        }
        Ok(Value::Object(explicit))
    }
}

fn merge_into(merged: &mut Map<String, Value>, value: Value, span: &Span) -> Result<(), YamlError> {
    let sources = match value {
        Value::Object(map) => vec![map],
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                _ => Err(error_at(
                    &span.start,
                    "map merge requires map or sequence of maps as the value",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(error_at(
                &span.start,
                "map merge requires map or sequence of maps as the value",
            ));
        }
    };
    for source in sources {
        for (key, value) in source {
            merged.entry(key).or_insert(value);
        }
    }
    Ok(())
}

/// JSON object keys are strings: scalars print as sigs.k8s.io/yaml prints
/// them (`on:` becomes `"true"`), collections cannot be keys.
fn key_string(key: Value, span: &Span) -> Result<String, YamlError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Null => Ok("null".into()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) | Value::Object(_) => Err(error_at(
            &span.start,
            "invalid map key: a collection cannot be a key in JSON",
        )),
    }
}

/// Resolves a scalar. Quoted and block scalars are strings; plain scalars
/// follow go-yaml v2's `resolve`; the core tags `!!str`, `!!int`, ... force
/// their type.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value, YamlError> {
    let forced = tag.and_then(|t| t.core_suffix());
    let quoted = style != ScalarStyle::Plain;
    match forced {
        Some("str") => return Ok(Value::String(text.to_string())),
        Some("null") => return Ok(Value::Null),
        Some(kind @ ("bool" | "int" | "float")) => {
            let value = resolve_plain(text);
            let fits = match kind {
                "bool" => value.is_boolean(),
                "int" => value.is_i64() || value.is_u64(),
                _ => value.is_number(),
            };
            if !fits {
                return Err(error_at(
                    &span.start,
                    format!("cannot decode !!{kind} `{text}`"),
                ));
            }
            return finite(value, span);
        }
        _ => {}
    }
    if quoted {
        return Ok(Value::String(text.to_string()));
    }
    finite(resolve_plain(text), span)
}

/// JSON has no NaN or infinities (Go's encoder refuses them too).
fn finite(value: Value, span: &Span) -> Result<Value, YamlError> {
    if let Value::String(s) = &value
        && is_special_float(s)
    {
        return Err(error_at(
            &span.start,
            format!("json: unsupported value: {s}"),
        ));
    }
    Ok(value)
}

fn is_special_float(s: &str) -> bool {
    matches!(
        s,
        ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    )
}

/// go-yaml v2 `resolve` for an untagged plain scalar, as JSON. NaN and
/// the infinities stay the text they were, for `finite` to refuse by name.
fn resolve_plain(text: &str) -> Value {
    match yaml11::resolve(text) {
        Plain::Null => Value::Null,
        Plain::Bool(b) => Value::Bool(b),
        Plain::Int(n) => Value::Number(n),
        Plain::Float(f) if f.is_finite() => json_float(f),
        Plain::Float(_) | Plain::Timestamp | Plain::Str => Value::String(text.to_string()),
    }
}

/// A float as it comes out of Go's JSON encoder and back: integral values
/// are written without a fraction, so `port: 80.0` decodes into an int.
pub fn json_float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Value::Number((f as i64).into());
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Value::Number((f as u64).into());
        }
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests;
