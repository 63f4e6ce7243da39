//! `-o custom-columns=NAME:.metadata.name,…` as kubectl prints it: the
//! headers as given, one row per object, `<none>` where the path finds
//! nothing, several values joined by commas, through the `get` tabwriter.

use anyhow::{Result, bail};
use serde_json::Value;

use super::jsonpath::JsonPath;
use super::tabwriter::{self, TabWriter};

/// One column: its header and the path of its values.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: String,
    path: JsonPath,
}

/// Parses `HEADER:PATH,…` (paths as `.a.b`, `a.b`, `{.a.b}` or `{a.b}`).
pub fn parse(spec: &str) -> Result<Vec<Column>> {
    if spec.is_empty() {
        bail!("custom-columns format specified but no custom columns given");
    }
    let mut columns = Vec::new();
    for part in spec.split(',') {
        let Some((header, path)) = part.split_once(':') else {
            bail!("unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>");
        };
        let expr = relaxed(path)?;
        let path = JsonPath::parse(&expr)
            .map_err(|e| anyhow::anyhow!("error parsing jsonpath {expr}, {e}"))?;
        columns.push(Column {
            header: header.to_string(),
            path,
        });
    }
    Ok(columns)
}

/// kubectl's `RelaxedJSONPathExpression`.
fn relaxed(path: &str) -> Result<String> {
    if path.is_empty() {
        return Ok(String::new());
    }
    let inner = match path.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        Some(inner) => inner,
        None => path,
    };
    let inner = inner.strip_prefix('.').unwrap_or(inner);
    if inner.is_empty() || inner.contains(['{', '}']) {
        bail!(
            "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{{name1.name2}}' or '{{.name1.name2}}'"
        );
    }
    Ok(format!("{{.{inner}}}"))
}

/// The table for `objects` (each the object's JSON).
pub fn render(columns: &[Column], objects: &[Value], no_headers: bool) -> Result<String> {
    let mut w = TabWriter::new(tabwriter::GET);
    if !no_headers {
        let headers: Vec<&str> = columns.iter().map(|c| c.header.as_str()).collect();
        w.write(&headers.join("\t"));
        w.write("\n");
    }
    for object in objects {
        let mut cells = Vec::new();
        for column in columns {
            let values = column.path.values(object)?;
            cells.push(if values.is_empty() {
                "<none>".to_string()
            } else {
                values
                    .iter()
                    .map(|v| go_sprint(v))
                    .collect::<Vec<_>>()
                    .join(",")
            });
        }
        w.write(&cells.join("\t"));
        w.write("\n");
    }
    Ok(w.flush())
}

/// Go's `fmt.Sprint` of a decoded JSON value (`map[a:b]`, `[x y]`).
pub fn go_sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => super::yaml::go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_sprint).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", go_sprint(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_with_none_and_lists() {
        let columns = parse("NAME:.metadata.name,IMAGES:spec.containers[*].image,NODE:{.spec.nodeName},L:.metadata.labels").unwrap();
        let objects = [
            json!({"metadata": {"name": "nginx", "labels": {"a": "b"}},
                   "spec": {"containers": [{"image": "nginx"}, {"image": "busybox"}]}}),
            json!({"metadata": {"name": "x"}, "spec": {"containers": []}}),
        ];
        assert_eq!(
            render(&columns, &objects, false).unwrap(),
            "NAME    IMAGES          NODE     L\n\
             nginx   nginx,busybox   <none>   map[a:b]\n\
             x       <none>          <none>   <none>\n"
        );
        assert_eq!(render(&columns[..1], &objects, true).unwrap(), "nginx\nx\n");
    }

    #[test]
    fn bad_specs() {
        assert_eq!(
            parse("NAME").unwrap_err().to_string(),
            "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"
        );
        assert!(parse("").is_err());
    }
}
