//! The containers the pod starts first, made ready while the network's
//! ADD runs: their processes resolved, their mounts' sources open, their
//! directories and cgroups made, their inits' configurations written out
//! (`PodRuntime::prepare_container`). The ADD runs on a thread of its own
//! and the loop would only wait for it; once it reports, each start is
//! left with its fork. No event or status tells of it: the starts
//! themselves happen when they did, in the decision's order, and a
//! container whose image must be pulled is not made ready.

use std::time::Instant;

use crate::image::PullPolicy;

use super::Supervisor;
use super::decide::{self, Action, Sandbox};
use super::start::pull_policy;

impl Supervisor {
    /// Makes ready the containers the decision starts once the sandbox
    /// is ready (the first init container, or the app containers).
    pub(super) fn prepare_first_starts(&mut self) {
        let mut seen = self.seen();
        seen.sandbox = Sandbox::Ready;
        for action in decide::decide(&seen, Instant::now()) {
            if let Action::Start(i) = action {
                self.prepare_start(i);
            }
        }
    }

    /// Makes container `i`'s first instance ready, if its image is here
    /// and used as it is. A failure is dropped: the start makes it ready
    /// again and reports what fails then, as it always did.
    fn prepare_start(&mut self, i: usize) {
        let Some(rt) = self.runtime.clone() else {
            return;
        };
        let slot = &self.slots[i];
        // (A retried ADD finds it made ready by the first.)
        if self.prepared.contains_key(&i)
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
        let prepared = rt
            .borrow_mut()
            .prepare_container(&slot.spec, instance, &image);
        if let Ok(prepared) = prepared {
            self.prepared.insert(i, prepared);
        }
        // Found here: the start does not look it up again.
        self.slots[i].image = Some(image);
    }
}
