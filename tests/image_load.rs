//! `pod image load`: archives written by skopeo (as docker save and podman
//! save write them) and by hand.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::process::Stdio;

use common::Env;
use serde_json::Value;

fn inspect(env: &Env, name: &str) -> Value {
    let items: Value = serde_json::from_str(&env.ok(&["image", "inspect", name])).unwrap();
    items[0].clone()
}

fn layer_dirs(env: &Env, image: &Value) -> Vec<PathBuf> {
    image["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let hex = d.as_str().unwrap().trim_start_matches("sha256:");
            env.root().join("images/layers").join(hex).join("diff")
        })
        .collect()
}

/// The three layers arrive unpacked, the whiteout as an overlay whiteout.
fn assert_multi_layer(env: &Env, name: &str) {
    let image = inspect(env, name);
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["/app/run"]));
    let layers = layer_dirs(env, &image);
    assert_eq!(layers.len(), 3);
    assert_eq!(fs::read(layers[0].join("etc/motd")).unwrap(), b"hello");
    let whiteout = fs::symlink_metadata(layers[1].join("etc/motd")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert_eq!(fs::read(layers[2].join("app/run")).unwrap(), b"v2");
}

#[test]
fn loads_docker_and_oci_archives_from_skopeo() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_layout(
        &scratch.path().join("layout"),
        "v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    let source = format!("oci:{}:v1", layout.display());

    let docker = scratch.path().join("docker.tar");
    common::skopeo_copy(&[
        &source,
        &format!(
            "docker-archive:{}:example.com/team/multi:v1",
            docker.display()
        ),
    ]);
    let out = env.ok(&["image", "load", "-i", docker.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: example.com/team/multi:v1\n");
    assert_multi_layer(&env, "example.com/team/multi:v1");

    // The oci-archive, on stdin.
    let oci = scratch.path().join("oci.tar");
    common::skopeo_copy(&[
        &source,
        &format!("oci-archive:{}:docker.io/library/multi:v2", oci.display()),
    ]);
    let out = env
        .pod()
        .args(["image", "load"])
        .stdin(fs::File::open(&oci).unwrap())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Loaded image: docker.io/library/multi:v2\n"
    );
    assert_multi_layer(&env, "multi:v2");
    // Same layers: stored once.
    assert_eq!(
        fs::read_dir(env.root().join("images/layers"))
            .unwrap()
            .count(),
        3
    );
}

#[test]
fn loads_this_machines_image_from_an_index() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_index_layout(
        &scratch.path().join("layout"),
        "localhost/multi:v3",
        &common::multi_layers(),
        &["/app/run"],
    );
    let archive = common::tar_dir(&layout, &scratch.path().join("oci.tar"));
    let out = env.ok(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: localhost/multi:v3\n");
    assert_multi_layer(&env, "localhost/multi:v3");
    let image = inspect(&env, "localhost/multi:v3");
    assert_eq!(image["Architecture"], common::go_arch());
}

#[test]
fn refuses_bad_archives() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let junk = scratch.path().join("junk.tar");
    fs::write(&junk, common::layer_tar(&[("hello", Some(b"x"))])).unwrap();
    let err = env.fails(&["image", "load", "-i", junk.to_str().unwrap()]);
    assert_eq!(
        err.trim(),
        format!(
            "error: loading {}: not a docker-archive or oci-archive: it has neither manifest.json nor index.json",
            junk.display()
        )
    );

    // A corrupt blob: the layout's blob no longer matches its digest.
    let layout = common::oci_layout(
        &scratch.path().join("layout"),
        "localhost/bad:v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(
        &fs::read(layout.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][2]["digest"].as_str().unwrap();
    fs::write(layout.join("blobs/sha256").join(&layer[7..]), b"tampered").unwrap();
    let archive = common::tar_dir(&layout, &scratch.path().join("bad.tar"));
    let err = env.fails(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert!(err.contains("digest mismatch"), "{err}");
    assert_eq!(env.ok(&["image", "ls", "-q"]), "");

    // A manifest.json that is a link to a host file reads inside the
    // archive only.
    let linked = scratch.path().join("linked");
    fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", linked.join("manifest.json")).unwrap();
    let archive = common::tar_dir(&linked, &scratch.path().join("linked.tar"));
    let err = env.fails(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert!(
        err.contains("reading manifest.json in the archive"),
        "{err}"
    );
}
