//! Running one plugin: the `CNI_*` environment, the configuration on
//! stdin, the result (or the plugin's error object) on stdout, and a time
//! limit after which the plugin and whatever it started are killed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::Deserialize;

/// What a plugin is run with, apart from its configuration.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// `ADD`, `DEL`, `CHECK`, `GC`, `VERSION`.
    pub command: &'a str,
    pub container_id: &'a str,
    pub netns: &'a str,
    pub ifname: &'a str,
    /// `CNI_ARGS`: `K=V;K=V`.
    pub args: &'a str,
    /// `CNI_PATH`: where the plugin finds the plugins it delegates to.
    pub path: &'a [PathBuf],
    pub timeout: Duration,
}

/// Why a plugin gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The plugin's own error (the spec's error object), or what its exit
    /// left to read, worded as libcni words it.
    #[error("{0}")]
    Plugin(String),
    #[error("plugin timed out after {}", crate::duration::go_string(*.0))]
    Timeout(Duration),
    #[error("plugin execution was cancelled")]
    Cancelled,
    #[error("{0}")]
    Start(String),
}

/// Lets another thread stop a plugin run: the one running now is killed,
/// and no other starts.
#[derive(Debug, Default, Clone)]
pub struct Cancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    /// The process group of the plugin running now.
    running: Mutex<Option<i32>>,
}

impl Cancel {
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        if let Some(group) = *self.0.running.lock().unwrap_or_else(|e| e.into_inner()) {
            kill_group(group);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }
}

/// The spec's error object (also a plugin's answer to VERSION is read
/// elsewhere).
#[derive(Debug, Deserialize)]
struct ErrorObject {
    #[serde(default)]
    msg: String,
    #[serde(default)]
    details: String,
}

/// Runs `plugin` with `stdin` as its configuration; its stdout when it
/// succeeded.
pub fn run(
    plugin: &Path,
    invocation: &Invocation<'_>,
    stdin: Vec<u8>,
    cancel: Option<&Cancel>,
) -> Result<Vec<u8>, ExecError> {
    if cancel.is_some_and(Cancel::is_cancelled) {
        return Err(ExecError::Cancelled);
    }
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !k.starts_with("CNI_") && k != "PATH")
        .collect();
    env.push(("CNI_COMMAND".into(), invocation.command.into()));
    env.push(("CNI_PATH".into(), join_path(invocation.path)));
    if invocation.command != "VERSION" && invocation.command != "GC" {
        env.push(("CNI_CONTAINERID".into(), invocation.container_id.into()));
        env.push(("CNI_NETNS".into(), invocation.netns.into()));
        env.push(("CNI_IFNAME".into(), invocation.ifname.into()));
        env.push(("CNI_ARGS".into(), invocation.args.into()));
    }
    // Plugins run iptables, ip, modprobe: the system directories are on
    // their PATH whatever the caller's is.
    let path = std::env::var("PATH").unwrap_or_default();
    env.push(("PATH".into(), with_system_dirs(&path)));
    let child = spawn(plugin, &env)
        .map_err(|e| ExecError::Start(format!("failed to run plugin {}: {e}", plugin.display())))?;
    let group = child.pid;
    let reaped = Arc::new(AtomicBool::new(false));
    if let Some(cancel) = cancel {
        *cancel.0.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(group);
        if cancel.is_cancelled() {
            kill_group(group);
        }
    }
    let (tx, rx) = mpsc::channel();
    let reaped_by_waiter = reaped.clone();
    std::thread::Builder::new()
        .name("cni-plugin".into())
        .spawn(move || {
            let output = child.communicate(&stdin);
            reaped_by_waiter.store(true, Ordering::SeqCst);
            let _ = tx.send(output);
        })
        .map_err(|e| ExecError::Start(format!("starting a thread: {e}")))?;
    let outcome = match rx.recv_timeout(invocation.timeout) {
        Ok(output) => Ok(output),
        Err(_) => {
            // Until the waiter reaped it, the group id cannot have been
            // reused. (The window between its reaping and the flag is a
            // few instructions.)
            if !reaped.load(Ordering::SeqCst) {
                kill_group(group);
            }
            // What it started may hold the pipes: not waited for long.
            let _ = rx.recv_timeout(Duration::from_secs(1));
            Err(ExecError::Timeout(invocation.timeout))
        }
    };
    if let Some(cancel) = cancel {
        *cancel.0.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if cancel.is_cancelled() {
            return Err(ExecError::Cancelled);
        }
    }
    let output =
        outcome?.map_err(|e| ExecError::Start(format!("waiting for {}: {e}", plugin.display())))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    Err(ExecError::Plugin(failure_message(
        &output.status,
        &output.stdout,
        &output.stderr,
    )))
}

