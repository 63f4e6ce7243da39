//! PodPreset admission (settings.k8s.io/v1alpha1, the plugin of
//! Kubernetes 1.19) with the docs' examples in samples/podpreset:
//! injection into every container, several presets, a conflict that
//! leaves the pod as it was, the opt-out annotation, matching by the
//! selector alone, and pods that run with what the presets gave them.

mod common;

use std::path::PathBuf;

use common::Env;
use serde_json::Value;

fn sample(name: &str) -> String {
    common::samples()
        .join("podpreset")
        .join(name)
        .display()
        .to_string()
}

/// The pod `file` would become (`create --dry-run=server -o json`) and
/// what create said on stderr.
fn admitted(env: &Env, file: &str) -> (Value, String) {
    let out = env.run(&["create", "--dry-run=server", "-o", "json", "-f", file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pod = serde_json::from_slice(&out.stdout).expect("JSON output");
    (pod, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn preset_version(env: &Env, name: &str) -> String {
    env.ok(&[
        "get",
        "podpreset",
        name,
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ])
}

fn write(env: &Env, name: &str, text: &str) -> String {
    let path: PathBuf = env.manifest(name, text);
    path.display().to_string()
}

#[test]
fn presets_are_stored_listed_and_deleted_like_other_objects() {
    let env = Env::new();
    assert_eq!(
        env.ok(&["create", "-f", &sample("preset.yaml")]),
        "podpreset.settings.k8s.io/allow-database created\n"
    );
    let table = env.ok(&["get", "podpresets"]);
    assert!(
        table.starts_with("NAME             AGE\nallow-database   "),
        "{table}"
    );
    assert_eq!(
        env.ok(&["get", "podpreset", "-o", "name"]),
        "podpreset.settings.k8s.io/allow-database\n"
    );
    let version = preset_version(&env, "allow-database");
    assert!(version.parse::<u64>().is_ok(), "{version}");
    let json: Value =
        serde_json::from_str(&env.ok(&["get", "podpreset", "allow-database", "-o", "json"]))
            .unwrap();
    assert_eq!(json["apiVersion"], "settings.k8s.io/v1alpha1");
    assert_eq!(json["kind"], "PodPreset");
    assert_eq!(json["spec"]["env"][0]["name"], "DB_PORT");
    let described = env.ok(&["describe", "podpreset", "allow-database"]);
    assert!(
        described.starts_with("Name:         allow-database\nNamespace:    default\n"),
        "{described}"
    );
    assert!(
        described.contains("\nAPI Version:  settings.k8s.io/v1alpha1\n"),
        "{described}"
    );
    assert!(
        described.contains("    Mount Path:  /cache\n"),
        "{described}"
    );
    assert_eq!(
        env.fails(&["create", "-f", &sample("preset.yaml")]),
        format!(
            "Error from server (AlreadyExists): error when creating \"{}\": podpresets.settings.k8s.io \"allow-database\" already exists\n",
            sample("preset.yaml")
        )
    );
    // The old API had no short name.
    assert!(
        env.fails(&["get", "pp"])
            .contains("doesn't have a resource type \"pp\"")
    );
    let bad = write(
        &env,
        "empty.yaml",
        "apiVersion: settings.k8s.io/v1alpha1\nkind: PodPreset\nmetadata:\n  name: empty\nspec:\n  selector: {matchLabels: {a: b}}\n",
    );
    assert_eq!(
        env.fails(&["create", "-f", &bad]),
        "The PodPreset \"empty\" is invalid: spec.volumes.env.envFrom.volumeMounts: Required value: must specify at least one\n"
    );
    assert_eq!(
        env.ok(&["delete", "podpreset", "allow-database"]),
        "podpreset.settings.k8s.io \"allow-database\" deleted\n"
    );
    // Gone, it injects nothing any more.
    let (pod, _) = admitted(&env, &sample("pod.yaml"));
    assert!(pod["metadata"].get("annotations").is_none(), "{pod}");
    assert!(pod["spec"].get("volumes").is_none(), "{pod}");
}

#[test]
fn a_matching_preset_is_merged_into_every_container() {
    let env = Env::new();
    env.ok(&["create", "-f", &sample("preset.yaml")]);
    let version = preset_version(&env, "allow-database");
    let with_init = write(
        &env,
        "init.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: website
  labels: {role: frontend}
spec:
  initContainers:
  - {name: setup, image: busybox, env: [{name: OWN, value: x}]}
  containers:
  - {name: a, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}
  - {name: b, image: busybox, env: [{name: DB_PORT, value: '6379'}]}
  volumes:
  - {name: data, emptyDir: {}}
",
    );
    let (pod, stderr) = admitted(&env, &with_init);
    assert_eq!(stderr, "");
    assert_eq!(
        pod["metadata"]["annotations"]["podpreset.admission.kubernetes.io/podpreset-allow-database"],
        version.as_str()
    );
    let env_of = |c: &Value| -> Vec<String> {
        c["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}={}",
                            e["name"].as_str().unwrap(),
                            e["value"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mounts_of = |c: &Value| -> Vec<String> {
        c["volumeMounts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        format!(
                            "{}:{}",
                            m["name"].as_str().unwrap(),
                            m["mountPath"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let spec = &pod["spec"];
    assert_eq!(
        env_of(&spec["initContainers"][0]),
        ["OWN=x", "DB_PORT=6379"]
    );
    assert_eq!(
        mounts_of(&spec["initContainers"][0]),
        ["cache-volume:/cache"]
    );
    assert_eq!(env_of(&spec["containers"][0]), ["DB_PORT=6379"]);
    assert_eq!(
        mounts_of(&spec["containers"][0]),
        ["data:/data", "cache-volume:/cache"]
    );
    // The same variable with the same value is no conflict and not doubled.
    assert_eq!(env_of(&spec["containers"][1]), ["DB_PORT=6379"]);
    let volumes: Vec<&str> = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(volumes, ["data", "cache-volume"]);
    // A server dry run stores nothing.
    assert_eq!(env.ok(&["get", "pods", "-o", "name"]), "");
}

#[test]
fn several_presets_apply_together() {
    let env = Env::new();
    env.ok(&["create", "-f", &sample("preset.yaml")]);
    env.ok(&["create", "-f", &sample("proxy.yaml")]);
    let (pod, _) = admitted(&env, &sample("pod.yaml"));
    let annotations = pod["metadata"]["annotations"].as_object().unwrap();
    let keys: Vec<&String> = annotations.keys().collect();
    assert_eq!(
        keys,
        [
            "podpreset.admission.kubernetes.io/podpreset-allow-database",
            "podpreset.admission.kubernetes.io/podpreset-proxy"
        ]
    );
    assert_eq!(
        annotations["podpreset.admission.kubernetes.io/podpreset-proxy"],
        preset_version(&env, "proxy").as_str()
    );
    let mounts = &pod["spec"]["containers"][0]["volumeMounts"];
    assert_eq!(mounts[0]["mountPath"], "/cache");
    assert_eq!(mounts[1]["mountPath"], "/etc/proxy/configs");
    assert_eq!(pod["spec"]["volumes"].as_array().unwrap().len(), 2);
}

#[test]
fn a_conflict_leaves_the_pod_as_it_was_with_the_plugins_warning() {
    let env = Env::new();
    env.ok(&["create", "-f", &sample("preset.yaml")]);
    env.ok(&["create", "-f", &sample("proxy.yaml")]);
    let (pod, stderr) = admitted(&env, &sample("conflict-pod.yaml"));
    assert_eq!(
        stderr,
        "Warning: conflict occurred while applying podpresets: allow-database,proxy on pod:  err: merging volume mounts for allow-database has a conflict on mount path /cache: \n{\"mountPath\":\"/cache\",\"name\":\"cache-volume\"}\ndoes not match\n{\"mountPath\":\"/cache\",\"name\":\"other-volume\"}\n in container\n"
    );
    // Not even the preset without a conflict (proxy) is applied.
    assert!(pod["metadata"].get("annotations").is_none(), "{pod}");
    assert!(pod["spec"]["containers"][0].get("env").is_none(), "{pod}");
    assert_eq!(
        pod["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(pod["spec"]["volumes"].as_array().unwrap().len(), 1);
    // An env var of the same name with another value conflicts as well.
    let other_port = write(
        &env,
        "port.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {role: frontend}}\nspec:\n  containers: [{name: c, image: busybox, env: [{name: DB_PORT, value: '5432'}]}]\n",
    );
    let (pod, stderr) = admitted(&env, &other_port);
    assert!(
        stderr.contains("err: merging env for allow-database has a conflict on DB_PORT: \n{\"name\":\"DB_PORT\",\"value\":\"6379\"}\ndoes not match\n{\"name\":\"DB_PORT\",\"value\":\"5432\"}\n in container"),
        "{stderr}"
    );
    assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "5432");
    assert!(pod["metadata"].get("annotations").is_none());
}

#[test]
fn the_exclude_annotation_and_the_selector_decide_which_pods_get_presets() {
    let env = Env::new();
    env.ok(&["create", "-f", &sample("preset.yaml")]);
    env.ok(&["create", "namespace", "other"]);
    let expressions = write(
        &env,
        "expr.yaml",
        "apiVersion: settings.k8s.io/v1alpha1
kind: PodPreset
metadata: {name: not-batch}
spec:
  selector:
    matchExpressions:
    - {key: tier, operator: NotIn, values: [batch]}
    - {key: team, operator: Exists}
  env: [{name: TEAMWORK, value: 'yes'}]
",
    );
    env.ok(&["create", "-f", &expressions]);
    let pod = |name: &str, labels: &str, annotations: &str| {
        write(
            &env,
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{{labels}}}, annotations: {{{annotations}}}}}\nspec:\n  containers: [{{name: c, image: busybox}}]\n"
            ),
        )
    };
    let presets_of = |file: &str, namespace: &str| -> Vec<String> {
        let out = env.run(&[
            "-n",
            namespace,
            "create",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            file,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pod: Value = serde_json::from_slice(&out.stdout).unwrap();
        pod["metadata"]["annotations"]
            .as_object()
            .map(|a| {
                a.keys()
                    .filter_map(|k| k.strip_prefix("podpreset.admission.kubernetes.io/podpreset-"))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let frontend = pod("front", "role: frontend", "");
    assert_eq!(presets_of(&frontend, "default"), ["allow-database"]);
    // The name of the pod or of its app plays no part; labels do.
    let named = pod("allow-database", "app: website", "");
    assert!(presets_of(&named, "default").is_empty());
    let excluded = pod(
        "excluded",
        "role: frontend, team: a",
        "podpreset.admission.kubernetes.io/exclude: 'true'",
    );
    assert!(presets_of(&excluded, "default").is_empty());
    let not_excluded = pod(
        "kept",
        "role: frontend, team: a",
        "podpreset.admission.kubernetes.io/exclude: 'false'",
    );
    assert_eq!(
        presets_of(&not_excluded, "default"),
        ["allow-database", "not-batch"]
    );
    let batch = pod("batch", "team: a, tier: batch", "");
    assert!(presets_of(&batch, "default").is_empty());
    let teamed = pod("teamed", "team: a, tier: web", "");
    assert_eq!(presets_of(&teamed, "default"), ["not-batch"]);
    // Presets act in their own namespace only.
    assert!(presets_of(&frontend, "other").is_empty());
}

#[test]
fn the_docs_examples_run_with_what_the_presets_gave_them() {
    let env = Env::new();
    common::import_busybox(&env.root());
    env.ok(&["create", "-f", &sample("configmap.yaml")]);
    env.ok(&["create", "-f", &sample("allow-db.yaml")]);
    let shows = write(
        &env,
        "shows.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: shows
  labels: {app: website, role: frontend}
spec:
  restartPolicy: Never
  containers:
  - name: shows
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo port=$DB_PORT dup=$duplicate_key exp=$expansion peers=$etcdctl_peers; test -d /cache && echo cache']
",
    );
    env.ok(&["create", "-f", &shows]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let phase = env.ok(&["get", "pod", "shows", "-o", "jsonpath={.status.phase}"]);
        if phase == "Succeeded" {
            break;
        }
        assert!(
            phase != "Failed" && std::time::Instant::now() < deadline,
            "phase {phase}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // env wins over envFrom's key of the same name, and $(VAR) expands
    // from the ConfigMap's keys, as in the docs.
    assert_eq!(
        env.ok(&["logs", "shows"]),
        "port=6379 dup=FROM_ENV exp=a value peers=http://etcd:2379\ncache\n"
    );
    // The docs' website pod itself, serving with its preset's settings.
    env.ok(&["create", "-f", &sample("pod.yaml")]);
    env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/website",
        "--timeout=60s",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while env.ok(&["logs", "website"]) != "DB_PORT=6379\n/cache\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            env.ok(&["logs", "website"])
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The docs' ReplicaSet is a kind pod does not serve.
    let out = env.run(&["create", "-f", &sample("replicaset.yaml")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "no matches for kind \"ReplicaSet\" in version \"apps/v1\"\nensure CRDs are installed first"
    ),);
}
