//! The containers the pod starts first, set up while the network's ADD
//! runs: each one's init is forked and makes the container's root,
//! mounts and namespaces, then waits for the word before the container's
//! identity, seccomp filter and program (`PodRuntime::hold_container`).
//! The ADD runs on a thread of its own and the loop would only wait for
//! it; once it succeeds, each start is the word and the wait for the
//! program's exec. No program of the pod runs before the ADD succeeded
//! (the sandbox is ready before any container starts, as for the
//! kubelet): a failed ADD, a deletion or a new sandbox ends the held
//! inits unsaid. No event or status tells of it: the starts themselves
//! happen when they did, in the decision's order, and a container whose
//! image must be pulled is not held.

use std::time::Instant;

use k8s_openapi::api::core::v1::Container;
use tokio::sync::oneshot;

use crate::image::{Image, PullPolicy};
use crate::runtime::Creating;
use crate::supervisor::reaper::Exit;
use crate::supervisor::stdio::{self, Ends};

use super::Supervisor;
use super::decide::{self, Action, Sandbox};
use super::start::pull_policy;

/// A container's init, set up and waiting for the word.
pub(super) struct Held {
    pub creating: Creating,
    /// The supervisor's ends of its streams.
    pub ends: Ends,
    /// Its exit, waited for since its fork.
    pub exited: oneshot::Receiver<Exit>,
}

impl Supervisor {
    /// Holds the containers the decision starts once the sandbox is
    /// ready (the first init container, or the app containers).
    pub(super) fn hold_first_starts(&mut self) {
        let mut seen = self.seen();
        seen.sandbox = Sandbox::Ready;
        for action in decide::decide(&seen, Instant::now()) {
            // The ADD is over: its result waits for this loop, and the
            // held inits for the word. The rest start after it, as
            // without a hold.
            if self.add_finished() {
                break;
            }
            if let Action::Start(i) = action {
                self.hold_start(i);
            }
        }
    }

    /// Forks container `i`'s first instance held, if its image is here
    /// and used as it is. A failure is dropped: the start begins it again
    /// and reports what fails then, as it always did.
    fn hold_start(&mut self, i: usize) {
        let Some(rt) = self.runtime.clone() else {
            return;
        };
        let slot = &self.slots[i];
        // (A retried ADD holds them again: the first one's were ended.)
        if self.held.contains_key(&i)
            || slot.started_once
            || pull_policy(&slot.spec) == PullPolicy::Always
        {
            return;
        }
        let reference = slot.spec.image.clone().unwrap_or_default();
        let Ok(Some(image)) = self.images.resolve(&reference) else {
            return;
        };
        let instance = slot.status.restart_count.max(0) as u32;
        // Found here: the start does not look it up again.
        self.slots[i].image = Some(image.clone());
        let spec = &self.slots[i].spec;
        let Ok((stdio, ends)) = stdio::open(spec) else {
            return;
        };
        let held = rt
            .borrow_mut()
            .hold_container(spec, instance, &image, stdio);
        if let Ok(creating) = held {
            // In the same synchronous stretch as the fork: its exit
            // cannot be collected unseen.
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
