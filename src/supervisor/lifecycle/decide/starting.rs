//! The rules that run containers: restarts after an exit, retries after
//! a failed start, init containers and sidecars one by one, the app
//! containers, and the pod's completion and end.

use std::time::Instant;

use super::{Action, Decision, PULL_BACK_OFF_SHOWN, PodStage, Policy, Role, Seen, State, Why};

impl Decision {
    /// Restart now, after the back-off, or never.
    pub(super) fn after_exit(&mut self, i: usize, code: i32, at: Instant) {
        let c = &self.pod.containers[i];
        if c.changed && matches!(self.pod.stage, PodStage::Initializing | PodStage::Running) {
            // Stopped for its new definition: started again now, whatever
            // the policy (the kubelet's back-off is per definition).
            return self.act(Action::Restart {
                slot: i,
                at: self.now,
                back_off: None,
            });
        }
        let policy = self.pod.policy;
        let restart = match c.role {
            Role::Sidecar => self.pod.stage != PodStage::Completing && !self.init_failed(),
            Role::Init => code != 0 && policy != Policy::Never,
            Role::App => policy == Policy::Always || (policy == Policy::OnFailure && code != 0),
        };
        if !restart {
            return self.act(Action::Retire(i));
        }
        let wait = c.backoff.remaining(at, self.now);
        if wait.is_zero() {
            return self.act(Action::Restart {
                slot: i,
                at: self.now,
                back_off: None,
            });
        }
        let back_off = Some(c.backoff.current());
        let at = self.now + wait;
        self.act(Action::Restart {
            slot: i,
            at,
            back_off,
        });
        self.act(Action::WakeAt(at));
    }

    /// A failed pull is retried once its image back-off (raised by this
    /// failure) ends, and shows ImagePullBackOff in the meantime; another
    /// failure at the pod worker's requeue, never later. Not a restart:
    /// no process ran.
    pub(super) fn after_start_failure(&mut self, slot: usize, failed: Instant, pull: bool) {
        let wait = match pull {
            true => self.pod.containers[slot].pull_backoff.current(),
            false => self.pod.requeue,
        };
        let at = failed + wait;
        let show_back_off = pull.then(|| (failed + PULL_BACK_OFF_SHOWN).min(at));
        self.act(Action::RetryStart {
            slot,
            at,
            show_back_off,
        });
        if let Some(show) = show_back_off.filter(|show| *show < at) {
            self.act(Action::WakeAt(show));
        }
        self.act(Action::WakeAt(at));
    }

    /// The failed pulls whose ImagePullBackOff is due and still waiting.
    pub(super) fn show_pull_back_offs(&mut self) {
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            let due = c.pull_back_off_at.is_some_and(|at| at <= self.now);
            if due && matches!(c.state, State::Waiting(_)) {
                self.act(Action::ShowPullBackOff(i));
            }
        }
    }

    /// An init container failed and will not run again (restartPolicy
    /// Never): the pod failed.
    pub(super) fn init_failed(&self) -> bool {
        self.containers()
            .any(|(_, c)| c.role == Role::Init && c.state == State::Done { succeeded: false })
    }

    /// Init containers and sidecars one by one; whether all are through.
    pub(super) fn initialize(&mut self) -> bool {
        if self.init_failed() {
            // The kubelet kills the pod: the sidecars that run stop (the
            // last first), and the pod ends once they are gone.
            let grace = self.pod.grace;
            for i in (0..self.pod.containers.len()).rev() {
                if self.pod.containers[i].state.stoppable() {
                    self.stop(i, grace, Why::Stop);
                }
            }
            self.end_pod();
            return false;
        }
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            match (c.role, c.state) {
                (Role::App, _) => break,
                (Role::Init, State::Done { succeeded: true }) => continue,
                (Role::Sidecar, State::Running { started: true, .. }) => continue,
                (_, state) if state.due(self.now) => {
                    self.act(Action::Start(i));
                    return false;
                }
                _ => return false,
            }
        }
        self.act(Action::Initialized);
        true
    }

    /// The app containers and sidecars that are due start in order; the
    /// kubelet runs a postStart hook before the next start, so a hooked
    /// container holds the ones after it back (a proxy that must be up
    /// first). Without a hook their set-ups overlap.
    pub(super) fn start_containers(&mut self) {
        if self.pod.stage == PodStage::Completing {
            return;
        }
        for i in 0..self.pod.containers.len() {
            if self.pod.containers.iter().any(Seen::holds_back_starts) {
                break;
            }
            let c = &self.pod.containers[i];
            if c.role != Role::Init && c.state.due(self.now) {
                self.act(Action::Start(i));
            }
        }
    }

    /// Every app container done: stop the sidecars (last first), then end
    /// the pod once no process is left.
    pub(super) fn check_completion(&mut self) {
        let apps_done = self
            .containers()
            .filter(|(_, c)| c.role == Role::App)
            .all(|(_, c)| matches!(c.state, State::Done { .. }));
        if !apps_done {
            return;
        }
        if self.pod.stage != PodStage::Completing {
            self.act(Action::Complete);
        }
        let grace = self.pod.grace;
        for i in (0..self.pod.containers.len()).rev() {
            let c = &self.pod.containers[i];
            if c.role != Role::Sidecar {
                continue;
            }
            if c.state.stoppable() {
                // Also a sidecar that came up while the pod completed.
                self.stop(i, grace, Why::Stop);
            } else if !c.state.has_process() && !matches!(c.state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
        if self.containers().all(|(_, c)| !c.state.has_process()) {
            self.end_pod();
        }
    }

    /// No container will run again.
    pub(super) fn end_pod(&mut self) {
        for i in 0..self.pod.containers.len() {
            let state = self.pod.containers[i].state;
            if !state.has_process() && !matches!(state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
        if self.containers().all(|(_, c)| !c.state.has_process()) {
            self.act(Action::EndPod);
        }
    }
}
