//! kubectl's JSONPath dialect (client-go `util/jsonpath`), as `-o
//! jsonpath=…` and `wait --for=jsonpath=…` use it.
//!
//! Text outside braces is printed as is; inside braces: `.field` (dots in a
//! name escaped as `\.`), `[n]`, `[-1]`, `[a:b:c]`, `[*]`, `.*`, `..field`
//! (recursive descent), `['key']`, unions `[0,2]`, filters
//! `[?(@.name=="x")]` (`==`, `!=`, `<`, `>`, `<=`, `>=`, or existence),
//! `{range …}…{end}`, string literals `{"\n"}`, and `$`/`@`. Results of one
//! expression are joined by a space; strings print raw, maps and lists as
//! compact JSON. Missing keys print nothing (kubectl's default
//! `--allow-missing-template-keys=true`); an index out of range is an
//! error. Maps are walked in sorted key order where Go's is random.

use serde_json::Value;

use super::json::to_compact_json;
use super::yaml::go_float;
use crate::api::field::go_quote;

/// A parse or execution error, worded as client-go words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonPathError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    List(Vec<Node>),
    Field(String),
    Wildcard,
    Recursive,
    Array([Param; 3]),
    Union(Vec<Vec<Node>>),
    Filter {
        left: Vec<Node>,
        right: Vec<Node>,
        op: String,
    },
    Int(i64),
    Float(f64),
    Bool(bool),
    Range,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Param {
    value: i64,
    known: bool,
    derived: bool,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    nodes: Vec<Node>,
}

impl JsonPath {
    pub fn parse(template: &str) -> Result<JsonPath, JsonPathError> {
        let mut nodes = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find('{') {
                None => {
                    nodes.push(Node::Text(rest.to_string()));
                    break;
                }
                Some(i) => {
                    if i > 0 {
                        nodes.push(Node::Text(rest[..i].to_string()));
                    }
                    let mut p = Parser {
                        input: &rest[i + 1..],
                        pos: 0,
                    };
                    let mut list = Vec::new();
                    p.inside_action(&mut list, true)?;
                    nodes.push(Node::List(list));
                    rest = &rest[i + 1 + p.pos..];
                }
            }
        }
        Ok(JsonPath { nodes })
    }

    /// The values the template's first expression finds (custom-columns).
    pub fn values<'a>(&self, data: &'a Value) -> Result<Vec<&'a Value>, JsonPathError> {
        for node in &self.nodes {
            if let Node::List(list) = node {
                return eval_list(&[data], list);
            }
        }
        Ok(Vec::new())
    }

    /// Runs the template over `data` and prints the results.
    pub fn execute(&self, data: &Value) -> Result<String, JsonPathError> {
        let mut out = String::new();
        let mut i = 0;
        execute_nodes(&self.nodes, &mut i, data, &mut out, false)?;
        Ok(out)
    }
}

/// Runs `nodes` from `*i` until the end or a matching `{end}`; a range
/// runs its body once per result (with `dry` when it has none, to find
/// its end).
fn execute_nodes(
    nodes: &[Node],
    i: &mut usize,
    data: &Value,
    out: &mut String,
    dry: bool,
) -> Result<bool, JsonPathError> {
    while *i < nodes.len() {
        let node = &nodes[*i];
        *i += 1;
        if let Node::List(list) = node {
            if list.first() == Some(&Node::End) {
                return Ok(true);
            }
            if list.first() == Some(&Node::Range) {
                let results = if dry {
                    Vec::new()
                } else {
                    eval_list(&[data], &list[1..])?
                };
                let body_start = *i;
                let mut end = body_start;
                if results.is_empty() {
                    let mut j = body_start;
                    execute_nodes(nodes, &mut j, data, &mut String::new(), true)?;
                    end = j;
                }
                for item in &results {
                    let mut j = body_start;
                    execute_nodes(nodes, &mut j, item, out, false)?;
                    end = j;
                }
                *i = end;
                continue;
            }
        }
        if dry {
            continue;
        }
        let results: Vec<&Value> = match node {
            Node::Text(t) => {
                out.push_str(t);
                continue;
            }
            Node::List(list) => eval_list(&[data], list)?,
            _ => Vec::new(),
        };
        print_results(out, &results, list_texts(node));
    }
    Ok(false)
}

