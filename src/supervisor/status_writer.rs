//! The pod's status record, written apart from the supervisor's loop, as
//! the kubelet's status manager sends statuses apart from its pod
//! workers.
//!
//! A durable write waits for the disk twice (the file, then its
//! directory); on a disk that other work keeps busy each wait is tens of
//! milliseconds, and a pod's start writes its status three or four
//! times. Waited for in the loop, those writes held up the containers'
//! start behind them. Here the loop hands the newest status over and goes
//! on; a thread writes it (write_atomic_in_place: fsync, rename, fsync of
//! the directory; the record it replaced is closed, and its blocks freed,
//! only once no newer status waits), and a status handed over while
//! another is written replaces the one still waiting, so only the newest
//! is written next.
//! Readers see a status at its rename, as before; the writes stay in the
//! order they were made.
//!
//! The thread exists only while there is something to write: a pod that
//! runs keeps no thread for this. [`StatusWriter::settle`] waits until
//! every status handed over is written, for what must follow it (the
//! teardown of a pod whose final phase was just written, the removal of
//! its record, the supervisor's exit).

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

/// Room enough for a write_atomic and an error message.
const STACK: usize = 64 * 1024;

#[derive(Default)]
struct State {
    /// The newest status not yet written: where, and what.
    next: Option<(PathBuf, Vec<u8>)>,
    /// The thread runs (it writes, or is about to take `next`).
    running: bool,
}

#[derive(Default)]
pub struct StatusWriter {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl StatusWriter {
    /// Hands `bytes` over to be written to `path`, replacing whatever was
    /// handed over and not yet written.
    pub fn submit(&self, path: PathBuf, bytes: Vec<u8>) {
        let (lock, _) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        state.next = Some((path, bytes));
        if state.running {
            return;
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
    }

    /// Waits until every status handed over is written.
    pub fn settle(&self) {
        let (lock, done) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        while state.running {
            state = done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Writes the newest status until none waits; then says so and ends.
fn write_until_done(shared: &(Mutex<State>, Condvar)) {
    let (lock, done) = shared;
    // The records the writes replaced, still open: closing one frees its
    // blocks, which on a disk mounted `discard` waits for the disk (see
    // `write_atomic_in_place`). They are closed once no newer status
    // waits, so that a status is never read later for it.
    let mut replaced = Vec::new();
    loop {
        let next = {
            let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
            match state.next.take() {
                Some(next) => Some(next),
                None if replaced.is_empty() => {
                    state.running = false;
                    done.notify_all();
                    return;
                }
                None => None,
            }
        };
        let Some((path, bytes)) = next else {
            replaced.clear();
            continue;
        };
        match crate::store::write_atomic_in_place(&path, &bytes) {
            Ok(old) => replaced.extend(old),
            // The pod's record is gone (deleted by force): nothing to
            // write it into.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("pod-supervisor: writing status: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!writer.shared.0.lock().unwrap().running);
        writer.submit(path.clone(), b"again".to_vec());
        writer.settle();
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
        // Only the record: no temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // And no replaced record is held open once the writes are done.
        let held = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
            .filter(|target| target.starts_with(dir.path()))
            .count();
        assert_eq!(held, 0);
    }

    #[test]
    fn a_removed_directory_is_not_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let pod = dir.path().join("pod");
        let writer = StatusWriter::default();
        writer.submit(pod.join("status.json"), b"late".to_vec());
        writer.settle();
        assert!(!pod.exists());
    }
}
