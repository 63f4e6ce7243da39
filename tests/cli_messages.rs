//! kubectl's words for the everyday outcomes and errors, snapshot-tested.

mod common;

use common::Env;

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    app: web
data:
  mode: demo
";

/// stdout, stderr and exit code of one run, as one snapshot-able text.
fn transcript(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let root = env.dir.path().display().to_string();
    format!(
        "$ pod {}\n{}{}[exit {}]",
        args.join(" ").replace(&root, "[TMP]"),
        String::from_utf8_lossy(&out.stdout).replace(&root, "[TMP]"),
        String::from_utf8_lossy(&out.stderr).replace(&root, "[TMP]"),
        out.status.code().unwrap_or(-1)
    )
}

#[test]
fn object_lifecycle_messages() {
    let env = Env::new();
    let file = env.manifest("cm.yaml", CONFIGMAP);
    let file = file.to_str().unwrap();
    let steps = [
        vec!["create", "-f", file],
        vec!["create", "-f", file],
        vec!["apply", "-f", file],
        vec!["label", "cm", "settings", "app=db"],
        vec!["label", "cm", "settings", "app=db", "--overwrite"],
        vec!["label", "cm/settings", "app-"],
        vec!["annotate", "configmap", "settings", "note=hi"],
        vec!["get", "cm", "-o", "name"],
        vec!["get", "pod", "missing"],
        vec!["get", "deployments"],
        vec!["delete", "configmap", "settings"],
        vec!["delete", "configmap", "settings"],
        vec!["delete", "configmap", "settings", "--ignore-not-found"],
        vec!["get", "configmaps"],
    ];
    let text: Vec<String> = steps.iter().map(|s| transcript(&env, s)).collect();
    insta::assert_snapshot!(text.join("\n\n"));
}
