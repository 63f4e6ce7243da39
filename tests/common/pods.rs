//! Helpers of the tests that run real pods: create one, wait for its
//! state or its logs, delete it and check the host holds nothing of it.

use std::time::{Duration, Instant};

use super::Env;

/// A pod `web` of one container sleeping an hour, gone a second after a
/// delete.
pub const SLEEPER: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sleep, '3600']
    imagePullPolicy: Never
";

/// Creates the objects of `yaml`; returns the uid of the pod `name`.
pub fn create(env: &Env, name: &str, yaml: &str) -> String {
    let file = env.manifest(&format!("{name}.yaml"), yaml);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    env.ok(&["get", "pod", name, "-o", "jsonpath={.metadata.uid}"])
}

pub fn jsonpath(env: &Env, name: &str, path: &str) -> String {
    let out = env.run(&["get", "pod", name, "-o", &format!("jsonpath={path}")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How long a test waits for something a pod does (start, log, stop)
/// before it calls it hung: CI runs every test binary on two loaded
/// cores, where a pod start that takes 1 s alone can take tens.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` until it returns Some, or panics with `what` and the
/// pod's state after [`PATIENCE`].
pub fn wait_until<T>(env: &Env, name: &str, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; pod status: {}",
                jsonpath(env, name, "{.status}")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The content of a container's first log file without the CRI prefix
/// (`<time> <stream> <tag> `).
pub fn log(env: &Env, name: &str, uid: &str, container: &str) -> String {
    let path = env
        .root()
        .join("logs")
        .join(format!("default_{name}_{uid}"))
        .join(container)
        .join("0.log");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = String::new();
    for line in text.lines() {
        let mut parts = line.splitn(4, ' ');
        let (_, _, tag, content) = (parts.next(), parts.next(), parts.next(), parts.next());
        out.push_str(content.unwrap_or(""));
        if tag != Some("P") {
            out.push('\n');
        }
    }
    out
}

/// Waits until the container's log holds `text`; returns the log. A
/// marker word (`end`, `done`, `ready`: lower-case letters, digits and
/// dashes) must be a line of its own, so that output before it which
/// happens to contain the word (`pending`, `vendor`) does not end the wait
/// before the command has written everything.
pub fn wait_log(env: &Env, name: &str, uid: &str, container: &str, text: &str) -> String {
    let marker = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    wait_until(
        env,
        name,
        &format!("{text:?} in the log of {container}"),
        || {
            let log = log(env, name, uid, container);
            let found = if marker {
                log.lines().any(|l| l == text)
            } else {
                log.contains(text)
            };
            found.then_some(log)
        },
    )
}

/// Deletes the pod and asserts the host holds nothing of it any more (the
/// supervisor may take a moment to exit after answering the delete, many
/// on a loaded machine: waited for up to [`PATIENCE`]).
pub fn delete_and_check_clean(env: &Env, name: &str, uid: &str) {
    env.ok(&["delete", "pod", name, "--grace-period=2"]);
    assert_nothing_left(env, uid, &format!("pod {name}"));
}

/// Asserts that the host holds nothing of the pod (see [`leftovers`]) once
/// its supervisor has had [`PATIENCE`] to exit and clean up; `whose` names
/// it in the failure.
pub fn assert_nothing_left(env: &Env, uid: &str, whose: &str) {
    let deadline = Instant::now() + PATIENCE;
    let mut left = leftovers(env, uid);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = leftovers(env, uid);
    }
    assert!(left.is_empty(), "left behind by {whose}: {left:#?}");
}

/// Mounts, cgroups, processes and directories of the pod still on the host.
pub fn leftovers(env: &Env, uid: &str) -> Vec<String> {
    let mut left = Vec::new();
    // The pod's mounts, and only them: every mount a pod makes on the host
    // is under its run directory or names its writable directory, both
    // named by its uid. Not every mount under the test's directory: a test
    // may mount there itself (a small tmpfs, a shared host mount), and
    // another pod of the same environment may still be running.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    left.extend(
        mountinfo
            .lines()
            .filter(|l| l.contains(uid))
            .map(|l| format!("mount: {l}")),
    );
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for candidate in [
            hierarchy.path().join("pod").join(uid),
            hierarchy.path().join(uid),
        ] {
            if candidate.exists() {
                left.push(format!("cgroup: {}", candidate.display()));
            }
        }
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cgroup.contains(uid) || cmdline.contains(uid) {
            left.push(format!("process {pid}: {cmdline}"));
        }
    }
    for dir in [
        env.run_root().join("pods").join(uid),
        env.root().join("writable").join(uid),
    ] {
        if dir.exists() {
            // What is in it tells which step left it.
            let names: Vec<String> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            left.push(format!("directory: {} {names:?}", dir.display()));
        }
    }
    left
}

/// The pid of a `pid start` record of the pod's run directory
/// (`supervisor.pid`, `keeper.pid`), if that process still exists (a
/// zombie does): its start time is checked, so a pid reused since is
/// never named.
pub fn recorded_pid(env: &Env, uid: &str, file: &str) -> Option<i32> {
    let text = std::fs::read_to_string(env.run_root().join("pods").join(uid).join(file)).ok()?;
    let mut words = text.split_whitespace();
    let pid: i32 = words.next()?.parse().ok()?;
    let start = words.next()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    (fields.get(19) == Some(&start)).then_some(pid)
}

/// Kills (-9) the pod's supervisor and nothing else: its keeper starts a
/// new one, which adopts the pod. Returns the supervisor's pid.
pub fn kill_supervisor(env: &Env, uid: &str) -> i32 {
    let pid = recorded_pid(env, uid, "supervisor.pid").expect("a supervisor pid file");
    // SAFETY: kill(2) of the supervisor this test's pod command started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    pid
}

/// Kills the pod's supervisor for good: its keeper first (which would
/// start a new supervisor that adopts the pod), then the supervisor, and
/// waits until both are dead (a pending SIGKILL takes a loaded machine a
/// moment, and a `pod` command that reads the pod meanwhile leaves it to
/// them; once both are gone, one that reads it adopts it). Returns the
/// supervisor's pid.
pub fn kill_supervisor_for_good(env: &Env, uid: &str) -> i32 {
    let keeper = recorded_pid(env, uid, "keeper.pid");
    if let Some(keeper) = keeper {
        // SAFETY: kill(2) of the keeper this test's pod command started.
        unsafe { libc::kill(keeper, libc::SIGKILL) };
    }
    let supervisor = kill_supervisor(env, uid);
    let deadline = Instant::now() + PATIENCE;
    let live = |file: &str| {
        recorded_pid(env, uid, file).filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            !stat.is_empty() && !stat.contains(") Z ")
        })
    };
    while live("keeper.pid").filter(|&p| Some(p) == keeper).is_some()
        || live("supervisor.pid") == Some(supervisor)
    {
        assert!(
            Instant::now() < deadline,
            "the keeper or supervisor of {uid} lives on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A killed process reads as a zombie once its main thread has exited,
    // while another of its threads (one in an fsync) may still hold the
    // descriptor of the pid file's lock: until it lets go, `pod` takes the
    // supervisor as running, and a read would not see the pod lost.
    let pid_file = env.run_root().join("pods").join(uid).join("supervisor.pid");
    while std::fs::File::open(&pid_file).is_ok_and(|file| {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: flock(2) of a descriptor this function owns.
        unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) != 0 }
    }) {
        assert!(
            Instant::now() < deadline,
            "the supervisor of {uid}, dead, holds its pid file's lock on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    supervisor
}

/// The entries of the node-wide address index (`/run/pod-network/*/leases`)
/// that link into `env`'s state: each entry with its target.
pub fn index_entries(env: &Env) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    index_entries_under(env.dir.path())
}

