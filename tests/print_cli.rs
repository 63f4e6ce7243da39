//! `get` and `describe` output through the binary: tables, machine
//! formats and describe for stored ConfigMaps and Secrets (pods need the
//! runtime; their rows are unit-tested in src/print), with ages, times and
//! uids masked.

mod common;

use common::Env;

const OBJECTS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    app: web
  annotations:
    note: \"yes\"
data:
  mode: fast
  app.conf: |
    a=1
    b=2
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2
";

fn env_with_objects() -> Env {
    let env = Env::new();
    let file = env.manifest("objects.yaml", OBJECTS);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    env
}

/// stdout, stderr and exit code of one run.
fn transcript(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    format!(
        "$ pod {}\n{}{}[exit {}]",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

macro_rules! snapshot {
    ($env:expr, $args:expr) => {
        insta::with_settings!({filters => vec![
            // AGE cells: a few seconds at most in a test.
            (r"\b\d{1,2}s\b", "[AGE]"),
            (r#""\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ""#, "[TIME]"),
            (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[UID]"),
        ]}, {
            insta::assert_snapshot!(transcript(&$env, $args));
        });
    };
}

#[test]
fn tables() {
    let env = env_with_objects();
    snapshot!(env, &["get", "cm,secrets"]);
    snapshot!(env, &["get", "configmaps", "--show-labels", "-A"]);
    snapshot!(env, &["get", "cm", "--no-headers"]);
    snapshot!(
        env,
        &[
            "get",
            "cm",
            "-o",
            "custom-columns=NAME:.metadata.name,MODE:.data.mode,MISSING:.spec"
        ]
    );
    snapshot!(env, &["get", "events"]);
}

#[test]
fn machine_formats() {
    let env = env_with_objects();
    snapshot!(env, &["get", "cm", "settings", "-o", "yaml"]);
    snapshot!(env, &["get", "cm", "-o", "json"]);
    snapshot!(env, &["get", "cm,secret", "-o", "name"]);
    snapshot!(
        env,
        &[
            "get",
            "cm",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}: {.data.mode}{\"\\n\"}{end}"
        ]
    );
    snapshot!(
        env,
        &["get", "cm", "settings", "-o", "jsonpath={.metadata.name"]
    );
    snapshot!(env, &["get", "cm", "settings", "-o", "kyaml"]);
}

#[test]
fn describe() {
    let env = env_with_objects();
    snapshot!(env, &["describe", "cm", "settings"]);
    snapshot!(env, &["describe", "secret", "creds"]);
}
