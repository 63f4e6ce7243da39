//! Probes: one task per probe of a running container, counting successes
//! and failures to the thresholds and sending verdicts; the verdicts
//! start, restart or (un)ready the container.

use std::time::Duration;

use crate::supervisor::handler;

use super::slot::ProbeKind;
use super::{Msg, Supervisor};

impl Supervisor {
    pub(super) fn spawn_probe(&mut self, i: usize, kind: ProbeKind) {
        let Some(probe) = self.slots[i].probe(kind).cloned() else {
            return;
        };
        let Some(pid) = self.slots[i].live().map(|l| l.pid) else {
            return;
        };
        let target = self.target(i);
        let tx = self.tx.clone();
        let handle = tokio::task::spawn_local(async move {
            let secs = |v: Option<i32>, default: i32| {
                Duration::from_secs(v.unwrap_or(default).max(0) as u64)
            };
            tokio::time::sleep(secs(probe.initial_delay_seconds, 0)).await;
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
        let name = self.slots[i].spec.name.clone();
        let probe_grace = self.slots[i]
            .probe(kind)
            .and_then(|p| p.termination_grace_period_seconds)
            .map(|s| Duration::from_secs(s.max(0) as u64));
        let grace = probe_grace.unwrap_or_else(|| self.pod_grace());
        match (kind, ok) {
            (ProbeKind::Startup, true) => self.started(i),
            (ProbeKind::Startup, false) => self.stop_container(
                i,
                grace,
                &format!("Container {name} failed startup probe, will be restarted"),
            ),
            (ProbeKind::Liveness, false) => self.stop_container(
                i,
                grace,
                &format!("Container {name} failed liveness probe, will be restarted"),
            ),
            (ProbeKind::Liveness, true) => {}
            (ProbeKind::Readiness, ready) => self.slots[i].status.ready = ready,
        }
    }
}
