//! The evaluator (client-go's `jsonpath.go`): runs parsed nodes over a
//! JSON value and prints the results.

use std::collections::HashMap;

use serde_json::Value;

use super::{JsonPathError, Node, Param, to_text};
use crate::print::json::to_compact_json;

/// One run of a template over one value. A range runs its body once per
/// result, so nested ranges multiply: `{range ..}` nested d deep walks
/// every chain of d nested values, a number that grows exponentially
/// with d (as client-go's own walk does). A body's run depends only on
/// where it starts, the value it runs on and whether it is dry, so a run
/// that printed nothing is remembered by those three and not walked
/// again: the walk is then bounded by the template's nodes times the
/// values times the results of a range, plus what it prints.
pub(super) struct Run<'a> {
    nodes: &'a [Node],
    quiet: HashMap<(usize, *const Value, bool), Quiet>,
    /// Nodes stepped through and remembered runs reused: the work done.
    pub(super) steps: u64,
}

/// Where a run that printed nothing stopped, and whether at an `{end}`.
#[derive(Clone, Copy)]
struct Quiet {
    end: usize,
    at_end: bool,
}

impl<'a> Run<'a> {
    pub(super) fn new(nodes: &'a [Node]) -> Self {
        Run {
            nodes,
            quiet: HashMap::new(),
            steps: 0,
        }
    }

    /// Runs the nodes from `*i` until the end or a matching `{end}`
    /// (returning true); a range runs its body once per result (with
    /// `dry` when it has none, to find its end).
    pub(super) fn execute(
        &mut self,
        i: &mut usize,
        data: &Value,
        out: &mut String,
        dry: bool,
    ) -> Result<bool, JsonPathError> {
        let key = (*i, data as *const Value, dry);
        if let Some(quiet) = self.quiet.get(&key) {
            self.steps += 1;
            *i = quiet.end;
            return Ok(quiet.at_end);
        }
        let printed = out.len();
        let at_end = self.walk(i, data, out, dry, true)?;
        if out.len() == printed {
            self.quiet.insert(key, Quiet { end: *i, at_end });
        }
        Ok(at_end)
    }

    /// Runs the whole template over `data`.
    pub(super) fn template(&mut self, data: &Value, out: &mut String) -> Result<(), JsonPathError> {
        self.walk(&mut 0, data, out, false, false).map(|_| ())
    }

    fn walk(
        &mut self,
        i: &mut usize,
        data: &Value,
        out: &mut String,
        dry: bool,
        in_range: bool,
    ) -> Result<bool, JsonPathError> {
        let nodes = self.nodes;
        while *i < nodes.len() {
            let node = &nodes[*i];
            *i += 1;
            self.steps += 1;
            if let Node::List(list) = node {
                if list.first() == Some(&Node::End) {
                    if !in_range {
                        return Err(JsonPathError("not in range, nothing to end".into()));
                    }
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
                        self.execute(&mut j, data, &mut String::new(), true)?;
                        end = j;
                    }
                    for item in &results {
                        let mut j = body_start;
                        self.execute(&mut j, item, out, false)?;
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

pub(super) fn eval_list<'a>(
    input: &[&'a Value],
    nodes: &[Node],
) -> Result<Vec<&'a Value>, JsonPathError> {
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

/// client-go's evalRecursive: every map, list or string that has
/// something in it, parents first. (A string's bytes are Go's children of
/// it, and none of them has any.)
fn descend<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    if let Value::String(s) = v {
        if !s.is_empty() {
            out.push(v);
        }
        return;
    }
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
