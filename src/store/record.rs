//! What a supervisor leaves in its pod's run directory so that others can
//! find it and, when it is gone, clean up after it: its own pid and start
//! time (`supervisor.pid`), and the pids of the processes it started
//! (`processes.json`). A start time next to each pid defeats pid reuse.
//!
//! The supervisor also holds an exclusive `flock` on its pid file for as
//! long as it runs. The kernel drops the lock when the process dies, however
//! it dies, so "is the lock held?" answers "is the supervisor running?" in
//! three system calls, without reading /proc: `get pods` asks it of every
//! pod.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;
use serde::{Deserialize, Serialize};

use crate::store::{format, read_small_file, write_volatile, write_volatile_existing};

pub const PID_FILE: &str = "supervisor.pid";
pub const PROCESSES_FILE: &str = "processes.json";
pub const SOCKET_FILE: &str = "supervisor.sock";
pub const LOG_FILE: &str = "supervisor.log";
pub const LOCK_FILE: &str = "supervisor.lock";
/// The keeper's pid and start time (`supervisor::keeper`).
pub const KEEPER_FILE: &str = "keeper.pid";
/// The containers' crash-loop back-offs ([`BackOffRecord`]).
pub const BACKOFF_FILE: &str = "backoff.json";

/// A container's crash-loop back-off, for the supervisor that replaces
/// the one holding it: the delay in force, when it was last raised and,
/// while the container waits, when it starts again (nanoseconds of
/// CLOCK_MONOTONIC, `supervisor::backoff::Clock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackOffRecord {
    pub delay_ms: u64,
    pub raised_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<u64>,
}
/// The pause process's name in the process list: one no container can
/// have (container names are DNS labels), where `pause` was, which a
/// container named so overwrote (its pid then went unrecorded, and the
/// sandbox's end removed the container's). A list written before keeps
/// its `pause` entry, read as any other: `delete` kills every process
/// listed, and a supervisor adopting the pod writes the list anew.
pub const PAUSE_PROCESS: &str = "(pause)";

/// A process as recorded: pid plus the start time the kernel gives it
/// (clock ticks since boot, field 22 of /proc/<pid>/stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: i32,
    pub start: u64,
}

impl Process {
    /// The running process `pid`, if it exists.
    pub fn of(pid: i32) -> Option<Process> {
        start_time(pid).map(|start| Process { pid, start })
    }

    pub fn current() -> Process {
        Process::of(std::process::id() as i32).expect("/proc/self/stat is readable")
    }

    /// Whether this very process still runs (not a zombie, not a new
    /// process that got the same pid).
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// Field 22 of /proc/<pid>/stat, or None when the process is gone or a
/// zombie. `get pods` asks this of every pod: bytes, not a String.
fn start_time(pid: i32) -> Option<u64> {
    let stat = read_small_file(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'.
    let after = stat.iter().rposition(|&b| b == b')')? + 2;
    let mut fields = stat.get(after..)?.split(|&b| b == b' ');
    if matches!(fields.next()?, b"Z" | b"X") {
        return None;
    }
    std::str::from_utf8(fields.nth(18)?).ok()?.parse().ok()
}

/// The supervisor's lock on its pid file; see [`Records::claim_supervisor`].
#[derive(Debug)]
pub struct Claim {
    _file: fs::File,
}

/// A supervisor's hold on its pod; see [`Records::supervise`].
#[derive(Debug)]
pub struct Supervision {
    _file: fs::File,
}

/// What the run directory says about a pod's supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorState {
    /// No supervisor ever wrote its pid file.
    Never,
    Running,
    /// It ran and is gone (killed, crashed, or the machine rebooted).
    Gone,
}

/// The records of one pod's supervisor, in `<run root>/pods/<uid>/`.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
}

impl Records {
    pub fn new(run_dir: &Path) -> Records {
        Records {
            dir: run_dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join(SOCKET_FILE)
    }

    /// Adds a line, with the time, to the pod's supervisor log, where an
    /// operator reads what became of its supervisors: for what a command
    /// did in their place. Best effort, and never makes the run
    /// directory or the log.
    pub fn note(&self, text: &str) {
        if let Ok(mut log) = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join(LOG_FILE))
        {
            let _ = writeln!(log, "--- {} {text}", crate::duration::now());
        }
    }

