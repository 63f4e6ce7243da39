//! The image store through the CLI: import, ls, inspect, rm, prune, and
//! the busybox image the other tests run.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct State {
    dir: tempfile::TempDir,
}

impl State {
    fn new() -> State {
        State {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn pod(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(common::pod_bin());
        cmd.arg("--root")
            .arg(self.root())
            .arg("--run-root")
            .arg(self.dir.path().join("run"))
            .args(args);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.pod(args).output().unwrap();
        assert!(
            out.status.success(),
            "pod {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out: Output = self.pod(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "pod {args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "one-line error expected: {err}");
        err
    }

    fn images(&self) -> PathBuf {
        self.root().join("images")
    }

    fn tags(&self) -> Value {
        let text = fs::read_to_string(self.images().join("repositories.json"))
            .unwrap_or_else(|_| r#"{"names":{}}"#.into());
        serde_json::from_str(&text).unwrap()
    }

    fn count(&self, dir: &str) -> usize {
        fs::read_dir(self.images().join(dir))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

fn inspect(state: &State, name: &str) -> Value {
    let text = state.ok(&["image", "inspect", name]);
    let items: Value = serde_json::from_str(&text).unwrap();
    items[0].clone()
}

fn layer_dirs(state: &State, image: &Value) -> Vec<PathBuf> {
    image["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let hex = d.as_str().unwrap().trim_start_matches("sha256:");
            state.images().join("layers").join(hex).join("diff")
        })
        .collect()
}

#[test]
fn busybox_import_is_listed_and_runnable_on_disk() {
    let state = State::new();
    common::import_busybox(&state.root());

    let ls = state.ok(&["image", "ls"]);
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 2, "{ls}");
    let header: Vec<&str> = lines[0].split("   ").filter(|c| !c.is_empty()).collect();
    assert_eq!(
        header.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "docker.io/library/busybox");
    assert_eq!(row[1], "latest");
    assert_eq!(row[2].len(), 12);
    assert!(ls.contains(" MB"), "{ls}");

    let image = inspect(&state, "busybox");
    assert_eq!(image["RepoTags"][0], "docker.io/library/busybox:latest");
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert!(image["Id"].as_str().unwrap().starts_with(row[2]));
    assert_eq!(state.ok(&["image", "ls", "-q"]).trim(), row[2]);

    let json: Value = serde_json::from_str(&state.ok(&["image", "ls", "-o", "json"])).unwrap();
    assert_eq!(json[0]["Id"], image["Id"]);
    assert_eq!(
        json[0]["RepoDigests"][0],
        format!(
            "docker.io/library/busybox@{}",
            image["Digest"].as_str().unwrap()
        )
    );

    // The layer is unpacked with the applets and the files the runtime
    // needs.
    let layers = layer_dirs(&state, &image);
    assert_eq!(layers.len(), 1);
    let layer = &layers[0];
    assert!(layer.join("bin/busybox").is_file());
    assert_eq!(
        fs::read_link(layer.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(
        fs::read_to_string(layer.join("etc/passwd"))
            .unwrap()
            .contains("nobody")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(layer.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );

    // The same image by ID prefix and by digest.
    let id = image["Id"].as_str().unwrap();
    assert_eq!(inspect(&state, &id[..6])["Id"], image["Id"]);
    let by_digest = format!("busybox@{}", image["Digest"].as_str().unwrap());
    assert_eq!(inspect(&state, &by_digest)["Id"], image["Id"]);
}

#[test]
fn import_from_stdin_with_changes() {
    let state = State::new();
    let scratch = tempfile::tempdir().unwrap();
    let tar = common::busybox_rootfs_tar(scratch.path());
    let mut child = state
        .pod(&[
            "image",
            "import",
            "-",
            "127.0.0.1:5000/tools/app:v2",
            "--change",
            "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
            "--change",
            "ENV GREETING=hello",
            "--change",
            "WORKDIR /srv",
            "--change",
            "USER nobody",
            "--change",
            "CMD echo $GREETING",
        ])
        .stdin(fs::File::open(&tar).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let image = inspect(&state, "127.0.0.1:5000/tools/app:v2");
    let config = &image["Config"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo $GREETING"])
    );
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["User"], "nobody");
    assert!(
        config["Env"]
            .as_array()
            .unwrap()
            .contains(&Value::from("GREETING=hello"))
    );
}

#[test]
fn bad_imports_fail_cleanly() {
    let state = State::new();
    let err = state.fails(&["image", "import", "/nonexistent.tar", "x"]);
    assert!(
        err.starts_with("error: opening /nonexistent.tar: "),
        "{err}"
    );
    let scratch = tempfile::tempdir().unwrap();
    let tar = common::busybox_rootfs_tar(scratch.path());
    let tar = tar.to_str().unwrap();
    let err = state.fails(&["image", "import", tar, "Busybox"]);
    assert_eq!(
        err.trim(),
        "error: Busybox: invalid reference format: repository name must be lowercase"
    );
    let err = state.fails(&["image", "import", tar, "x", "--change", "RUN make"]);
    assert!(
        err.contains("invalid --change \"RUN make\": unknown instruction"),
        "{err}"
    );
    let empty = scratch.path().join("empty.tar");
    fs::write(&empty, b"").unwrap();
    let err = state.fails(&["image", "import", empty.to_str().unwrap(), "x"]);
    assert!(err.contains("the tarball is empty"), "{err}");
    let garbage = scratch.path().join("garbage.tar");
    fs::write(&garbage, vec![0x1f, 0x8b, 1, 2, 3]).unwrap();
    state.fails(&["image", "import", garbage.to_str().unwrap(), "x"]);
    assert_eq!(state.tags()["names"], serde_json::json!({}));
    assert_eq!(state.count("layers"), 0);
    assert_eq!(state.count("blobs/sha256"), 0);
}

#[test]
fn rm_untags_deletes_and_respects_pods() {
    let state = State::new();
    common::import_busybox(&state.root());
    state.ok(&["image", "ls"]);
    let image = inspect(&state, "busybox");
    let layer = layer_dirs(&state, &image).remove(0);

    // A stored pod using the image blocks its removal.
    let pod_dir = state.root().join("pods/default/web");
    fs::create_dir_all(&pod_dir).unwrap();
    fs::write(
        pod_dir.join("pod.json"),
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},
            "spec":{"containers":[{"name":"c","image":"busybox"}]}}"#,
    )
    .unwrap();
    let err = state.fails(&["image", "rm", "busybox"]);
    assert_eq!(
        err.trim(),
        "Error from server (Conflict): image \"busybox\" is in use by pod default/web (use --force to remove it anyway)"
    );
    assert!(layer.is_dir());

    let err = state.fails(&["image", "rm", "nothere"]);
    assert_eq!(
        err.trim(),
        "Error from server (NotFound): images \"nothere\" not found"
    );

    let out = state.ok(&["image", "rm", "--force", "docker.io/library/busybox"]);
    let id = image["Id"].as_str().unwrap();
    assert_eq!(
        out,
        format!("Untagged: docker.io/library/busybox:latest\nDeleted: {id}\n")
    );
    assert!(!layer.exists());
    assert_eq!(state.count("blobs/sha256"), 0);
    assert_eq!(state.ok(&["image", "ls", "-q"]), "");
}

#[test]
fn prune_keeps_what_pods_use() {
    let state = State::new();
    common::import_busybox(&state.root());
    let scratch = tempfile::tempdir().unwrap();
    let tar = common::busybox_rootfs_tar(scratch.path());
    let tar = tar.to_str().unwrap();
    state.ok(&[
        "image",
        "import",
        tar,
        "other:1",
        "--change",
        "CMD [\"true\"]",
    ]);
    // Re-pointing a name leaves the old manifest unreferenced.
    state.ok(&[
        "image",
        "import",
        tar,
        "other:1",
        "--change",
        "CMD [\"false\"]",
    ]);
    let blobs_before = state.count("blobs/sha256");
    let out = state.ok(&["image", "prune"]);
    assert!(out.starts_with("Total reclaimed space: "), "{out}");
    assert!(state.count("blobs/sha256") < blobs_before);

    let pod_dir = state.root().join("pods/ns1/app");
    fs::create_dir_all(&pod_dir).unwrap();
    fs::write(
        pod_dir.join("pod.json"),
        r#"{"spec":{"initContainers":[{"name":"i","image":"other:1"}],"containers":[]}}"#,
    )
    .unwrap();
    let out = state.ok(&["image", "prune", "--all"]);
    assert!(
        out.contains("Untagged: docker.io/library/busybox:latest"),
        "{out}"
    );
    assert!(!out.contains("other"), "{out}");
    let ls = state.ok(&["image", "ls"]);
    assert!(ls.contains("docker.io/library/other"), "{ls}");
    assert!(!ls.contains("busybox"), "{ls}");
    // Both images shared the layer: it stays.
    assert_eq!(state.count("layers"), 1);
}
