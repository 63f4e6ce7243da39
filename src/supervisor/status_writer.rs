//! The pod's status record, written apart from the supervisor's loop, as
//! the kubelet's status manager sends statuses apart from its pod
//! workers.
//!
//! A durable write waits for the disk twice (the file, then its
//! directory); on a disk that other work keeps busy each wait is tens of
//! milliseconds, and a pod's start writes its status three or four
//! times. Waited for in the loop, those writes held up the containers'
//! start behind them. Here the loop hands the newest status over and goes
//! on; a thread writes it (a temporary file, fsync, rename, fsync of the
//! directory; the record it replaced is closed, and its blocks freed,
//! only once no newer status waits), and a status handed over while
//! another is written replaces the one still waiting, so only the newest
//! is written next. Readers see a status at its rename; the renames stay
//! in the order the statuses were handed over, and one that a newer
//! status overtook is not made at all.
//!
//! The status a pod's start ends with is known before it is due: once its
//! containers' programs are executed, Running with each container's start
//! time, which the record keeps to the second. The loop says so
//! ([`StatusWriter::expect`]), the thread writes and syncs it ahead under
//! a name of its own, and when that very status is handed over it is
//! shown at once, by the rename alone, whatever the thread is waiting for
//! then (the fsyncs of the statuses before it). A status that is not the
//! one expected is written as any other.
//!
//! The thread exists only while there is something to write: a pod that
//! runs keeps no thread for this. [`StatusWriter::settle`] waits until
//! every status handed over is written, for what must follow it (the
//! teardown of a pod whose final phase was just written, the removal of
//! its record, the supervisor's exit).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::store::Synced;

/// Room enough for a write and an error message.
const STACK: usize = 64 * 1024;

/// A status handed over: where, what, and its number in the order they
/// were handed over.
struct Status {
    path: PathBuf,
    bytes: Vec<u8>,
    number: u64,
}

#[derive(Default)]
struct State {
    /// The newest status handed over and not yet taken to be written.
    next: Option<Status>,
    /// The status expected next, and the number of that expectation
    /// (each new one gets the next).
    expected: Option<(PathBuf, Vec<u8>)>,
    expectation: u64,
    /// The expectation the thread took to write ahead.
    taken: u64,
    /// The status expected, written ahead and synced.
    ready: Option<Synced>,
    /// The number of the newest status handed over, and of the newest one
    /// in place.
    handed: u64,
    shown: u64,
    /// The directory of a status put in place and not yet synced.
    unsynced: Option<PathBuf>,
    /// The records the renames replaced, still open (see
    /// `Synced::put_in_place`), and statuses written ahead that are no
    /// longer expected: closed and removed once nothing more urgent waits.
    replaced: Vec<File>,
    void: Vec<Synced>,
    /// The thread runs (it writes, or is about to take what waits).
    running: bool,
}

impl State {
    fn has_work(&self) -> bool {
        self.next.is_some()
            || self.expected.is_some() && self.taken != self.expectation
            || self.unsynced.is_some()
            || !self.replaced.is_empty()
            || !self.void.is_empty()
    }

    /// Now `expected` is expected (None: nothing is).
    fn expect(&mut self, expected: Option<(PathBuf, Vec<u8>)>) {
        if expected == self.expected {
            return;
        }
        self.expected = expected;
        self.expectation += 1;
        self.void.extend(self.ready.take());
    }

    /// The status written ahead, if it is `bytes` for `path`; it is
    /// expected no more.
    fn take_ready(&mut self, path: &Path, bytes: &[u8]) -> Option<Synced> {
        let expected = self
            .expected
            .as_ref()
            .is_some_and(|(p, b)| p == path && b == bytes);
        if !expected || self.ready.is_none() {
            return None;
        }
        let ready = self.ready.take();
        self.expect(None);
        ready
    }

    /// Shows `synced` as status `number`, unless a newer one is shown:
    /// whether it is done with (in place, overtaken, or its record gone).
    fn put_in_place(&mut self, synced: Synced, number: u64) -> bool {
        if self.shown > number {
            self.void.push(synced);
            return true;
        }
        let dir = synced.path().parent().map(Path::to_path_buf);
        match synced.put_in_place() {
            Ok(replaced) => {
                self.shown = number;
                self.replaced.extend(replaced);
                self.unsynced = dir;
                true
            }
            // The pod's record is gone (deleted by force): nothing to
            // write it into.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                eprintln!("pod-supervisor: writing status: {e}");
                false
            }
        }
    }
}

