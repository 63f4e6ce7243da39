//! Probes: one task per probe of a running container, counting successes
//! and failures to the thresholds and sending verdicts; the verdicts
//! start, restart or (un)ready the container.

use std::time::Duration;

use k8s_openapi::api::core::v1::Container;

use crate::supervisor::handler;

use super::slot::ProbeKind;
use super::{Msg, Supervisor};

impl Supervisor {
    pub(super) fn spawn_probe(&mut self, i: usize, kind: ProbeKind) {
        let Some(probe) = self.slots[i].probe(kind).cloned() else {
            return;
        };
        let Some((pid, started_at)) = self.slots[i].live().map(|l| (l.pid, l.started_at)) else {
            return;
        };
        // Counted from the container's start: an adopted container that
        // ran longer than the delay is probed at once.
        let ran = crate::duration::now().duration_since(started_at);
        let ran = Duration::try_from(ran).unwrap_or(Duration::ZERO);
        let target = self.target(i);
        let tx = self.tx.clone();
        let handle = tokio::task::spawn_local(async move {
            let secs = |v: Option<i32>, default: i32| {
                Duration::from_secs(v.unwrap_or(default).max(0) as u64)
            };
            tokio::time::sleep(secs(probe.initial_delay_seconds, 0).saturating_sub(ran)).await;
            let period = secs(probe.period_seconds, 10).max(Duration::from_secs(1));
            let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
            let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
            let (mut oks, mut fails) = (0, 0);
            let mut verdict = None;
            let mut next = tokio::time::Instant::now();
            loop {
                next += period;
                match handler::probe(&target, &probe).await {
                    Ok(()) => {
                        oks += 1;
                        fails = 0;
                        if oks >= success_threshold && verdict != Some(true) {
                            verdict = Some(true);
                            let _ = tx.send(Msg::Verdict {
                                slot: i,
                                pid,
                                kind,
                                ok: true,
                            });
                            if kind == ProbeKind::Startup {
                                return;
                            }
                        }
                    }
                    Err(message) => {
                        oks = 0;
                        fails += 1;
                        let _ = tx.send(Msg::ProbeFailed {
                            slot: i,
                            pid,
                            kind,
                            message,
                        });
                        if fails >= failure_threshold && verdict != Some(false) {
                            verdict = Some(false);
                            let _ = tx.send(Msg::Verdict {
                                slot: i,
                                pid,
                                kind,
                                ok: false,
                            });
                            if kind != ProbeKind::Readiness {
                                return;
                            }
                        }
                    }
                }
                tokio::time::sleep_until(next.max(tokio::time::Instant::now())).await;
            }
        });
        if let Some(live) = self.slots[i].live_mut() {
            live.probes.push(handle.abort_handle());
        }
    }

    pub(super) fn verdict(&mut self, i: usize, pid: i32, kind: ProbeKind, ok: bool) {
        let Some(live) = self.slots[i].live_pid(pid) else {
            return;
        };
        if live.stopping {
            return;
        }
        let probe_grace = self.slots[i]
            .probe(kind)
            .and_then(|p| p.termination_grace_period_seconds)
            .map(|s| Duration::from_secs(s.max(0) as u64));
        let grace = probe_grace.unwrap_or_else(|| self.pod_grace());
        match consequence(kind, ok) {
            Consequence::Started => self.started(i),
            // The decision stops it (`decide::Why::Unhealthy`).
            Consequence::Restart(probe) => {
                if let Some(live) = self.slots[i].live_mut() {
                    live.unhealthy = Some((probe, grace));
                }
            }
            Consequence::Ready(ready) => self.slots[i].status.ready = ready,
            Consequence::Nothing => {}
        }
    }
}

/// Which probes a container has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Probes {
    pub(super) startup: bool,
    pub(super) liveness: bool,
    pub(super) readiness: bool,
}

impl Probes {
    pub(super) fn of(c: &Container) -> Probes {
        Probes {
            startup: c.startup_probe.is_some(),
            liveness: c.liveness_probe.is_some(),
            readiness: c.readiness_probe.is_some(),
        }
    }
}

/// The probes to begin at a step of a container's start, and its
/// started and ready flags from then on.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Gate {
    pub(super) start: Vec<ProbeKind>,
    pub(super) started: bool,
    pub(super) ready: bool,
}

/// The container runs (its postStart hook done): a startup probe, when
/// there is one, runs alone and holds liveness and readiness back.
pub(super) fn on_running(p: Probes) -> Gate {
    if p.startup {
        return Gate {
            start: vec![ProbeKind::Startup],
            started: false,
            ready: false,
        };
    }
    on_started(p)
}

/// The startup probe passed (or there is none): liveness and readiness
/// begin; without a readiness probe the container is ready at once.
pub(super) fn on_started(p: Probes) -> Gate {
    let mut start = Vec::new();
    if p.liveness {
        start.push(ProbeKind::Liveness);
    }
    if p.readiness {
        start.push(ProbeKind::Readiness);
    }
    Gate {
        start,
        started: true,
        ready: !p.readiness,
    }
}

/// What a probe's verdict does to its container.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Consequence {
    Started,
    /// Stopped (and restarted per the restart policy); names the probe.
    Restart(&'static str),
    Ready(bool),
    Nothing,
}

pub(super) fn consequence(kind: ProbeKind, ok: bool) -> Consequence {
    match (kind, ok) {
        (ProbeKind::Startup, true) => Consequence::Started,
        (ProbeKind::Startup, false) => Consequence::Restart("startup"),
        (ProbeKind::Liveness, false) => Consequence::Restart("liveness"),
        (ProbeKind::Liveness, true) => Consequence::Nothing,
        (ProbeKind::Readiness, ready) => Consequence::Ready(ready),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Probes = Probes {
        startup: true,
        liveness: true,
        readiness: true,
    };

    #[test]
    fn the_startup_probe_gates_liveness_and_readiness() {
        use ProbeKind::*;
        let none = Probes {
            startup: false,
            liveness: false,
            readiness: false,
        };
        let no_startup = Probes {
            startup: false,
            ..ALL
        };
        let only_liveness = Probes {
            liveness: true,
            ..none
        };
        let gate = |start: Vec<ProbeKind>, started, ready| Gate {
            start,
            started,
            ready,
        };
        let table = [
            // (probes, on running, once the startup probe passed)
            (
                ALL,
                gate(vec![Startup], false, false),
                gate(vec![Liveness, Readiness], true, false),
            ),
            (
                no_startup,
                gate(vec![Liveness, Readiness], true, false),
                gate(vec![Liveness, Readiness], true, false),
            ),
            (
                only_liveness,
                gate(vec![Liveness], true, true),
                gate(vec![Liveness], true, true),
            ),
            (none, gate(vec![], true, true), gate(vec![], true, true)),
        ];
        for (probes, running, started) in table {
            assert_eq!(on_running(probes), running, "{probes:?} running");
            assert_eq!(on_started(probes), started, "{probes:?} started");
        }
    }

    #[test]
    fn verdicts_start_restart_or_unready_the_container() {
        use Consequence::*;
        use ProbeKind::*;
        let table = [
            (Startup, true, Started),
            (Startup, false, Restart("startup")),
            (Liveness, true, Nothing),
            (Liveness, false, Restart("liveness")),
            (Readiness, true, Ready(true)),
            (Readiness, false, Ready(false)),
        ];
        for (kind, ok, want) in table {
            assert_eq!(consequence(kind, ok), want, "{kind:?} {ok}");
        }
    }
}
