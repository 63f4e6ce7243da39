//! Attacks on the state directory and on the host's sizes, run for real
//! (root): an unprivileged host user (`nobody`, through setpriv) reading a
//! secret, listing the state or running a setuid file a container planted;
//! a container filling the run root or taking RAM through a Memory
//! emptyDir; names on the command line that climb out of the state
//! directory; an image whose /etc/passwd is a FIFO; a registry that sends
//! more than it declared. Where the attack can work against a weakened
//! set-up (a state root opened up as older versions left it), the test
//! shows that first, so it can fail.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::Env;
use common::host::{chmod, open_env, walk};
use common::pods::{create, delete_and_check_clean, jsonpath, wait_log, wait_until};

/// Opens `dirs` to every user, as a state root made by an older version
/// (or by hand) was.
fn weaken(dirs: &[PathBuf]) {
    for dir in dirs {
        chmod(dir, 0o755);
    }
}

/// Runs a command as the host's `nobody`, with no supplementary groups.
/// setpriv keeps root's capabilities until its own execve, so the path of
/// the program it runs is looked up with CAP_DAC_OVERRIDE: a shell in
/// between (its exec drops them) makes every lookup nobody's.
fn as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["/bin/sh", "-c", "exec \"$0\" \"$@\""])
        .args(args)
        .output()
        .expect("running setpriv (util-linux)")
}

/// Any command of pod, so that it opens the store (and tightens the roots).
fn touch_store(env: &Env) {
    env.ok(&["get", "pods"]);
}

#[test]
fn a_host_user_can_neither_list_the_state_nor_read_a_secret() {
    let env = open_env();
    let root = env.root();
    let uid = create(
        &env,
        "secrets",
        r#"
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2
---
apiVersion: v1
kind: Pod
metadata:
  name: secrets
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    securityContext:
      runAsUser: 1000
    command: ["sh", "-c", "cat /secret/password; echo; echo read; sleep 3600"]
    volumeMounts:
    - name: db
      mountPath: /secret
  volumes:
  - name: db
    secret:
      secretName: db
"#,
    );
    // The container (uid 1000) reads its secret: the mode it sees is the
    // defaultMode, 0644.
    wait_log(&env, "secrets", &uid, "app", "hunter2\nread");
    let run_dir = env.run_root().join("pods").join(&uid);
    let secret = run_dir.join("volumes/secret/db/password");
    assert_eq!(fs::read_to_string(&secret).unwrap(), "hunter2");
    for dir in [&root, &env.run_root()] {
        assert_eq!(fs::metadata(dir).unwrap().mode() & 0o7777, 0o700);
    }
    let secret_object = root.join("secrets/default/db.json");
    assert_eq!(fs::metadata(&secret_object).unwrap().mode() & 0o777, 0o600);

    let attack = || {
        let list = as_nobody(&["ls", root.to_str().unwrap()]);
        let read = as_nobody(&["cat", secret.to_str().unwrap()]);
        (list, read)
    };
    let (list, read) = attack();
    assert!(!list.status.success(), "nobody listed the state root");
    assert!(!read.status.success(), "nobody read the secret");
    assert!(
        String::from_utf8_lossy(&read.stderr).contains("Permission denied"),
        "{read:?}"
    );

    // Against roots left open (as by older versions) the attack works...
    weaken(&[
        root.clone(),
        env.run_root(),
        env.run_root().join("pods"),
        run_dir.clone(),
    ]);
    let (list, read) = attack();
    assert!(list.status.success(), "weakened: {list:?}");
    assert!(String::from_utf8_lossy(&list.stdout).contains("pods"));
    assert_eq!(read.stdout, b"hunter2", "weakened: {read:?}");
    // ...and the secret object itself stays unreadable (0600).
    let object = as_nobody(&["cat", secret_object.to_str().unwrap()]);
    assert!(!object.status.success(), "{object:?}");

    // The next command tightens the roots again.
    touch_store(&env);
    let (list, read) = attack();
    assert!(!list.status.success(), "the root was not tightened");
    assert!(!read.status.success(), "the run root was not tightened");
    delete_and_check_clean(&env, "secrets", &uid);
}