/// A plugin process, its pipes and its pid.
struct Child {
    pid: i32,
    stdin: File,
    stdout: File,
    stderr: File,
}

/// What a plugin left.
struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Starts `program` with `env`, stdin, stdout and stderr on pipes. Its
/// own process group, so that a timeout kills what it started (iptables,
/// a script's sleep) with it, and SIGKILL when the thread that started it
/// dies (a supervisor killed mid-ADD leaves no plugin running; the DEL
/// after it undoes what it did). Registered with `process::exits`: in the
/// supervisor, its reaper collects the exit for us.
fn spawn(program: &Path, env: &[(String, String)]) -> std::io::Result<Child> {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (pid, mut child) = crate::process::exits::spawn(|| {
        let child = cmd.spawn()?;
        Ok((child.id() as i32, child))
    })?;
    // Dropping std's Child neither kills nor waits: `exits::wait` does.
    let pipe = |p: Option<_>| {
        p.map(File::from)
            .ok_or_else(|| std::io::Error::other("no pipe"))
    };
    Ok(Child {
        pid,
        stdin: pipe(child.stdin.take().map(std::os::fd::OwnedFd::from))?,
        stdout: pipe(child.stdout.take().map(std::os::fd::OwnedFd::from))?,
        stderr: pipe(child.stderr.take().map(std::os::fd::OwnedFd::from))?,
    })
}

impl Child {
    /// Writes `input`, reads both outputs to their end, reaps the child.
    fn communicate(self, input: &[u8]) -> std::io::Result<Output> {
        let Child {
            pid,
            mut stdin,
            mut stdout,
            mut stderr,
        } = self;
        let errors = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        // A plugin that exits without reading its stdin is not an error
        // here: its exit status says what happened.
        let _ = stdin.write_all(input);
        drop(stdin);
        let mut out = Vec::new();
        let read = stdout.read_to_end(&mut out);
        let waited = crate::process::exits::wait(pid);
        let err = errors.join().unwrap_or_default();
        let status = waited?;
        read?;
        Ok(Output {
            status: ExitStatus::from_raw(status),
            stdout: out,
            stderr: err,
        })
    }
}

/// libcni's reading of a failed plugin: its error object's `msg` (and
/// `details`), else what it printed.
fn failure_message(status: &ExitStatus, stdout: &[u8], stderr: &[u8]) -> String {
    let stdout_text = String::from_utf8_lossy(stdout);
    let stderr_text = String::from_utf8_lossy(stderr);
    if stdout.iter().all(u8::is_ascii_whitespace) {
        if stderr.iter().all(u8::is_ascii_whitespace) {
            return format!("netplugin failed with no error message: {status}");
        }
        return format!("netplugin failed: {:?}", stderr_text.as_ref());
    }
    match serde_json::from_slice::<ErrorObject>(stdout) {
        Ok(e) if e.details.is_empty() => e.msg,
        Ok(e) => format!("{}; {}", e.msg, e.details),
        Err(parse) => format!(
            "netplugin failed but error parsing its diagnostic message {:?}: {parse}",
            stdout_text.as_ref()
        ),
    }
}

/// SIGKILL to the process group we made for a plugin.
fn kill_group(group: i32) {
    let _ = crate::process::kill_group(group, libc::SIGKILL);
}

