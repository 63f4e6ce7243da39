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

/// `pod wait` exits before its inotify instance is released: the release
/// waits for the kernel (a grace period, above 10 ms under load) and a
/// process's exit waits for its last closes, so the command leaves the
/// instance to a child that holds it alone and outlives it, then ends by
/// itself. Traced, so that the order is certain: the child is let run
/// until it waits, and the command is held at its exit, its descriptors
/// not closed yet: the child must still be there then (had it ended
/// first, the command's close would be the last, and it would wait).
#[test]
fn a_wait_exits_before_its_inotify_instance_is_released() {
    use std::io::Read as _;
    use std::os::unix::process::CommandExt as _;

    let env = Env::new();
    let file = env.manifest("cm.yaml", CONFIGMAP);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let mut cmd = env.pod();
    cmd.args(["wait", "configmap/settings", "--for=create"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: ptrace(2) only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by the tracer's waitpid below, which std cannot see"
    )]
    let mut wait = cmd.spawn().expect("running pod wait");
    let pid = wait.id() as i32;
    let traced = |pid: i32, flags: i32| -> Option<i32> {
        let mut status = 0;
        // SAFETY: waitpid on a process this thread traces.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::__WALL | flags) };
        assert!(got >= 0, "{}", std::io::Error::last_os_error());
        (got == pid).then_some(status)
    };
    let resume = |pid: i32, signal: i32| {
        // SAFETY: ptrace(2) on a stopped tracee of this thread.
        let rc = unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, signal) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    };
    let state = |pid: i32| -> (char, Vec<String>) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
        let held = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|entries| {
                entries
                    .map(|e| std::fs::read_link(e.unwrap().path()).unwrap())
                    .map(|l| l.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        (state.chars().next().unwrap_or('?'), held)
    };
    // Stopped at its exec: every process it makes is traced from here,
    // and it stops again at its exit.
    let status = traced(pid, 0).unwrap();
    assert!(libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP);
    let options = libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACEEXIT;
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options) },
        0
    );
    resume(pid, 0);
    let mut closer = None;
    let code = loop {
        let status = traced(pid, 0).unwrap();
        if libc::WIFEXITED(status) {
            break libc::WEXITSTATUS(status);
        }
        assert!(libc::WIFSTOPPED(status), "pod wait died: {status:#x}");
        let event = status >> 16;
        if event == libc::PTRACE_EVENT_EXIT {
            // On its way out, its descriptors not closed yet: the child
            // is still there, waiting, with the instance and nothing else
            // (no pipe of the caller's, no lock).
            let closer = closer.expect("pod wait left no process to close its inotify instance");
            assert_eq!(state(closer), ('S', vec!["anon_inode:inotify".to_string()]));
            resume(pid, 0);
        } else if event != 0 {
            // A fork, vfork or clone: the new process, let run (from its
            // first stop) until it waits or ends.
            let mut new: libc::c_ulong = 0;
            // SAFETY: as above, with a place for the message.
            unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut new) };
            let new = new as i32;
            assert!(closer.replace(new).is_none(), "pod wait made two processes");
            assert!(libc::WIFSTOPPED(traced(new, 0).unwrap()));
            resume(new, 0);
            let deadline = Instant::now() + Duration::from_secs(60);
            while state(new).0 != 'S' {
                if let Some(status) = traced(new, libc::WNOHANG) {
                    panic!("the child ended before pod wait did: {status:#x}");
                }
                assert!(Instant::now() < deadline, "the child never waited");
                std::thread::sleep(Duration::from_millis(1));
            }
            resume(pid, 0);
        } else {
            resume(pid, libc::WSTOPSIG(status));
        }
    };
    let (mut out, mut err) = (String::new(), String::new());
    wait.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    wait.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "configmap/settings condition met\n", "")
    );
    // The command gone, the child ends by itself (stopping once more at
    // its exit, as it is traced with the command's options).
    let closer = closer.unwrap();
    let mut status = traced(closer, 0).unwrap();
    if libc::WIFSTOPPED(status) && status >> 16 == libc::PTRACE_EVENT_EXIT {
        resume(closer, 0);
        status = traced(closer, 0).unwrap();
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status:#x}"
    );
}
