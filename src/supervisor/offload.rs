//! Blocking work (an image's pull, the end of a container's set-up) done
//! off the event loop, on a thread of its own that is joined as soon as it
//! has answered.
//!
//! tokio's blocking pool kept such a thread idle for 10 s after its work
//! and never joined the last one to leave, and glibc keeps the stacks of
//! exited threads for reuse: some 15 KiB of stack and TLS each, resident
//! in every supervisor for the pod's life. A joined thread's stack goes
//! back at once (the supervisor is started with glibc's stack cache off:
//! `pods::start`).

use std::io;

/// Runs `work` on a new thread named `name` and waits for its result
/// without blocking the loop.
pub async fn run<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = tx.send(work());
        })?;
    let result = rx.await;
    // It sent its last word (or panicked): the join is immediate.
    let _ = thread.join();
    result.map_err(|_| io::Error::other(format!("the {name} thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_a_thread_of_its_own_and_a_panic_is_an_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let (loop_tid, work_tid) = local.block_on(&runtime, async {
            let work_tid = run("test-offload", nix::unistd::gettid).await.unwrap();
            (nix::unistd::gettid(), work_tid)
        });
        // The work ran on a thread of its own, not on the loop's.
        assert_ne!(loop_tid, work_tid);
        let failed = local.block_on(&runtime, run("test-panic", || panic!("boom")));
        assert!(failed.is_err());
    }
}
