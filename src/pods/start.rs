//! Starting a pod's supervisor (`pod create`, `pod apply`): this binary
//! re-executed with argv[0] `pod-supervisor`, in a session of its own so
//! that neither the CLI's exit nor the terminal's hang-up reaches it; the
//! supervisor's side is `supervisor::launch`.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;

use crate::store::record;
use crate::store::{Store, pod_uid};
use crate::supervisor::launch::{ARGV0, Args, GO, GO_FD, MARKER, READY_FD, Settings};

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
    /// Where this supervisor's part of its log begins.
    log_start: u64,
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

/// A supervisor started before its pod was stored (see
/// [`start_before_storing`]), waiting for the word to go on with it.
#[must_use = "dropped without go(), the supervisor ends"]
pub struct Early(Option<Forking>);

/// What an [`Early`] holds until it is told to go or dropped.
struct Forking {
    /// The fork and exec, on a thread of their own: the exec of this
    /// binary, which the fork's caller waits for (std learns of a failed
    /// exec through a pipe), overlaps the pod's store too.
    thread: std::thread::JoinHandle<Result<Child>>,
    /// The CLI's end of the go pipe.
    go: File,
    namespace: String,
    name: String,
    uid: String,
    ready: File,
    log_path: PathBuf,
    log_start: u64,
}

/// Starts the supervisor of a pod about to be stored bound, so that its
/// start-up (the exec of this 19 MB binary, its loading) runs while
/// `create` writes the pod's record and waits for the disk. It waits,
/// before it does anything, for [`Early::go`]: the pod is stored and
/// bound, the supervisor goes on with it. An `Early` dropped without go
/// (the pod was left Pending after all, or the create failed) ends it
/// and removes the run directory it was given; a CLI killed before go
/// ends it too (its end of the pipe closes, see `supervisor::launch`).
/// Nothing is stored yet, so a failure here leaves nothing behind.
pub fn start_before_storing(store: &Store, pod: &Pod) -> Result<Early> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod_uid(pod)?.to_string();
    let context = || format!("starting the supervisor of pod {name:?}");
    // A uid is made fresh for every create: a run directory of it would be
    // another pod's, which a dropped start must not remove.
    if store.pod_run_dir(&uid).exists() {
        bail!("the run directory of pod {name:?} (uid {uid}) exists already");
    }
    let (go_r, go) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let settings = Settings::from_env().with_context(context)?;
    let (launch, ready, (log_path, log_start)) =
        prepare(store, pod, &settings, false, Some(go_r)).with_context(context)?;
    let thread = std::thread::Builder::new()
        .name("pod-fork".into())
        .spawn(move || {
            let child = launch.spawn()?;
            crate::fault::point("supervisor-forked");
            Ok(child)
        });
    let thread = match thread {
        Ok(thread) => thread,
        Err(e) => {
            let _ = fs::remove_dir_all(store.pod_run_dir(&uid));
            return Err(anyhow::Error::from(e).context(context()));
        }
    };
    Ok(Early(Some(Forking {
        thread,
        go: File::from(go),
        namespace,
        name,
        uid,
        ready,
        log_path,
        log_start,
    })))
}

impl Early {
    /// Tells the supervisor that its pod is stored and bound: it goes on
    /// with it, and is then a supervisor starting as any other. If it could
    /// not be forked, the pod is removed again, as [`start`] does.
    pub fn go(mut self, store: &Store) -> Result<Starting> {
        let Some(mut f) = self.0.take() else {
            bail!("a supervisor told to go twice");
        };
        let forked = f
            .thread
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the thread forking it panicked")));
        let child = match forked {
            Ok(child) => child,
            Err(e) => return Err(forget(store, &f.namespace, &f.name, &f.uid, e)),
        };
        // One that died meanwhile reads nothing: `wait` reports it.
        let _ = f.go.write_all(GO);
        drop(f.go);
        crate::fault::point("supervisor-spawned");
        Ok(Starting {
            namespace: f.namespace,
            name: f.name,
            uid: f.uid,
            child,
            ready: f.ready,
            log_path: f.log_path,
            log_start: f.log_start,
            created: true,
        })
    }
}

