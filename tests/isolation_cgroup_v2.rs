//! The cgroup v2 path run for real on a v1 (hybrid) host: `pod` runs in a
//! private mount namespace where /sys/fs/cgroup is the host's cgroup2
//! hierarchy (the bind of /sys/fs/cgroup/unified), so the runtime detects
//! a unified layout and takes its v2 path: cgroups made there, the BPF
//! device program attached, a cgroup namespace per container and a
//! read-only cgroup2 /sys/fs/cgroup inside. The device attack (mknod of
//! the kernel log, then a write) is shown to work in a privileged
//! container, then must fail in a default one. On a host that is v2
//! already, the same runs without the bind.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::pods::wait_log;
use common::{Env, import_busybox};

/// A process holding a private mount namespace whose /sys/fs/cgroup is
/// cgroup2; `pod` commands run in it with nsenter. Killed on drop.
struct Unified {
    holder: Option<Child>,
}

impl Unified {
    fn new() -> Unified {
        let v2 = nix::sys::statfs::statfs("/sys/fs/cgroup")
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
        if v2 {
            return Unified { holder: None };
        }
        assert!(
            Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists(),
            "neither /sys/fs/cgroup nor /sys/fs/cgroup/unified is cgroup2"
        );
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup && echo ready && exec sleep 600")
            .stdout(Stdio::piped())
            .spawn()
            .expect("running unshare");
        let mut line = String::new();
        std::io::BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        Unified {
            holder: Some(holder),
        }
    }

    /// `pod ARGS` of `env`, in the namespace.
    fn run(&self, env: &Env, args: &[&str]) -> Output {
        let mut cmd = match &self.holder {
            Some(holder) => {
                let mut cmd = Command::new("nsenter");
                cmd.args(["-t", &holder.id().to_string(), "-m", "--"]);
                cmd.arg(env!("CARGO_BIN_EXE_pod"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_pod")),
        };
        cmd.env("POD_ROOT", env.root())
            .env("POD_RUN_ROOT", env.run_root())
            .env("POD_REGISTRIES_CONF", env.offline_registries_conf())
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, env: &Env, args: &[&str]) -> String {
        let out = self.run(env, args);
        assert!(
            out.status.success(),
            "pod {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The host directory of the cgroup2 hierarchy.
    fn hierarchy(&self) -> &'static Path {
        match self.holder {
            Some(_) => Path::new("/sys/fs/cgroup/unified"),
            None => Path::new("/sys/fs/cgroup"),
        }
    }
}

impl Drop for Unified {
    fn drop(&mut self) {
        if let Some(mut holder) = self.holder.take() {
            let _ = holder.kill();
            let _ = holder.wait();
        }
    }
}

/// `mknod` of the kernel log (c 1:11) then a write to it, in an emptyDir
/// (not nodev: only the device program stands in the way).
const KMSG: &str = "if mknod /scratch/kmsg c 1 11 && echo pod-cgroup-v2-test > /scratch/kmsg; then echo kmsg=wrote; else echo kmsg=refused; fi; rm -f /scratch/kmsg";

/// What the container sees of its cgroup: its namespace's root, a cgroup2
/// /sys/fs/cgroup, read-only.
const CGROUP: &str = "echo self=$(cat /proc/self/cgroup); if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo fs=cgroup2; fi; if mkdir /sys/fs/cgroup/escape 2>/dev/null; then echo cgroupfs=writable; rmdir /sys/fs/cgroup/escape; else echo cgroupfs=read-only; fi";

fn pod_yaml(name: &str, security: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{{name: scratch, emptyDir: {{}}}}]
  containers:
  - name: main
    image: busybox
    imagePullPolicy: Never
    securityContext: {security}
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
    command: [sh, -c, '{KMSG}; {CGROUP}; : < /dev/null && echo null=ok; echo end; sleep 600']
"#
    )
}

#[test]
fn the_cgroup_v2_path_keeps_containers_from_host_devices() {
    let env = Env::new();
    import_busybox(&env.root());
    let unified = Unified::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| attack(&env, &unified)));
    // Deleted from inside the namespace, where the supervisors and the
    // cgroups are, even when the test failed.
    let _ = unified.run(
        &env,
        &["delete", "pods", "--all", "--force", "--grace-period=0"],
    );
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn attack(env: &Env, unified: &Unified) {
    let run = |name: &str, security: &str| {
        let file = env.manifest(&format!("{name}.yaml"), &pod_yaml(name, security));
        unified.ok(env, &["create", "-f", file.to_str().unwrap()]);
        let uid = unified.ok(env, &["get", "pod", name, "-o", "jsonpath={.metadata.uid}"]);
        let log = wait_log(env, name, &uid, "main", "end");
        (uid, log)
    };

    // The weakened set-up: a privileged container has no device program.
    let (privileged_uid, log) = run("privileged", "{privileged: true}");
    assert!(log.contains("kmsg=wrote\n"), "{log}");
    assert!(log.contains("fs=cgroup2\n"), "{log}");
    assert!(log.contains("cgroupfs=writable\n"), "{log}");

    let (uid, log) = run("confined", "{}");
    assert!(log.contains("kmsg=refused\n"), "{log}");
    assert!(log.contains("Operation not permitted"), "{log}");
    assert!(log.contains("null=ok\n"), "{log}");
    // Its own cgroup namespace, a cgroup2 /sys/fs/cgroup, read-only.
    // (On a hybrid host the process is in the v1 hierarchies too, where
    // the runtime on its v2 path leaves it: every path is the namespace's
    // root.)
    let own = log
        .lines()
        .find_map(|l| l.strip_prefix("self="))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(own.split(' ').any(|p| p == "0::/"), "{log}");
    assert!(own.split(' ').all(|p| p.ends_with(":/")), "{log}");
    assert!(log.contains("fs=cgroup2\n"), "{log}");
    assert!(log.contains("cgroupfs=read-only\n"), "{log}");
    // The cgroup is in the host's cgroup2 hierarchy.
    let dir = unified.hierarchy().join("pod").join(&uid);
    assert!(dir.is_dir(), "{} missing", dir.display());

    // An exec'd process is in the container's cgroup, under its program.
    let out = unified.run(
        env,
        &[
            "exec",
            "confined",
            "--",
            "sh",
            "-c",
            "cat /proc/self/cgroup; mknod /scratch/kmsg c 1 11 && echo x > /scratch/kmsg",
        ],
    );
    let own = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(own.lines().any(|p| p == "0::/"), "{own}");
    assert!(own.lines().all(|p| p.ends_with(":/")), "{own}");
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{out:?}"
    );

    for (name, uid) in [("privileged", &privileged_uid), ("confined", &uid)] {
        unified.ok(env, &["delete", "pod", name, "--grace-period=1"]);
        let dir = unified.hierarchy().join("pod").join(uid);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
