//! `-o json` as kubectl prints it: Go's `json.MarshalIndent(obj, "", "    ")`
//! plus a newline.
//!
//! kubectl's `get` works on unstructured objects (maps), so Go's encoder
//! writes their keys sorted byte-wise; `serde_json::Value` keeps object
//! keys in a sorted map, which gives the same order. Strings are escaped
//! as Go escapes them: `<`, `>` and `&` become `\u003c`, `\u003e`,
//! `\u0026`, and U+2028/U+2029 are escaped too.

use serde_json::Value;

/// The value indented with four spaces, ending in a newline.
pub fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out.push('\n');
    out
}

/// Compact JSON with Go's escaping (for jsonpath's printing of maps and
/// lists).
pub fn to_compact_json(value: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, value);
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                indent(out, level + 1);
                write_string(out, k);
                out.push_str(": ");
                write_value(out, v, level + 1);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, level);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                indent(out, level + 1);
                write_value(out, v, level + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, level);
            out.push(']');
        }
        other => write_compact(out, other),
    }
}

fn write_compact(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, v);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_compact(out, v);
            }
            out.push('}');
        }
    }
}

/// A JSON string as Go's encoding/json writes it (HTML-safe).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn four_space_indent_and_empty_containers() {
        let v = json!({"b": [1, {"c": true}], "a": {}, "d": [], "e": null});
        assert_eq!(
            to_json(&v),
            "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"c\": true\n        }\n    ],\n    \"d\": [],\n    \"e\": null\n}\n"
        );
    }

    #[test]
    fn go_escaping() {
        let v = json!("<<&>> \u{2028} tab\there \u{1} \"q\" é");
        assert_eq!(
            to_compact_json(&v),
            r#""\u003c\u003c\u0026\u003e\u003e \u2028 tab\there \u0001 \"q\" é""#
        );
    }
}