/// Text literals inside an action (`{"\n"}`) print raw, like strings.
fn list_texts(node: &Node) -> Option<&str> {
    match node {
        Node::List(list) => match list.as_slice() {
            [Node::Text(t)] => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn print_results(out: &mut String, results: &[&Value], text: Option<&str>) {
    if let Some(t) = text {
        out.push_str(t);
        return;
    }
    for (i, v) in results.iter().enumerate() {
        out.push_str(&to_text(v));
        if i + 1 < results.len() {
            out.push(' ');
        }
    }
}

/// How one result prints: strings raw, maps and lists as JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        other => to_compact_json(other),
    }
}

fn eval_list<'a>(input: &[&'a Value], nodes: &[Node]) -> Result<Vec<&'a Value>, JsonPathError> {
    let mut current: Vec<&'a Value> = input.to_vec();
    for node in nodes {
        current = eval(current, node)?;
    }
    Ok(current)
}

fn eval<'a>(input: Vec<&'a Value>, node: &Node) -> Result<Vec<&'a Value>, JsonPathError> {
    match node {
        Node::Field(name) => Ok(eval_field(&input, name)),
        Node::Wildcard => Ok(input.iter().flat_map(|v| children(v)).collect()),
        Node::Recursive => {
            let mut out = Vec::new();
            for v in input {
                descend(v, &mut out);
            }
            Ok(out)
        }
        Node::Array(params) => eval_array(&input, *params),
        Node::Union(lists) => {
            let mut out = Vec::new();
            for list in lists {
                out.extend(eval_list(&input, list)?);
            }
            Ok(out)
        }
        Node::Filter { left, right, op } => eval_filter(&input, left, right, op),
        Node::List(list) => eval_list(&input, list),
        // Literals in filters are compared by `literal`, not walked.
        Node::Text(_) | Node::Int(_) | Node::Float(_) | Node::Bool(_) => Ok(input),
        Node::Range | Node::End => Ok(input),
    }
}

fn eval_field<'a>(input: &[&'a Value], name: &str) -> Vec<&'a Value> {
    if name.is_empty() {
        return input.to_vec();
    }
    input
        .iter()
        .filter_map(|v| match v {
            Value::Object(m) => m.get(name),
            _ => None,
        })
        .collect()
}

fn children(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(m) => m.values().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

/// client-go's evalRecursive: every map or list, parents first.
fn descend<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    let kids = children(v);
    if !kids.is_empty() {
        out.push(v);
        for k in kids {
            descend(k, out);
        }
    }
}

fn eval_array<'a>(input: &[&'a Value], node: [Param; 3]) -> Result<Vec<&'a Value>, JsonPathError> {
    let mut out = Vec::new();
    for v in input {
        let items = match v {
            Value::Array(a) => a,
            Value::Null => continue,
            other => {
                return Err(JsonPathError(format!(
                    "{} is not array or slice",
                    go_type(other)
                )));
            }
        };
        let len = items.len() as i64;
        let mut p = node;
        if !p[0].known {
            p[0].value = 0;
        }
        if p[0].value < 0 {
            p[0].value += len;
        }
        if !p[1].known {
            p[1].value = len;
        }
        if p[1].value < 0 || (p[1].value == 0 && p[1].derived) {
            p[1].value += len;
        }
        if p[1].value == p[0].value {
            return Ok(out);
        }
        if p[0].value >= len || p[0].value < 0 {
            return Err(out_of_bounds(p[0].value, len));
        }
        if p[1].value > len || p[1].value < 0 {
            return Err(out_of_bounds(p[1].value - 1, len));
        }
        if p[0].value > p[1].value {
            return Err(JsonPathError(format!(
                "starting index {} is greater than ending index {}",
                p[0].value, p[1].value
            )));
        }
        let step = if p[2].known {
            if p[2].value <= 0 {
                return Err(JsonPathError("step must be > 0".into()));
            }
            p[2].value as usize
        } else {
            1
        };
        out.extend(
            items[p[0].value as usize..p[1].value as usize]
                .iter()
                .step_by(step),
        );
    }
    Ok(out)
}

