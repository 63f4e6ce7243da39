//! Hostile layers through `pod image import`: paths climbing out, an
//! absolute symlink followed by a file through it, a hard link to
//! /etc/shadow. The host must be untouched and nothing half-stored.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::Env;

/// A raw tar header, bypassing the tar crate's own path checks (a hostile
/// archive is not made with them).
fn entry(kind: tar::EntryType, path: &str, link: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.set_entry_type(kind);
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    if let Some(link) = link {
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0; 1024]);
    out
}

/// Imports `tar` and expects a refusal naming the entry.
fn refused(env: &Env, tar: &[u8], entry_name: &str) {
    let file = env.dir.path().join("hostile.tar");
    fs::write(&file, tar).unwrap();
    let err = env.fails(&["image", "import", file.to_str().unwrap(), "hostile:1"]);
    assert!(
        err.contains(&format!("layer entry \"{entry_name}\" refused")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(env.ok(&["image", "ls", "-q"]), "");
    let layers = env.root().join("images/layers");
    assert_eq!(fs::read_dir(layers).unwrap().count(), 0);
    let blobs = env.root().join("images/blobs/sha256");
    assert_eq!(fs::read_dir(blobs).unwrap().count(), 0);
}

#[test]
fn hostile_layers_leave_the_host_untouched() {
    let env = Env::new();
    let shadow_links = fs::metadata("/etc/shadow").map(|m| m.nlink()).ok();
    let marker = format!("pod-hostile-{}", std::process::id());

    let climb = format!("../../../../../../../../etc/{marker}");
    refused(
        &env,
        &archive(&[entry(tar::EntryType::Regular, &climb, None, b"pwned")]),
        &climb,
    );
    assert!(!Path::new("/etc").join(&marker).exists());

    let through = format!("escape/{marker}");
    refused(
        &env,
        &archive(&[
            entry(tar::EntryType::Symlink, "escape", Some("/etc"), b""),
            entry(tar::EntryType::Regular, &through, None, b"pwned"),
        ]),
        &through,
    );
    assert!(!Path::new("/etc").join(&marker).exists());

    refused(
        &env,
        &archive(&[entry(
            tar::EntryType::Link,
            "shadow",
            Some("/etc/shadow"),
            b"",
        )]),
        "shadow",
    );
    refused(
        &env,
        &archive(&[entry(
            tar::EntryType::Link,
            "shadow",
            Some("../../../../../../etc/shadow"),
            b"",
        )]),
        "shadow",
    );
    assert_eq!(
        fs::metadata("/etc/shadow").map(|m| m.nlink()).ok(),
        shadow_links
    );
}
