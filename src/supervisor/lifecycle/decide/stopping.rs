//! The rules that stop containers: a failed postStart hook or probe, a
//! preStop hook done, a deletion (in order, or at once).

use std::time::Duration;

use super::{Action, Decision, Hook, PodStage, Role, Sandbox, State, Why};

impl Decision {
    /// The hooks of the containers that started with one and have not
    /// begun it; before any stop, so that a container stopped in the same
    /// round still runs its hook (the kubelet runs postStart right after
    /// the start, whatever happens next). A container whose hook failed
    /// is stopped, as the kubelet kills it, inside the pod's grace period
    /// (what is left of it in a deletion).
    pub(super) fn post_start_hooks(&mut self) {
        for i in 0..self.pod.containers.len() {
            match self.pod.containers[i].state {
                State::Starting {
                    hook: Hook::Due, ..
                } => self.act(Action::PostStart(i)),
                State::Starting {
                    hook: Hook::Failed,
                    stopping: false,
                } => {
                    let grace = self.deletion_grace_left().unwrap_or(self.pod.grace);
                    self.stop(i, grace, Why::FailedPostStartHook);
                }
                _ => {}
            }
        }
    }

    /// The containers whose liveness or startup probe failed stop (in a
    /// deletion, inside what is left of its grace, if that is less).
    pub(super) fn unhealthy(&mut self) {
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            let running = matches!(
                c.state,
                State::Running {
                    stopping: false,
                    ..
                }
            );
            if let (true, Some(grace)) = (running, c.unhealthy) {
                let grace = grace.min(self.deletion_grace_left().unwrap_or(grace));
                self.stop(i, grace, Why::Unhealthy);
            }
        }
    }

    /// The running containers whose definition changed stop inside the
    /// pod's grace period, to start again with it (not in a deletion or
    /// once the pod completes: those stop them anyway).
    pub(super) fn definition_changed(&mut self) {
        if !matches!(self.pod.stage, PodStage::Initializing | PodStage::Running) {
            return;
        }
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            if c.changed && c.state.stoppable() {
                self.stop(i, self.pod.grace, Why::DefinitionChanged);
            }
        }
    }

    /// In a deletion: what is left of its grace period.
    pub(super) fn deletion_grace_left(&self) -> Option<Duration> {
        match self.pod.stage {
            PodStage::Deleting { grace, since, .. } => {
                Some(grace.saturating_sub(self.now.saturating_duration_since(since)))
            }
            _ => None,
        }
    }

    /// A deletion at once: every process is SIGKILLed (once), and what
    /// has none will not run again.
    pub(super) fn kill_all(&mut self) {
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            let live = matches!(c.state, State::Starting { .. } | State::Running { .. });
            if live && !c.killed {
                self.act(Action::Kill(i));
            } else if !c.state.has_process() && !matches!(c.state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
    }

    /// A stop: the preStop hook first when there is one to run, else the
    /// kill at once.
    pub(super) fn stop(&mut self, slot: usize, grace: Duration, why: Why) {
        let c = &self.pod.containers[slot];
        // A dead sandbox's containers still run in its namespaces, and
        // its network lives on until the new sandbox's ADD: the kubelet
        // runs their preStop hooks too.
        let up = matches!(self.pod.sandbox, Sandbox::Ready | Sandbox::Dead { .. });
        if c.pre_stop && up {
            self.act(Action::PreStop { slot, grace, why });
        } else {
            self.act(Action::Stop { slot, grace, why });
        }
    }

    /// The containers whose preStop hook is done are killed inside what
    /// the hook left of their grace period (or of the deletion's, if a
    /// later delete made that shorter).
    pub(super) fn after_pre_stop(&mut self) {
        for slot in 0..self.pod.containers.len() {
            if let Some((grace, since)) = self.pod.containers[slot].pre_stop_done {
                let spent = self.now.saturating_duration_since(since);
                let left = grace.saturating_sub(spent);
                self.act(Action::Stop {
                    slot,
                    grace: left.min(self.deletion_grace_left().unwrap_or(left)),
                    why: Why::Stop,
                });
            }
        }
    }

    /// A deletion: what has no process will not run again; the app and
    /// init containers stop first, then the sidecars, each inside what
    /// is left of the grace period.
    pub(super) fn deleting(&mut self, remaining: Duration) {
        for i in 0..self.pod.containers.len() {
            let state = self.pod.containers[i].state;
            if !state.has_process() && !matches!(state, State::Done { .. }) {
                self.act(Action::Retire(i));
            }
        }
        let apps_live = self
            .containers()
            .any(|(_, c)| c.role != Role::Sidecar && c.state.has_process());
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            if c.role == Role::Sidecar && apps_live {
                continue;
            }
            if c.state.stoppable() {
                self.stop(i, remaining, Why::Stop);
            }
        }
    }
}