fn out_of_bounds(index: i64, len: i64) -> JsonPathError {
    JsonPathError(format!(
        "array index out of bounds: index {index}, length {len}"
    ))
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "map[string]interface {}",
        Value::Array(_) => "[]interface {}",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::Null => "<nil>",
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Str(String),
    Num(f64),
    Bool(bool),
}

fn operand(nodes: &[Node], item: &Value) -> Result<Option<Operand>, JsonPathError> {
    if let [Node::Text(t)] = nodes {
        return Ok(Some(Operand::Str(t.clone())));
    }
    if let [Node::Int(n)] = nodes {
        return Ok(Some(Operand::Num(*n as f64)));
    }
    if let [Node::Float(f)] = nodes {
        return Ok(Some(Operand::Num(*f)));
    }
    if let [Node::Bool(b)] = nodes {
        return Ok(Some(Operand::Bool(*b)));
    }
    let values = eval_list(&[item], nodes)?;
    match values.as_slice() {
        [] => Ok(None),
        [v] => Ok(Some(match v {
            Value::String(s) => Operand::Str(s.clone()),
            Value::Number(n) => Operand::Num(n.as_f64().unwrap_or(0.0)),
            Value::Bool(b) => Operand::Bool(*b),
            other => Operand::Str(to_compact_json(other)),
        })),
        _ => Err(JsonPathError(
            "can only compare one element at a time".into(),
        )),
    }
}

