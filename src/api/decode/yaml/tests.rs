use super::*;
use serde_json::json;

fn one(text: &str) -> Value {
    let mut docs = to_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(docs.len(), 1, "{text}");
    docs.remove(0)
}

#[test]
fn resolves_plain_scalars_the_yaml_1_1_way() {
    let cases = [
        ("yes", json!(true)),
        ("Y", json!(true)),
        ("on", json!(true)),
        ("Off", json!(false)),
        ("n", json!(false)),
        ("yEs", json!("yEs")),
        ("0777", json!(511)),
        ("0o17", json!(15)),
        ("0x1F", json!(31)),
        ("0b101", json!(5)),
        ("-0b101", json!(-5)),
        ("1_000", json!(1000)),
        ("08", json!(8)),
        ("1.0", json!(1)),
        ("1.5", json!(1.5)),
        (".5", json!(0.5)),
        ("1e3", json!(1000)),
        ("+12", json!(12)),
        ("-x", json!("-x")),
        ("~", json!(null)),
        ("2001-12-14", json!("2001-12-14")),
        ("1.2.3", json!("1.2.3")),
        ("18446744073709551615", json!(18446744073709551615u64)),
        ("100m", json!("100m")),
        ("-9223372036854775808", json!(i64::MIN)),
    ];
    for (text, want) in cases {
        assert_eq!(one(&format!("v: {text}"))["v"], want, "{text}");
    }
}

/// The decoder once had a resolver of its own, which disagreed with
/// go-yaml here: `1e400` is out of ParseFloat's range, so a string (it
/// decoded to null); ParseUint takes no sign, so `+18446744073709551615`
/// is a float (it decoded to an integer).
#[test]
fn out_of_range_numbers_resolve_as_go_yaml_does() {
    assert_eq!(one("v: 1e400")["v"], json!("1e400"));
    assert_eq!(one("v: .1_0")["v"], json!(0.1));
    assert_eq!(
        one("v: +18446744073709551615")["v"],
        json!(18446744073709551615.0)
    );
}

#[test]
fn quoted_and_tagged_scalars_stay_strings() {
    assert_eq!(one("v: 'yes'")["v"], json!("yes"));
    assert_eq!(one("v: \"0777\"")["v"], json!("0777"));
    assert_eq!(one("v: !!str 0777")["v"], json!("0777"));
    assert_eq!(one("v: |\n  yes\n")["v"], json!("yes\n"));
    assert_eq!(one("v: !!int 10")["v"], json!(10));
}

/// The "billion laughs": nine levels of nine aliases would be 9^9
/// copies of a string. Refused at the first alias past the budget,
/// before the memory is taken.
#[test]
fn an_alias_bomb_is_refused() {
    let mut text = String::from(
        "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let err = to_json(&text).unwrap_err();
    assert_eq!(err.message, "document contains excessive aliasing", "{err}");
    // Aliases within the budget still expand.
    let small = one("a: &a [1, 2]\nb: [*a, *a]");
    assert_eq!(small["b"], json!([[1, 2], [1, 2]]));
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    // The parser stops at 256 levels, flow or block, before the
    // recursive reader (one frame a level) could overflow the stack.
    let too_deep = |text: &str| {
        let err = to_json(text).unwrap_err();
        assert_eq!(err.message, "recursion limit exceeded", "{err}");
    };
    too_deep(&deep);
    too_deep(&("a:\n".to_string() + &" b: {".repeat(2000)));
    let block: String = (0..3000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    too_deep(&block);
    let dashes: String = (0..3000)
        .map(|i| format!("{}-\n", " ".repeat(i * 2)))
        .collect();
    too_deep(&dashes);
    let ok = format!("{}1{}", "[".repeat(50), "]".repeat(50));
    assert!(to_json(&ok).is_ok());
}

#[test]
fn keys_become_strings() {
    assert_eq!(
        one("on: 1\n5: x\n~: z"),
        json!({"true": 1, "5": "x", "null": "z"})
    );
}

#[test]
fn reads_flow_style_and_json() {
    let v = one(
        "{apiVersion: v1, kind: Pod, metadata: {name: x}, spec: {containers: [{name: a, image: busybox}]}}",
    );
    assert_eq!(v["spec"]["containers"][0]["image"], json!("busybox"));
    let v = one(r#"{"a": [1, 2.5, "s", true, null], "b": {"c": "\u00e9\/"}}"#);
    assert_eq!(v, json!({"a": [1, 2.5, "s", true, null], "b": {"c": "é/"}}));
}

#[test]
fn expands_anchors_aliases_and_merge_keys() {
    let v = one("base: &b {a: 1, b: 2}\nother:\n  <<: *b\n  b: 3\nlist: [*b]\n");
    assert_eq!(v["other"], json!({"a": 1, "b": 3}));
    assert_eq!(v["list"], json!([{"a": 1, "b": 2}]));
    let v = one("x: &x {a: 1}\ny: &y {a: 2, c: 3}\nz:\n  <<: [*x, *y]\n");
    assert_eq!(v["z"], json!({"a": 1, "c": 3}));
}

#[test]
fn splits_documents() {
    let docs = to_json("a: 1\n---\n---\nb: 2\n...\n").unwrap();
    assert_eq!(docs, vec![json!({"a": 1}), Value::Null, json!({"b": 2})]);
    assert_eq!(to_json("").unwrap(), Vec::<Value>::new());
    assert_eq!(to_json("# only a comment\n").unwrap(), Vec::<Value>::new());
}

#[test]
fn refuses_duplicate_keys_with_their_position() {
    let err = to_json("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "yaml: line 4, column 3: key \"c\" already set in map"
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let err = to_json("a:\n  b: c\n   d: e\n").unwrap_err();
    assert_eq!((err.line, err.column), (3, 5), "{err}");
    let err = to_json("a: {b: c\nd: e\n").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
    let err = to_json("metadata:\n  name: x\n\tfoo: bar\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "yaml: line 3, column 1: found a tab character that violates indentation"
    );
    let err = to_json("a: *nope\n").unwrap_err();
    assert_eq!(err.line, 1, "{err}");
}

#[test]
fn accepts_go_yamls_escaped_single_quote() {
    let v = one("a: [x, \"say \\'hi\\' \\\"now\\\"\"]\nb: \"\\'\"\n");
    assert_eq!(v, json!({"a": ["x", "say 'hi' \"now\""], "b": "'"}));
    assert!(to_json("a: \"\\q\"\n").is_err());
}

#[test]
fn refuses_what_json_cannot_hold() {
    assert!(to_json("v: .inf\n").is_err());
    assert!(to_json("? [a]\n: b\n").is_err());
}
