//! The containers the pod starts first, set up while the network's ADD
//! runs: each one's init is forked and makes the container's root,
//! mounts and namespaces, then waits for the word before the container's
//! identity, seccomp filter and program (`PodRuntime::ready_container`).
//! What needs no pause process (overlay directories, cgroup, the init's
//! configuration) is made while the pause process starts, each container
//! on a thread of its own; the inits are forked once it runs, beside the
//! ADD's thread. Once the ADD succeeds, each start is the word and the
//! wait for the program's exec. No program of the pod runs before the
//! ADD succeeded (the sandbox is ready before any container starts, as
//! for the kubelet): a failed ADD, a deletion or a new sandbox ends the
//! held inits unsaid. No event or status tells of it: the starts
//! themselves happen when they did, in the decision's order, and a
//! container whose image must be pulled is not held.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use k8s_openapi::api::core::v1::Container;
use tokio::sync::oneshot;

use crate::image::{Image, PullPolicy};
use crate::runtime::{Creating, PodRuntime, Ready, StartedPause, Stdio};
use crate::supervisor::reaper::Exit;
use crate::supervisor::stdio::{self, Ends};

use super::Supervisor;
use super::decide::{self, Action, Sandbox};
use super::start::pull_policy;

/// A container to hold: what makes it ready ([`PodRuntime::ready_container`]),
/// and what its start takes then.
struct Hold {
    make: Make,
    /// Its slot.
    i: usize,
    stdio: Stdio,
    ends: Ends,
}

/// What makes a container ready, moved to the thread that does it.
struct Make {
    spec: Container,
    instance: u32,
    image: Image,
}

/// A container made ready to be held ([`Supervisor::hold_readied`]).
pub(super) struct Readied {
    i: usize,
    stdio: Stdio,
    ends: Ends,
    ready: Ready,
}

/// A container's init, set up and waiting for the word.
pub(super) struct Held {
    pub creating: Creating,
    /// The supervisor's ends of its streams.
    pub ends: Ends,
    /// Its exit, waited for since its fork.
    pub exited: oneshot::Receiver<Exit>,
}