fn eval_filter<'a>(
    input: &[&'a Value],
    left: &[Node],
    right: &[Node],
    op: &str,
) -> Result<Vec<&'a Value>, JsonPathError> {
    let mut out = Vec::new();
    for v in input {
        let Value::Array(items) = v else {
            return Err(JsonPathError(format!(
                "{} is not array or slice and cannot be filtered",
                to_text(v)
            )));
        };
        for item in items {
            if op == "exists" {
                if !eval_list(&[item], left)?.is_empty() {
                    out.push(item);
                }
                continue;
            }
            let Some(l) = operand(left, item)? else {
                continue;
            };
            let Some(r) = operand(right, item)? else {
                continue;
            };
            let ordering = match (&l, &r) {
                (Operand::Str(a), Operand::Str(b)) => a.partial_cmp(b),
                (Operand::Num(a), Operand::Num(b)) => a.partial_cmp(b),
                (Operand::Bool(a), Operand::Bool(b)) if op == "==" || op == "!=" => {
                    a.partial_cmp(b)
                }
                _ => {
                    return Err(JsonPathError("incompatible types for comparison".into()));
                }
            };
            use std::cmp::Ordering::*;
            let pass = match (op, ordering) {
                ("==", Some(o)) => o == Equal,
                ("!=", Some(o)) => o != Equal,
                ("<", Some(o)) => o == Less,
                (">", Some(o)) => o == Greater,
                ("<=", Some(o)) => o != Greater,
                (">=", Some(o)) => o != Less,
                ("==" | "!=" | "<" | ">" | "<=" | ">=", None) => false,
                _ => {
                    return Err(JsonPathError(format!("unrecognized filter operator {op}")));
                }
            };
            if pass {
                out.push(item);
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

fn is_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Parses the inside of `{…}`; with `braced`, a `}` ends it (and is
    /// consumed), otherwise the end of input does (filter operands).
    fn inside_action(&mut self, cur: &mut Vec<Node>, braced: bool) -> Result<(), JsonPathError> {
        loop {
            let rest = self.rest();
            if braced && rest.starts_with('}') {
                self.pos += 1;
                return Ok(());
            }
            if rest.starts_with("[?(") {
                self.filter(cur)?;
                continue;
            }
            if rest.starts_with("..") {
                if cur.last() == Some(&Node::Recursive) {
                    return Err(JsonPathError("invalid multiple recursive descent".into()));
                }
                self.pos += 2;
                cur.push(Node::Recursive);
                if self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.field(cur);
                }
                continue;
            }
            let Some(c) = self.bump() else {
                if braced {
                    return Err(JsonPathError("unclosed action".into()));
                }
                return Ok(());
            };
            match c {
                '\n' | '\r' => return Err(JsonPathError("unclosed action".into())),
                ' ' | '@' | '$' => {}
                '[' => self.array(cur)?,
                '"' | '\'' => self.quote(cur, c)?,
                '.' => self.field(cur),
                '+' | '-' | '0'..='9' => {
                    self.pos -= c.len_utf8();
                    self.number(cur)?;
                }
                c if c.is_alphanumeric() || c == '_' => {
                    self.pos -= c.len_utf8();
                    self.identifier(cur)?;
                }
                other => {
                    return Err(JsonPathError(format!(
                        "unrecognized character in action: U+{:04X} '{other}'",
                        other as u32
                    )));
                }
            }
        }
    }

    fn field(&mut self, cur: &mut Vec<Node>) {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.bump();
                if let Some(escaped) = self.bump() {
                    name.push(escaped);
                }
                continue;
            }
            if is_terminator(c) {
                break;
            }
            name.push(c);
            self.bump();
        }
        cur.push(if name == "*" {
            Node::Wildcard
        } else {
            Node::Field(name)
        });
    }

    fn identifier(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_terminator(c) {
                break;
            }
            self.bump();
        }
        let word = &self.input[start..self.pos];
        cur.push(match word {
            "range" => Node::Range,
            "end" => Node::End,
            "true" => Node::Bool(true),
            "false" => Node::Bool(false),
            other => {
                return Err(JsonPathError(format!("unrecognized identifier {other}")));
            }
        });
        Ok(())
    }

    fn number(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_terminator(c) && c != '.' {
                break;
            }
            self.bump();
        }
        let text = &self.input[start..self.pos];
        if let Ok(n) = text.parse::<i64>() {
            cur.push(Node::Int(n));
        } else if let Ok(f) = text.parse::<f64>() {
            cur.push(Node::Float(f));
        } else {
            return Err(JsonPathError(format!("cannot parse number {text}")));
        }
        Ok(())
    }

    fn quote(&mut self, cur: &mut Vec<Node>, end: char) -> Result<(), JsonPathError> {
        let start = self.pos - 1;
        loop {
            match self.bump() {
                None | Some('\n') => {
                    return Err(JsonPathError("unterminated quoted string".into()));
                }
                Some('\\') => {
                    self.bump();
                }
                Some(c) if c == end => break,
                Some(_) => {}
            }
        }
        let raw = &self.input[start..self.pos];
        let text = unquote(raw)
            .ok_or_else(|| JsonPathError(format!("unquote string {raw} error invalid syntax")))?;
        cur.push(Node::Text(text));
        Ok(())
    }

    fn array(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        let start = self.pos;
        loop {
            match self.bump() {
                None | Some('\n') => return Err(JsonPathError("unterminated array".into())),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let mut text = &self.input[start..self.pos - 1];
        if text == "*" {
            text = ":";
        }
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() > 1 {
            let mut lists = Vec::new();
            for part in parts {
                let inner = format!("[{}]", part.trim_matches(' '));
                let mut p = Parser {
                    input: &inner,
                    pos: 0,
                };
                let mut list = Vec::new();
                p.inside_action(&mut list, false)?;
                lists.push(list);
            }
            cur.push(Node::Union(lists));
            return Ok(());
        }
        if text.len() >= 2
            && text.starts_with('\'')
            && text.ends_with('\'')
            && !text[1..text.len() - 1].contains('\'')
        {
            let inner = format!(".{}}}", &text[1..text.len() - 1]);
            let mut p = Parser {
                input: &inner,
                pos: 0,
            };
            p.inside_action(cur, true)?;
            return Ok(());
        }
        cur.push(Node::Array(slice_params(text)?));
        Ok(())
    }

    fn filter(&mut self, cur: &mut Vec<Node>) -> Result<(), JsonPathError> {
        self.pos += 3;
        let start = self.pos;
        let (mut begin, mut end) = (false, false);
        let mut pair = '"';
        loop {
            let Some(c) = self.bump() else {
                return Err(JsonPathError("unterminated filter".into()));
            };
            match c {
                '\n' => return Err(JsonPathError("unterminated filter".into())),
                '"' | '\'' => {
                    if !begin {
                        begin = true;
                        pair = c;
                        continue;
                    }
                    let before = self.input[..self.pos - 1].chars().next_back();
                    if before != Some('\\') && c == pair {
                        end = true;
                    }
                }
                ')' if begin == end => break,
                _ => {}
            }
        }
        if self.bump() != Some(']') {
            return Err(JsonPathError("unclosed array expect ]".into()));
        }
        let text = &self.input[start..self.pos - 2];
        let parse = |t: &str| -> Result<Vec<Node>, JsonPathError> {
            let mut p = Parser { input: t, pos: 0 };
            let mut list = Vec::new();
            p.inside_action(&mut list, false)?;
            Ok(list)
        };
        // `^([^!<>=]+)([!<>=]+)(.+?)$`
        let op_start = text.find(['!', '<', '>', '=']);
        let split = op_start.filter(|&i| i > 0).and_then(|i| {
            let op_len = text[i..]
                .find(|c: char| !matches!(c, '!' | '<' | '>' | '='))
                .unwrap_or(text.len() - i);
            let rest = &text[i + op_len..];
            (!rest.is_empty()).then(|| (&text[..i], &text[i..i + op_len], rest))
        });
        match split {
            None => cur.push(Node::Filter {
                left: parse(text)?,
                right: Vec::new(),
                op: "exists".into(),
            }),
            Some((l, op, r)) => cur.push(Node::Filter {
                left: parse(l)?,
                right: parse(r)?,
                op: op.to_string(),
            }),
        }
        Ok(())
    }
}

/// `^(-?[\d]*)(:-?[\d]*)?(:-?[\d]*)?$` into start, end and step.
fn slice_params(text: &str) -> Result<[Param; 3], JsonPathError> {
    let invalid = || JsonPathError(format!("invalid array index {text}"));
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return Err(invalid());
    }
    let valid = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        digits.chars().all(|c| c.is_ascii_digit())
    };
    if !parts.iter().all(|p| valid(p)) {
        return Err(invalid());
    }
    let mut params = [Param::default(); 3];
    for i in 0..3 {
        match parts.get(i) {
            Some(s) if !s.is_empty() => {
                params[i].known = true;
                params[i].value = s
                    .parse()
                    .map_err(|_| JsonPathError(format!("array index {s} is not a number")))?;
            }
            Some(_) if i > 0 => params[i].known = false,
            _ if i == 1 => {
                params[1] = Param {
                    value: params[0].value + 1,
                    known: true,
                    derived: true,
                };
            }
            _ => {}
        }
    }
    if parts[0].is_empty() && parts.len() == 1 {
        return Err(invalid());
    }
    Ok(params)
}

