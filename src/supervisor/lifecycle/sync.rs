//! The event loop's side of the decision: what it sees of the pod is
//! handed to `decide`, and the actions that come back are performed here,
//! in order, with their I/O (starts, stop signals, events, timers).

use std::time::{Duration, Instant};

use crate::duration::go_string;
use crate::store::events::Type;
use crate::supervisor::status;

use super::Supervisor;
use super::decide::{self, Action, Hook, PodStage, Policy, Sandbox, Seen, SeenPod, State, Why};
use super::slot::{Phase, Slot};
use super::stage::Stage;

/// At most this many decision rounds per sync: again once the sandbox is
/// up or failed, and once more when a start failed at once (a missing
/// configuration). A bound, should an action keep asking for another.
const ROUNDS: usize = 4;

impl Supervisor {
    /// Decides what to do now and does it.
    pub(super) fn sync(&mut self) {
        for _ in 0..ROUNDS {
            let now = Instant::now();
            let mut seen = self.seen();
            seen.status_changed = self.status_changed();
            let actions = decide::decide(&seen, now);
            let mut again = false;
            for action in actions {
                again |= self.perform(action);
            }
            if !again {
                break;
            }
        }
    }

    /// The pod is over (see `decide::finished`).
    pub(super) fn ready_to_finish(&self) -> bool {
        decide::finished(&self.seen())
    }

    /// What the decision reads of the pod.
    pub(super) fn seen(&self) -> SeenPod {
        let stage = match &self.stage {
            Stage::Initializing => PodStage::Initializing,
            Stage::Running => PodStage::Running,
            Stage::Completing => PodStage::Completing,
            Stage::Deleting { stopping, .. } => PodStage::Deleting {
                grace: stopping.grace,
                since: stopping.since,
                at_once: stopping.now,
            },
            Stage::Ended { .. } => PodStage::Ended,
        };
        let sandbox = match (&self.netns, self.sandbox_failed) {
            _ if self.torn_down => Sandbox::Gone,
            _ if self.pause_died => Sandbox::Dead {
                announced: self.sandbox_announced,
            },
            (Some(_), _) => Sandbox::Ready,
            (None, Some(at)) => Sandbox::Failed { at },
            (None, None) => Sandbox::Missing {
                retry_at: self.sandbox_retry,
            },
        };
        SeenPod {
            policy: Policy::parse(status::restart_policy(&self.spec)),
            grace: self.pod_grace(),
            stage,
            sandbox,
            requeue: self.settings.backoff.initial,
            containers: self.slots.iter().map(seen).collect(),
            // Set by `sync`: computing it updates the conditions.
            status_changed: false,
            detached: self.stage.detached(),
        }
    }

    /// Performs one action; whether to decide again at once.
    fn perform(&mut self, action: Action) -> bool {
        let refused = match action {
            Action::CreateSandbox => return self.ensure_sandbox(),
            Action::RetrySandbox { at } => {
                self.sandbox_failed = None;
                self.sandbox_retry = Some(at);
                Ok(())
            }
            Action::Start(i) => {
                self.begin_start(i);
                // A configuration that failed at once is decided at once.
                return matches!(
                    self.slots[i].phase(),
                    Phase::StartFailed { .. } | Phase::Exited(_)
                );
            }
            Action::RetryStart {
                slot,
                at,
                show_back_off,
            } => {
                let slot = &mut self.slots[slot];
                slot.pull_back_off_at = show_back_off;
                slot.wait_until(at)
            }
            Action::ShowPullBackOff(i) => {
                self.show_pull_back_off(i);
                Ok(())
            }
            Action::PostStart(i) => {
                self.post_start(i);
                Ok(())
            }
            Action::Restart { slot, at, back_off } => {
                self.restart(slot, at, back_off);
                Ok(())
            }
            Action::WakeAt(at) if at <= Instant::now() => {
                self.resync = true;
                Ok(())
            }
            Action::WakeAt(at) => {
                self.wake_at(at);
                Ok(())
            }
            Action::Retire(i) => self.slots[i].retire(),
            Action::PreStop { slot, grace, why } => {
                let message = self.killing_message(slot, why);
                self.pre_stop(slot, grace, &message);
                Ok(())
            }
            Action::Stop { slot, grace, why } => {
                let message = self.killing_message(slot, why);
                self.kill_container(slot, grace, &message);
                Ok(())
            }
            Action::Kill(i) => {
                self.kill_now(i);
                Ok(())
            }
            Action::WriteStatus => {
                self.status_due = true;
                Ok(())
            }
            Action::Initialized => self.stage.initialize(),
            Action::Complete => self.stage.complete(),
            // The decision saw no process left; should its view ever be
            // behind, the pod still never ends under a live one.
            Action::EndPod if self.slots.iter().any(Slot::has_process) => Ok(()),
            Action::EndPod => self.stage.end(),
            Action::SandboxChanged => {
                self.sandbox_announced = true;
                let message = "Pod sandbox changed, it will be killed and re-created.";
                self.event(None, Type::Normal, "SandboxChanged", message);
                Ok(())
            }
            Action::ReplaceSandbox => {
                self.replace_sandbox();
                return true;
            }
            Action::Rerun { slot, at } => {
                let slot = &mut self.slots[slot];
                slot.status.last_state = slot.status.state.clone();
                slot.rerun(at)
            }
            Action::Reinitialize => self.stage.reinitialize(),
            Action::TearDown => {
                self.tear_down();
                Ok(())
            }
            Action::RemovePod => {
                self.remove_pod();
                Ok(())
            }
        };
        if let Err(e) = refused {
            eprintln!("pod-supervisor: {e}");
        }
        false
    }

