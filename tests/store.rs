//! The state store through the CLI: concurrent creates, non-root refusal,
//! separate roots.

mod common;

use std::process::Stdio;

use common::Env;

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: race
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    imagePullPolicy: Never
";

#[test]
fn ten_concurrent_creates_of_one_name_make_one_pod() {
    let env = Env::new();
    let file = env.manifest("race.yaml", POD);
    let file = file.to_str().unwrap();
    let children: Vec<_> = (0..10)
        .map(|_| {
            env.pod()
                .args(["create", "-f", file])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let created = outputs.iter().filter(|o| o.status.success()).count();
    let already: Vec<_> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert_eq!(created, 1, "{already:?}");
    assert_eq!(already.len(), 9);
    for err in &already {
        assert_eq!(
            err.trim_end(),
            format!(
                "Error from server (AlreadyExists): error when creating \"{file}\": pods \"race\" already exists"
            )
        );
    }
    let names = env.ok(&["get", "pods", "-o", "name"]);
    assert_eq!(names, "pod/race\n");
}

#[test]
fn two_roots_do_not_see_each_other() {
    let (a, b) = (Env::new(), Env::new());
    let file = a.manifest("race.yaml", POD);
    a.ok(&["create", "-f", file.to_str().unwrap()]);
    let out = b.run(&["get", "pods"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "No resources found in default namespace.\n"
    );
    let err = b.fails(&["get", "pod", "race"]);
    assert_eq!(
        err,
        "Error from server (NotFound): pods \"race\" not found\n"
    );
}

#[test]
fn non_root_is_refused_and_writes_nothing() {
    let env = Env::new();
    // The state directories must not even be created.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_pod"))
        .args(["get", "pods"])
        .env("POD_ROOT", env.root())
        .env("POD_RUN_ROOT", env.run_root())
        .output()
        .expect("running setpriv");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: pod must run as root"), "{err}");
    // The environment wrote its node configuration; pod added nothing.
    let entries: Vec<_> = std::fs::read_dir(env.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["config.yaml"]);
    assert!(!env.run_root().exists());
}

#[test]
fn a_long_list_comes_back_sorted_by_namespace_then_name() {
    // Enough objects that `list` reads them on several threads.
    let env = Env::new();
    let mut names: Vec<(String, String)> = Vec::new();
    for i in (0..130).rev() {
        let namespace = if i % 3 == 0 { "alpha" } else { "default" };
        names.push((namespace.to_string(), format!("cm-{i:03}")));
    }
    let docs: Vec<String> = names
        .iter()
        .map(|(ns, name)| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
            )
        })
        .collect();
    let file = env.manifest("many.yaml", &docs.join("---\n"));
    // As on a cluster, a namespace exists before objects go into it.
    env.ok(&["create", "namespace", "alpha"]);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    names.sort();
    let expected: Vec<String> = names
        .iter()
        .map(|(ns, name)| format!("{ns:<9} {name}"))
        .collect();
    let listed = env.ok(&[
        "get",
        "configmaps",
        "-A",
        "-o",
        "custom-columns=NS:.metadata.namespace,NAME:.metadata.name",
        "--no-headers",
    ]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
}

/// kubectl prints the items it could get and reports each one it could
/// not on stderr (exit 1): one error as `error: …`, several one a line
/// without the prefix (its `checkErr` of an aggregate).
#[test]
fn a_corrupt_record_is_reported_and_the_other_pods_listed() {
    let env = Env::new();
    for name in ["a", "b", "c"] {
        let file = env.manifest(&format!("{name}.yaml"), &POD.replace("race", name));
        env.ok(&["create", "-f", file.to_str().unwrap()]);
    }
    // Each supervisor writes its pod's record once, to bind it to the node:
    // the records are corrupted after that, not overwritten by it.
    for name in ["a", "b", "c"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while env
            .ok(&["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"])
            .is_empty()
        {
            assert!(std::time::Instant::now() < deadline, "{name} never bound");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let record = |name: &str| env.root().join(format!("pods/default/{name}/pod.json"));
    let saved: Vec<_> = ["b", "c"]
        .iter()
        .map(|n| std::fs::read(record(n)).unwrap())
        .collect();
    let corrupt = |name: &str| {
        format!(
            "corrupt state file {}: key must be a string at line 1 column 2",
            record(name).display()
        )
    };
    std::fs::write(record("b"), "{not json").unwrap();

    let out = env.run(&["get", "pods", "-o", "name"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pod/a\npod/c\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {}\n", corrupt("b"))
    );
    let out = env.run(&["get", "pods"]);
    assert_eq!(out.status.code(), Some(1));
    let names: Vec<_> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, ["NAME", "a", "c"]);

    std::fs::write(record("c"), "{not json").unwrap();
    let out = env.run(&["get", "pods", "-o", "name"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pod/a\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("{}\n{}\n", corrupt("b"), corrupt("c"))
    );

    for (name, bytes) in ["b", "c"].iter().zip(saved) {
        std::fs::write(record(name), bytes).unwrap();
    }
    assert_eq!(
        env.ok(&["get", "pods", "-o", "name"]),
        "pod/a\npod/b\npod/c\n"
    );
}
