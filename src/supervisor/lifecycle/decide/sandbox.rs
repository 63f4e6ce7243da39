//! A dead sandbox, as computePodActions handles a sandbox that is no
//! longer ready: the pod is killed, and a new sandbox is created unless
//! the restart policy runs nothing again.
//!
//! - Whether there will be a new sandbox is decided from what the
//!   containers are when the death is seen: not under restartPolicy Never
//!   once a container was created (the kubelet's `attempt != 0 &&
//!   len(ContainerStatuses) != 0`), and under OnFailure only if an app
//!   container has not succeeded yet or the init containers are not
//!   through. Only then the SandboxChanged event is given (once).
//! - Every container with a process is stopped inside the pod's grace
//!   period, its preStop hook first (the containers still run in the dead
//!   sandbox's namespaces, whose network lives on until the new ADD); a
//!   container being set up is stopped once it runs.
//! - Once no process is left: with no new sandbox the pod ends (what did
//!   not run to its end shows how it was killed); else the dead sandbox
//!   is let go, the app containers that exited restart per the restart
//!   policy (with their crash-loop back-off), and the init containers and
//!   sidecars run again from the first, as the kubelet restarts a new
//!   sandbox from the initial state.

use super::{Action, Decision, PodStage, Policy, Role, State, Why};

impl Decision {
    pub(super) fn sandbox_dead(&mut self, announced: bool) {
        let recreate = self.recreates_sandbox();
        if recreate && !announced {
            self.act(Action::SandboxChanged);
        }
        let grace = self.pod.grace;
        for slot in 0..self.pod.containers.len() {
            if self.pod.containers[slot].state.stoppable() {
                self.stop(slot, grace, Why::Stop);
            }
        }
        if self.containers().any(|(_, c)| c.state.has_process()) {
            return;
        }
        if !recreate {
            return self.end_pod();
        }
        self.act(Action::ReplaceSandbox);
        let has_init = self.containers().any(|(_, c)| c.role != Role::App);
        for i in 0..self.pod.containers.len() {
            let c = &self.pod.containers[i];
            match (c.role, c.state) {
                (Role::App, State::Exited { code, at }) => self.after_exit(i, code, at),
                (Role::Init | Role::Sidecar, State::Exited { .. } | State::Done { .. }) => {
                    let at = self.now;
                    self.act(Action::Rerun { slot: i, at });
                }
                _ => {}
            }
        }
        if has_init && self.pod.stage != PodStage::Initializing {
            self.act(Action::Reinitialize);
        }
    }

    /// Whether the pod gets a new sandbox (see the module's rules).
    fn recreates_sandbox(&self) -> bool {
        // What the runtime would list: a container that was created.
        let created = |s: State| {
            matches!(
                s,
                State::Creating
                    | State::Starting { .. }
                    | State::Running { .. }
                    | State::Exited { .. }
                    | State::Done { .. }
            )
        };
        let succeeded = |s: State| {
            matches!(
                s,
                State::Done { succeeded: true } | State::Exited { code: 0, .. }
            )
        };
        match self.pod.policy {
            Policy::Always => true,
            Policy::Never => !self.containers().any(|(_, c)| created(c.state)),
            Policy::OnFailure => {
                self.pod.stage == PodStage::Initializing
                    || self
                        .containers()
                        .any(|(_, c)| c.role == Role::App && !succeeded(c.state))
            }
        }
    }
}
