//! Deciding what to do after each batch of messages: which container
//! starts, restarts after its back-off, or is done, and when the pod ends.

use std::time::{Duration, Instant};

use crate::duration::go_string;
use crate::supervisor::events::Type;
use crate::supervisor::status;

use super::Supervisor;
use super::slot::{Phase, Role, Slot};

impl Supervisor {
    // ----- deciding what to do -----

    pub(super) fn sync(&mut self) {
        if self.stage.terminal() {
            return;
        }
        if self.stage.stopping().is_some() {
            self.sync_stopping();
            return;
        }
        if !self.ensure_sandbox() {
            return;
        }
        let now = Instant::now();
        // Exits decided first: restart, back off, or done.
        for i in 0..self.slots.len() {
            if let Phase::Exited(at) = *self.slots[i].phase() {
                self.after_exit(i, at, now);
            }
        }
        if !self.stage.initialized() {
            self.sync_init(now);
        }
        if self.stage.initialized() {
            for i in 0..self.slots.len() {
                // The kubelet starts containers one after another and runs
                // a postStart hook before the next start, so a hook can
                // hold the containers after it back (a proxy that must be
                // up first). Without a hook their set-ups overlap.
                if self.slots.iter().any(Slot::holds_back_starts) {
                    break;
                }
                let slot = &self.slots[i];
                let due = match *slot.phase() {
                    Phase::Idle => slot.role == Role::App || slot.role == Role::Sidecar,
                    Phase::Waiting(t) => t <= now && slot.role != Role::Init,
                    _ => false,
                };
                if due && !self.stage.completing() {
                    self.begin_start(i);
                }
            }
            self.check_completion();
        }
    }

    /// Init containers one by one; sidecars started in their turn.
    pub(super) fn sync_init(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let role = self.slots[i].role;
            if role == Role::App {
                break;
            }
            let slot = &self.slots[i];
            match (role, slot.phase()) {
                (Role::Init, Phase::Done) if slot.succeeded() => continue,
                (Role::Init, Phase::Done) => {
                    // Failed with restartPolicy Never: the pod failed.
                    self.end_pod();
                    return;
                }
                (Role::Sidecar, Phase::Running(_)) if slot.status.started == Some(true) => continue,
                (_, Phase::Idle) => {
                    self.begin_start(i);
                    return;
                }
                (_, Phase::Waiting(t)) if *t <= now => {
                    self.begin_start(i);
                    return;
                }
                _ => return,
            }
        }
        if let Err(e) = self.stage.initialize() {
            eprintln!("pod-supervisor: {e}");
        }
    }

    /// A container exited: restart it now, after a back-off, or never.
    pub(super) fn after_exit(&mut self, i: usize, finished: Instant, now: Instant) {
        let policy = status::restart_policy(&self.spec).to_string();
        let slot = &mut self.slots[i];
        let code = slot.exit_code().unwrap_or(0);
        let restart = match slot.role {
            Role::Sidecar => !self.stage.completing(),
            Role::Init => code != 0 && policy != "Never",
            Role::App => policy == "Always" || (policy == "OnFailure" && code != 0),
        };
        if !restart {
            let _ = slot.retire();
            return;
        }
        let wait = slot.backoff.remaining(finished, now);
        slot.status.last_state = slot.status.state.clone();
        if wait.is_zero() {
            // Restarted by this very sync (init order permitting).
            let _ = slot.wait_until(now);
            return;
        }
        let name = slot.spec.name.clone();
        let delay = go_string(slot.backoff.current());
        let message = format!(
            "back-off {delay} restarting failed container={name} pod={}",
            self.pod_label()
        );
        let slot = &mut self.slots[i];
        slot.waiting("CrashLoopBackOff", Some(message));
        let _ = slot.wait_until(now + wait);
        self.wake_at(now + wait);
        let event = format!(
            "Back-off restarting failed container {name} in pod {}",
            self.pod_label()
        );
        self.event(Some(i), Type::Warning, "BackOff", &event);
    }

    /// All app containers done: stop the sidecars, then end the pod.
    pub(super) fn check_completion(&mut self) {
        let apps_done = self
            .slots
            .iter()
            .filter(|s| s.role == Role::App)
            .all(|s| matches!(s.phase(), Phase::Done));
        if !apps_done {
            return;
        }
        if !self.stage.completing() {
            if let Err(e) = self.stage.complete() {
                eprintln!("pod-supervisor: {e}");
            }
            let grace = self.pod_grace();
            for i in (0..self.slots.len()).rev() {
                if self.slots[i].role == Role::Sidecar {
                    let name = self.slots[i].spec.name.clone();
                    self.stop_container(i, grace, &format!("Stopping container {name}"));
                    if !self.slots[i].has_process() {
                        let _ = self.slots[i].retire();
                    }
                }
            }
        }
        if self.slots.iter().all(|s| !s.has_process()) {
            self.end_pod();
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

    /// No container will run again: the phase becomes final.
    pub(super) fn end_pod(&mut self) {
        for slot in &mut self.slots {
            if !slot.has_process() {
                let _ = slot.retire();
            }
        }
        if self.slots.iter().all(|s| !s.has_process())
            && let Err(e) = self.stage.end()
        {
            eprintln!("pod-supervisor: {e}");
        }
    }
}
