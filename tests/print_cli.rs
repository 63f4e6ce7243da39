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
            // AGE cells: seconds, one digit or two on a loaded machine. A
            // one-digit age padded in its column loses one space, so that
            // the column reads the same whichever it was.
            (r"\b\ds  ", "[AGE] "),
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

#[test]
fn watch_prints_new_and_changed_rows() {
    use std::time::{Duration, Instant};

    let env = env_with_objects();
    let mut child = env
        .pod()
        .args(["get", "cm", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting pod get -w");
    let rx = common::lines(child.stdout.take().unwrap());
    // Lines as they come, for up to a minute (a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<String> = Vec::new();
    let mut read_until = |count: usize| {
        while seen.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("pod get -w printed only {seen:#?}"),
            }
        }
        seen.clone()
    };
    // The first listing printed, then an object added and one changed.
    read_until(2);
    let other = env.manifest(
        "other.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a-much-longer-name\ndata: {}\n",
    );
    env.ok(&["create", "-f", other.to_str().unwrap()]);
    env.ok(&["delete", "cm", "settings"]);
    let lines = read_until(4);
    // Nothing more comes (a line printed twice, say) in a while.
    let extra = rx.recv_timeout(Duration::from_millis(500));
    child.kill().expect("stopping pod get -w");
    child.wait().unwrap();
    assert!(extra.is_err(), "more: {extra:?} after {lines:#?}");
    let text = lines.join("\n");
    // Headers once; the new object and the deleted one follow, aligned
    // with the first table's columns (kubectl's remembered widths).
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("NAME       DATA   AGE"), "{text}");
    assert!(lines[1].starts_with("settings   2      "), "{text}");
    // A wider name widens the column from then on, as kubectl's does.
    assert!(
        lines[2].starts_with("a-much-longer-name   0      "),
        "{text}"
    );
    assert!(
        lines[3].starts_with("settings             2      "),
        "{text}"
    );
}
