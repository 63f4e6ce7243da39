//! `-o kyaml` (kubectl 1.34+, KEP-5295): flow-style YAML that reads like
//! JSON with trailing commas, every value string double-quoted and keys
//! quoted only when they need it. The layout follows sigs.k8s.io/yaml's
//! `kyaml` encoder: a `---` header, two-space indentation, lists of maps
//! or lists "cuddled" (`[{` … `}, {` … `}]`), other lists one item per
//! line, and multi-line strings folded with `\` continuations.
//! (The installed kubectl 1.32 has no kyaml printer to compare against.)

use serde_json::{Map, Value};

use crate::api::yaml11::resolves_to_string;

/// The value as a KYAML document, ending in a newline.
pub fn to_kyaml(value: &Value) -> String {
    let mut out = String::from("---\n");
    node(&mut out, value, 0);
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn node(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s, level + 1, false),
        Value::Array(items) => sequence(out, items, level),
        Value::Object(map) => mapping(out, map, level),
    }
}

fn mapping(out: &mut String, map: &Map<String, Value>, level: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    for (key, value) in map {
        indent(out, level + 1);
        string(out, key, level + 1, true);
        out.push_str(": ");
        node(out, value, level + 1);
        out.push_str(",\n");
    }
    indent(out, level);
    out.push('}');
}

fn sequence(out: &mut String, items: &[Value], level: usize) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    let cuddle = items
        .iter()
        .all(|v| matches!(v, Value::Array(_) | Value::Object(_)));
    if cuddle {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            node(out, item, level);
        }
        out.push(']');
        return;
    }
    out.push_str("[\n");
    indent(out, level);
    for item in items {
        indent(out, 1);
        node(out, item, level + 1);
        out.push_str(",\n");
        indent(out, level);
    }
    out.push(']');
}

/// A string: keys bare when safe (`lazy`), values always double-quoted;
/// a multi-line value is folded onto indented lines.
fn string(out: &mut String, s: &str, level: usize, key: bool) {
    let multi = s.contains('\n');
    if key && !multi && !needs_quotes(s) {
        out.push_str(s);
        return;
    }
    let fold = multi && !key;
    let newline = if fold { "\\n\\\n" } else { "\\n" };
    let mut buf = String::from("\"");
    if fold {
        buf.push_str("\\\n");
    }
    for c in s.chars() {
        if buf.ends_with('\n') {
            indent(&mut buf, level);
            // Leading whitespace on a folded line would be dropped, so it
            // is escaped; other lines get one space for alignment.
            buf.push(if c.is_whitespace() && c != '\n' {
                '\\'
            } else {
                ' '
            });
        }
        escape(&mut buf, c, newline);
    }
    if fold {
        if !buf.ends_with('\n') {
            buf.push_str("\\\n");
        }
        indent(&mut buf, level);
    }
    buf.push('"');
    out.push_str(&buf);
}

fn escape(buf: &mut String, c: char, newline: &str) {
    match c {
        '"' | '\\' => {
            buf.push('\\');
            buf.push(c);
        }
        c if is_print(c) => buf.push(c),
        '\u{7}' => buf.push_str("\\a"),
        '\u{8}' => buf.push_str("\\b"),
        '\u{c}' => buf.push_str("\\f"),
        '\n' => buf.push_str(newline),
        '\r' => buf.push_str("\\r"),
        '\t' => buf.push_str("\\t"),
        '\u{b}' => buf.push_str("\\v"),
        '\0' => buf.push_str("\\0"),
        '\u{1b}' => buf.push_str("\\e"),
        '\u{85}' => buf.push_str("\\N"),
        '\u{a0}' => buf.push_str("\\_"),
        '\u{2028}' => buf.push_str("\\L"),
        '\u{2029}' => buf.push_str("\\P"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => buf.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => buf.push_str(&format!("\\u{:04x}", c as u32)),
        c => buf.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `unicode.IsPrint`: graphic characters and the ASCII space; not
/// controls, format characters, other spaces or private use.
fn is_print(c: char) -> bool {
    let v = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format = matches!(v, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x200b..=0x200f
        | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb);
    let private = matches!(v, 0xe000..=0xf8ff | 0xf0000..=0x10ffff);
    !format && !private
}

/// kyaml's `needsQuotes` for keys.
fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || guesses_wrong(s) {
        return true;
    }
    let chars: Vec<char> = s.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        let anywhere = c.is_alphabetic() || c.is_numeric() || c == '_';
        let interior = i > 0 && i + 1 < chars.len() && matches!(c, '-' | '.' | '/');
        !anywhere && !interior
    })
}

/// kyaml's `yamlGuessesWrong`: would a YAML reader take the bare word
/// for something other than a string?
fn guesses_wrong(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null"
            | "~"
            | "true"
            | "y"
            | "yes"
            | "on"
            | "false"
            | "n"
            | "no"
            | "off"
            | "t"
            | "f"
            | "1"
            | "0"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) {
        return true;
    }
    let plain = s.replace('_', "");
    let l = plain.to_ascii_lowercase();
    let unsigned = l.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return true;
    }
    // Numbers, sexagesimals and timestamps: the YAML 1.1 resolver's view
    // is the same as go-yaml's for these.
    !resolves_to_string(&plain) || !resolves_to_string(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_in_kyaml() {
        let v = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "nginx", "labels": {"app.kubernetes.io/name": "web", "yes": "no"}},
            "spec": {"containers": [{"name": "c", "args": ["a", "b"], "ports": []}]},
        });
        assert_eq!(
            to_kyaml(&v),
            r#"---
{
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    labels: {
      app.kubernetes.io/name: "web",
      "yes": "no",
    },
    name: "nginx",
  },
  spec: {
    containers: [{
      args: [
        "a",
        "b",
      ],
      name: "c",
      ports: [],
    }],
  },
}
"#
        );
    }

    #[test]
    fn multi_line_strings_fold() {
        let v = json!({"data": {"k": "a\n b\n"}});
        assert_eq!(
            to_kyaml(&v),
            "---\n{\n  data: {\n    k: \"\\\n       a\\n\\\n      \\ b\\n\\\n      \",\n  },\n}\n"
        );
    }

    #[test]
    fn keys_quoted_when_needed() {
        for (key, quoted) in [
            ("a", false),
            ("-a", true),
            ("a-", true),
            ("a.b", false),
            ("1", true),
            ("on", true),
            ("x y", true),
        ] {
            assert_eq!(needs_quotes(key), quoted, "{key}");
        }
    }
}