/// A static x86-64 program of 136 bytes: `exit(geteuid())`, so its exit
/// status is 0 when it ran with euid 0, and 254 as nobody (65534).
/// (Busybox will not do: made setuid, it drops the privilege itself.)
fn euid_probe() -> Vec<u8> {
    let code: [u8; 16] = [
        0xb8, 0x6b, 0, 0, 0, // mov eax, 107 (geteuid)
        0x0f, 0x05, // syscall
        0x89, 0xc7, // mov edi, eax
        0xb8, 0x3c, 0, 0, 0, // mov eax, 60 (exit)
        0x0f, 0x05, // syscall
    ];
    let base: u64 = 0x40_0000;
    let headers: u64 = 64 + 56;
    let total = headers + code.len() as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(base + headers).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no sections
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R + X
    for word in [0, base, base, total, total, 0x1000] {
        elf.extend_from_slice(&word.to_le_bytes());
    }
    elf.extend_from_slice(&code);
    elf
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_setuid_file_planted_in_an_empty_dir_does_not_run_as_root_from_the_host() {
    use base64::Engine;
    let env = open_env();
    let payload = base64::engine::general_purpose::STANDARD.encode(euid_probe());
    let uid = create(
        &env,
        "planter",
        &format!(
            r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
binaryData:
  euid: {payload}
---
apiVersion: v1
kind: Pod
metadata:
  name: planter
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "cp /probe/euid /data/euid && chmod 4755 /data/euid && ls -ln /data/euid && echo planted; sleep 3600"]
    volumeMounts:
    - name: data
      mountPath: /data
    - name: probe
      mountPath: /probe
  volumes:
  - name: data
    emptyDir: {{}}
  - name: probe
    configMap:
      name: probe
"#
        ),
    );
    let log = wait_log(&env, "planter", &uid, "app", "planted");
    assert!(log.contains("-rwsr-xr-x"), "{log}");
    let pod_dir = env.root().join("pods/default/planter");
    let planted = pod_dir.join("volumes/empty-dir/data/euid");
    let meta = fs::metadata(&planted).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o4755));

    let attack = || as_nobody(&[planted.to_str().unwrap()]);
    let out = attack();
    assert_ne!(out.status.code(), Some(0), "nobody ran it as root");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{out:?}"
    );

    // With every directory on the way opened up, the probe runs with euid
    // 0: the attack is real, only the modes stop it.
    let mut dirs = vec![env.root()];
    let mut dir = env.root();
    for part in ["pods", "default", "planter", "volumes", "empty-dir"] {
        dir.push(part);
        dirs.push(dir.clone());
    }
    weaken(&dirs);
    let out = attack();
    assert_eq!(out.status.code(), Some(0), "weakened: {out:?}");

    touch_store(&env);
    let out = attack();
    assert_ne!(out.status.code(), Some(0), "the root was not tightened");
    delete_and_check_clean(&env, "planter", &uid);
}

/// Bytes of disk the files under `dir` take, on `dir`'s own filesystem.
fn disk_usage(dir: &Path) -> u64 {
    let Ok(top) = fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != top.dev() {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

#[test]
fn what_a_container_writes_lands_on_the_state_disk_not_the_run_root() {
    let env = open_env();
    let uid = create(
        &env,
        "filler",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: filler
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "dd if=/dev/zero of=/filler bs=1M count=48 && dd if=/dev/zero bs=1M count=8 >> /etc/hosts && dd if=/dev/zero of=/dev/termination-log bs=1M count=8 && sync && echo written; until [ -e /tmp/stop ]; do sleep 0.1; done; exit 1"]
"#,
    );
    wait_log(&env, "filler", &uid, "app", "written");
    let run = disk_usage(&env.run_root());
    let state = disk_usage(&env.root().join("writable").join(&uid));
    assert!(run < 1 << 20, "the run root holds {run} bytes");
    assert!(state >= 64 << 20, "the state disk holds {state} bytes");

    // The 8 MiB termination log is read to its 4096-byte limit only.
    env.ok(&["exec", "filler", "--", "touch", "/tmp/stop"]);
    let message = wait_until(&env, "filler", "the termination message", || {
        let text = jsonpath(
            &env,
            "filler",
            "{.status.containerStatuses[0].state.terminated.message}",
        );
        (!text.is_empty()).then_some(text)
    });
    assert_eq!(message.len(), 4096);
    delete_and_check_clean(&env, "filler", &uid);
}

#[test]
fn a_memory_empty_dir_is_no_bigger_than_the_pods_memory_limit() {
    let env = open_env();
    let uid = create(
        &env,
        "ram",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: ram
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    resources:
      limits:
        memory: 64Mi
    command: ["sh", "-c", "grep -E ' /(cache|small|token) ' /proc/mounts; echo listed; sleep 3600"]
    volumeMounts:
    - name: cache
      mountPath: /cache
    - name: small
      mountPath: /small
    - name: token
      mountPath: /token
  volumes:
  - name: token
    projected:
      sources:
      - serviceAccountToken:
          path: token
  - name: cache
    emptyDir:
      medium: Memory
  - name: small
    emptyDir:
      medium: Memory
      sizeLimit: 8Mi
"#,
    );
    let log = wait_log(&env, "ram", &uid, "app", "listed");
    let size = |mount: &str| {
        log.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(mount))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|options| options.split(',').find(|o| o.starts_with("size=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no size for {mount} in:\n{log}"))
    };
    assert_eq!(size("/cache"), "size=65536k", "{log}");
    assert_eq!(size("/small"), "size=8192k", "{log}");
    // A projected (or secret) volume's tmpfs too is the pod's limit.
    assert_eq!(size("/token"), "size=65536k", "{log}");
    delete_and_check_clean(&env, "ram", &uid);
}