impl Drop for Early {
    /// Never told to go: the supervisor's end of the go pipe reads EOF, it
    /// exits without touching the pod and is reaped here (`pod serve`
    /// lives on); the run directory made for it, with its log, goes.
    fn drop(&mut self) {
        let Some(f) = self.0.take() else { return };
        drop(f.go);
        if let Ok(Ok(mut child)) = f.thread.join() {
            let _ = child.wait();
        }
        if let Some(run_dir) = f.log_path.parent() {
            let _ = fs::remove_dir_all(run_dir);
        }
    }
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
        Ok((child, ready, (log_path, log_start))) => Ok(Starting {
            namespace,
            name,
            uid,
            child,
            ready,
            log_path,
            log_start,
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
            bail!("{}", last_words(&self.log_path, self.log_start))
        })();
        result.map_err(|e| match self.created {
            true => forget(store, &self.namespace, &self.name, &self.uid, e),
            false => e.context(format!("starting the supervisor of pod {:?}", self.name)),
        })
    }
}

impl Starting {
    /// Gives up a start that cannot be reported (the binding it runs
    /// could not be made durable): the pod's record is removed again, and
    /// its supervisor, finding the record gone, stops whatever it began
    /// and removes the rest.
    pub fn abandon(self, store: &Store, e: anyhow::Error) -> anyhow::Error {
        let _ = store.remove(crate::api::Kind::Pod, &self.namespace, &self.name);
        e.context(format!("storing pod {:?}", self.name))
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

/// Forks the supervisor; returns it, the read end of its ready pipe, and
/// its log file with where its part of it begins.
fn spawn(
    store: &Store,
    pod: &Pod,
    settings: &Settings,
    recover: bool,
) -> Result<(Child, File, (PathBuf, u64))> {
    let (launch, ready, log) = prepare(store, pod, settings, recover, None)?;
    let child = launch.spawn()?;
    crate::fault::point("supervisor-spawned");
    Ok((child, ready, log))
}

/// A supervisor ready to be forked.
struct Launch {
    command: Command,
    /// The supervisor's ends of its pipes: closed here once it is forked,
    /// so that only it holds them (its exit, or its closing the ready
    /// pipe, is the end of its answer; the CLI's closing the go pipe is an
    /// EOF there).
    its_ends: Vec<OwnedFd>,
}

impl Launch {
    fn spawn(mut self) -> Result<Child> {
        let child = self.command.spawn().context("re-executing pod")?;
        drop(self.its_ends);
        Ok(child)
    }
}

/// The supervisor's command, the read end of its ready pipe and its log
/// file with where its part of it begins. Given the read end of a go pipe,
/// the supervisor gets it as [`GO_FD`] and waits on it.
fn prepare(
    store: &Store,
    pod: &Pod,
    settings: &Settings,
    recover: bool,
    go: Option<OwnedFd>,
) -> Result<(Launch, File, (PathBuf, u64))> {
    let uid = pod_uid(pod)?.to_string();
    let run_dir = store.pod_run_dir(&uid);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&run_dir)
        .with_context(|| format!("creating {}", run_dir.display()))?;
    fs::set_permissions(&run_dir, fs::Permissions::from_mode(0o700))?;
    let log_path = run_dir.join(record::LOG_FILE);
    let (log, log_start) = open_log(&log_path)?;
    let args = Args {
        root: store.root().to_path_buf(),
        run_root: store.run_root().to_path_buf(),
        config: Some(store.node_config_path()),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid,
        settings: *settings,
        recover,
        awaits_go: go.is_some(),
    };
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let ready_w_raw = ready_w.as_raw_fd();
    // Above the descriptors it is put at, so that putting the ready pipe
    // at 3 cannot overwrite it.
    let go = go.map(above_ready_and_go).transpose()?;
    let go_raw = go.as_ref().map(|fd| fd.as_raw_fd());
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
            // The copy dup2 makes is not close-on-exec.
            if let Some(go) = go_raw
                && libc::dup2(go, GO_FD) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    crate::fault::pass_to_supervisor(&mut command);
    command.env("GLIBC_TUNABLES", supervisor_tunables());
    let launch = Launch {
        command,
        its_ends: std::iter::once(ready_w).chain(go).collect(),
    };
    Ok((launch, File::from(ready_r), (log_path, log_start)))
}

/// `fd` moved above [`READY_FD`] and [`GO_FD`] (close-on-exec).
fn above_ready_and_go(fd: OwnedFd) -> Result<OwnedFd> {
    let moved = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(GO_FD + 1))?;
    // SAFETY: F_DUPFD_CLOEXEC made a new descriptor, ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// A pod's `supervisor.log` keeps what the supervisors before the next one
/// wrote, above all the last words of one that died (an error, a panic),
/// so that why it died can still be read after the next one adopted the
/// pod. Past this size, its oldest part is dropped when a supervisor
/// starts.
const LOG_LIMIT: u64 = 256 << 10;
/// What is kept of a log over [`LOG_LIMIT`]: its last whole lines within
/// this size.
const LOG_KEPT: u64 = 64 << 10;

/// Opens a pod's supervisor log for the next supervisor (and the keeper,
/// whose later supervisors inherit it): appended to, first cut to its
/// last lines when over [`LOG_LIMIT`], and a line with the time marks
/// where the new supervisor's part begins. Returns the file and the
/// offset of that part.
fn open_log(path: &Path) -> Result<(File, u64)> {
    let context = || format!("opening {}", path.display());
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .with_context(context)?;
    let size = log.metadata().with_context(context)?.len();
    if size > LOG_LIMIT {
        keep_last_lines(&mut log, size).with_context(|| format!("cutting {}", path.display()))?;
    }
    if log.metadata().with_context(context)?.len() > 0 {
        // On a full disk the mark is lost, not the start.
        let _ = writeln!(log, "--- {} a new supervisor", crate::duration::now());
    }
    let start = log.metadata().with_context(context)?.len();
    Ok((log, start))
}

/// Cuts `log` to its last whole lines within [`LOG_KEPT`], in place: no
/// supervisor writes to it now, and in place needs no free space.
fn keep_last_lines(log: &mut File, size: u64) -> std::io::Result<()> {
    log.seek(SeekFrom::Start(size - LOG_KEPT))?;
    let mut tail = Vec::new();
    (&*log).take(LOG_KEPT).read_to_end(&mut tail)?;
    let from = tail.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    log.set_len(0)?;
    log.write_all_at(&tail[from..], 0)?;
    Ok(())
}

/// The last line a supervisor that did not start wrote from `start` on.
fn last_words(path: &Path, start: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut log) = File::open(path) {
        let _ = log.seek(SeekFrom::Start(start));
        let _ = log.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text)
        .lines()
        .last()
        .unwrap_or("it exited without a word")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_appended_to_and_the_new_part_marked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("supervisor.log");
        // A first supervisor: an empty log, no mark.
        let (_, start) = open_log(&path).unwrap();
        assert_eq!(start, 0);
        fs::write(&path, "pod-supervisor: the first one's last words\n").unwrap();
        let (mut log, start) = open_log(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("pod-supervisor: the first one's last words\n--- "),
            "{text:?}"
        );
        assert!(text.ends_with(" a new supervisor\n"), "{text:?}");
        assert_eq!(start, text.len() as u64);
        // What the new one said is its last line; nothing, then nothing.
        assert_eq!(last_words(&path, start), "it exited without a word");
        writeln!(log, "pod-supervisor: cannot start").unwrap();
        assert_eq!(last_words(&path, start), "pod-supervisor: cannot start");
    }

    #[test]
    fn a_log_over_its_limit_is_cut_to_its_last_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("supervisor.log");
        let text: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
        assert!(text.len() as u64 > LOG_LIMIT);
        fs::write(&path, &text).unwrap();
        let (_, start) = open_log(&path).unwrap();
        let cut = fs::read_to_string(&path).unwrap();
        let (kept, mark) = cut.rsplit_once("--- ").unwrap();
        assert!(mark.ends_with(" a new supervisor\n"), "{mark:?}");
        assert!(kept.len() as u64 <= LOG_KEPT && kept.len() as u64 > LOG_KEPT - 20);
        assert!(text.ends_with(kept), "not the log's last part");
        let before = text.len() - kept.len() - 1;
        assert_eq!(&text[before..before + 1], "\n", "not whole lines");
        assert_eq!(start, cut.len() as u64);
    }
}
