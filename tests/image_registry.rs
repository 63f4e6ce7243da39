//! Pulls from a real registry: Debian's docker-registry on 127.0.0.1 with
//! its storage in a temp dir, filled by skopeo from OCI layouts the tests
//! build.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;
use serde_json::Value;

/// A registry process, killed (by its pid) when dropped.
struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// Files the configuration points at (htpasswd).
    keep: Option<tempfile::TempDir>,
}

impl Registry {
    fn start() -> Registry {
        Registry::start_with("")
    }

    /// A registry asking for basic auth: user `tester`, password `s3cret`
    /// (a bcrypt hash of cost 4, to keep each request cheap).
    fn start_with_auth() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        fs::write(
            &htpasswd,
            "tester:$2b$04$E6R7jBE8lUqpBEVi.38VxuGbjX/jlr6gr304YOaSPG643iIeYBnQq\n",
        )
        .unwrap();
        let mut registry = Registry::start_with(&format!(
            "auth:\n  htpasswd:\n    realm: pod-test\n    path: {}\n",
            htpasswd.display()
        ));
        registry.keep = Some(dir);
        registry
    }

    fn start_with(extra_config: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{extra_config}",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting /usr/bin/docker-registry (apt-get install docker-registry)");
        let registry = Registry {
            child,
            port,
            dir,
            keep: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                fs::read_to_string(registry.dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Pushes `source` (a skopeo transport reference) as `repo:tag`.
    fn push(&self, source: &str, repo_tag: &str, extra: &[&str]) {
        let dest = format!("docker://{}/{repo_tag}", self.host());
        let mut args = vec!["--dest-tls-verify=false"];
        args.extend_from_slice(extra);
        args.push(source);
        args.push(&dest);
        common::skopeo_copy(&args);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An environment whose registries.conf is `conf`.
fn env_with_conf(conf: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let path = env.dir.path().join("registries.conf");
    fs::write(&path, conf).unwrap();
    (env, path)
}

fn pull(env: &Env, conf: &PathBuf, image: &str) -> std::process::Output {
    env.pod()
        .env("POD_REGISTRIES_CONF", conf)
        .env("REGISTRY_AUTH_FILE", env.dir.path().join("auth.json"))
        .env_remove("XDG_RUNTIME_DIR")
        .env("HOME", env.dir.path())
        .args(["image", "pull", image])
        .output()
        .unwrap()
}

fn inspect(env: &Env, name: &str) -> Value {
    let items: Value = serde_json::from_str(&env.ok(&["image", "inspect", name])).unwrap();
    items[0].clone()
}

fn assert_multi_layer(env: &Env, name: &str) {
    let image = inspect(env, name);
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["/app/run"]));
    let layers: Vec<PathBuf> = image["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let hex = d.as_str().unwrap().trim_start_matches("sha256:");
            env.root().join("images/layers").join(hex).join("diff")
        })
        .collect();
    assert_eq!(layers.len(), 3);
    assert_eq!(fs::read(layers[0].join("etc/motd")).unwrap(), b"hello");
    let whiteout = fs::symlink_metadata(layers[1].join("etc/motd")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert_eq!(fs::read(layers[2].join("app/run")).unwrap(), b"v2");
}

#[test]
fn pulls_oci_and_docker_manifests_over_plain_http() {
    let registry = Registry::start();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_layout(
        &scratch.path().join("layout"),
        "v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    let source = format!("oci:{}:v1", layout.display());
    registry.push(&source, "team/multi:v1", &[]);
    registry.push(&source, "team/multi:v2s2", &["--format", "v2s2"]);
    let host = registry.host();
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));

    let out = pull(&env, &conf, &format!("{host}/team/multi:v1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.starts_with(&format!("Trying to pull {host}/team/multi:v1...\n")),
        "{stderr}"
    );
    assert!(stderr.contains("Copying blob "), "{stderr}");
    assert!(
        stderr.contains("Writing manifest to image destination"),
        "{stderr}"
    );
    let id = String::from_utf8(out.stdout).unwrap();
    assert_eq!(id.trim().len(), 64);
    assert_multi_layer(&env, &format!("{host}/team/multi:v1"));

    // Docker schema 2: same layers, already stored, so nothing is fetched
    // but the manifest.
    let out = pull(&env, &conf, &format!("{host}/team/multi:v2s2"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skipped: already exists"), "{stderr}");
    assert_multi_layer(&env, &format!("{host}/team/multi:v2s2"));
    let image = inspect(&env, &format!("{host}/team/multi:v2s2"));
    assert_eq!(
        image["ManifestType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );

    // Quiet: the ID only.
    let out = env
        .pod()
        .env("POD_REGISTRIES_CONF", &conf)
        .args(["image", "pull", "-q", &format!("{host}/team/multi:v1")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), id);

    // A missing tag: a clear one-line error, nothing stored.
    let out = pull(&env, &conf, &format!("{host}/team/multi:nope"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().last().unwrap(),
        format!("error: reading manifest nope in {host}/team/multi: manifest unknown")
    );

    // Without the insecure entry the registry is spoken to over TLS, and
    // the plain-http server cannot answer.
    let (env2, conf2) = env_with_conf("");
    let out = pull(&env2, &conf2, &format!("{host}/team/multi:v1"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pulls_this_machines_image_from_an_index_and_through_a_mirror() {
    let registry = Registry::start();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_index_layout(
        &scratch.path().join("layout"),
        "v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    registry.push(
        &format!("oci:{}:v1", layout.display()),
        "mirrored/team/multi:v1",
        &["--all"],
    );
    let host = registry.host();
    // example.invalid does not resolve: only the mirror can serve.
    let (env, conf) = env_with_conf(&format!(
        r#"
[[registry]]
prefix = "example.invalid/team"
location = "example.invalid/team"
[[registry.mirror]]
location = "{host}/mirrored/team"
insecure = true
"#
    ));
    let out = pull(&env, &conf, "example.invalid/team/multi:v1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_multi_layer(&env, "example.invalid/team/multi:v1");
    let image = inspect(&env, "example.invalid/team/multi:v1");
    assert_eq!(image["Architecture"], common::go_arch());
    assert_eq!(image["RepoTags"][0], "example.invalid/team/multi:v1");

    // A blocked registry is refused before any request.
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\nblocked = true\n"
    ));
    let out = pull(&env, &conf, &format!("{host}/mirrored/team/multi:v1"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("error: registry {host} is blocked in registries.conf")
    );
}

#[test]
fn pulls_with_basic_auth_from_auth_json() {
    let registry = Registry::start_with_auth();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_layout(
        &scratch.path().join("layout"),
        "v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    registry.push(
        &format!("oci:{}:v1", layout.display()),
        "private/multi:v1",
        &["--dest-creds", "tester:s3cret"],
    );
    let host = registry.host();
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let image = format!("{host}/private/multi:v1");
    let out = pull(&env, &conf, &image);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().last().unwrap().contains("unauthorized"),
        "{stderr}"
    );

    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode("tester:s3cret");
    fs::write(
        env.dir.path().join("auth.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "{token}"}}}}}}"#),
    )
    .unwrap();
    let out = pull(&env, &conf, &image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_multi_layer(&env, &image);
}

/// One blob request as the proxy passed it on.
#[derive(Debug, Clone)]
struct BlobRequest {
    path: String,
    range: Option<String>,
    /// Response body bytes sent to the client.
    body_bytes: u64,
}

/// A TCP proxy on 127.0.0.1 in front of a registry. It records every blob
/// request, and while `cuts` is above 0 it closes the connection of a GET
/// for `blob` after `cut_after` bytes of the response body (one cut less
/// each time). Each request gets its own upstream connection
/// (`Connection: close`), so one connection carries one response.
struct CuttingProxy {
    port: u16,
    rules: Arc<ProxyRules>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the proxy does, shared with its connection threads.
struct ProxyRules {
    upstream: u16,
    blob: String,
    cut_after: u64,
    cuts: AtomicUsize,
    /// Forward requests without their Range header, as a registry that
    /// does not serve ranges would treat them.
    drop_ranges: AtomicBool,
    requests: Mutex<Vec<BlobRequest>>,
}

impl CuttingProxy {
    fn start(upstream: u16, blob: &str, cut_after: u64, cuts: usize) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rules = Arc::new(ProxyRules {
            upstream,
            blob: blob.to_string(),
            cut_after,
            cuts: AtomicUsize::new(cuts),
            drop_ranges: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (rules, stop) = (rules.clone(), stop.clone());
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let rules = rules.clone();
                    std::thread::spawn(move || {
                        let _ = relay(client, &rules);
                    });
                }
            })
        };
        CuttingProxy {
            port,
            rules,
            stop,
            thread: Some(thread),
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn set_cuts(&self, cuts: usize) {
        self.rules.cuts.store(cuts, Ordering::SeqCst);
    }

    fn drop_ranges(&self, drop: bool) {
        self.rules.drop_ranges.store(drop, Ordering::SeqCst);
    }

    /// The requests for the blob so far, oldest first, forgetting them.
    fn take_requests(&self) -> Vec<BlobRequest> {
        let blob = format!("/blobs/{}", self.rules.blob);
        std::mem::take(&mut *self.rules.requests.lock().unwrap())
            .into_iter()
            .filter(|r| r.path.ends_with(&blob))
            .collect()
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP head (request or response) up to and including its blank line.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut head = String::new();
    loop {
        let n = reader.read_line(&mut head)?;
        if n == 0 || head.ends_with("\r\n\r\n") {
            return Ok(head);
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Passes one request and its response between `client` and the registry.
fn relay(client: TcpStream, rules: &ProxyRules) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let request = read_head(&mut from_client)?;
    let mut words = request.split(' ');
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    let drop_ranges = rules.drop_ranges.load(Ordering::SeqCst);
    let kept: String = request
        .trim_end()
        .split("\r\n")
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            let dropped =
                line.starts_with("connection:") || (drop_ranges && line.starts_with("range:"));
            !dropped
        })
        .map(|line| format!("{line}\r\n"))
        .collect();
    let mut server = TcpStream::connect(("127.0.0.1", rules.upstream))?;
    server.write_all(format!("{kept}Connection: close\r\n\r\n").as_bytes())?;
    let mut from_server = BufReader::new(server);
    let response = read_head(&mut from_server)?;
    let length: u64 = header(&response, "content-length").map_or(0, |v| v.parse().unwrap());
    let cut = method == "GET"
        && path.ends_with(&format!("/blobs/{}", rules.blob))
        && rules
            .cuts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let body_bytes = if cut {
        rules.cut_after.min(length)
    } else {
        length
    };
    // Recorded before the body goes out, so the pull cannot finish first.
    if path.contains("/blobs/") {
        rules.requests.lock().unwrap().push(BlobRequest {
            path,
            range: header(&request, "range").map(str::to_string),
            body_bytes,
        });
    }
    let mut to_client = client;
    to_client.write_all(response.as_bytes())?;
    std::io::copy(&mut (&mut from_server).take(body_bytes), &mut to_client)?;
    to_client.shutdown(std::net::Shutdown::Both)
}

/// An image whose second layer is 4 MiB of random bytes; returns the
/// layout and that layer's (digest, size).
fn big_layer_image(dir: &std::path::Path) -> (PathBuf, String, u64) {
    let mut big = vec![0; 4 << 20];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut big)
        .unwrap();
    let layers = vec![
        common::layer_tar(&[("etc", None), ("etc/motd", Some(b"hello"))]),
        common::layer_tar(&[("big.bin", Some(&big))]),
    ];
    let layout = common::oci_layout(dir, "v1", &layers, &["/bin/sh"]);
    let read_json =
        |path: PathBuf| -> Value { serde_json::from_slice(&fs::read(path).unwrap()).unwrap() };
    let index = read_json(layout.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest = read_json(layout.join("blobs/sha256").join(&manifest_digest[7..]));
    let layer = &manifest["layers"][1];
    (
        layout,
        layer["digest"].as_str().unwrap().to_string(),
        layer["size"].as_u64().unwrap(),
    )
}

fn sha256_file(path: &std::path::Path) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(fs::read(path).unwrap()))
    )
}

fn range_start(request: &BlobRequest) -> u64 {
    let range = request.range.as_deref().expect("a Range header");
    let start = range
        .strip_prefix("bytes=")
        .unwrap()
        .strip_suffix('-')
        .unwrap();
    start.parse().unwrap()
}

const CUT_AFTER: u64 = 256 << 10;

#[test]
fn a_layer_cut_off_half_way_is_resumed_with_a_range_request() {
    let registry = Registry::start();
    let scratch = tempfile::tempdir().unwrap();
    let (layout, digest, size) = big_layer_image(&scratch.path().join("layout"));
    registry.push(&format!("oci:{}:v1", layout.display()), "team/big:v1", &[]);
    let proxy = CuttingProxy::start(registry.port, &digest, CUT_AFTER, 1);
    let host = proxy.host();
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));

    let out = pull(&env, &conf, &format!("{host}/team/big:v1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let short = format!("sha256:{}…", &digest[7..19]);
    assert!(
        stderr.contains(&format!("resuming {short} at 256.00 KiB\n")),
        "{stderr}"
    );
    let requests = proxy.take_requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].range, None);
    assert_eq!(requests[0].body_bytes, CUT_AFTER);
    // The second request asks for the rest only, and gets only the rest.
    assert_eq!(range_start(&requests[1]), CUT_AFTER);
    assert_eq!(requests[1].body_bytes, size - CUT_AFTER);
    let stored = env.root().join("images/blobs/sha256").join(&digest[7..]);
    assert_eq!(sha256_file(&stored), digest);
    assert!(
        !env.root()
            .join("images/tmp/partial")
            .join(&digest[7..])
            .exists()
    );
    let image = inspect(&env, &format!("{host}/team/big:v1"));
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 2);

    // Quiet: a resumed pull says nothing.
    proxy.set_cuts(1);
    let env = Env::new();
    let out = env
        .pod()
        .env("POD_REGISTRIES_CONF", &conf)
        .args(["image", "pull", "-q", &format!("{host}/team/big:v1")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(proxy.take_requests().len(), 2);

    // A registry that answers a Range request with the whole blob (200):
    // what was kept is thrown away and the answer taken from its start.
    proxy.set_cuts(1);
    proxy.drop_ranges(true);
    let env = Env::new();
    let out = pull(&env, &conf, &format!("{host}/team/big:v1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the registry sent the whole blob: downloading {short} from the start\n"
        )),
        "{stderr}"
    );
    let requests = proxy.take_requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(range_start(&requests[1]), CUT_AFTER);
    assert_eq!(requests[1].body_bytes, size);
    let stored = env.root().join("images/blobs/sha256").join(&digest[7..]);
    assert_eq!(sha256_file(&stored), digest);
}

#[test]
fn a_failed_pull_is_continued_by_the_next_and_a_corrupt_partial_is_fetched_again() {
    let registry = Registry::start();
    let scratch = tempfile::tempdir().unwrap();
    let (layout, digest, size) = big_layer_image(&scratch.path().join("layout"));
    registry.push(&format!("oci:{}:v1", layout.display()), "team/big:v1", &[]);
    let proxy = CuttingProxy::start(registry.port, &digest, CUT_AFTER, usize::MAX);
    let host = proxy.host();
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let image = format!("{host}/team/big:v1");
    let partial = env.root().join("images/tmp/partial").join(&digest[7..]);
    let stored = env.root().join("images/blobs/sha256").join(&digest[7..]);

    // Every connection breaks: five tries, each continuing the last, then
    // an error; what arrived stays on disk.
    let out = pull(&env, &conf, &image);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains("gave up after 5 attempts, keeping 1.25 MiB for the next pull"),
        "{stderr}"
    );
    let requests = proxy.take_requests();
    assert_eq!(requests.len(), 5, "{requests:?}");
    for (i, request) in requests.iter().enumerate().skip(1) {
        assert_eq!(range_start(request), i as u64 * CUT_AFTER);
    }
    assert_eq!(fs::metadata(&partial).unwrap().len(), 5 * CUT_AFTER);
    assert!(!stored.exists());
    let mut corrupt = fs::read(&partial).unwrap();
    corrupt[1000] ^= 0xff;

    // The next pull asks only for the rest.
    proxy.set_cuts(0);
    let out = pull(&env, &conf, &image);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = proxy.take_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(range_start(&requests[0]), 5 * CUT_AFTER);
    assert_eq!(requests[0].body_bytes, size - 5 * CUT_AFTER);
    assert_eq!(sha256_file(&stored), digest);

    // A partial file with a wrong byte: continued, found wrong when
    // verified, thrown away and the whole blob fetched again.
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let partial = env.root().join("images/tmp/partial").join(&digest[7..]);
    fs::create_dir_all(partial.parent().unwrap()).unwrap();
    fs::write(&partial, &corrupt).unwrap();
    let out = pull(&env, &conf, &image);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let short = format!("sha256:{}…", &digest[7..19]);
    assert!(
        stderr.contains(&format!(
            "verification failed: downloading {short} from the start\n"
        )),
        "{stderr}"
    );
    let requests = proxy.take_requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(range_start(&requests[0]), 5 * CUT_AFTER);
    assert_eq!(requests[1].range, None);
    assert_eq!(requests[1].body_bytes, size);
    let stored = env.root().join("images/blobs/sha256").join(&digest[7..]);
    assert_eq!(sha256_file(&stored), digest);
}

/// The events of pod `name`, latest version of each, in order.
fn pod_events(env: &Env, name: &str) -> Vec<Value> {
    let path = env
        .root()
        .join("pods/default")
        .join(name)
        .join("events.jsonl");
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// Waits until pod `name` has an event with `reason`; returns its message.
fn event_message(env: &Env, name: &str, reason: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(e) = pod_events(env, name).iter().find(|e| e["reason"] == reason) {
            return e["message"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no {reason} event for {name}: {:?}",
            pod_events(env, name)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_pod_pulling_its_image_reports_the_kubelets_pulled_events() {
    let registry = Registry::start();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_layout(
        &scratch.path().join("layout"),
        "v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    registry.push(
        &format!("oci:{}:v1", layout.display()),
        "team/multi:v1",
        &[],
    );
    let host = registry.host();
    let (env, conf) = env_with_conf(&format!(
        "[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
    ));
    let image = format!("{host}/team/multi:v1");
    let create = |name: &str| {
        let manifest = env.manifest(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: {image}\n    imagePullPolicy: IfNotPresent\n"
            ),
        );
        let out = env
            .pod()
            .env("POD_REGISTRIES_CONF", &conf)
            .args(["create", "-f"])
            .arg(&manifest)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    create("first");
    let pulled = event_message(&env, "first", "Pulled");
    // The size a runtime reports: config and layers as the manifest
    // records them.
    let digest = inspect(&env, &image)["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest: Value = serde_json::from_slice(
        &fs::read(
            env.root()
                .join("images/blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let size = manifest["config"]["size"].as_u64().unwrap()
        + manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .sum::<u64>();
    let prefix = format!("Successfully pulled image \"{image}\" in ");
    let rest = pulled
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{pulled}"));
    let (took, rest) = rest.split_once(' ').unwrap();
    assert!(
        took.ends_with("ms") || took.ends_with('s'),
        "a Go duration: {pulled}"
    );
    assert_eq!(
        rest,
        format!("({took} including waiting). Image size: {size} bytes."),
        "{pulled}"
    );

    create("second");
    assert_eq!(
        event_message(&env, "second", "Pulled"),
        format!("Container image \"{image}\" already present on machine")
    );
}
