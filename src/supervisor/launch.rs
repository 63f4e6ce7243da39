//! The supervisor process's entry point: this binary re-executed with
//! argv[0] `pod-supervisor` (by `pods::start`, in a session of its own so
//! that neither the CLI's exit nor the terminal's hang-up reaches it), and
//! the command line and ready pipe that are the contract between the two.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::backoff::Limits;
use crate::store::Store;
use crate::store::crilog::Rotation;
use crate::store::record::{Process, Records};

pub const ARGV0: &str = "pod-supervisor";
pub const MARKER: &str = "--supervise";
/// The descriptor on which the supervisor says it is ready.
pub const READY_FD: i32 = 3;
/// The descriptor on which a supervisor started before its pod was
/// stored waits for the CLI's word that the pod is stored and bound
/// ([`GO`]), so that its own start-up (the exec of this binary, its
/// loading) overlaps the CLI's writes and fsyncs of the pod's record.
pub const GO_FD: i32 = 4;
/// That word; anything else, or nothing before the CLI closes its end (it
/// gave the pod up, or was killed), and the supervisor leaves the pod be.
pub const GO: &[u8] = b"go\n";
/// glibc tunables the supervisor is started with (see `pods::start`).
pub const TUNABLES: &str = "glibc.pthread.stack_cache_size=0:glibc.malloc.tcache_count=0";

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

/// What the supervisor asks of the layer above it (`pods`, given by
/// `main`, so that nothing of the CLI side is imported here): trying the
/// waiting pods again, and starting the supervisors of those that fit,
/// when this pod ends; the scheduler's periodic flush of its
/// unschedulable pods when it is due.
#[derive(Debug, Clone, Copy)]
pub struct Scheduling {
    pub retry: fn(&Store),
    pub flush_if_due: fn(&Store, std::time::Duration),
}

/// The supervisor's command line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Args {
    pub root: PathBuf,
    pub run_root: PathBuf,
    /// The node configuration file (`--config`, else `<root>/config.yaml`).
    #[serde(default)]
    pub config: Option<PathBuf>,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub settings: Settings,
    /// The pod ran under a supervisor and keeper that both died: the
    /// first supervisor adopts what is left of it (`pods::boot`).
    #[serde(default)]
    pub recover: bool,
    /// Started before the pod was stored: wait for [`GO`] on [`GO_FD`]
    /// before anything else.
    #[serde(default)]
    pub awaits_go: bool,
}

/// Runs the supervisor if argv asks for it (before clap sees argv).
pub fn dispatch(scheduling: Scheduling) -> Option<ExitCode> {
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
    Some(match supervise(parsed, scheduling) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pod-supervisor: {e:#}");
            ExitCode::from(1)
        }
    })
}