    /// A container exited and starts again at `at`, after a crash-loop
    /// back-off when `back_off` says so.
    fn restart(&mut self, i: usize, at: Instant, back_off: Option<Duration>) {
        let label = self.pod_label();
        let slot = &mut self.slots[i];
        slot.status.last_state = slot.status.state.clone();
        if let Some(delay) = back_off {
            let name = slot.spec.name.clone();
            let message = format!(
                "back-off {} restarting failed container={name} pod={label}",
                go_string(delay)
            );
            slot.waiting("CrashLoopBackOff", Some(message));
            if let Err(e) = slot.wait_until(at) {
                eprintln!("pod-supervisor: {e}");
            }
            let event = format!("Back-off restarting failed container {name} in pod {label}");
            self.event(Some(i), Type::Warning, "BackOff", &event);
        } else if let Err(e) = slot.wait_until(at) {
            eprintln!("pod-supervisor: {e}");
        }
    }

    /// The Killing event's message, the kubelet's.
    fn killing_message(&self, i: usize, why: Why) -> String {
        let slot = &self.slots[i];
        match why {
            Why::Stop => format!("Stopping container {}", slot.spec.name),
            Why::FailedPostStartHook => "FailedPostStartHook".into(),
            Why::Unhealthy => {
                let probe = slot.live().and_then(|l| l.unhealthy).map_or("", |u| u.0);
                format!(
                    "Container {} failed {probe} probe, will be restarted",
                    slot.spec.name
                )
            }
            Why::DefinitionChanged => format!(
                "Container {} definition changed, will be restarted",
                slot.spec.name
            ),
        }
    }

    pub(super) fn pod_grace(&self) -> Duration {
        Duration::from_secs(
            self.spec
                .termination_grace_period_seconds
                .unwrap_or(30)
                .max(0) as u64,
        )
    }
}

/// What the decision reads of a container.
fn seen(slot: &Slot) -> Seen {
    let state = match slot.phase() {
        Phase::Idle => State::Idle,
        Phase::Pulling => State::Pulling,
        Phase::Creating(_) => State::Creating,
        Phase::Waiting(at) => State::Waiting(*at),
        Phase::Starting(live) => State::Starting {
            hook: match (live.hook_begun, live.hook_failed) {
                (_, true) => Hook::Failed,
                (true, false) => Hook::Running,
                (false, false) => Hook::Due,
            },
            stopping: live.stopping,
        },
        Phase::Running(live) => State::Running {
            started: slot.status.started == Some(true),
            stopping: live.stopping,
        },
        Phase::Exited(at) => State::Exited {
            code: slot.exit_code().unwrap_or(0),
            at: *at,
        },
        Phase::StartFailed { at, pull } => State::StartFailed {
            at: *at,
            pull: *pull,
        },
        Phase::Done => State::Done {
            succeeded: slot.succeeded(),
        },
    };
    Seen {
        role: slot.role,
        post_start: slot.has_post_start(),
        pre_stop: slot.has_pre_stop(),
        pre_stop_done: slot.live().and_then(|l| l.pre_stop_done),
        killed: slot.live().is_some_and(|l| l.killed),
        unhealthy: slot
            .live()
            .and_then(|l| l.unhealthy.map(|(_, grace)| grace)),
        changed: slot.changed,
        state,
        backoff: slot.backoff.clone(),
        pull_backoff: slot.pull_backoff.clone(),
        pull_back_off_at: slot.pull_back_off_at,
    }
}
