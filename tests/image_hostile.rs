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

// ---- Sizes: what a hostile registry or layer may make us hold ----

/// containerd's MaxManifestSize, which pod takes for manifests, indexes
/// and image configs.
const MAX_MANIFEST_SIZE: usize = 4 * 1048 * 1048;

/// What the hostile registry answers for a manifest.
#[derive(Clone)]
enum Answer {
    /// These bytes, with a Content-Length.
    Body(Vec<u8>),
    /// These bytes, without a Content-Length (the end is the close).
    Streamed(Vec<u8>),
    /// A Content-Length of 10 GB and bytes for as long as it is read.
    Endless,
}

/// A registry on 127.0.0.1 that answers `/v2/`, the manifests of
/// `manifests` (by tag) as told, and blobs from `blobs`; every response
/// closes its connection.
struct HostileRegistry {
    port: u16,
}

impl HostileRegistry {
    fn start(
        manifests: Vec<(&'static str, Answer)>,
        blobs: std::collections::HashMap<String, Vec<u8>>,
    ) -> HostileRegistry {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new((manifests, blobs));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state.0, &state.1);
                });
            }
        });
        HostileRegistry { port }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(
    stream: std::net::TcpStream,
    manifests: &[(&'static str, Answer)],
    blobs: &std::collections::HashMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        if reader.read_line(&mut head)? == 0 {
            return Ok(());
        }
    }
    let path = head.split(' ').nth(1).unwrap_or_default().to_string();
    let mut out = stream;
    let send = |out: &mut std::net::TcpStream, status: &str, kind: &str, body: &[u8]| {
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        out.write_all(body)
    };
    if path == "/v2/" {
        return send(&mut out, "200 OK", "application/json", b"{}");
    }
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    if let Some(tag) = path.strip_prefix("/v2/hostile/manifests/") {
        return match manifests.iter().find(|(t, _)| *t == tag).map(|(_, a)| a) {
            Some(Answer::Body(body)) => send(&mut out, "200 OK", manifest_type, body),
            Some(Answer::Streamed(body)) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {manifest_type}\r\nConnection: close\r\n\r\n"
                )?;
                out.write_all(body)
            }
            Some(Answer::Endless) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {manifest_type}\r\nContent-Length: 10000000000\r\nConnection: close\r\n\r\n"
                )?;
                let chunk = vec![b' '; 1 << 16];
                loop {
                    out.write_all(&chunk)?;
                }
            }
            None => send(
                &mut out,
                "404 Not Found",
                "application/json",
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ),
        };
    }
    if let Some(digest) = path.strip_prefix("/v2/hostile/blobs/")
        && let Some(blob) = blobs.get(digest)
    {
        return send(&mut out, "200 OK", "application/octet-stream", blob);
    }
    send(&mut out, "404 Not Found", "text/plain", b"not found")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A one-layer image: its manifest (JSON, unpadded) and its blobs.
fn small_image() -> (
    serde_json::Value,
    std::collections::HashMap<String, Vec<u8>>,
) {
    let layer = common::layer_tar(&[("hello", Some(b"hi"))]);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": common::go_arch(),
        "os": "linux",
        "config": { "Cmd": ["/hello"] },
        "rootfs": { "type": "layers", "diff_ids": [sha256(&layer)] },
    }))
    .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256(&config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": sha256(&layer),
            "size": layer.len(),
        }],
    });
    let blobs = [(sha256(&config), config), (sha256(&layer), layer)]
        .into_iter()
        .collect();
    (manifest, blobs)
}

/// `manifest` as JSON followed by spaces, `len` bytes in all (JSON allows
/// the trailing white space).
fn padded(manifest: &serde_json::Value, len: usize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(manifest).unwrap();
    assert!(bytes.len() <= len);
    bytes.resize(len, b' ');
    bytes
}

fn pull_from(env: &Env, conf: &Path, image: &str) -> std::process::Output {
    env.pod()
        .env("POD_REGISTRIES_CONF", conf)
        .env("REGISTRY_AUTH_FILE", env.dir.path().join("auth.json"))
        .env("HOME", env.dir.path())
        .args(["image", "pull", "-q", image])
        .output()
        .unwrap()
}

