//! `-o yaml` as kubectl prints it.
//!
//! kubectl marshals to JSON, then sigs.k8s.io/yaml re-encodes that with
//! its copy of go-yaml v2. This module reproduces that emitter's output
//! for JSON-shaped values:
//! - map keys in go-yaml's "natural" order (letters after other
//!   characters, runs of digits compared as numbers: `a9` < `a10`);
//! - two-space indentation, block sequences not indented under their key
//!   (`containers:` then `- name: x` at the same column);
//! - a string is double-quoted when YAML 1.1 would read it as something
//!   else (`"yes"`, `"0777"`, `"1e3"`, `""`, `"12:30"`, timestamps),
//!   single-quoted when a plain scalar would be misread (`'- x'`,
//!   `'key: value'`, `'@x'`), double-quoted with escapes when it holds
//!   characters YAML cannot print raw (tabs, emoji, NEL), and a `|`
//!   literal block (with `-`/`+` chomping and an indentation hint when it
//!   starts with a space) when it spans lines;
//! - plain and quoted scalars folded at the first space past column 80,
//!   continuing two columns in from their key, as go-yaml's emitter does.
//!
//! Not reproduced: go-yaml's `? key` form for keys longer than 128
//! characters (no Kubernetes key is that long).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::api::yaml11::resolves_to_string;

/// go-yaml's line width (`best_width`).
const WIDTH: usize = 80;

/// The value as YAML, ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut e = Emitter::default();
    match value {
        Value::Object(map) if !map.is_empty() => e.mapping(map, 0, false),
        Value::Array(items) if !items.is_empty() => e.sequence(items, 0, false),
        other => {
            e.scalar_value(other, 0);
        }
    }
    if e.column != 0 {
        e.out.push('\n');
    }
    e.out
}

