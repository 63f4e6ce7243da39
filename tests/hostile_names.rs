//! Names and paths that try to climb out of what they name, through real
//! `pod` commands as root: object, container and volume names, configMap,
//! secret, downwardAPI and projected item paths, subPath, subPathExpr
//! (at validation and after expansion), mountPath, hostPath, names given
//! on the command line and image references. Each is refused in one line
//! naming the field, or contained, and a canary directory beside the
//! state (the place a climb would reach) is untouched.
//!
//! Elsewhere: a symlink planted in a shared emptyDir by one container for
//! the next container's subPath (tests/isolation_mounts.rs, both the
//! planted link and the race), layer entries that climb
//! (tests/image_hostile.rs) and registry answers with such digests
//! (`a_registry_answer_naming_a_digest_that_climbs_is_refused` there).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::pods::{create, delete_and_check_clean, jsonpath, wait_until};
use common::{Env, import_busybox};

/// A directory beside the state root holding one file: every climb in
/// this file aims at it.
struct Canary {
    dir: PathBuf,
}

impl Canary {
    fn new(env: &Env) -> Canary {
        let dir = env.dir.path().join("canary");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("file"), "canary").unwrap();
        Canary { dir }
    }

    #[track_caller]
    fn untouched(&self) {
        let names: Vec<_> = fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"], "the canary directory changed");
        assert_eq!(fs::read_to_string(self.dir.join("file")).unwrap(), "canary");
    }
}