/// Every path under `dir` (not following links).
fn tree(dir: &Path) -> Vec<PathBuf> {
    walk(dir, &[]).into_iter().map(|(path, _)| path).collect()
}

#[test]
fn names_on_the_command_line_never_leave_the_state_directory() {
    let env = Env::new();
    // What `-n ../..` would reach: a directory beside the state root.
    env.ok(&["get", "pods"]);
    let outside = env.dir.path().join("victim");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("pod.json"), "{}").unwrap();
    let before = tree(env.dir.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &["-n", "../..", "get", "pods"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["-n", "..", "get", "pods"],
            r#"error: invalid namespace "..": [may not be '..']"#,
        ),
        (
            &["get", "pod/../../victim"],
            r#"error: invalid resource name "../../victim": [may not contain '/']"#,
        ),
        (
            &["get", "pod", ".."],
            r#"error: invalid resource name "..": [may not be '..']"#,
        ),
        (
            &["get", "pod", "../x"],
            "error: there is no need to specify a resource type as a separate argument",
        ),
        (
            &["-n", "../..", "logs", "victim"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["-n", "../..", "exec", "victim", "--", "true"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["-n", "../..", "attach", "victim"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["-n", "../..", "delete", "pod", "victim"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["delete", "pod", ".."],
            r#"error: invalid resource name "..": [may not be '..']"#,
        ),
        (
            &["-n", "../..", "delete", "pods", "--all"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["-n", "../..", "describe", "pod", "victim"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["label", "pod", "..", "a=b"],
            r#"error: invalid resource name "..": [may not be '..']"#,
        ),
        (
            &["-n", "../..", "annotate", "pod", "victim", "a=b"],
            r#"error: invalid namespace "../..": [may not contain '/']"#,
        ),
        (
            &["get", "configmap", "%2e%2e"],
            r#"error: invalid resource name "%2e%2e": [may not contain '%']"#,
        ),
        (
            &["get", "pod", "Victim"],
            r#"Error from server (NotFound): pods "Victim" not found"#,
        ),
    ];
    for (args, expected) in cases {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "pod {args:?} succeeded");
        assert!(
            stderr.starts_with(expected) && stderr.lines().count() == 1,
            "pod {args:?}: {stderr}"
        );
    }
    assert_eq!(tree(env.dir.path()), before, "something was touched");
}

#[test]
fn an_image_whose_passwd_is_a_fifo_fails_its_container_instead_of_hanging() {
    let env = open_env();
    let scratch = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: usize| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size as u64);
        h.set_mtime(1_700_000_000);
        h.set_device_major(0).unwrap();
        h.set_device_minor(0).unwrap();
        h
    };
    let busybox = fs::read(common::HOST_BUSYBOX).unwrap();
    let mut h = header(tar::EntryType::Directory, 0o755, 0);
    tar.append_data(&mut h, "bin", &[][..]).unwrap();
    let mut h = header(tar::EntryType::Directory, 0o755, 0);
    tar.append_data(&mut h, "etc", &[][..]).unwrap();
    let mut h = header(tar::EntryType::Regular, 0o755, busybox.len());
    tar.append_data(&mut h, "bin/sh", &busybox[..]).unwrap();
    let mut h = header(tar::EntryType::Fifo, 0o644, 0);
    tar.append_data(&mut h, "etc/passwd", &[][..]).unwrap();
    let path = scratch.path().join("fifo.tar");
    fs::write(&path, tar.into_inner().unwrap()).unwrap();
    env.ok(&[
        "image",
        "import",
        "--quiet",
        path.to_str().unwrap(),
        "example.com/fifo:1",
    ]);
    let begun = Instant::now();
    let uid = create(
        &env,
        "fifo",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: fifo
spec:
  containers:
  - name: app
    image: example.com/fifo:1
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 3600"]
"#,
    );
    let waiting = wait_until(&env, "fifo", "the container's waiting reason", || {
        let text = jsonpath(
            &env,
            "fifo",
            "{.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}",
        );
        text.starts_with("CreateContainerConfigError")
            .then_some(text)
    });
    // Refused, not hung on the FIFO (tens of seconds: a loaded machine).
    assert!(begun.elapsed() < Duration::from_secs(90));
    assert!(
        waiting.ends_with("/etc/passwd of the image is not a regular file"),
        "{waiting}"
    );
    delete_and_check_clean(&env, "fifo", &uid);
}

/// A registry on 127.0.0.1 serving one image whose layer is declared 100
/// bytes long and sent without end; counts the layer bytes it sent.
struct EndlessRegistry {
    port: u16,
    sent: Arc<AtomicU64>,
}

impl EndlessRegistry {
    fn start() -> EndlessRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": common::go_arch(),
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }))
        .unwrap();
        let config_digest = sha256(&config);
        let layer_digest = sha256(b"never sent");
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest, "size": config.len(),
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest, "size": 100,
            }],
        }))
        .unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, manifest) = (config.clone(), manifest.clone());
                let (config_digest, counter) = (config_digest.clone(), counter.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &config, &config_digest, &manifest, &counter);
                });
            }
        });
        EndlessRegistry { port, sent }
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn serve(
    stream: TcpStream,
    config: &[u8],
    config_digest: &str,
    manifest: &[u8],
    sent: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut request = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            request.push_str(&line);
        }
        let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
        let head = request.starts_with("HEAD");
        let reply = |out: &mut TcpStream, kind: &str, body: &[u8], digest: &str| {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n",
                body.len()
            )?;
            if !digest.is_empty() {
                write!(out, "Docker-Content-Digest: {digest}\r\n")?;
            }
            out.write_all(b"\r\n")?;
            if !head {
                out.write_all(body)?;
            }
            out.flush()
        };
        if path.contains("/manifests/") {
            reply(
                &mut out,
                "application/vnd.oci.image.manifest.v1+json",
                manifest,
                &sha256(manifest),
            )?;
        } else if path.ends_with(config_digest) {
            reply(&mut out, "application/octet-stream", config, config_digest)?;
        } else if path.contains("/blobs/") {
            // A gigabyte announced, zeros sent until the client hangs up.
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                1u64 << 30
            )?;
            let chunk = [0u8; 64 * 1024];
            loop {
                out.write_all(&chunk)?;
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        } else {
            reply(&mut out, "application/json", b"{}", "")?;
        }
    }
}

