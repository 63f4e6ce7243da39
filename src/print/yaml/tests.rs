use super::*;
use serde_json::json;

#[test]
fn layout_of_a_pod() {
    let v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx", "labels": {"x": "y"}, "creationTimestamp": "2024-01-01T10:00:00Z"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo hi"],
                                 "ports": [{"containerPort": 80}], "resources": {}}],
                 "volumes": []},
    });
    assert_eq!(
        to_yaml(&v),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: \"2024-01-01T10:00:00Z\"\n  labels:\n    x: \"y\"\n  name: nginx\nspec:\n  containers:\n  - command:\n    - sh\n    - -c\n    - echo hi\n    image: busybox\n    name: c\n    ports:\n    - containerPort: 80\n    resources: {}\n  volumes: []\n"
    );
}

/// Each case was printed by kubectl 1.32 (`kubectl label --local -f
/// FILE x=y -o yaml`) for an annotation with this value.
#[test]
fn scalar_quoting_matches_kubectl() {
    let cases = [
        ("yes", "\"yes\""),
        ("{x}", "'{x}'"),
        ("[x]", "'[x]'"),
        ("a,b", "a,b"),
        ("1_000", "\"1_000\""),
        ("12:30", "\"12:30\""),
        (".5", "\".5\""),
        ("+1", "\"+1\""),
        ("y", "\"y\""),
        ("n", "\"n\""),
        ("NO", "\"NO\""),
        ("off", "\"off\""),
        ("é", "é"),
        ("tab\there", "\"tab\\there\""),
        ("ends with colon:", "'ends with colon:'"),
        ("'quoted'", "'''quoted'''"),
        ("\"dq\"", "'\"dq\"'"),
        ("a\"b", "a\"b"),
        ("2024-01-01", "\"2024-01-01\""),
        ("=", "="),
        ("<<", "<<"),
        ("-", "'-'"),
        ("?", "'?'"),
        ("? q", "'? q'"),
        ("|", "'|'"),
        (">x", "'>x'"),
        ("&anchor", "'&anchor'"),
        ("0777", "\"0777\""),
        (".inf", "\".inf\""),
        ("-.inf", "\"-.inf\""),
        (".nan", "\".nan\""),
        ("0o17", "\"0o17\""),
        ("0b101", "\"0b101\""),
        ("1:20:30", "\"1:20:30\""),
        ("trailing spaces  \nline", "\"trailing spaces  \\nline\""),
        ("", "\"\""),
        ("key: value", "'key: value'"),
        ("- dash", "'- dash'"),
        ("123", "\"123\""),
        ("1.5", "\"1.5\""),
        ("null", "\"null\""),
        ("~", "\"~\""),
        ("@at", "'@at'"),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("true", "\"true\""),
        ("on", "\"on\""),
        ("*star", "'*star'"),
        ("#hash", "'#hash'"),
        ("a#b", "a#b"),
        ("a #b", "'a #b'"),
        ("0x1F", "\"0x1F\""),
        ("1e3", "\"1e3\""),
        ("!bang", "'!bang'"),
        ("%pct", "'%pct'"),
        ("😀 x", "\"\\U0001F600 x\""),
    ];
    for (value, want) in cases {
        let got = to_yaml(&json!({ "a": value }));
        assert_eq!(got, format!("a: {want}\n"), "value {value:?}");
    }
}

/// The printer once had a resolver of its own, which disagreed with
/// go-yaml (and so with kubectl) here: `.1_0` reads as a float (Go's
/// ParseFloat takes underscores between digits), `1e400` as a string
/// (out of ParseFloat's range).
#[test]
fn quoting_follows_the_one_resolver() {
    assert_eq!(to_yaml(&json!({"a": ".1_0"})), "a: \".1_0\"\n");
    assert_eq!(to_yaml(&json!({"a": "1e400"})), "a: 1e400\n");
}

#[test]
fn literal_blocks_match_kubectl() {
    let cases = [
        ("multi\nline\n", "a: |\n  multi\n  line\n"),
        ("multi\nline", "a: |-\n  multi\n  line\n"),
        (
            "  multi\nline with lead",
            "a: |2-\n    multi\n  line with lead\n",
        ),
        ("x\n\n", "a: |+\n  x\n\n"),
        ("\n", "a: |2+\n\n"),
    ];
    for (value, want) in cases {
        assert_eq!(to_yaml(&json!({ "a": value })), want, "value {value:?}");
    }
    // Nested: content two columns in from the key; the next key on
    // its own line.
    assert_eq!(
        to_yaml(&json!({"m": {"a": "x\ny", "b": 1}})),
        "m:\n  a: |-\n    x\n    y\n  b: 1\n"
    );
}

#[test]
fn long_strings_fold_like_kubectl() {
    let words = ["word"; 24].join(" ");
    let v = json!({"metadata": {"annotations": {"long1": words}}});
    assert_eq!(
        to_yaml(&v),
        "metadata:\n  annotations:\n    long1: word word word word word word word word word word word word word word word\n      word word word word word word word word word\n"
    );
    let v = json!({"metadata": {"annotations": {"long2": format!("- {words}")}}});
    assert_eq!(
        to_yaml(&v),
        "metadata:\n  annotations:\n    long2: '- word word word word word word word word word word word word word word\n      word word word word word word word word word word'\n"
    );
    let v = json!({"metadata": {"annotations": {"long4": format!("tab\t {words}")}}});
    assert_eq!(
        to_yaml(&v),
        "metadata:\n  annotations:\n    long4: \"tab\\t word word word word word word word word word word word word word\n      word word word word word word word word word word word\"\n"
    );
}

#[test]
fn key_order_matches_go_yaml() {
    let mut keys = vec![
        "a10", "a9", "a09", "a009", "A", "_x", "1a", "-x", "b", "false", "f",
    ];
    keys.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        keys,
        [
            "-x", "_x", "1a", "A", "a9", "a09", "a009", "a10", "b", "f", "false"
        ]
    );
}

#[test]
fn nested_sequences_and_empty_values() {
    let v = json!({"a": [[1, 2], {"k": null}, [], {}], "b": {}});
    assert_eq!(
        to_yaml(&v),
        "a:\n- - 1\n  - 2\n- k: null\n- []\n- {}\nb: {}\n"
    );
}

#[test]
fn floats_as_go_formats_them() {
    assert_eq!(go_float(1.5), "1.5");
    assert_eq!(go_float(1000000.0), "1e+06");
    assert_eq!(go_float(0.5), "0.5");
    assert_eq!(go_float(100000.0), "100000");
}