fn supervise(args: Args, scheduling: Scheduling) -> Result<()> {
    // The tunables were glibc's, read at start: the processes the
    // supervisor starts (CNI plugins, hooks) get the environment as the
    // CLI had it.
    if std::env::var_os("GLIBC_TUNABLES").is_some_and(|v| v == TUNABLES) {
        // SAFETY: no other thread exists yet to read the environment.
        unsafe { std::env::remove_var("GLIBC_TUNABLES") };
    }
    // SAFETY: signal dispositions set before any thread exists.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    if args.awaits_go && !go_given() {
        forget_unstored(&args);
        return Ok(());
    }
    let ready = unsafe_ready_fd();
    // The keeper forks the supervisor and stays behind (see `keeper`);
    // from here on this is a supervisor, the first or a replacement.
    let mut generation = match super::keeper::start(ready.as_ref().map(|fd| fd.as_raw_fd())) {
        Ok(g) => g,
        Err(e) => {
            if let Some(fd) = &ready {
                let _ = nix::unistd::write(fd, format!("starting the keeper: {e}\n").as_bytes());
            }
            return Err(e).context("starting the keeper");
        }
    };
    generation.adopt |= args.recover;
    // Only the first answers the CLI; in a later one, descriptor 3 is not
    // the ready pipe (the keeper closed it).
    let ready = if generation.number == 0 {
        ready
    } else {
        std::mem::forget(ready);
        None
    };
    super::memory::set_up_allocator();
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
        let store =
            Store::open(&args.root, &args.run_root)?.with_node_config(args.config.as_deref())?;
        // A node configuration the kubelet would not start with fails the
        // pod's creation here, before anything of it exists. Read once:
        // as the kubelet's, it holds for the supervisor's life (the
        // pressure check alone follows later edits of the file, from
        // the modification time it had before this read).
        let node_config_stamp = fs::metadata(store.node_config_path())
            .and_then(|m| m.modified())
            .ok();
        let node_config = crate::node::config::NodeConfig::of(&store)?;
        let pod = match store.get(crate::api::Kind::Pod, &args.namespace, &args.name)? {
            Some(crate::api::Object::Pod(p)) if p.metadata.uid.as_deref() == Some(&args.uid) => *p,
            _ => bail!("pod {}/{} is not stored", args.namespace, args.name),
        };
        let records = Records::new(&store.pod_run_dir(&args.uid));
        let Some(supervision) = records.supervise()? else {
            return Ok(None);
        };
        let claim = (supervision, records.claim_supervisor(Process::current())?);
        if let Some(keeper) = Process::of(generation.keeper) {
            records.write_keeper(keeper)?;
        }
        let socket_path = records.socket();
        let _ = fs::remove_file(&socket_path);
        let listener = super::socket::with_short_path(&socket_path, |p| {
            std::os::unix::net::UnixListener::bind(p)
        })
        .with_context(|| format!("binding {}", socket_path.display()))?;
        fs::set_permissions(&socket_path, fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(Some((
            store,
            (node_config, node_config_stamp),
            pod,
            records,
            listener,
            claim,
        )))
    })();
    // `_claim` lives until the pod is done: its lock is how others tell
    // that this supervisor runs (see `store::record`).
    let (store, (node_config, node_config_stamp), pod, records, listener, _claim) = match prepared {
        Ok(Some(p)) => p,
        // Another supervisor has the pod (started at the same moment by
        // another command): it is supervised, which is what was asked.
        Ok(None) => {
            say(&ready, "ready\n");
            return Ok(());
        }
        Err(e) => {
            say(&ready, &format!("{e:#}\n"));
            return Err(e);
        }
    };
    say(&ready, "ready\n");
    drop(ready);
    // The pod is this supervisor's and nothing of it is done yet.
    crate::fault::point("supervisor-claimed");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &runtime,
        super::lifecycle::run(
            store,
            node_config,
            node_config_stamp,
            pod,
            records,
            listener,
            args.settings,
            generation,
            scheduling,
        ),
    )
}

/// Waits on [`GO_FD`] until the CLI closes its end; whether it said
/// [`GO`] first. The descriptor is closed after, so that nothing the
/// supervisor starts inherits it.
fn go_given() -> bool {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    // SAFETY: fd 4 is ours alone: the CLI put the pipe there for us (the
    // arguments say so) and nothing else in this process has opened it.
    let mut go = fs::File::from(unsafe { OwnedFd::from_raw_fd(GO_FD) });
    let mut word = Vec::new();
    go.read_to_end(&mut word).is_ok() && word == GO
}

/// A supervisor told no go: nothing of the pod is its own. The CLI that
/// started it made the pod's run directory (with this supervisor's log
/// in it) and removes it when it gives the pod up; one killed before it
/// stored the pod cannot, so the directory of a pod not stored is
/// removed here. A stored pod's is left to the pod (`pod up`, `delete`).
fn forget_unstored(args: &Args) {
    let Ok(store) = Store::open(&args.root, &args.run_root) else {
        return;
    };
    let stored = matches!(
        store.get(crate::api::Kind::Pod, &args.namespace, &args.name),
        Ok(Some(crate::api::Object::Pod(p))) if p.metadata.uid.as_deref() == Some(&args.uid)
    );
    if !stored {
        let _ = fs::remove_dir_all(store.pod_run_dir(&args.uid));
    }
}

/// Takes ownership of the ready descriptor if the CLI passed one.
fn unsafe_ready_fd() -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 3 is ours alone: the CLI put the pipe there for us and
    // nothing else in this process has opened it.
    let valid = unsafe { libc::fcntl(READY_FD, libc::F_GETFD) } >= 0;
    valid.then(|| unsafe { OwnedFd::from_raw_fd(READY_FD) })
}