/// Go's `strconv.Unquote`, extended (as client-go does) to single-quoted
/// strings of any length.
fn unquote(raw: &str) -> Option<String> {
    let quote = raw.chars().next()?;
    let body = raw.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' => {
                let h: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
            }
            'u' => {
                let h: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            'U' => {
                let h: String = chars.by_ref().take(8).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            d @ '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{d}{rest}"), 8).ok()?;
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Go's `%#v` of a decoded JSON value, as kubectl's jsonpath error shows
/// "the object given to jsonpath engine".
pub fn go_syntax(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Array(items) => format!(
            "[]interface {{}}{{{}}}",
            items.iter().map(go_syntax).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "map[string]interface {{}}{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_syntax(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// kubectl's `-o jsonpath=TEMPLATE` over `data`, with its error wording.
/// kubectl's messages end in a newline of their own; these leave the
/// last one to the error funnel, which prints each error on its line.
pub fn render(template: &str, data: &Value) -> anyhow::Result<String> {
    let path = JsonPath::parse(template)
        .map_err(|e| anyhow::anyhow!("error parsing jsonpath {template}, {e}"))?;
    path.execute(data).map_err(|e| {
        anyhow::anyhow!(
            "error executing jsonpath {template:?}: Error executing template: {e}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t{template}\n\tobject given to jsonpath engine was:\n\t\t{}\n\n",
            go_syntax(data)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "nginx", "labels": {"app.kubernetes.io/name": "web", "x": "y"}},
            "spec": {"containers": [
                {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo hi"]},
                {"name": "d", "image": "nginx", "ports": [{"containerPort": 80}]},
            ]},
        })
    }

    fn run(t: &str) -> String {
        JsonPath::parse(t).unwrap().execute(&pod()).unwrap()
    }

    #[test]
    fn fields_and_indexes() {
        assert_eq!(run("{.metadata.name}"), "nginx");
        assert_eq!(run("{.spec.containers[*].name}"), "c d");
        assert_eq!(run("{.spec.containers[0].image}"), "busybox");
        assert_eq!(run("{.spec.containers[-1].name}"), "d");
        assert_eq!(run("{.spec.containers[0].command[0:2]}"), "sh -c");
        assert_eq!(run("{.spec.containers[0].command[::2]}"), "sh echo hi");
        assert_eq!(run("{.spec.containers[0,1].name}"), "c d");
        assert_eq!(run("{.metadata.labels.app\\.kubernetes\\.io/name}"), "web");
        assert_eq!(run("{$.kind}/{@.metadata.name}"), "Pod/nginx");
        assert_eq!(run("{.metadata['name']}"), "nginx");
    }

    #[test]
    fn maps_and_lists_print_as_json() {
        assert_eq!(
            run("{.metadata.labels}"),
            r#"{"app.kubernetes.io/name":"web","x":"y"}"#
        );
        assert_eq!(
            run("{.spec.containers[0].command}"),
            r#"["sh","-c","echo hi"]"#
        );
        assert_eq!(run("{.spec.containers[1].ports[0].containerPort}"), "80");
    }

    #[test]
    fn range_filters_literals_recursion() {
        assert_eq!(
            run("{range .spec.containers[*]}[{.name}:{.image}]{\"\\n\"}{end}"),
            "[c:busybox]\n[d:nginx]\n"
        );
        assert_eq!(run("{.spec.containers[?(@.name==\"d\")].image}"), "nginx");
        assert_eq!(run("{.spec.containers[?(@.name!='d')].image}"), "busybox");
        assert_eq!(run("{.spec.containers[?(@.ports)].name}"), "d");
        assert_eq!(
            run("{.spec.containers[?(@.ports[0].containerPort>=80)].name}"),
            "d"
        );
        assert_eq!(run("{..name}"), "nginx c d");
        assert_eq!(run("{.metadata.labels.*}"), "web y");
        assert_eq!(run("{range .spec.missing[*]}x{end}after"), "after");
    }

    #[test]
    fn missing_keys_print_nothing_and_bounds_are_errors() {
        assert_eq!(run("{.foo}"), "");
        assert_eq!(run("a{.spec.nothing.deeper}b"), "ab");
        let err = JsonPath::parse("{.spec.containers[5].name}")
            .unwrap()
            .execute(&pod())
            .unwrap_err();
        assert_eq!(err.0, "array index out of bounds: index 5, length 2");
        let err = JsonPath::parse("{.spec.containers[0].name").unwrap_err();
        assert_eq!(err.0, "unclosed action");
        let err = render("{.metadata.name", &pod()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error parsing jsonpath {.metadata.name, unclosed action"
        );
    }

    #[test]
    fn error_shows_the_object_as_go_does() {
        let err = render("{.a[3]}", &json!({"a": [1, "x\ty"], "b": {}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error executing jsonpath \"{.a[3]}\": Error executing template: array index out of bounds: index 3, length 2. Printing more information for debugging the template:\n\ttemplate was:\n\t\t{.a[3]}\n\tobject given to jsonpath engine was:\n\t\tmap[string]interface {}{\"a\":[]interface {}{1, \"x\\ty\"}, \"b\":map[string]interface {}{}}\n\n"
        );
    }
}