#[test]
fn a_blob_bigger_than_declared_is_refused_at_the_declared_size() {
    let env = Env::new();
    let registry = EndlessRegistry::start();
    let host = format!("127.0.0.1:{}", registry.port);
    let conf = env.dir.path().join("registries.conf");
    fs::write(
        &conf,
        format!("[[registry]]\nlocation = \"{host}\"\ninsecure = true\n"),
    )
    .unwrap();
    let begun = Instant::now();
    let out = env
        .pod()
        .env("POD_REGISTRIES_CONF", &conf)
        .env("HOME", env.dir.path())
        .args(["image", "pull", &format!("{host}/endless:1")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the registry sent more than the 100 bytes the manifest declares"),
        "{stderr}"
    );
    let sent = registry.sent.load(Ordering::Relaxed);
    // What was in flight when the client hung up, not the gigabyte.
    assert!(sent < 64 << 20, "{sent} bytes were taken");
    // Refused, not hung on the endless blob.
    assert!(begun.elapsed() < Duration::from_secs(120));
    let partial: u64 = tree(&env.root())
        .iter()
        .filter_map(|p| fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    assert!(partial < 1 << 20, "a file of {partial} bytes was kept");
}

#[test]
fn an_archive_blob_bigger_than_declared_is_refused_before_it_is_copied() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let layout = common::oci_layout(
        &scratch.path().join("layout"),
        "localhost/big:v1",
        &common::multi_layers(),
        &["/app/run"],
    );
    let blobs = layout.join("blobs/sha256");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(blobs.join(&manifest_digest[7..])).unwrap()).unwrap();
    let layer = &manifest["layers"][0];
    let (digest, size) = (
        layer["digest"].as_str().unwrap(),
        layer["size"].as_u64().unwrap(),
    );
    // 8 MiB more than declared.
    let file = fs::OpenOptions::new()
        .append(true)
        .open(blobs.join(&digest[7..]))
        .unwrap();
    file.set_len(size + (8 << 20)).unwrap();
    let archive = common::tar_dir(&layout, &scratch.path().join("big.tar"));
    let err = env.fails(&["image", "load", "-i", archive.to_str().unwrap()]);
    assert!(
        err.contains(&format!(
            "blob {digest} in the archive is {} bytes, more than the {size} the manifest declares",
            size + (8 << 20)
        )),
        "{err}"
    );
    assert_eq!(env.ok(&["image", "ls", "-q"]), "");
}