#[derive(Default)]
pub struct StatusWriter {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl StatusWriter {
    /// Hands `bytes` over to be written to `path`, replacing whatever was
    /// handed over and not yet written. The status expected (and written
    /// ahead) is put in place at once.
    pub fn submit(&self, path: PathBuf, bytes: Vec<u8>) {
        let mut state = self.lock();
        state.handed += 1;
        let number = state.handed;
        if let Some(synced) = state.take_ready(&path, &bytes) {
            // Older statuses not yet written are overtaken: never shown.
            state.next = None;
            if state.put_in_place(synced, number) {
                return self.run(state);
            }
        }
        state.next = Some(Status {
            path,
            bytes,
            number,
        });
        self.run(state);
    }

    /// The status expected to be handed over next (None: nothing is),
    /// to be written ahead.
    pub fn expect(&self, expected: Option<(PathBuf, Vec<u8>)>) {
        let mut state = self.lock();
        state.expect(expected);
        self.run(state);
    }

    /// Waits until every status handed over is written; a status written
    /// ahead and never handed over is removed.
    pub fn settle(&self) {
        let (_, done) = &*self.shared;
        let mut state = self.lock();
        state.expect(None);
        state = self.run_locked(state);
        while state.running {
            state = done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, state: MutexGuard<'_, State>) {
        drop(self.run_locked(state));
    }

    /// Starts the thread if there is work and it does not run.
    fn run_locked<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if state.running || !state.has_work() {
            return state;
        }
        state.running = true;
        drop(state);
        let shared = self.shared.clone();
        let started = std::thread::Builder::new()
            .name("pod-status".into())
            .stack_size(STACK)
            .spawn(move || write_until_done(&shared));
        if let Err(e) = started {
            // No thread: written here, as it was before there was one.
            eprintln!("pod-supervisor: starting the status writer: {e}");
            write_until_done(&self.shared);
        }
        self.lock()
    }
}

/// What the thread does next, most urgent first.
enum Job {
    /// Write ahead the status expected (its path and bytes, and the
    /// number of the expectation).
    Expect(PathBuf, Vec<u8>, u64),
    Write(Status),
    SyncDir(PathBuf),
    Close(Vec<File>, Vec<Synced>),
}

/// Writes until nothing waits; then says so and ends.
fn write_until_done(shared: &(Mutex<State>, Condvar)) {
    let (lock, done) = shared;
    let relock = || lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let job = {
            let mut state = relock();
            // The status expected comes before the statuses handed over:
            // once the one expected is handed over, it is shown without
            // waiting for those.
            if let Some((path, bytes)) = state.expected.clone()
                && state.taken != state.expectation
            {
                state.taken = state.expectation;
                Job::Expect(path, bytes, state.expectation)
            } else if let Some(status) = state.next.take() {
                let ready = state.take_ready(&status.path, &status.bytes);
                match ready.map(|synced| state.put_in_place(synced, status.number)) {
                    Some(true) => continue,
                    _ => Job::Write(status),
                }
            } else if let Some(dir) = state.unsynced.take() {
                Job::SyncDir(dir)
            } else if !state.replaced.is_empty() || !state.void.is_empty() {
                Job::Close(
                    std::mem::take(&mut state.replaced),
                    std::mem::take(&mut state.void),
                )
            } else {
                state.running = false;
                done.notify_all();
                return;
            }
        };
        match job {
            // Each file written gets a name of its own (the expectation's
            // number, the status's): one removed late never takes another
            // one's name.
            Job::Expect(path, bytes, expectation) => {
                let tag = format!("next{expectation}");
                match crate::store::write_synced_beside(&path, &tag, &bytes) {
                    Ok(synced) => {
                        let mut state = relock();
                        if state.expectation == expectation {
                            state.ready = Some(synced);
                        } else {
                            // Another status is expected now.
                            state.void.push(synced);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => eprintln!("pod-supervisor: writing the status expected: {e}"),
                }
            }
            Job::Write(status) => {
                let tag = status.number.to_string();
                match crate::store::write_synced_beside(&status.path, &tag, &status.bytes) {
                    Ok(synced) => {
                        relock().put_in_place(synced, status.number);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => eprintln!("pod-supervisor: writing status: {e}"),
                }
            }
            Job::SyncDir(dir) => match File::open(&dir).and_then(|d| d.sync_all()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!("pod-supervisor: syncing {}: {e}", dir.display()),
            },
            Job::Close(replaced, void) => {
                drop(replaced);
                void.into_iter().for_each(Synced::discard);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files of `dir` this process holds open.
    fn held_in(dir: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
            .filter(|target| target.starts_with(dir))
            .count()
    }

    #[test]
    fn the_newest_status_is_written_and_settle_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let writer = StatusWriter::default();
        for n in 0..50 {
            writer.submit(path.clone(), format!("status {n}").into_bytes());
        }
        writer.settle();
        assert_eq!(std::fs::read(&path).unwrap(), b"status 49");
        // Nothing runs any more, and the next one starts a writer again.
        assert!(!writer.lock().running);
        writer.submit(path.clone(), b"again".to_vec());
        writer.settle();
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
        // Only the record: no temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // And no replaced record is held open once the writes are done.
        assert_eq!(held_in(dir.path()), 0);
    }

    #[test]
    fn a_removed_directory_is_not_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let pod = dir.path().join("pod");
        let writer = StatusWriter::default();
        writer.expect(Some((pod.join("status.json"), b"expected".to_vec())));
        writer.submit(pod.join("status.json"), b"late".to_vec());
        writer.settle();
        assert!(!pod.exists());
    }

    /// Waits until the thread has nothing left to do (what `settle` does,
    /// without giving up the status written ahead).
    fn idle(writer: &StatusWriter) {
        let (_, done) = &*writer.shared;
        let mut state = writer.lock();
        while state.running {
            state = done.wait(state).unwrap();
        }
    }

    #[test]
    fn the_status_expected_is_written_ahead_and_shown_by_a_rename_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let writer = StatusWriter::default();
        writer.submit(path.clone(), b"Pending".to_vec());
        writer.expect(Some((path.clone(), b"Running".to_vec())));
        idle(&writer);
        // Written ahead, not shown.
        assert_eq!(std::fs::read(&path).unwrap(), b"Pending");
        let ahead: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".status.json.") && n.contains(".next"))
            .collect();
        assert_eq!(ahead.len(), 1, "{ahead:?}");
        // A status that is not the one expected is written as any other,
        // and the one expected stays ready.
        writer.submit(path.clone(), b"one running".to_vec());
        idle(&writer);
        assert_eq!(std::fs::read(&path).unwrap(), b"one running");
        // The one expected is in place when submit returns: no thread
        // had to write it.
        writer.submit(path.clone(), b"Running".to_vec());
        assert_eq!(std::fs::read(&path).unwrap(), b"Running");
        writer.settle();
        assert_eq!(std::fs::read(&path).unwrap(), b"Running");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(held_in(dir.path()), 0);
    }

    /// The status expected is shown while the thread is stuck on the disk
    /// with an older one: a FIFO in the place of the older one's temporary
    /// file holds its write until the test opens the FIFO.
    #[test]
    fn the_status_expected_is_shown_while_an_older_write_waits_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let writer = StatusWriter::default();
        writer.expect(Some((path.clone(), b"Running".to_vec())));
        idle(&writer);
        // The first status handed over is written to `.status.json.<pid>.1.tmp`.
        let stuck = dir
            .path()
            .join(format!(".status.json.{}.1.tmp", std::process::id()));
        nix::unistd::mkfifo(&stuck, nix::sys::stat::Mode::S_IRWXU).unwrap();
        writer.submit(path.clone(), b"one running".to_vec());
        // Taken by the thread, which is stuck opening the FIFO (a writer
        // waits for a reader).
        while writer.lock().next.is_some() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        writer.submit(path.clone(), b"Running".to_vec());
        let shown = std::fs::read(&path).ok();
        // The disk is back: the older status, overtaken, is never shown.
        let release = std::fs::File::open(&stuck).unwrap();
        writer.settle();
        drop(release);
        assert_eq!(shown.as_deref(), Some(&b"Running"[..]));
        assert_eq!(std::fs::read(&path).unwrap(), b"Running");
    }

    #[test]
    fn a_status_no_longer_expected_is_never_shown_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        let writer = StatusWriter::default();
        writer.submit(path.clone(), b"Pending".to_vec());
        writer.expect(Some((path.clone(), b"Running at :01".to_vec())));
        idle(&writer);
        // The second turned: another status is expected.
        writer.expect(Some((path.clone(), b"Running at :02".to_vec())));
        idle(&writer);
        writer.submit(path.clone(), b"Running at :01".to_vec());
        writer.settle();
        assert_eq!(std::fs::read(&path).unwrap(), b"Running at :01");
        // Nothing is expected any more: what was written ahead goes.
        writer.expect(Some((path.clone(), b"Failed".to_vec())));
        idle(&writer);
        writer.expect(None);
        idle(&writer);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A status expected and never handed over goes at settle.
        writer.expect(Some((path.clone(), b"Succeeded".to_vec())));
        writer.settle();
        assert_eq!(std::fs::read(&path).unwrap(), b"Running at :01");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
