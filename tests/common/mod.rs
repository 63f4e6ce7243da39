//! Shared helpers of the integration tests: a `pod` binary bound to its
//! own temporary state directories, cleaned up when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// One isolated `pod` installation: its own --root and --run-root. Dropping
/// it deletes every pod it made (stopping their processes, mounts and
/// cgroups) and removes the directories.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("pod-test-")
            .tempdir_in(std::env::var_os("POD_TEST_TMP").unwrap_or_else(|| "/tmp".into()))
            .expect("creating a temporary directory");
        Env { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A `pod` command with this environment's state directories.
    pub fn pod(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pod"));
        cmd.env("POD_ROOT", self.root())
            .env("POD_RUN_ROOT", self.run_root())
            .env_remove("POD_REGISTRIES_CONF")
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
    }
}

/// The repository's samples directory.
pub fn samples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
}