fn pod(name: &str, spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

const ONE: &str = "  containers:\n  - {name: c, image: busybox, imagePullPolicy: Never}\n";

/// Every manifest here is refused by validation: non-zero exit, one line
/// naming the field (the API server's field paths, quirks included:
/// `volumeMounts.subPath` and `downwardAPI.path` carry no index
/// upstream), nothing stored.
#[test]
fn names_and_paths_that_climb_are_refused_naming_the_field() {
    let env = Env::new();
    let canary = Canary::new(&env);
    let rows: Vec<(&str, String, &str)> = vec![
        (
            "object name ../x",
            pod("../canary", ONE),
            "metadata.name: Invalid value: \"../canary\"",
        ),
        (
            "object name a/b",
            pod("canary/file", ONE),
            "metadata.name: Invalid value: \"canary/file\"",
        ),
        (
            "namespace ..",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: ../canary}\nspec:\n"
                .to_string()
                + ONE,
            "metadata.namespace: Invalid value: \"../canary\"",
        ),
        (
            "container name",
            pod(
                "a",
                "  containers:\n  - {name: ../canary, image: busybox}\n",
            ),
            "spec.containers[0].name: Invalid value: \"../canary\"",
        ),
        (
            "volume name",
            pod(
                "a",
                &format!("{ONE}  volumes:\n  - {{name: a/b, emptyDir: {{}}}}\n"),
            ),
            "spec.volumes[0].name: Invalid value: \"a/b\"",
        ),
        (
            "configMap item path ..",
            pod(
                "a",
                &format!(
                    "{ONE}  volumes:\n  - {{name: v, configMap: {{name: m, items: [{{key: k, path: ../../canary/file}}]}}}}\n"
                ),
            ),
            "spec.volumes[0].configMap.items[0].path: Invalid value: \"../../canary/file\": must not contain '..'",
        ),
        (
            "configMap item path absolute",
            pod(
                "a",
                &format!(
                    "{ONE}  volumes:\n  - {{name: v, configMap: {{name: m, items: [{{key: k, path: /tmp/x}}]}}}}\n"
                ),
            ),
            "spec.volumes[0].configMap.items[0].path: Invalid value: \"/tmp/x\": must be a relative path",
        ),
        (
            "secret item path ..",
            pod(
                "a",
                &format!(
                    "{ONE}  volumes:\n  - {{name: v, secret: {{secretName: s, items: [{{key: k, path: a/../../x}}]}}}}\n"
                ),
            ),
            "spec.volumes[0].secret.items[0].path: Invalid value: \"a/../../x\": must not contain '..'",
        ),
        (
            "downwardAPI item path",
            pod(
                "a",
                &format!(
                    "{ONE}  volumes:\n  - {{name: v, downwardAPI: {{items: [{{path: ../x, fieldRef: {{fieldPath: metadata.name}}}}]}}}}\n"
                ),
            ),
            "spec.volumes[0].downwardAPI.path: Invalid value: \"../x\"",
        ),
        (
            "projected item path",
            pod(
                "a",
                &format!(
                    "{ONE}  volumes:\n  - {{name: v, projected: {{sources: [{{configMap: {{name: m, items: [{{key: k, path: /etc/passwd}}]}}}}]}}}}\n"
                ),
            ),
            "spec.volumes[0].projected.sources[0].configMap.items[0].path: Invalid value: \"/etc/passwd\": must be a relative path",
        ),
        (
            "subPath ..",
            pod(
                "a",
                "  containers:\n  - name: c\n    image: busybox\n    volumeMounts: [{name: v, mountPath: /v, subPath: ../../canary}]\n  volumes: [{name: v, emptyDir: {}}]\n",
            ),
            "spec.containers[0].volumeMounts.subPath: Invalid value: \"../../canary\": must not contain '..'",
        ),
        (
            "subPath absolute",
            pod(
                "a",
                "  containers:\n  - name: c\n    image: busybox\n    volumeMounts: [{name: v, mountPath: /v, subPath: /etc}]\n  volumes: [{name: v, emptyDir: {}}]\n",
            ),
            "spec.containers[0].volumeMounts.subPath: Invalid value: \"/etc\": must be a relative path",
        ),
        (
            "subPathExpr .. before expansion",
            pod(
                "a",
                "  containers:\n  - name: c\n    image: busybox\n    volumeMounts: [{name: v, mountPath: /v, subPathExpr: '../$(X)'}]\n  volumes: [{name: v, emptyDir: {}}]\n",
            ),
            "spec.containers[0].volumeMounts.subPathExpr: Invalid value: \"../$(X)\": must not contain '..'",
        ),
        (
            "hostPath ..",
            pod(
                "a",
                &format!("{ONE}  volumes:\n  - {{name: v, hostPath: {{path: /tmp/../etc}}}}\n"),
            ),
            "spec.volumes[0].hostPath.path: Invalid value: \"/tmp/../etc\": must not contain '..'",
        ),
        (
            "configMap key ..",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: {'..': x}\n".into(),
            "data[..]: Invalid value: \"..\"",
        ),
        (
            "secret key a/b",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {'a/b': x}\n".into(),
            "data[a/b]: Invalid value: \"a/b\"",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (what, manifest, field)) in rows.iter().enumerate() {
        let file = env.manifest(&format!("row{i}.yaml"), manifest);
        let out = env.run(&["create", "-f", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // One line, or kubectl's list of causes under one heading.
        let lines: Vec<&str> = stderr.lines().collect();
        let shaped = lines.len() == 1
            || (lines[0].ends_with("is invalid: ")
                && lines[1..].iter().all(|l| l.starts_with("* ")));
        if out.status.success() || !shaped || !stderr.contains(field) {
            failures.push(format!(
                "{what}: exit {:?}, stderr {stderr:?}, wanted {field:?}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        env.ok(&["get", "pods,configmaps,secrets", "-A", "-o", "name"]),
        ""
    );
    canary.untouched();
}

/// Names given on the command line are looked up, never joined into a
/// path: each is NotFound (or refused) in one line, and a pod whose
/// directory a climbing name would reach is still there.
#[test]
fn names_on_the_command_line_that_climb_find_nothing() {
    let env = Env::new();
    import_busybox(&env.root());
    let canary = Canary::new(&env);
    create(
        &env,
        "victim",
        &pod(
            "victim",
            "  containers:\n  - {name: c, image: busybox, imagePullPolicy: Never, command: [sleep, '3600']}\n",
        ),
    );
    let climbs = [
        "../default/victim",
        "../../canary",
        "./victim",
        "victim/..",
        "default/victim",
        "..",
        ".",
    ];
    let mut failures = Vec::new();
    for name in climbs {
        for args in [
            vec!["get", "pod", name],
            vec!["describe", "pod", name],
            vec!["logs", name],
            vec!["delete", "pod", name],
            vec!["label", "pod", name, "x=y"],
            vec!["exec", name, "--", "true"],
            vec!["get", "pods", "-n", name],
            vec!["delete", "pods", "--all", "-n", name],
        ] {
            let out = env.run(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            // A namespace that cannot exist is refused; one that can is
            // empty: lists nothing and deletes nothing.
            let refused = !out.status.success() && stderr.lines().count() == 1;
            let ok = match args.contains(&"-n") {
                true => {
                    refused
                        || (out.status.success()
                            && !String::from_utf8_lossy(&out.stdout).contains("victim"))
                }
                false => refused,
            };
            if !ok {
                failures.push(format!(
                    "{args:?}: exit {:?}, stdout {:?}, stderr {stderr:?}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(jsonpath(&env, "victim", "{.metadata.labels}"), "");
    let uid = wait_until(&env, "victim", "victim running", || {
        (jsonpath(&env, "victim", "{.status.phase}") == "Running")
            .then(|| jsonpath(&env, "victim", "{.metadata.uid}"))
    });
    canary.untouched();
    delete_and_check_clean(&env, "victim", &uid);
}

/// What validation cannot see: a subPathExpr whose variable expands to
/// `..` or an absolute path fails its container with the kubelet's
/// message; a mountPath climbing past the container's root lands inside
/// it; image references that climb are InvalidImageName.
#[test]
fn expanded_paths_and_image_names_that_climb_are_contained() {
    let env = Env::new();
    import_busybox(&env.root());
    let canary = Canary::new(&env);
    let climb = format!("/../../../../../..{}", canary.dir.display());
    let canary_dir = canary.dir.display().to_string();
    // The subPathExpr attackers: name, the value of X, the expression,
    // and the kubelet's message.
    let sub_paths = [
        (
            "dots",
            "..",
            "$(X)",
            "unable to provision SubPath `..`: must not contain '..'".to_string(),
        ),
        (
            "deep",
            "../../../..",
            "a/$(X)",
            "unable to provision SubPath `a/../../../..`: must not contain '..'".to_string(),
        ),
        (
            "absolute",
            &canary_dir,
            "$(X)",
            format!("error SubPath `{canary_dir}` must not be an absolute path"),
        ),
    ];
    // Image references that climb, after the mount-path container.
    let images = [
        ("image-dots", "../canary"),
        ("image-slash", "localhost/a/../../b:1"),
    ];
    let mut containers = String::new();
    for (name, value, expr, _) in &sub_paths {
        containers += &format!(
            "  - name: {name}\n    image: busybox\n    imagePullPolicy: Never\n    env: [{{name: X, value: \"{value}\"}}]\n    volumeMounts: [{{name: v, mountPath: /v, subPathExpr: \"{expr}\"}}]\n    command: [sleep, \"3600\"]\n"
        );
    }
    containers += &format!(
        "  - name: mount-path\n    image: busybox\n    imagePullPolicy: Never\n    volumeMounts: [{{name: v, mountPath: \"{climb}\"}}]\n    command: [sh, -c, 'echo planted > \"{climb}/planted\" && ls \"{climb}\" && echo done && sleep 3600']\n"
    );
    for (name, image) in images {
        containers += &format!("  - name: {name}\n    image: \"{image}\"\n");
    }
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: climb\nspec:\n  volumes:\n  - {{name: v, emptyDir: {{}}}}\n  containers:\n{containers}"
    );
    let uid = create(&env, "climb", &manifest);
    let waiting = |i: usize| {
        jsonpath(
            &env,
            "climb",
            &format!("{{.status.containerStatuses[{i}].state.waiting}}"),
        )
    };
    let mut expected: Vec<(usize, &str, String)> = sub_paths
        .iter()
        .enumerate()
        .map(|(i, (.., message))| (i, "CreateContainerConfigError", message.clone()))
        .collect();
    expected.extend(images.iter().enumerate().map(|(j, (_, image))| {
        (
            sub_paths.len() + 1 + j,
            "InvalidImageName",
            format!("Failed to apply default image tag \\\"{image}\\\": couldn't parse image name \\\"{image}\\\": invalid reference format"),
        )
    }));
    // Container statuses are in the spec's order.
    for (i, reason, message) in &expected {
        let state = wait_until(&env, "climb", &format!("container {i} {reason}"), || {
            let state = waiting(*i);
            state.contains(reason).then_some(state)
        });
        assert!(state.contains(message.as_str()), "container {i}: {state}");
    }
    let log = common::pods::wait_log(&env, "climb", &uid, "mount-path", "done\n");
    assert_eq!(log, "planted\ndone\n", "{log}");
    canary.untouched();
    // The file landed in the volume, inside the pod's state.
    let planted: Vec<_> = walk(&env.root().join("pods"))
        .into_iter()
        .filter(|p| p.ends_with("planted"))
        .collect();
    assert_eq!(planted.len(), 1, "{planted:?}");
    assert!(
        planted[0].to_string_lossy().contains("empty-dir/v/"),
        "{planted:?}"
    );
    delete_and_check_clean(&env, "climb", &uid);
    canary.untouched();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}
