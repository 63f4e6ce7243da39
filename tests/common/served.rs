//! `pod serve` for a test's environment, and the real kubectl (1.32 on
//! this machine image; a machine without kubectl fails these tests, they
//! do not skip) pointed at it. The server is the test's own child, on a
//! free loopback port, killed by its pid when the test ends, whether it
//! passed or not.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{Env, pods};

/// A running `pod serve` for one environment, and a kubeconfig for it.
pub struct Served {
    server: Child,
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    pub env: Env,
}

impl Drop for Served {
    fn drop(&mut self) {
        // Our own child, by its pid.
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Starts `pod serve --port 0` and waits (generously: a loaded machine)
/// for the line that says where it listens; then `pod kubeconfig` for it.
pub fn serve(env: Env) -> Served {
    serve_with(env, |_| {})
}

/// `pod serve` over a new environment with busybox imported: where most
/// API tests start.
pub fn serve_busybox() -> Served {
    let env = Env::new();
    super::import_busybox(&env.root());
    serve(env)
}

/// `serve_busybox` once pod `name`, created from `yaml`, runs (the pod
/// is created through the CLI, before the server starts).
pub fn serve_running(name: &str, yaml: &str) -> Served {
    let env = Env::new();
    super::import_busybox(&env.root());
    pods::create(&env, name, yaml);
    pods::wait_until(&env, name, "the pod to run", || {
        (pods::jsonpath(&env, name, "{.status.phase}") == "Running").then_some(())
    });
    serve(env)
}

/// `serve`, with the server's command adjusted first (environment
/// variables the server's pods inherit, say).
pub fn serve_with(env: Env, adjust: impl FnOnce(&mut Command)) -> Served {
    let mut cmd = env.pod();
    cmd.args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    adjust(&mut cmd);
    let mut server = cmd.spawn().expect("starting pod serve");
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let kubeconfig = env.dir.path().join("kubeconfig");
    let mut served = Served {
        server,
        kubeconfig: kubeconfig.clone(),
        url: String::new(),
        env,
    };
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("pod serve printed no address");
    let url = line
        .trim()
        .strip_prefix("Serving the Kubernetes API on ")
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(url.starts_with("https://127.0.0.1:"), "{line:?}");
    served.url = url.to_string();
    served.env.ok(&["kubeconfig", kubeconfig.to_str().unwrap()]);
    served
}

impl Served {
    /// Writes `text` to `name` in the test's directory, for kubectl's
    /// `-f`; its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.env.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.server.id()
    }

    /// kubectl with `kubeconfig` (and a discovery cache of the test's
    /// own).
    pub fn kubectl_with(&self, kubeconfig: &Path) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(self.env.dir.path().join("kube-cache"))
            .stdin(Stdio::null());
        cmd
    }

    /// kubectl with this server's kubeconfig.
    pub fn kubectl_cmd(&self) -> Command {
        self.kubectl_with(&self.kubeconfig)
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_cmd()
            .args(args)
            .output()
            .expect("running kubectl (it must be installed: these tests do not skip)")
    }

    /// kubectl ARGS, asserted to succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl ARGS, asserted to fail; its stderr.
    pub fn kubectl_fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}
