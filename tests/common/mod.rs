//! Shared helpers of the integration tests: a `pod` binary bound to its
//! own temporary state directories, cleaned up when dropped.
#![allow(dead_code)]

pub mod host;
pub mod net;
pub mod pods;
pub mod served;
mod sweep;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The lines of `output` (a child's piped stdout, say) as they come, read
/// on a thread of their own until the output ends, also after the
/// receiver is dropped: the child never blocks on a full pipe nor dies of
/// a closed one.
pub fn lines(output: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(output).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    rx
}

/// One isolated `pod` installation: its own --root and --run-root. Dropping
/// it deletes every pod it made (stopping their processes, mounts and
/// cgroups, even of a pod whose records cannot be read: `sweep`) and
/// removes the directories.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("pod-test-")
            .tempdir_in(std::env::var_os("POD_TEST_TMP").unwrap_or_else(|| "/tmp".into()))
            .expect("creating a temporary directory");
        // Tests never reach the internet: an image a test did not make
        // must fail at once, not be pulled from Docker Hub.
        fs::write(
            dir.path().join("offline-registries.conf"),
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\nblocked = true\n",
        )
        .expect("writing registries.conf");
        let env = Env { dir };
        env.node_config("");
        env
    }

    /// The environment's CNI configuration directory (empty unless a test
    /// writes a network there: then the node's default network is used).
    /// Every environment has its own, so that the host's configuration
    /// (podman's 87-podman-bridge.conflist, say) never changes a test.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.path().join("cni").join("net.d")
    }

    /// Writes the node configuration (`<root>/config.yaml`): this
    /// environment's CNI configuration directory, and `extra` (YAML fields
    /// of a KubeletConfiguration). Unless `extra` sets `evictionHard`, the
    /// node has the kubelet's memory threshold and no disk one: the
    /// host's free disk (a busy CI machine may be under the kubelet's
    /// 15%) must not put the tests' node under DiskPressure, which would
    /// refuse every pod.
    pub fn node_config(&self, extra: &str) {
        fs::create_dir_all(self.root()).expect("creating the root");
        fs::create_dir_all(self.cni_conf_dir()).expect("creating the CNI directory");
        let thresholds = if extra.contains("evictionHard:") {
            ""
        } else {
            "evictionHard:\n  memory.available: 100Mi\n"
        };
        fs::write(
            self.root().join("config.yaml"),
            format!(
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncniConfDir: {}\n{thresholds}{extra}",
                self.cni_conf_dir().display()
            ),
        )
        .expect("writing the node configuration");
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The registries.conf every command of this environment uses unless a
    /// test sets its own: Docker Hub blocked.
    pub fn offline_registries_conf(&self) -> PathBuf {
        self.dir.path().join("offline-registries.conf")
    }

    /// A `pod` command with this environment's state directories.
    pub fn pod(&self) -> Command {
        let mut cmd = Command::new(pod_bin());
        cmd.env("POD_ROOT", self.root())
            .env("POD_RUN_ROOT", self.run_root())
            .env("POD_REGISTRIES_CONF", self.offline_registries_conf())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `pod ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.pod().args(args).output().expect("running pod")
    }

    /// Runs `pod ARGS`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pod {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs `pod ARGS`, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "pod {args:?} unexpectedly succeeded:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("utf-8 output")
    }

    /// Writes a manifest file in the environment and returns its path.
    pub fn manifest(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("writing manifest");
        path
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.clean_up();
    }
}

impl Env {
    /// Deletes every pod of the environment (`--force --grace-period=0`),
    /// then tears down what that could not (`sweep`): a pod whose records
    /// cannot be read. Run when the environment is dropped; a second run
    /// finds nothing.
    pub fn clean_up(&self) {
        if self.root().join("pods").exists() {
            let _ = self
                .pod()
                .args([
                    "delete",
                    "pods",
                    "--all",
                    "-A",
                    "--force",
                    "--grace-period=0",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        sweep::tear_down(self.dir.path(), &self.root(), &self.run_root());
    }
}

/// The repository's samples directory.
pub fn samples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
}

/// The `pod` binary under test: the one cargo built, or `POD_TEST_BIN`
/// when set. A long run (`scripts/soak.sh`) uses a copy, which a rebuild
/// of the worktree during the run cannot replace under it.
pub fn pod_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("POD_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pod").to_string())
    })
}

/// The host's static busybox (Debian's busybox-static).
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// Writes `<dir>/busybox-rootfs.tar`: /bin/busybox from the host with a
/// symlink per applet (`busybox --list`), /etc/passwd and /etc/group with
/// root and nobody, and /tmp. Returns its path.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let list = Command::new(HOST_BUSYBOX)
        .arg("--list")
        .output()
        .expect("running /bin/busybox --list (apt-get install busybox-static)");
    assert!(list.status.success(), "busybox --list failed");
    let applets = String::from_utf8(list.stdout).unwrap();

    let path = dir.join("busybox-rootfs.tar");
    let mut tar = tar::Builder::new(File::create(&path).unwrap());
    let mtime = 1_700_000_000;
    let header = |kind: tar::EntryType, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        h.set_mtime(mtime);
        h
    };
    let dir_entry = |tar: &mut tar::Builder<File>, name: &str, mode: u32| {
        let mut h = header(tar::EntryType::Directory, mode);
        tar.append_data(&mut h, name, &[][..]).unwrap();
    };
    for (name, mode) in [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("proc", 0o555),
        ("root", 0o700),
        ("sys", 0o555),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("var", 0o755),
    ] {
        dir_entry(&mut tar, name, mode);
    }
    let busybox = fs::read(HOST_BUSYBOX).unwrap();
    let mut h = header(tar::EntryType::Regular, 0o755);
    h.set_size(busybox.len() as u64);
    tar.append_data(&mut h, "bin/busybox", &busybox[..])
        .unwrap();
    for applet in applets.lines().map(str::trim) {
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let mut h = header(tar::EntryType::Symlink, 0o777);
        tar.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnobody:x:65534:\n"),
    ];
    for (name, body) in files {
        let mut h = header(tar::EntryType::Regular, 0o644);
        h.set_size(body.len() as u64);
        tar.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap();
    path
}

/// Imports the busybox rootfs into the store at `root` as
/// `docker.io/library/busybox:latest` (what `image: busybox` resolves to),
/// with `CMD ["sh"]` as the real image has.
pub fn import_busybox(root: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let tar = busybox_rootfs_tar(scratch.path());
    let output = Command::new(pod_bin())
        .arg("--root")
        .arg(root)
        .arg("--run-root")
        .arg(scratch.path().join("run"))
        .args(["image", "import", "--quiet", "--change", r#"CMD ["sh"]"#])
        .arg(&tar)
        .arg("docker.io/library/busybox:latest")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pod image import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A real terminal for interactive tests: a tmux server of its own (its
/// socket in the test's directory) running one command in a window of a
/// known size. The server is killed on drop, taking the command with it.
pub struct Terminal {
    socket: PathBuf,
}

impl Terminal {
    /// Starts `argv` in a `cols`x`rows` window, with `env` set.
    pub fn start(
        dir: &Path,
        env: &[(&str, &Path)],
        argv: &[&str],
        cols: u16,
        rows: u16,
    ) -> Terminal {
        let socket = dir.join(format!("tmux-{}", std::process::id()));
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&socket).args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
        for (key, value) in env {
            cmd.arg("-e").arg(format!("{key}={}", value.display()));
        }
        // The command runs under a shell that reports its exit status on
        // the screen and keeps the window open: more reliable than tmux's
        // dead-pane flag, which can lag behind the process's exit.
        let status = cmd
            .args([
                "sh",
                "-c",
                // A trap, not an ignore, so that Ctrl-C still reaches
                // the command (ignored signals are inherited).
                "trap : INT; \"$@\"; echo \"[exited $?]\"; exec sleep 3600",
                "sh",
            ])
            .args(argv)
            .status()
            .expect("running tmux (scripts/install-deps.sh installs it)");
        assert!(status.success(), "tmux new-session failed");
        let terminal = Terminal { socket };
        // The window must outlive the command, so that its last words can
        // still be read.
        terminal.tmux(&["set-option", "-g", "remain-on-exit", "on"]);
        terminal
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    /// Types `text` literally (no key names), as bytes.
    pub fn type_text(&self, text: &str) {
        let mut args = vec!["send-keys".to_string(), "-H".to_string()];
        args.extend(text.bytes().map(|b| format!("{b:02x}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(self.tmux(&args).status.success());
    }

    /// Presses keys by tmux name: `Enter`, `Tab`, `C-c`, `C-d`.
    pub fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-J"]).stdout).into_owned()
    }

    /// Waits (up to `timeout`) until the screen satisfies `ready`; panics
    /// with the screen otherwise.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: std::time::Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let start = std::time::Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits until the screen shows `text`.
    pub fn expect(&self, text: &str) -> String {
        self.wait_for(text, std::time::Duration::from_secs(60), |s| {
            s.contains(text)
        })
    }

    /// Resizes the window (the program gets SIGWINCH).
    pub fn resize(&self, cols: u16, rows: u16) {
        let out = self.tmux(&[
            "resize-window",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
        assert!(
            out.status.success(),
            "tmux resize-window: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // tmux gives the pane's terminal its new size a moment later, on
        // a pass of its own loop: keys typed before that would run at the
        // old size. Done once the kernel has it (and has sent SIGWINCH).
        use std::os::unix::fs::OpenOptionsExt;
        let tty = self.tmux(&["display-message", "-p", "#{pane_tty}"]);
        let tty = String::from_utf8_lossy(&tty.stdout).trim().to_string();
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&tty)
            .unwrap_or_else(|e| panic!("opening the pane's terminal {tty}: {e}"));
        let start = std::time::Instant::now();
        loop {
            let size = rustix::termios::tcgetwinsize(&tty).expect("the pane's window size");
            if (size.ws_col, size.ws_row) == (cols, rows) {
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "the pane's terminal stayed {}x{}, not {cols}x{rows}",
                size.ws_col,
                size.ws_row
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The command's exit status, once it has exited.
    pub fn exit_status(&self) -> Option<i32> {
        let screen = self.screen();
        let line = screen.lines().rev().find(|l| l.starts_with("[exited "))?;
        line.trim_start_matches("[exited ")
            .trim_end()
            .trim_end_matches(']')
            .parse()
            .ok()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// A layer tarball: `(path, Some(content))` for a file, `(path, None)` for
/// a directory. Whiteouts are files named `.wh.<name>`.
pub fn layer_tar(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, content) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        match content {
            Some(body) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(body.len() as u64);
                tar.append_data(&mut h, path, *body).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                tar.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    tar.into_inner().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Writes `bytes` as a blob of the OCI layout at `dir`; returns a
/// descriptor for it.
fn put_layout_blob(dir: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    let digest = sha256(bytes);
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(blobs.join(&digest["sha256:".len()..]), bytes).unwrap();
    serde_json::json!({ "mediaType": media_type, "digest": digest, "size": bytes.len() })
}

/// Stores a one-platform image (gzip layers, lowest first) in the OCI
/// layout at `dir`; returns its manifest descriptor.
fn layout_image(dir: &Path, arch: &str, layers: &[Vec<u8>], cmd: &[&str]) -> serde_json::Value {
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for layer in layers {
        diff_ids.push(sha256(layer));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, layer).unwrap();
        let gz = gz.finish().unwrap();
        descriptors.push(put_layout_blob(
            dir,
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &gz,
        ));
    }
    let config = serde_json::json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": "linux",
        "config": { "Cmd": cmd, "Env": ["PATH=/bin"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = put_layout_blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).unwrap(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": descriptors,
    });
    let mut descriptor = put_layout_blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    descriptor["platform"] = serde_json::json!({ "architecture": arch, "os": "linux" });
    descriptor
}

/// This machine's architecture as images name it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn write_index(dir: &Path, descriptor: serde_json::Value, ref_name: &str) {
    let mut descriptor = descriptor;
    descriptor["annotations"] =
        serde_json::json!({ "org.opencontainers.image.ref.name": ref_name });
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [descriptor] });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// An OCI image layout at `dir` holding one image for this machine, tagged
/// `ref_name` (what skopeo's `oci:DIR:REF` names).
pub fn oci_layout(dir: &Path, ref_name: &str, layers: &[Vec<u8>], cmd: &[&str]) -> PathBuf {
    let descriptor = layout_image(dir, go_arch(), layers, cmd);
    write_index(dir, descriptor, ref_name);
    dir.to_path_buf()
}

/// An OCI image layout at `dir` whose `ref_name` is an image index with a
/// linux/s390x image (`CMD ["s390x"]`) and one for this machine.
pub fn oci_index_layout(dir: &Path, ref_name: &str, layers: &[Vec<u8>], cmd: &[&str]) -> PathBuf {
    let other = layout_image(
        dir,
        "s390x",
        &[layer_tar(&[("s390x", Some(b"x"))])],
        &["s390x"],
    );
    let ours = layout_image(dir, go_arch(), layers, cmd);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [other, ours],
    });
    let descriptor = put_layout_blob(
        dir,
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&index).unwrap(),
    );
    write_index(dir, descriptor, ref_name);
    dir.to_path_buf()
}

/// Packs a directory into a tarball (for oci-archives made without skopeo).
pub fn tar_dir(dir: &Path, out: &Path) -> PathBuf {
    let mut tar = tar::Builder::new(File::create(out).unwrap());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir).unwrap();
    tar.into_inner().unwrap();
    out.to_path_buf()
}

/// Runs `skopeo copy --insecure-policy ARGS`, panicking with its stderr on
/// failure.
pub fn skopeo_copy(args: &[&str]) {
    let out = Command::new("skopeo")
        .args(["copy", "--insecure-policy", "-q"])
        .args(args)
        .output()
        .expect("running skopeo (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo copy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The three layers of the multi-layer test image: a base, a layer
/// deleting a file with a whiteout, a layer adding one.
pub fn multi_layers() -> Vec<Vec<u8>> {
    vec![
        layer_tar(&[
            ("etc", None),
            ("etc/motd", Some(b"hello")),
            ("etc/keep", Some(b"keep")),
        ]),
        layer_tar(&[("etc", None), ("etc/.wh.motd", Some(b""))]),
        layer_tar(&[("app", None), ("app/run", Some(b"v2"))]),
    ]
}
