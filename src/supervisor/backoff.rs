//! The kubelet's crash-loop back-off (client-go flowcontrol.Backoff as the
//! kubelet uses it): the first restart is immediate, then the delay starts
//! at 10 s and doubles up to 300 s; a container that ran without a restart
//! for twice the maximum (10 min) starts over.

use std::time::{Duration, Instant};

/// The initial and maximum delays, kubelet's unless overridden by
/// `POD_BACKOFF_INITIAL` / `POD_BACKOFF_MAX` (read by `pod create`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
        }
    }
}

impl Limits {
    /// The limits from the environment of `pod create`, kubelet's by default.
    pub fn from_env() -> anyhow::Result<Limits> {
        let mut limits = Limits::default();
        for (var, slot) in [
            ("POD_BACKOFF_INITIAL", &mut limits.initial),
            ("POD_BACKOFF_MAX", &mut limits.max),
        ] {
            if let Ok(text) = std::env::var(var) {
                *slot = crate::duration::parse(&text).map_err(|e| anyhow::anyhow!("{var}: {e}"))?;
            }
        }
        if limits.max < limits.initial {
            limits.max = limits.initial;
        }
        Ok(limits)
    }
}

/// One container's back-off entry.
#[derive(Debug, Clone)]
pub struct BackOff {
    limits: Limits,
    /// The current delay and when it was last raised.
    entry: Option<(Duration, Instant)>,
}

impl BackOff {
    pub fn new(limits: Limits) -> BackOff {
        BackOff {
            limits,
            entry: None,
        }
    }

    fn expired(&self, now: Instant, last: Instant) -> bool {
        now.saturating_duration_since(last) > self.limits.max * 2
    }

    /// How long a container that finished at `finished` must still wait
    /// before its restart (zero: restart now).
    pub fn remaining(&self, finished: Instant, now: Instant) -> Duration {
        match self.entry {
            None => Duration::ZERO,
            Some((_, last)) if self.expired(now, last) => Duration::ZERO,
            Some((delay, _)) => (finished + delay).saturating_duration_since(now),
        }
    }

    /// The delay currently in force (for the CrashLoopBackOff message).
    pub fn current(&self) -> Duration {
        self.entry.map(|(d, _)| d).unwrap_or(Duration::ZERO)
    }

    /// The delay in force and when it was last raised (none before the
    /// first restart, or once it expired).
    pub fn entry(&self) -> Option<(Duration, Instant)> {
        self.entry
    }

    /// Takes over the back-off a dead supervisor held (`entry`).
    pub fn restore(&mut self, delay: Duration, raised: Instant) {
        self.entry = Some((delay, raised));
    }

    /// Records a restart at `now`, raising the delay for the next one.
    pub fn restarted(&mut self, now: Instant) {
        let delay = match self.entry {
            Some((delay, last)) if !self.expired(now, last) => (delay * 2).min(self.limits.max),
            _ => self.limits.initial,
        };
        self.entry = Some((delay, now));
    }
}

/// Instants as nanoseconds of CLOCK_MONOTONIC, which every process of
/// the machine reads alike until it restarts (as long as a run directory
/// lasts): how a back-off's instants pass to the supervisor that replaces
/// this one. One reading of both clocks, so that an instant always maps
/// to the same number.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    nanos: u64,
}

impl Clock {
    pub fn now() -> Clock {
        let instant = Instant::now();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime(2) writes the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let nanos = (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64);
        Clock { instant, nanos }
    }

    pub fn nanos(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.instant) {
            Some(after) => self.nanos.saturating_add(after.as_nanos() as u64),
            None => self
                .nanos
                .saturating_sub((self.instant - at).as_nanos() as u64),
        }
    }

    pub fn instant(&self, nanos: u64) -> Instant {
        if nanos >= self.nanos {
            self.instant + Duration::from_nanos(nanos - self.nanos)
        } else {
            self.instant
                .checked_sub(Duration::from_nanos(self.nanos - nanos))
                .unwrap_or(self.instant)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn two_clocks_read_an_instant_alike() {
        let first = Clock::now();
        let at = Instant::now() + secs(7);
        let second = Clock::now();
        let (a, b) = (first.nanos(at), second.nanos(at));
        // Each clock reads both clocks once: they agree to a millisecond.
        assert!(a.abs_diff(b) < 1_000_000, "{a} {b}");
        let back = second.instant(a);
        let apart = back.max(at) - back.min(at);
        assert!(apart < Duration::from_millis(1), "{apart:?}");
        let earlier = Instant::now() - secs(3);
        assert_eq!(first.instant(first.nanos(earlier)), earlier);
    }

    #[test]
    fn first_restart_is_immediate_then_doubles_to_the_cap() {
        let mut b = BackOff::new(Limits::default());
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..8 {
            // The container crashes at once after each start.
            let wait = b.remaining(now, now);
            waits.push(wait.as_secs());
            now += wait;
            b.restarted(now);
        }
        assert_eq!(waits, [0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn the_delay_counts_from_the_crash() {
        let mut b = BackOff::new(Limits::default());
        let start = Instant::now();
        b.restarted(start);
        let finished = start + secs(4);
        assert_eq!(b.remaining(finished, finished), secs(10));
        // Looked at 4 s after the crash: 6 s left of the 10 s delay.
        assert_eq!(b.remaining(finished, finished + secs(4)), secs(6));
    }

    #[test]
    fn ten_quiet_minutes_reset_the_delay() {
        let mut b = BackOff::new(Limits::default());
        let t0 = Instant::now();
        b.restarted(t0);
        b.restarted(t0 + secs(10));
        assert_eq!(b.current(), secs(20));
        let later = t0 + secs(10) + secs(601);
        assert_eq!(b.remaining(later, later), Duration::ZERO);
        b.restarted(later);
        assert_eq!(b.current(), secs(10));
    }

    #[test]
    fn limits_can_be_shortened_for_tests() {
        let limits = Limits {
            initial: Duration::from_millis(500),
            max: secs(1),
        };
        let mut b = BackOff::new(limits);
        let now = Instant::now();
        b.restarted(now);
        b.restarted(now);
        b.restarted(now);
        assert_eq!(b.current(), secs(1));
    }
}