/// The store holds no image, no layer and nothing in its staging area.
fn store_is_empty(env: &Env) {
    assert_eq!(env.ok(&["image", "ls", "-q"]), "");
    let images = env.root().join("images");
    assert_eq!(fs::read_dir(images.join("layers")).unwrap().count(), 0);
    let staged: Vec<_> = fs::read_dir(images.join("tmp"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "partial")
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
}

#[test]
fn a_registry_cannot_make_pod_hold_a_huge_manifest_or_config() {
    let (manifest, blobs) = small_image();
    let mut big_config = manifest.clone();
    big_config["config"]["size"] = serde_json::json!(MAX_MANIFEST_SIZE + 1);
    let registry = HostileRegistry::start(
        vec![
            (
                "at-limit",
                Answer::Body(padded(&manifest, MAX_MANIFEST_SIZE)),
            ),
            (
                "over",
                Answer::Body(padded(&manifest, MAX_MANIFEST_SIZE + 1)),
            ),
            (
                "streamed",
                Answer::Streamed(padded(&manifest, MAX_MANIFEST_SIZE + 1)),
            ),
            ("endless", Answer::Endless),
            (
                "big-config",
                Answer::Body(serde_json::to_vec(&big_config).unwrap()),
            ),
        ],
        blobs,
    );
    let host = registry.host();
    let env = Env::new();
    let conf = env.dir.path().join("registries.conf");
    fs::write(
        &conf,
        format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"),
    )
    .unwrap();

    let refused = |tag: &str, expected: &str| {
        let out = pull_from(&env, &conf, &format!("{host}/hostile:{tag}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{tag}: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert_eq!(last, expected, "{tag}: {stderr}");
        store_is_empty(&env);
    };
    // A manifest of one byte too many, told by its Content-Length or only
    // by its length, and one that never ends.
    refused(
        "over",
        &format!(
            "error: reading manifest over in {host}/hostile: rejecting 4393217 byte manifest (the limit is 4393216 bytes)"
        ),
    );
    refused(
        "streamed",
        &format!(
            "error: reading manifest streamed in {host}/hostile: rejecting a manifest of more than 4393216 bytes (the limit)"
        ),
    );
    refused(
        "endless",
        &format!(
            "error: reading manifest endless in {host}/hostile: rejecting 10000000000 byte manifest (the limit is 4393216 bytes)"
        ),
    );
    // A config the manifest says is larger than a manifest may be: refused
    // before a byte of it is fetched.
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    refused(
        "big-config",
        &format!(
            "error: {host}/hostile:big-config: rejecting 4393217 byte image config {config_digest} (the limit is 4393216 bytes)"
        ),
    );
    assert_eq!(
        fs::read_dir(env.root().join("images/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );

    // The same image padded to the limit exactly is pulled: the cap is
    // what refused the others.
    let out = pull_from(&env, &conf, &format!("{host}/hostile:at-limit"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.ok(&["image", "ls", "-q"]).lines().count(), 1);
}

/// Imports `tar` as `name` with the layer limits `limits` (bytes,
/// entries).
fn import_with(env: &Env, tar: &[u8], name: &str, limits: (u64, u64)) -> std::process::Output {
    let file = env.dir.path().join("layer.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, tar).unwrap();
    fs::write(&file, gz.finish().unwrap()).unwrap();
    env.pod()
        .env("POD_LAYER_MAX_BYTES", limits.0.to_string())
        .env("POD_LAYER_MAX_ENTRIES", limits.1.to_string())
        .args(["image", "import", file.to_str().unwrap(), name])
        .output()
        .unwrap()
}

/// A GNU sparse file of `size` bytes whose only data is its last byte:
/// 1.5 KB in the stream, `size` bytes once written out.
fn sparse_entry(path: &str, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_path(path).unwrap();
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_size(1);
    {
        let gnu = h.as_gnu_mut().unwrap();
        let octal = |field: &mut [u8], v: u64| {
            let text = format!("{v:0w$o}\0", w = field.len() - 1);
            field.copy_from_slice(text.as_bytes());
        };
        octal(&mut gnu.sparse[0].offset, size - 1);
        octal(&mut gnu.sparse[0].numbytes, 1);
        octal(&mut gnu.realsize, size);
    }
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.push(b'x');
    out.resize(1024, 0);
    out
}

#[test]
fn a_layer_cannot_unpack_past_its_size_or_entry_limit() {
    let env = Env::new();
    let mib = 1u64 << 20;
    let expect_refused = |out: std::process::Output, name: &str, why: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let named = format!(": image docker.io/library/{name}: layer sha256:");
        assert!(stderr.starts_with("error: importing "), "{stderr}");
        assert!(stderr.contains(&named), "{stderr}");
        assert!(stderr.trim_end().ends_with(why), "{stderr}");
        store_is_empty(&env);
        assert_eq!(
            fs::read_dir(env.root().join("images/blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    };

    // A decompression bomb: 2 MiB of zeros is a 2 KB gzip.
    let zeros = vec![0u8; 2 << 20];
    let bomb = common::layer_tar(&[("zeros", Some(&zeros))]);
    expect_refused(
        import_with(&env, &bomb, "bomb:1", (mib, 1000)),
        "bomb:1",
        "unpacks to more than 1048576 bytes, the limit for a layer (POD_LAYER_MAX_BYTES)",
    );
    // A sparse file: tiny in the stream too, only its writing is large.
    let mut sparse = sparse_entry("hole", 64 * mib);
    sparse.extend_from_slice(&[0; 1024]);
    expect_refused(
        import_with(&env, &sparse, "sparse:1", (mib, 1000)),
        "sparse:1",
        "unpacks to more than 1048576 bytes, the limit for a layer (POD_LAYER_MAX_BYTES)",
    );
    // Many entries (inodes), each empty.
    let names: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
    let many: Vec<(&str, Option<&[u8]>)> =
        names.iter().map(|n| (n.as_str(), Some(&b""[..]))).collect();
    let many = common::layer_tar(&many);
    expect_refused(
        import_with(&env, &many, "many:1", (mib, 200)),
        "many:1",
        "has more than 200 entries, the limit for a layer (POD_LAYER_MAX_ENTRIES)",
    );

    // Within larger limits the same layers are stored.
    for (tar, name) in [(&bomb, "bomb:1"), (&sparse, "sparse:1"), (&many, "many:1")] {
        let out = import_with(&env, tar, name, (128 * mib, 1000));
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.ok(&["image", "ls", "-q"]).lines().count(), 3);
}

/// A PAX record `len key=value\n`.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = format!(" {key}={value}\n");
    let mut len = rest.len() + 1;
    while len.to_string().len() + rest.len() != len {
        len += 1;
    }
    format!("{len}{rest}").into_bytes()
}

/// A ustar header of `kind` with data `body`, padded.
fn special(kind: tar::EntryType, body: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_path("././@LongLink").unwrap();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn a_layer_cannot_make_pod_hold_a_huge_long_name_or_pax_header() {
    let env = Env::new();
    let mib = 1usize << 20;
    let file = common::layer_tar(&[("hello", Some(b"hi"))]);
    let with = |header: Vec<u8>| [header, file.clone()].concat();
    let refused = |tar: &[u8], name: &str, why: &str| {
        let out = import_with(&env, tar, name, (128 << 20, 1000));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: importing "), "{stderr}");
        let named = format!(": image docker.io/library/{name}: layer sha256:");
        assert!(stderr.contains(&named), "{stderr}");
        assert!(stderr.trim_end().ends_with(why), "{stderr}");
        store_is_empty(&env);
    };
    // A comment record of 2 MiB: harmless but for the memory it takes.
    let comment = pax_record("comment", &"c".repeat(2 * mib));
    let size = comment.len();
    refused(
        &with(special(tar::EntryType::XHeader, &comment)),
        "pax:1",
        &format!(
            "a PAX extended header of {size} bytes is over the limit of 1048576 bytes (header field too long)"
        ),
    );
    refused(
        &with(special(tar::EntryType::XGlobalHeader, &comment)),
        "global:1",
        &format!(
            "a PAX global header of {size} bytes is over the limit of 1048576 bytes (header field too long)"
        ),
    );
    let name = format!("{}\0", "n/".repeat(mib));
    refused(
        &with(special(tar::EntryType::GNULongName, name.as_bytes())),
        "longname:1",
        &format!(
            "a GNU long name of {} bytes is over the limit of 1048576 bytes (header field too long)",
            name.len()
        ),
    );
    refused(
        &with(special(tar::EntryType::GNULongLink, name.as_bytes())),
        "longlink:1",
        &format!(
            "a GNU long link name of {} bytes is over the limit of 1048576 bytes (header field too long)",
            name.len()
        ),
    );
    // Up to the limit, as Go's archive/tar reads it, the layer is stored.
    let at_limit = pax_record("comment", &"c".repeat(mib - 32));
    assert!(at_limit.len() <= mib);
    let out = import_with(
        &env,
        &with(special(tar::EntryType::XHeader, &at_limit)),
        "pax:2",
        (128 << 20, 1000),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Digests in a registry's answers name files in the blob store: one that
/// climbs (`sha256:../..`, an algorithm `../x`) is refused in one line
/// before anything is fetched or written, and a canary beside the store
/// is untouched.
#[test]
fn a_registry_answer_naming_a_digest_that_climbs_is_refused() {
    let (manifest, blobs) = small_image();
    let climbs = [
        (
            "config-dots",
            "/config/digest",
            "sha256:../../../../canary/file",
        ),
        (
            "layer-dots",
            "/layers/0/digest",
            "sha256:../../../../canary/file",
        ),
        (
            "layer-algorithm",
            "/layers/0/digest",
            "../../../../canary:file",
        ),
        ("layer-absolute", "/layers/0/digest", "sha256:/tmp/canary"),
    ];
    let mut answers: Vec<(&'static str, Answer)> = climbs
        .iter()
        .map(|(tag, pointer, digest)| {
            let mut m = manifest.clone();
            *m.pointer_mut(pointer).unwrap() = serde_json::json!(digest);
            (*tag, Answer::Body(serde_json::to_vec(&m).unwrap()))
        })
        .collect();
    // An index whose entry climbs.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:../../../../canary/file",
            "size": 100,
            "platform": {"architecture": common::go_arch(), "os": "linux"},
        }],
    });
    answers.push((
        "index-dots",
        Answer::Body(serde_json::to_vec(&index).unwrap()),
    ));
    let registry = HostileRegistry::start(answers, blobs);
    let host = registry.host();
    let env = Env::new();
    let canary = env.dir.path().join("canary");
    fs::create_dir(&canary).unwrap();
    fs::write(canary.join("file"), "canary").unwrap();
    let conf = env.dir.path().join("registries.conf");
    fs::write(
        &conf,
        format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"),
    )
    .unwrap();
    let mut failures = Vec::new();
    // The digest is named, or (an algorithm oci-spec cannot parse) the
    // manifest's parse error with its position.
    for (tag, named) in [
        ("config-dots", "canary"),
        ("layer-dots", "canary"),
        (
            "layer-algorithm",
            "parsing the manifest: serde failed: Empty algorithm component",
        ),
        ("layer-absolute", "canary"),
        ("index-dots", "canary"),
    ] {
        let out = pull_from(&env, &conf, &format!("{host}/hostile:{tag}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(1) || stderr.lines().count() != 1 || !stderr.contains(named) {
            failures.push(format!("{tag}: {:?} {stderr:?}", out.status.code()));
        }
        store_is_empty(&env);
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let names: Vec<_> = fs::read_dir(&canary)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["file"]);
    assert_eq!(fs::read_to_string(canary.join("file")).unwrap(), "canary");
}
