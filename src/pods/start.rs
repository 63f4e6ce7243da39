//! Starting a pod's supervisor (`pod create`, `pod apply`): this binary
//! re-executed with argv[0] `pod-supervisor`, in a session of its own so
//! that neither the CLI's exit nor the terminal's hang-up reaches it; the
//! supervisor's side is `supervisor::launch`.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;

use crate::store::record;
use crate::store::{Store, pod_uid};
use crate::supervisor::launch::{ARGV0, Args, MARKER, READY_FD, Settings};

/// A supervisor started but not yet known to be listening: `create` starts
/// many before it waits for the first, so their start-ups overlap.
#[must_use = "wait() says whether the supervisor started"]
pub struct Starting {
    namespace: String,
    name: String,
    uid: String,
    child: Child,
    ready: File,
    log_path: PathBuf,
    /// A pod created now is removed again when its supervisor does not
    /// start; one that existed before (`pod up`) is kept.
    created: bool,
}

/// Starts the supervisor of a freshly stored pod without waiting for it
/// (see [`Starting::wait`]). If it cannot start (or the environment holds
/// a malformed setting), the pod record is removed again so that nothing
/// half-created is left.
pub fn start(store: &Store, pod: &Pod) -> Result<Starting> {
    begin(store, pod, true, false)
}

/// Starts the supervisor of a pod stored before (its node restarted, see
/// `pods::boot`); if it does not start, the pod stays as it was.
pub fn start_stored(store: &Store, pod: &Pod) -> Result<Starting> {
    begin(store, pod, false, false)
}

/// Starts a supervisor that adopts a stored pod whose supervisor and
/// keeper both died while its processes may run on (see `pods::boot`);
/// if it does not start, the pod stays as it was.
pub fn recover(store: &Store, pod: &Pod) -> Result<Starting> {
    begin(store, pod, false, true)
}

fn begin(store: &Store, pod: &Pod, created: bool, recover: bool) -> Result<Starting> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod_uid(pod).unwrap_or_default().to_string();
    let result = Settings::from_env().and_then(|settings| spawn(store, pod, &settings, recover));
    match result {
        Ok((child, ready, log_path)) => Ok(Starting {
            namespace,
            name,
            uid,
            child,
            ready,
            log_path,
            created,
        }),
        Err(e) if !created => Err(e.context(format!("starting the supervisor of pod {name:?}"))),
        Err(e) => Err(forget(store, &namespace, &name, &uid, e)),
    }
}

impl Starting {
    /// Waits until the supervisor says it is listening, or why it is not.
    pub fn wait(mut self, store: &Store) -> Result<()> {
        let result = (|| -> Result<()> {
            let mut answer = String::new();
            self.ready.read_to_string(&mut answer)?;
            if answer.trim() == "ready" {
                return Ok(());
            }
            let _ = self.child.wait();
            let log = fs::read_to_string(&self.log_path).unwrap_or_default();
            let last = log.lines().last().unwrap_or("it exited without a word");
            bail!("{last}")
        })();
        result.map_err(|e| match self.created {
            true => forget(store, &self.namespace, &self.name, &self.uid, e),
            false => e.context(format!("starting the supervisor of pod {:?}", self.name)),
        })
    }
}

/// Removes what a failed start left (the pod record, its run directory)
/// and says which pod's supervisor did not start.
fn forget(
    store: &Store,
    namespace: &str,
    name: &str,
    uid: &str,
    e: anyhow::Error,
) -> anyhow::Error {
    let _ = store.remove(crate::api::Kind::Pod, namespace, name);
    if !uid.is_empty() {
        let _ = fs::remove_dir_all(store.pod_run_dir(uid));
    }
    e.context(format!("starting the supervisor of pod {name:?}"))
}

/// glibc's settings for the supervisor, read by glibc when the process
/// starts (after the user's own, if any). A supervisor lives as long as its
/// pod and is idle most of that time, so what glibc keeps for speed is
/// paid once per pod: no cache of exited threads' stacks (up to 40 MiB;
/// a supervisor starts a thread rarely, for a pod's network and each
/// container's start, and kept about 15 KiB resident of each: see
/// `supervisor::offload`), and no per-thread cache of freed blocks (7 of
/// each size up to 1 KiB, which `malloc_trim` cannot give back: 60 KiB
/// and more of a supervisor's heap after its start).
fn supervisor_tunables() -> std::ffi::OsString {
    let mut value = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
    if !value.is_empty() {
        value.push(":");
    }
    value.push(crate::supervisor::launch::TUNABLES);
    value
}

/// Forks the supervisor; returns it, the read end of its ready pipe and
/// its log file.
fn spawn(
    store: &Store,
    pod: &Pod,
    settings: &Settings,
    recover: bool,
) -> Result<(Child, File, PathBuf)> {
    let uid = pod_uid(pod)?.to_string();
    let run_dir = store.pod_run_dir(&uid);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&run_dir)
        .with_context(|| format!("creating {}", run_dir.display()))?;
    fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o700))?;
    let log_path = run_dir.join(record::LOG_FILE);
    let log = File::create(&log_path)?;
    let args = Args {
        root: store.root().to_path_buf(),
        run_root: store.run_root().to_path_buf(),
        config: Some(store.node_config_path()),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid,
        settings: *settings,
        recover,
    };
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let ready_w_raw = ready_w.as_raw_fd();
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(ARGV0)
        .arg(MARKER)
        .arg(serde_json::to_string(&args)?)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .current_dir("/");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if ready_w_raw != READY_FD && libc::dup2(ready_w_raw, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(READY_FD, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    crate::fault::pass_to_supervisor(&mut command);
    command.env("GLIBC_TUNABLES", supervisor_tunables());
    let child = command.spawn().context("re-executing pod")?;
    crate::fault::point("supervisor-spawned");
    // Only the supervisor may hold the write end: its exit (or its
    // closing the descriptor) is the end of the answer.
    drop(ready_w);
    Ok((child, File::from(ready_r), log_path))
}
