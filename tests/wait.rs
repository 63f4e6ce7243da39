//! `pod wait` and `get -w` wake on the store's changes (inotify, as the
//! API server's watches do) instead of reading the store on a timer:
//! while nothing changes they read nothing, and a change wakes them
//! although their own periodic re-check is set an hour away.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;

/// Their periodic re-check (the safety net for what a read computes
/// rather than finds in a file) set out of the tests' reach: what they
/// print here, a notification woke them to read.
const NO_RECHECK: (&str, &str) = ("POD_WATCH_RECHECK", "1h");

const CONFIGMAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n";

/// A `pod` command of `env` without the periodic re-check.
fn unrechecked(env: &Env, args: &[&str]) -> Command {
    let mut cmd = env.pod();
    cmd.env(NO_RECHECK.0, NO_RECHECK.1).args(args);
    cmd
}

/// A command running beside the test, killed if the test fails first.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running pod");
        Running(Some(child))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("running")
    }

    /// Its output lines as they come, each waited for up to a minute.
    fn lines(&mut self) -> impl FnMut() -> String + use<> {
        let rx = common::lines(self.child().stdout.take().expect("stdout piped"));
        move || {
            rx.recv_timeout(Duration::from_secs(60))
                .expect("a line within a minute")
        }
    }

    fn pid(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }

    /// Its exit code and output once it ended (within a minute).
    fn finish(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child().try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "still running after a minute");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = self.0.take().unwrap().wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The read system calls `pid` has made so far (`/proc/<pid>/io`).
fn reads(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("reading /proc/<pid>/io");
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .and_then(|n| n.parse().ok())
        .expect("syscr in /proc/<pid>/io")
}

/// Once `pid` is asleep between two reads of the store (in a poll or a
/// sleep), the reads it makes in the second after: none if it waits for
/// a change, about ten a second if it reads on a timer.
fn reads_while_nothing_changes(pid: u32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        // x86_64: poll 7, ppoll 271, nanosleep 35, clock_nanosleep 230;
        // aarch64: ppoll 73, nanosleep 101, clock_nanosleep 115.
        let number = syscall.split_whitespace().next().unwrap_or_default();
        let waiting = if cfg!(target_arch = "x86_64") {
            ["7", "271", "35", "230"].contains(&number)
        } else {
            ["73", "101", "115"].contains(&number)
        };
        if waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never waited: {syscall}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = reads(pid);
    std::thread::sleep(Duration::from_secs(1));
    reads(pid) - before
}

#[test]
fn a_wait_reads_nothing_until_its_object_changes_and_then_wakes() {
    let env = Env::new();
    let file = env.manifest("cm.yaml", CONFIGMAP);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let wait = Running::spawn(unrechecked(
        &env,
        &[
            "wait",
            "configmap/settings",
            "--for=delete",
            "--timeout=60s",
        ],
    ));
    let idle = reads_while_nothing_changes(wait.pid());
    env.ok(&["delete", "configmap", "settings"]);
    let (code, out, err) = wait.finish();
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (Some(0), "configmap/settings condition met\n", "")
    );
    assert_eq!(idle, 0, "reads in a second while nothing changed");
}

#[test]
fn a_get_watch_reads_nothing_until_a_change_and_then_prints_it() {
    let env = Env::new();
    let file = env.manifest("cm.yaml", CONFIGMAP);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let mut watch = Running::spawn(unrechecked(&env, &["get", "cm", "-w"]));
    let mut line = watch.lines();
    assert!(line().starts_with("NAME "));
    assert!(line().starts_with("settings "));
    let idle = reads_while_nothing_changes(watch.pid());
    env.ok(&["delete", "configmap", "settings"]);
    // The deleted object is printed once more, as kubectl does.
    assert!(line().starts_with("settings "));
    assert_eq!(idle, 0, "reads in a second while nothing changed");
}

/// kubectl prints the items of its first list one by one when it
/// watches, and each change as the object alone: never a List, whose
/// `.metadata.name` is empty.
#[test]
fn a_get_watch_of_a_kind_prints_each_object_in_machine_formats() {
    let env = Env::new();
    let file = env.manifest("cm.yaml", CONFIGMAP);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let mut watch = Running::spawn(unrechecked(
        &env,
        &[
            "get",
            "cm",
            "-w",
            "-o",
            "jsonpath={.metadata.name}{\"\\n\"}",
        ],
    ));
    let mut line = watch.lines();
    assert_eq!(line(), "settings");
    let other = env.manifest("other.yaml", &CONFIGMAP.replace("settings", "other"));
    env.ok(&["create", "-f", other.to_str().unwrap()]);
    assert_eq!(line(), "other");
}

/// The pod's own files (its directory made, its status replaced by its
/// supervisor, its directory removed) wake each wait, in kubectl's
/// words; a wait that times out still says so with exit code 1.
#[test]
fn waits_on_a_pod_are_woken_by_its_create_its_status_and_its_deletion() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let created = Running::spawn(unrechecked(
        &env,
        &["wait", "pod/web", "--for=create", "--timeout=60s"],
    ));
    reads_while_nothing_changes(created.pid());
    common::pods::create(&env, "web", common::pods::SLEEPER);
    assert_eq!(
        created.finish(),
        (Some(0), "pod/web condition met\n".into(), String::new())
    );
    let ready = unrechecked(
        &env,
        &["wait", "pod/web", "--for=condition=Ready", "--timeout=60s"],
    )
    .output()
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ready.stdout),
        "pod/web condition met\n",
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    let deleted = Running::spawn(unrechecked(
        &env,
        &["wait", "pod/web", "--for=delete", "--timeout=60s"],
    ));
    reads_while_nothing_changes(deleted.pid());
    env.ok(&["delete", "pod", "web", "--wait=false"]);
    assert_eq!(
        deleted.finish(),
        (Some(0), "pod/web condition met\n".into(), String::new())
    );
    let timed_out = unrechecked(
        &env,
        &["wait", "pod/web", "--for=create", "--timeout=200ms"],
    )
    .output()
    .unwrap();
    assert_eq!(
        (
            timed_out.status.code(),
            String::from_utf8_lossy(&timed_out.stderr).into_owned()
        ),
        (
            Some(1),
            "error: timed out waiting for the condition on pods/web\n".into()
        )
    );
}