    /// Takes the pod's supervision: an exclusive lock on
    /// `supervisor.lock`, held for as long as the supervisor runs, so that
    /// a pod never has two (`pod up` and a create, or two commands
    /// replacing a dead one, may start one at the same moment). None when
    /// another supervisor holds it.
    pub fn supervise(&self) -> io::Result<Option<Supervision>> {
        fs::create_dir_all(&self.dir)?;
        use std::os::unix::fs::OpenOptionsExt;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join(LOCK_FILE))?;
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(Supervision { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the supervisor's pid file, already locked: the lock is taken
    /// on a temporary file that is then renamed into place, so no reader
    /// ever sees the file unlocked while this process runs. The lock lasts
    /// as long as the returned claim, which the supervisor keeps until it
    /// exits.
    pub fn claim_supervisor(&self, process: Process) -> io::Result<Claim> {
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{PID_FILE}.{}.tmp", process.pid));
        let claimed = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(format!("{} {}\n", process.pid, process.start).as_bytes())?;
            rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive)?;
            fs::rename(&tmp, self.dir.join(PID_FILE))?;
            Ok(Claim { _file: file })
        })();
        if claimed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        claimed
    }

    /// Whether the pod ever had a supervisor and whether it still runs.
    pub fn supervisor_state(&self) -> SupervisorState {
        let Ok(file) = super::read::open_regular(&self.dir.join(PID_FILE)) else {
            return SupervisorState::Never;
        };
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared) {
            Err(rustix::io::Errno::WOULDBLOCK) => SupervisorState::Running,
            // Unlocked: the supervisor is gone, or it is one that predates
            // the lock; the pid and start time tell.
            _ => match self.supervisor() {
                Some(p) if p.is_alive() => SupervisorState::Running,
                _ => SupervisorState::Gone,
            },
        }
    }

    /// [`supervisor_state`](Self::supervisor_state) for one about to take
    /// a dead supervisor's place: a supervisor whose lock is held while its
    /// process is dead is waited for, up to `patience`. A killed
    /// process reads as a zombie once its main thread has exited, while
    /// another of its threads may still be on its way out holding the
    /// descriptors the locks are on (one in an fsync, which SIGKILL does
    /// not cut short: seconds on a disk busy writing back); until they
    /// are closed no new supervisor can take the pod.
    pub fn settled_supervisor_state(&self, patience: std::time::Duration) -> SupervisorState {
        let deadline = std::time::Instant::now() + patience;
        loop {
            let state = self.supervisor_state();
            let dying = state == SupervisorState::Running && self.live_supervisor().is_none();
            if !dying || std::time::Instant::now() >= deadline {
                return state;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn supervisor(&self) -> Option<Process> {
        let bytes = read_small_file(&self.dir.join(PID_FILE)).ok()?;
        let mut words = std::str::from_utf8(&bytes).ok()?.split_ascii_whitespace();
        Some(Process {
            pid: words.next()?.parse().ok()?,
            start: words.next()?.parse().ok()?,
        })
    }

    /// The supervisor, if it is running.
    pub fn live_supervisor(&self) -> Option<Process> {
        self.supervisor().filter(Process::is_alive)
    }

    /// Records the keeper of the pod's supervisors.
    pub fn write_keeper(&self, keeper: Process) -> io::Result<()> {
        write_volatile(
            &self.dir.join(KEEPER_FILE),
            format!("{} {}\n", keeper.pid, keeper.start).as_bytes(),
        )
    }

    /// The keeper, if it is running.
    pub fn live_keeper(&self) -> Option<Process> {
        let bytes = read_small_file(&self.dir.join(KEEPER_FILE)).ok()?;
        let mut words = std::str::from_utf8(&bytes).ok()?.split_ascii_whitespace();
        let keeper = Process {
            pid: words.next()?.parse().ok()?,
            start: words.next()?.parse().ok()?,
        };
        keeper.is_alive().then_some(keeper)
    }

    pub fn write_processes(&self, processes: &BTreeMap<String, Process>) -> io::Result<()> {
        let bytes = format::encode(processes).map_err(io::Error::other)?;
        // The pod's set-up makes its run directory and its teardown or
        // deletion removes it: a list written after that (an exit noticed
        // late) has nothing to describe and must not make it again.
        match write_volatile_existing(&self.dir.join(PROCESSES_FILE), &bytes) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            done => done,
        }
    }

    pub fn write_backoffs(&self, backoffs: &BTreeMap<String, BackOffRecord>) -> io::Result<()> {
        let bytes = format::encode(backoffs).map_err(io::Error::other)?;
        // As the process list: never makes a removed run directory again.
        match write_volatile_existing(&self.dir.join(BACKOFF_FILE), &bytes) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            done => done,
        }
    }

    /// The recorded back-offs by container name (none when missing or
    /// torn); an error when a newer build wrote them.
    pub fn backoffs(&self) -> Result<BTreeMap<String, BackOffRecord>, format::UnknownVersion> {
        self.by_name(BACKOFF_FILE)
    }

    /// The recorded processes (none when the list is missing or torn);
    /// an error when a newer build wrote it.
    pub fn processes(&self) -> Result<BTreeMap<String, Process>, format::UnknownVersion> {
        self.by_name(PROCESSES_FILE)
    }

    /// A versioned list of `file` keyed by name: the version sits among
    /// the names (container names are DNS labels: never `recordVersion`,
    /// nor [`PAUSE_PROCESS`]).
    fn by_name<T: serde::de::DeserializeOwned>(
        &self,
        file: &str,
    ) -> Result<BTreeMap<String, T>, format::UnknownVersion> {
        let path = self.dir.join(file);
        let Ok(bytes) = read_small_file(&path) else {
            return Ok(BTreeMap::new());
        };
        format::check(&path, &bytes)?;
        #[derive(Deserialize)]
        #[serde(bound = "T: serde::de::DeserializeOwned")]
        struct List<T> {
            #[serde(rename = "recordVersion")]
            _version: Option<u64>,
            #[serde(flatten)]
            entries: BTreeMap<String, T>,
        }
        Ok(serde_json::from_slice::<List<T>>(&bytes)
            .map(|l| l.entries)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = Process::current();
        assert!(me.is_alive());
        let reused = Process {
            start: me.start + 1,
            ..me
        };
        assert!(!reused.is_alive());
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path());
        assert_eq!(records.supervisor(), None);
        let _claim = records.claim_supervisor(Process::current()).unwrap();
        assert_eq!(records.live_supervisor(), Some(Process::current()));
        let mut procs = BTreeMap::new();
        procs.insert("pause".to_string(), Process { pid: 7, start: 9 });
        records.write_processes(&procs).unwrap();
        assert_eq!(records.processes().unwrap(), procs);
        // As written before records had a version.
        write_volatile(
            &dir.path().join(PROCESSES_FILE),
            br#"{"pause":{"pid":7,"start":9}}"#,
        )
        .unwrap();
        assert_eq!(records.processes().unwrap(), procs);
        write_volatile(
            &dir.path().join(PROCESSES_FILE),
            br#"{"recordVersion":2,"pause":{"pid":7,"start":9}}"#,
        )
        .unwrap();
        assert_eq!(records.processes().unwrap_err().version, 2);
        // The back-offs are a list of the same shape.
        let backoffs = BTreeMap::from([(
            "app".to_string(),
            BackOffRecord {
                delay_ms: 20_000,
                raised_at: 5,
                restart_at: Some(25),
            },
        )]);
        records.write_backoffs(&backoffs).unwrap();
        assert_eq!(records.backoffs().unwrap(), backoffs);
        write_volatile(
            &dir.path().join(BACKOFF_FILE),
            br#"{"recordVersion":2,"app":{"delayMs":1,"raisedAt":2}}"#,
        )
        .unwrap();
        assert_eq!(records.backoffs().unwrap_err().version, 2);
    }

    #[test]
    fn a_list_written_after_the_run_directory_is_removed_does_not_make_it_again() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("uid");
        fs::create_dir(&dir).unwrap();
        let records = Records::new(&dir);
        let procs = BTreeMap::from([("app".to_string(), Process { pid: 7, start: 9 })]);
        records.write_processes(&procs).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        records.write_processes(&BTreeMap::new()).unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn the_supervisor_runs_while_its_claim_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path());
        assert_eq!(records.supervisor_state(), SupervisorState::Never);
        // A pid that is not running: only the lock can say Running.
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let gone = Process::of(child.id() as i32).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let claim = records.claim_supervisor(gone).unwrap();
        assert_eq!(records.supervisor_state(), SupervisorState::Running);
        assert_eq!(
            records.supervisor_state(),
            SupervisorState::Running,
            "readers leave the lock as it was"
        );
        drop(claim);
        assert_eq!(records.supervisor_state(), SupervisorState::Gone);
        // The lock held on a while its process is dead (a killed
        // supervisor's thread still exiting): waited for by one about to
        // take its place, up to its patience.
        let claim = records.claim_supervisor(gone).unwrap();
        let patience = std::time::Duration::from_millis(200);
        assert_eq!(
            records.settled_supervisor_state(patience),
            SupervisorState::Running
        );
        let held = std::time::Duration::from_millis(300);
        let begun = std::time::Instant::now();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(held);
            drop(claim);
        });
        let patience = std::time::Duration::from_secs(30);
        assert_eq!(
            records.settled_supervisor_state(patience),
            SupervisorState::Gone
        );
        assert!(begun.elapsed() >= held);
        releaser.join().unwrap();
        // A pid file without a lock (an older supervisor) is judged by its
        // pid and start time.
        write_volatile(
            &dir.path().join(PID_FILE),
            format!("{} {}\n", Process::current().pid, Process::current().start).as_bytes(),
        )
        .unwrap();
        assert_eq!(records.supervisor_state(), SupervisorState::Running);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [PID_FILE]);
    }

    /// FIFOs in place of the records read as no records, at once: read
    /// as before, they held the reader (any command that looked at the
    /// pod) until something wrote to them. Read on a thread, so that the
    /// old code fails the test instead of hanging it.
    #[test]
    fn fifos_in_place_of_the_records_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let fifos = [PID_FILE, PROCESSES_FILE].map(|file| dir.path().join(file));
        let records = Records::new(dir.path());
        let read = crate::store::on_fifos(&fifos, move || {
            (
                records.supervisor_state(),
                records.processes().ok().map(|p| p.len()),
            )
        });
        assert_eq!(
            read.expect("the read returned"),
            (SupervisorState::Never, Some(0))
        );
    }

    #[test]
    fn a_pod_has_one_supervision_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::new(dir.path());
        let first = records.supervise().unwrap();
        assert!(first.is_some());
        assert!(records.supervise().unwrap().is_none());
        drop(first);
        assert!(records.supervise().unwrap().is_some());
    }

    #[test]
    fn a_reaped_child_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let p = Process::of(child.id() as i32);
        child.wait().unwrap();
        if let Some(p) = p {
            assert!(!p.is_alive());
        }
    }
}