fn join_path(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

fn with_system_dirs(path: &str) -> String {
    let mut dirs: Vec<&str> = path.split(':').filter(|d| !d.is_empty()).collect();
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.join(":")
}

/// Finds plugin `name` in `dirs`, libcni's way (the first executable
/// file of that name).
pub fn find(name: &str, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    // A type is a file name, never a path.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("invalid plugin name {name:?}"));
    }
    for dir in dirs {
        let path = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Ok(path);
        }
    }
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(format!(
        "failed to find plugin {name:?} in path [{}]",
        shown.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn invocation(timeout: Duration) -> Invocation<'static> {
        Invocation {
            command: "ADD",
            container_id: "abc",
            netns: "/run/netns/x",
            ifname: "eth0",
            args: "K8S_POD_NAME=p",
            path: &[],
            timeout,
        }
    }

    #[test]
    fn passes_the_environment_and_stdin_and_returns_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = script(
            dir.path(),
            "echo",
            "echo \"$CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_ARGS\"; cat",
        );
        let out = run(
            &plugin,
            &invocation(Duration::from_secs(10)),
            b"{\"x\":1}".to_vec(),
            None,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ADD abc /run/netns/x eth0 K8S_POD_NAME=p\n{\"x\":1}"
        );
    }

    #[test]
    fn a_failure_reads_as_libcni_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                r#"echo '{"cniVersion":"1.0.0","code":11,"msg":"no IP ranges specified","details":"more"}'; exit 1"#,
                "no IP ranges specified; more",
            ),
            ("echo oops >&2; exit 1", "netplugin failed: \"oops\\n\""),
            (
                "exit 3",
                "netplugin failed with no error message: exit status: 3",
            ),
            (
                "echo notjson; exit 1",
                "netplugin failed but error parsing its diagnostic message \"notjson\\n\": expected ident at line 1 column 2",
            ),
        ];
        for (i, (body, want)) in cases.into_iter().enumerate() {
            let plugin = script(dir.path(), &format!("p{i}"), body);
            let err = run(&plugin, &invocation(Duration::from_secs(10)), vec![], None).unwrap_err();
            assert_eq!(err, ExecError::Plugin(want.to_string()));
        }
    }

    #[test]
    fn a_hung_plugin_and_its_children_are_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let plugin = script(
            dir.path(),
            "hang",
            &format!("sleep 1000 & echo $! > {}; wait", pidfile.display()),
        );
        let started = std::time::Instant::now();
        let err = run(
            &plugin,
            &invocation(Duration::from_millis(500)),
            vec![],
            None,
        )
        .unwrap_err();
        assert_eq!(err, ExecError::Timeout(Duration::from_millis(500)));
        // At the timeout, not at the end of the sleep (a loaded machine
        // may add seconds, never a thousand).
        assert!(started.elapsed() < Duration::from_secs(60));
        let sleeper: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed with its group: gone, or a zombie until init reaps it
        // (SIGKILL takes effect when the process next runs).
        let dead = || {
            let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
            stat.is_empty() || stat.contains(") Z ")
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !dead() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(dead(), "the plugin's child {sleeper} survived");
    }

    #[test]
    fn cancel_stops_the_running_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = script(dir.path(), "hang", "exec sleep 1000");
        let cancel = Cancel::default();
        let other = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            other.cancel();
        });
        let started = std::time::Instant::now();
        let err = run(
            &plugin,
            &invocation(Duration::from_secs(600)),
            vec![],
            Some(&cancel),
        )
        .unwrap_err();
        assert_eq!(err, ExecError::Cancelled);
        // At the cancel, not at the timeout (with room for a loaded
        // machine).
        assert!(started.elapsed() < Duration::from_secs(60));
        assert_eq!(
            run(
                &plugin,
                &invocation(Duration::from_secs(30)),
                vec![],
                Some(&cancel)
            ),
            Err(ExecError::Cancelled)
        );
    }

    #[test]
    fn plugins_are_found_by_name_in_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        script(b.path(), "bridge", "true");
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(find("bridge", &dirs).unwrap(), b.path().join("bridge"));
        let err = find("nope", &dirs).unwrap_err();
        assert!(
            err.starts_with("failed to find plugin \"nope\" in path ["),
            "{err}"
        );
        assert!(find("../bridge", &dirs).is_err());
    }
}