#[derive(Default)]
struct Emitter {
    out: String,
    /// Characters written since the last line break.
    column: usize,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        for c in s.chars() {
            self.put_char(c);
        }
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        if c == '\n' {
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// Starts a fresh line indented to `indent` (unless already there).
    fn line(&mut self, indent: usize) {
        if self.column != 0 {
            self.put_char('\n');
        }
        while self.column < indent {
            self.put_char(' ');
        }
    }

    /// A block mapping whose keys sit at column `indent`; with `inline`
    /// the first key continues the current line (after `- `).
    fn mapping(&mut self, map: &Map<String, Value>, indent: usize, inline: bool) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by(|a, b| natural_cmp(a, b));
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 || !inline {
                self.line(indent);
            }
            self.string(key, indent, true);
            self.put_char(':');
            match &map[key] {
                Value::Object(m) if !m.is_empty() => self.mapping(m, indent + 2, false),
                // Not indented under its key, as go-yaml does.
                Value::Array(items) if !items.is_empty() => self.sequence(items, indent, false),
                other => {
                    self.put_char(' ');
                    self.scalar_value(other, indent + 2);
                }
            }
        }
    }

    /// A block sequence whose dashes sit at column `indent`; with
    /// `inline` the first dash continues the current line (`- - a`).
    fn sequence(&mut self, items: &[Value], indent: usize, inline: bool) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline {
                self.line(indent);
            }
            self.put("- ");
            match item {
                Value::Object(m) if !m.is_empty() => self.mapping(m, indent + 2, true),
                Value::Array(inner) if !inner.is_empty() => self.sequence(inner, indent + 2, true),
                other => self.scalar_value(other, indent + 2),
            }
        }
    }

    /// A scalar (or empty collection) in block context; `indent` is where
    /// folded continuation lines and literal block lines start.
    fn scalar_value(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Null => self.put("null"),
            Value::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Value::Number(n) => {
                let text = number(n);
                self.put(&text);
            }
            Value::String(s) => self.string(s, indent, false),
            Value::Array(_) => self.put("[]"),
            Value::Object(_) => self.put("{}"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, key: bool) {
        match choose_style(s, key) {
            Style::Plain => self.plain(s, indent, !key),
            Style::Single => self.single_quoted(s, indent, !key),
            Style::Double => self.double_quoted(s, indent, !key),
            Style::Literal => self.literal(s, indent),
        }
    }

    /// Folds at a space once past the line width, as go-yaml does.
    fn fold_here(&self, allow_breaks: bool, spaces: bool) -> bool {
        allow_breaks && !spaces && self.column > WIDTH
    }

    fn break_to(&mut self, indent: usize) {
        self.put_char('\n');
        while self.column < indent {
            self.put_char(' ');
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if self.fold_here(allow_breaks, spaces) && !next_space {
                    self.break_to(indent);
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put_char('\'');
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if self.fold_here(allow_breaks, spaces)
                    && i > 0
                    && i + 1 < chars.len()
                    && !next_space
                {
                    self.break_to(indent);
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else if is_break(c) {
                // go-yaml writes a line separator as is and starts the
                // next line indented.
                self.out.push(c);
                self.column = 0;
                breaks = true;
            } else {
                if breaks {
                    while self.column < indent {
                        self.put_char(' ');
                    }
                }
                if c == '\'' {
                    self.put_char('\'');
                }
                self.put_char(c);
                spaces = false;
                breaks = false;
            }
        }
        self.put_char('\'');
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put_char('"');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put_char('\\');
                let short = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match short {
                    Some(e) => self.put_char(e),
                    None => {
                        let v = c as u32;
                        let escaped = if v <= 0xff {
                            format!("x{v:02X}")
                        } else if v <= 0xffff {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        self.put(&escaped);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if self.fold_here(allow_breaks, spaces) && i != 0 && i + 1 != chars.len() {
                    self.break_to(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put_char('\\');
                    }
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
        }
        self.put_char('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.put_char('|');
        let first = s.chars().next();
        if first.is_some_and(|c| c == ' ' || is_break(c)) {
            self.put_char('2');
        }
        let mut rev = s.chars().rev();
        let last = rev.next();
        let before_last = rev.next();
        match (last, before_last) {
            (Some(l), _) if !is_break(l) => self.put_char('-'),
            (Some(_), None) => self.put_char('+'),
            (Some(_), Some(b)) if is_break(b) => self.put_char('+'),
            (None, _) => self.put_char('-'),
            _ => {}
        }
        self.put_char('\n');
        let mut at_break = true;
        for c in s.chars() {
            if is_break(c) {
                self.put_char('\n');
                at_break = true;
            } else {
                if at_break {
                    while self.column < indent {
                        self.put_char(' ');
                    }
                    at_break = false;
                }
                self.put_char(c);
            }
        }
    }
}

fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    go_float(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which go-yaml uses.
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..6).contains(&exp) {
        // Exponent form: shortest mantissa, exponent with a sign and at
        // least two digits.
        let e = format!("{f:e}");
        let (mantissa, power) = e.split_once('e').unwrap_or((&e, "0"));
        let power: i32 = power.parse().unwrap_or(0);
        let sign = if power < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", power.abs());
    }
    format!("{f}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// go-yaml's choice: the style `encoder.stringv` asks for, then what the
/// emitter's scalar analysis allows.
fn choose_style(s: &str, key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if is_base60_float(s) || !resolves_to_string(s) {
        Style::Double
    } else {
        Style::Plain
    };
    let a = analyze(s);
    let mut style = requested;
    if style == Style::Plain && (!a.block_plain_allowed || s.is_empty()) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || key) {
        style = Style::Double;
    }
    style
}

/// go-yaml's `is_printable` (it prints non-ASCII raw, but not characters
/// outside the Basic Multilingual Plane).
fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0a
        || (0x20..=0x7e).contains(&v)
        || (0xa0..=0xd7ff).contains(&v)
        || ((0xe000..=0xfffd).contains(&v) && v != 0xfeff)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(s: &str) -> Analysis {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
        (false, false, false, false);
    let (mut line_breaks, mut special) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| is_blank(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' if followed_by_whitespace => block_indicators = true,
                '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == chars.len() {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == chars.len() {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c);
    }
    let mut a = Analysis {
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.block_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// YAML 1.1 sexagesimal floats (`12:30`, `1:20:30`), which go-yaml
/// quotes: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let group = &b[start..i];
        let ok = match group {
            [d] => d.is_ascii_digit(),
            [t, _] => (b'0'..=b'5').contains(t),
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml v2's map key order (`keyList.Less`) for string keys.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests;
