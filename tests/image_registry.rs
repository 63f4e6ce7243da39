//! Pulls from a real registry: Debian's docker-registry on 127.0.0.1 with
//! its storage in a temp dir, filled by skopeo from OCI layouts the tests
//! build.

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
        let deadline = Instant::now() + Duration::from_secs(10);
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
