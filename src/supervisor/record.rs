//! What a supervisor leaves in its pod's run directory so that others can
//! find it and, when it is gone, clean up after it: its own pid and start
//! time (`supervisor.pid`), and the pids of the processes it started
//! (`processes.json`). A start time next to each pid defeats pid reuse.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{read_small_file, write_atomic};

pub const PID_FILE: &str = "supervisor.pid";
pub const PROCESSES_FILE: &str = "processes.json";
pub const SOCKET_FILE: &str = "supervisor.sock";
pub const LOG_FILE: &str = "supervisor.log";

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

    pub fn write_supervisor(&self, process: Process) -> io::Result<()> {
        write_atomic(
            &self.dir.join(PID_FILE),
            format!("{} {}\n", process.pid, process.start).as_bytes(),
        )
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

    pub fn write_processes(&self, processes: &BTreeMap<String, Process>) -> io::Result<()> {
        let bytes = serde_json::to_vec(processes).map_err(io::Error::other)?;
        write_atomic(&self.dir.join(PROCESSES_FILE), &bytes)
    }

    pub fn processes(&self) -> BTreeMap<String, Process> {
        fs::read(self.dir.join(PROCESSES_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
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
        records.write_supervisor(Process::current()).unwrap();
        assert_eq!(records.live_supervisor(), Some(Process::current()));
        let mut procs = BTreeMap::new();
        procs.insert("pause".to_string(), Process { pid: 7, start: 9 });
        records.write_processes(&procs).unwrap();
        assert_eq!(records.processes(), procs);
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
