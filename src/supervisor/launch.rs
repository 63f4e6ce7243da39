//! Starting a pod's supervisor (`pod create`) and the supervisor process's
//! own entry point: this binary re-executed with argv[0] `pod-supervisor`,
//! in a session of its own so that neither the CLI's exit nor the
//! terminal's hang-up reaches it.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use super::backoff::Limits;
use super::crilog::Rotation;
use super::record::{self, Process, Records};
use crate::store::Store;

const ARGV0: &str = "pod-supervisor";
const MARKER: &str = "--supervise";
/// The descriptor on which the supervisor says it is ready.
const READY_FD: i32 = 3;

/// What the CLI reads from its environment and hands to the supervisor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub backoff: Limits,
    pub rotation: Rotation,
}

impl Settings {
    /// `POD_BACKOFF_INITIAL`, `POD_BACKOFF_MAX`, `POD_LOG_MAX_SIZE`,
    /// `POD_LOG_MAX_FILES`; a malformed value is an error naming it.
    pub fn from_env() -> Result<Settings> {
        Ok(Settings {
            backoff: Limits::from_env()?,
            rotation: Rotation::from_env(),
        })
    }
}

/// The supervisor's command line.
#[derive(Debug, Serialize, Deserialize)]
struct Args {
    root: PathBuf,
    run_root: PathBuf,
    namespace: String,
    name: String,
    uid: String,
    settings: Settings,
}

/// Starts the supervisor of a freshly stored pod and returns once it is
/// listening. If it cannot start (or the environment holds a malformed
/// setting), the pod record is removed again so that nothing half-created
/// is left.
pub fn launch(store: &Store, pod: &Pod) -> Result<()> {
    start(store, pod)?.wait(store)
}

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
}

/// Starts the supervisor of a freshly stored pod without waiting for it
/// (see [`Starting::wait`]). A failure removes the pod record, as in
/// [`launch`].
pub fn start(store: &Store, pod: &Pod) -> Result<Starting> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = super::pod_uid(pod).unwrap_or_default().to_string();
    let result = Settings::from_env().and_then(|settings| spawn(store, pod, &settings));
    match result {
        Ok((child, ready, log_path)) => Ok(Starting {
            namespace,
            name,
            uid,
            child,
            ready,
            log_path,
        }),
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
        result.map_err(|e| forget(store, &self.namespace, &self.name, &self.uid, e))
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

/// Forks the supervisor; returns it, the read end of its ready pipe and
/// its log file.
fn spawn(store: &Store, pod: &Pod, settings: &Settings) -> Result<(Child, File, PathBuf)> {
    let uid = super::pod_uid(pod)?.to_string();
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
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid,
        settings: *settings,
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
    let child = command.spawn().context("re-executing pod")?;
    // Only the supervisor may hold the write end: its exit (or its
    // closing the descriptor) is the end of the answer.
    drop(ready_w);
    Ok((child, File::from(ready_r), log_path))
}

/// Runs the supervisor if argv asks for it (before clap sees argv).
pub fn dispatch() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    if args.next()? != ARGV0 || args.next()? != MARKER {
        return None;
    }
    let parsed = args
        .next()
        .and_then(|a| serde_json::from_str::<Args>(a.to_str()?).ok());
    let Some(parsed) = parsed else {
        eprintln!("pod-supervisor: malformed arguments");
        return Some(ExitCode::from(2));
    };
    Some(match supervise(parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pod-supervisor: {e:#}");
            ExitCode::from(1)
        }
    })
}

fn supervise(args: Args) -> Result<()> {
    // SAFETY: signal dispositions set before any thread exists.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let ready = unsafe_ready_fd();
    let say = |ready: &Option<OwnedFd>, text: &str| {
        if let Some(fd) = ready {
            let _ = nix::unistd::write(fd, text.as_bytes());
        }
    };
    let prepared = (|| -> Result<_> {
        // Every process of the pod is a descendant of the supervisor: as a
        // subreaper it collects them even when their parent is gone.
        // SAFETY: plain prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } < 0 {
            return Err(std::io::Error::last_os_error()).context("PR_SET_CHILD_SUBREAPER");
        }
        let store = Store::open(&args.root, &args.run_root)?;
        let pod = match store.get(crate::api::Kind::Pod, &args.namespace, &args.name)? {
            Some(crate::api::Object::Pod(p)) if p.metadata.uid.as_deref() == Some(&args.uid) => *p,
            _ => bail!("pod {}/{} is not stored", args.namespace, args.name),
        };
        let records = Records::new(&store.pod_run_dir(&args.uid));
        let claim = records.claim_supervisor(Process::current())?;
        let socket_path = records.socket();
        let _ = fs::remove_file(&socket_path);
        let listener = super::socket::with_short_path(&socket_path, |p| {
            std::os::unix::net::UnixListener::bind(p)
        })
        .with_context(|| format!("binding {}", socket_path.display()))?;
        fs::set_permissions(&socket_path, fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok((store, pod, records, listener, claim))
    })();
    // `_claim` lives until the pod is done: its lock is how others tell
    // that this supervisor runs (see `record`).
    let (store, pod, records, listener, _claim) = match prepared {
        Ok(p) => p,
        Err(e) => {
            say(&ready, &format!("{e:#}\n"));
            return Err(e);
        }
    };
    say(&ready, "ready\n");
    drop(ready);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &runtime,
        super::lifecycle::run(store, pod, records, listener, args.settings),
    )
}

/// Takes ownership of the ready descriptor if the CLI passed one.
fn unsafe_ready_fd() -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is ours alone: the CLI put the pipe there for us and
    // nothing else in this process has opened it.
    let valid = unsafe { libc::fcntl(READY_FD, libc::F_GETFD) } >= 0;
    valid.then(|| unsafe { OwnedFd::from_raw_fd(READY_FD) })
}
