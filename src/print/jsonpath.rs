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

mod eval;
mod parser;

use eval::{Run, eval_list};
use parser::Parser;

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
        self.execute_counting(data).0
    }

    /// [`JsonPath::execute`], with the work it took: nodes stepped
    /// through and remembered range bodies reused (what the fuzz
    /// regressions bound).
    pub fn execute_counting(&self, data: &Value) -> (Result<String, JsonPathError>, u64) {
        let mut out = String::new();
        let mut run = Run::new(&self.nodes);
        let result = run.template(data, &mut out).map(|()| out);
        (result, run.steps)
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

    /// Bodies that print nothing for some values are remembered and
    /// skipped; the output is kubectl's (`kubectl label --local -f`).
    #[test]
    fn nested_ranges_over_recursive_descents() {
        assert_eq!(
            run(
                "{range ..}{range .ports[*]}[{.containerPort}]{end}{end}|{range .spec.containers[*]}{range ..}{.containerPort}{end};{end}"
            ),
            "[80]|;80;"
        );
        assert_eq!(
            run("{range ..}{range ..}{range .ports[*]}{.containerPort}{end}{end}{end}"),
            "80808080"
        );
        assert_eq!(
            run(
                "{range .spec.containers[*]}{range ..}{range ..}{.containerPort}{end}{end}/{.name}{end}"
            ),
            "/c808080/d"
        );
        let deep = format!("{}{}", "{range ..}".repeat(40), "{end}".repeat(40));
        let (out, steps) = JsonPath::parse(&deep).unwrap().execute_counting(&pod());
        assert_eq!(out.unwrap(), "");
        assert!(steps < 10_000, "{steps}");
    }

    /// Strings are among the values `..` finds, as client-go's walk
    /// finds them; an `{end}` outside a range is an error. Expected
    /// output from `kubectl label --local -f pod.json k=v` (whose maps
    /// are walked in random order: the same values, sorted here).
    #[test]
    fn recursive_descent_finds_strings_and_end_needs_a_range() {
        let mut labelled = pod();
        labelled["metadata"]["labels"]["k"] = json!("v");
        let run = |t: &str| JsonPath::parse(t).unwrap().execute(&labelled);
        assert_eq!(run("{range ..}x{end}").unwrap(), "x".repeat(23));
        assert_eq!(
            run("{range ..}{range ..}x{end}{end}").unwrap(),
            "x".repeat(92)
        );
        assert_eq!(
            run("{.metadata..}").unwrap(),
            r#"{"labels":{"app.kubernetes.io/name":"web","k":"v","x":"y"},"name":"nginx"} {"app.kubernetes.io/name":"web","k":"v","x":"y"} web v y nginx"#
        );
        assert_eq!(
            run("{range .spec.containers[*]}{range ..}[{@}]{end}{end}").unwrap(),
            r#"[{"command":["sh","-c","echo hi"],"image":"busybox","name":"c"}][["sh","-c","echo hi"]][sh][-c][echo hi][busybox][c][{"image":"nginx","name":"d","ports":[{"containerPort":80}]}][nginx][d][[{"containerPort":80}]][{"containerPort":80}]"#
        );
        for template in [
            "{.metadata.name}{end}x",
            "{range .spec.containers[*]}{.name}{end}{end}x",
        ] {
            let err = run(template).unwrap_err();
            assert_eq!(err.0, "not in range, nothing to end", "{template}");
        }
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