/// The entries of the node-wide address index that link under `dir`.
pub fn index_entries_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
    let root = format!("{}/", dir.to_string_lossy());
    let mut found = Vec::new();
    for index in std::fs::read_dir("/run/pod-network")
        .into_iter()
        .flatten()
        .flatten()
    {
        for entry in std::fs::read_dir(index.path().join("leases"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = std::fs::read_link(entry.path())
                && target.to_string_lossy().starts_with(&root)
            {
                found.push((entry.path(), target));
            }
        }
    }
    found
}

/// A pod that writes, into a host directory, the order in which it was
/// stopped: its preStop hook, then its SIGTERM handler; and a container
/// that ignores SIGTERM (sleep as PID 1), so the grace period is waited
/// out before its SIGKILL.
pub fn polite_pod(name: &str, out: &std::path::Path, grace: u32) -> String {
    format!(
        "\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: {grace}
  volumes:
  - name: out
    hostPath: {{path: {out}, type: Directory}}
  containers:
  - name: polite
    image: busybox
    imagePullPolicy: Never
    volumeMounts:
    - {{name: out, mountPath: /out}}
    command: [sh, -c, 'trap \"echo term >> /out/order; exit 0\" TERM; while true; do sleep 0.1; done']
    lifecycle:
      preStop:
        exec:
          command: [sh, -c, 'echo pre-stop >> /out/order']
  - name: stubborn
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '3600']
",
        out = out.display()
    )
}