impl Supervisor {
    /// Starts the pod's pause process while, beside it, the pod's files
    /// are made (`files`: a runtime new to this supervisor, see
    /// [`PodRuntime::prepare_files`]) and then the containers the
    /// decision starts first made ready, each on a thread of its own:
    /// none of it needs a pause process, only the containers' forks do
    /// ([`Supervisor::hold_readied`]). A pause process whose pod's files
    /// could not be made is killed.
    pub(super) fn start_pause(
        &mut self,
        rt: &mut PodRuntime,
        files: bool,
    ) -> Result<(StartedPause, Vec<Readied>)> {
        let holds = self.first_holds();
        let pause = rt.begin_sandbox()?;
        let (started, made) = std::thread::scope(|scope| {
            let making = std::thread::Builder::new()
                .name("pod-prepare".into())
                .spawn_scoped(scope, move || -> Result<Vec<Readied>> {
                    if files {
                        rt.prepare_files()?;
                    }
                    Ok(ready_beside(rt, holds, || ()).1)
                });
            let started = pause.start();
            let made = match making {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("preparing the pod failed"))),
                Err(e) => Err(anyhow::Error::from(e).context("starting a thread")),
            };
            (started, made)
        });
        match (started, made) {
            (Ok(started), Ok(readied)) => Ok((started, readied)),
            // The pod's files first, as when they were made before.
            (started, Err(e)) => {
                if let Ok(started) = started {
                    started.abandon();
                }
                Err(e)
            }
            (Err(e), Ok(_)) => Err(e),
        }
    }

    /// Holds the containers the decision starts once the sandbox is
    /// ready (the first init container, or the app containers) and that
    /// are not held yet, made ready side by side.
    pub(super) fn hold_first_starts(&mut self) {
        let Some(rt) = self.runtime.clone() else {
            return;
        };
        let holds = self.first_holds();
        if holds.is_empty() {
            return;
        }
        let ((), readied) = ready_beside(&rt.borrow(), holds, || ());
        self.hold_readied(&rt, readied);
    }

    /// Forks the readied containers' inits into the running pause
    /// process's namespaces, held, side by side (a fork of the supervisor
    /// and the init's cgroup entry, each on a thread of its own). A
    /// failure is dropped: the start begins it again and reports what
    /// fails then, as it always did.
    pub(super) fn hold_readied(&mut self, rt: &Rc<RefCell<PodRuntime>>, readied: Vec<Readied>) {
        let rt = rt.borrow();
        let forked: Vec<_> = std::thread::scope(|scope| {
            let forks: Vec<_> = readied
                .into_iter()
                .map(|readied| {
                    let Readied {
                        i,
                        stdio,
                        ends,
                        ready,
                    } = readied;
                    let rt = &*rt;
                    let fork = std::thread::Builder::new()
                        .name("pod-prepare".into())
                        .spawn_scoped(scope, move || rt.start_ready(ready, stdio));
                    (i, ends, fork)
                })
                .collect();
            forks
                .into_iter()
                .filter_map(|(i, ends, fork)| Some((i, ends, fork.ok()?.join().ok()?.ok()?)))
                .collect()
        });
        for (i, ends, creating) in forked {
            // In the same synchronous stretch of the loop as the forks
            // (which it waited for): no exit can be collected unseen.
            let exited = self.reaper.wait(creating.pid());
            self.held.insert(
                i,
                Held {
                    creating,
                    ends,
                    exited,
                },
            );
        }
    }

    /// The containers the decision starts once the sandbox is ready, to
    /// hold.
    fn first_holds(&mut self) -> Vec<Hold> {
        let mut seen = self.seen();
        seen.sandbox = Sandbox::Ready;
        decide::decide(&seen, Instant::now())
            .into_iter()
            .filter_map(|action| match action {
                Action::Start(i) => self.hold_of(i),
                _ => None,
            })
            .collect()
    }

    /// What holding container `i`'s first instance needs, if its image
    /// is here and used as it is.
    fn hold_of(&mut self, i: usize) -> Option<Hold> {
        let slot = &self.slots[i];
        // (A retried ADD holds them again: the first one's were ended.)
        if self.held.contains_key(&i)
            || slot.started_once
            || pull_policy(&slot.spec) == PullPolicy::Always
        {
            return None;
        }
        let reference = slot.spec.image.clone().unwrap_or_default();
        let image = self.images.resolve(&reference).ok()??;
        let instance = slot.status.restart_count.max(0) as u32;
        // Found here: the start does not look it up again.
        self.slots[i].image = Some(image.clone());
        let spec = self.slots[i].spec.clone();
        let (stdio, ends) = stdio::open(&spec).ok()?;
        Some(Hold {
            make: Make {
                spec,
                instance,
                image,
            },
            i,
            stdio,
            ends,
        })
    }

    /// Container `i`'s held init, if it was made for this instance of
    /// it from this image in the running sandbox; one that was not is
    /// ended.
    pub(super) fn take_held(
        &mut self,
        i: usize,
        container: &Container,
        instance: u32,
        image: &Image,
    ) -> Option<Held> {
        let held = self.held.remove(&i)?;
        let fits = self
            .runtime
            .as_ref()
            .is_some_and(|rt| rt.borrow().fits(&held.creating, container, instance, image));
        if fits {
            return Some(held);
        }
        end_held(held);
        None
    }

    /// Ends every held init unsaid (the ADD failed, the sandbox goes).
    pub(super) fn end_held(&mut self) {
        for (_, held) in std::mem::take(&mut self.held) {
            end_held(held);
        }
    }
}

/// Kills a held init; closing its go pipe unsaid would end it too, but
/// only once its set-up reached the wait.
fn end_held(held: Held) {
    let Held {
        creating,
        mut exited,
        ..
    } = held;
    // Not reaped yet (the reaper runs on this thread and has not sent
    // its exit): the pid is still the init's.
    if matches!(exited.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
        let _ = crate::process::kill(creating.pid(), libc::SIGKILL);
    }
    // Its exit is reaped and dropped; its instance's directories and
    // cgroup are made again by the next start (or go with the pod).
    drop(exited);
    drop(creating);
}

/// Makes the holds' containers ready, each on a thread of its own, while
/// `meanwhile` runs on this one; those that could not be made are left
/// out (their start makes them again).
fn ready_beside<T>(
    rt: &PodRuntime,
    holds: Vec<Hold>,
    meanwhile: impl FnOnce() -> T,
) -> (T, Vec<Readied>) {
    std::thread::scope(|scope| {
        let making: Vec<_> = holds
            .into_iter()
            .map(|hold| {
                let Hold {
                    make,
                    i,
                    stdio,
                    ends,
                } = hold;
                let thread = std::thread::Builder::new()
                    .name("pod-prepare".into())
                    .spawn_scoped(scope, move || {
                        rt.ready_container(&make.spec, make.instance, &make.image, true)
                    });
                (i, stdio, ends, thread)
            })
            .collect();
        let value = meanwhile();
        let readied = making
            .into_iter()
            .filter_map(|(i, stdio, ends, thread)| {
                let ready = thread.ok()?.join().ok()?.ok()?;
                Some(Readied {
                    i,
                    stdio,
                    ends,
                    ready,
                })
            })
            .collect();
        (value, readied)
    })
}
