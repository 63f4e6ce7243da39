//! Where the pod is in its life, as one value: initializing, running,
//! completing (the sidecars stop after the app containers), being
//! deleted, or ended. Changed only through transitions that refuse the
//! impossible ones.

use std::time::{Duration, Instant};

use tokio::net::UnixStream;

use super::slot::Refused;

/// A deletion under way.
pub(super) struct Stopping {
    pub(super) grace: Duration,
    pub(super) since: Instant,
    /// --force --grace-period=0, or the pod record vanished: SIGKILL at
    /// once, no preStop.
    pub(super) now: bool,
    /// The CLI removed the pod record (force deletion), or it vanished:
    /// nothing more is written for the pod.
    pub(super) detached: bool,
    pub(super) clients: Vec<UnixStream>,
}

pub(super) enum Stage {
    /// Init containers and sidecars are started one by one.
    Initializing,
    /// Every init container succeeded and every sidecar started.
    Running,
    /// Every app container is done: the sidecars are being stopped.
    Completing,
    /// A deletion under way.
    Deleting {
        stopping: Stopping,
        initialized: bool,
    },
    /// No container will run again; the phase is final.
    Ended { initialized: bool },
}

impl Stage {
    pub(super) fn new(has_init: bool) -> Stage {
        if has_init {
            Stage::Initializing
        } else {
            Stage::Running
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Stage::Initializing => "Initializing",
            Stage::Running => "Running",
            Stage::Completing => "Completing",
            Stage::Deleting { .. } => "Deleting",
            Stage::Ended { .. } => "Ended",
        }
    }

    fn refuse(&self, to: &'static str) -> Refused {
        Refused {
            what: "the pod".into(),
            from: self.name(),
            to,
        }
    }

    pub(super) fn initialized(&self) -> bool {
        match self {
            Stage::Initializing => false,
            Stage::Running | Stage::Completing => true,
            Stage::Deleting { initialized, .. } | Stage::Ended { initialized } => *initialized,
        }
    }

    pub(super) fn terminal(&self) -> bool {
        matches!(self, Stage::Ended { .. })
    }

    pub(super) fn stopping(&self) -> Option<&Stopping> {
        match self {
            Stage::Deleting { stopping, .. } => Some(stopping),
            _ => None,
        }
    }

    /// Whether nothing more is written for the pod.
    pub(super) fn detached(&self) -> bool {
        self.stopping().is_some_and(|s| s.detached)
    }

    /// The last init container succeeded.
    pub(super) fn initialize(&mut self) -> Result<(), Refused> {
        match self {
            Stage::Initializing => {
                *self = Stage::Running;
                Ok(())
            }
            _ => Err(self.refuse("Running")),
        }
    }

    /// A new sandbox starts from the init containers again.
    pub(super) fn reinitialize(&mut self) -> Result<(), Refused> {
        match self {
            Stage::Running | Stage::Completing => {
                *self = Stage::Initializing;
                Ok(())
            }
            _ => Err(self.refuse("Initializing")),
        }
    }

    /// Every app container is done.
    pub(super) fn complete(&mut self) -> Result<(), Refused> {
        match self {
            Stage::Running => {
                *self = Stage::Completing;
                Ok(())
            }
            _ => Err(self.refuse("Completing")),
        }
    }

    /// No container will run again.
    pub(super) fn end(&mut self) -> Result<(), Refused> {
        match self {
            Stage::Initializing | Stage::Running | Stage::Completing => {
                *self = Stage::Ended {
                    initialized: self.initialized(),
                };
                Ok(())
            }
            _ => Err(self.refuse("Ended")),
        }
    }

    /// A deletion begins, or joins the one under way (a later request
    /// can only make it harsher: at once, detached, or over sooner; a
    /// longer grace period never lengthens the one under way, as the
    /// API server only ever shortens a deletion's).
    pub(super) fn delete(&mut self, stopping: Stopping) -> Result<Delete, Refused> {
        match self {
            Stage::Deleting { stopping: s, .. } => {
                s.clients.extend(stopping.clients);
                s.detached |= stopping.detached;
                let harsher = stopping.now && !s.now;
                s.now |= stopping.now;
                let end = stopping.since + stopping.grace;
                let sooner = end < s.since + s.grace;
                if sooner {
                    s.grace = end.saturating_duration_since(s.since);
                }
                Ok(if harsher {
                    Delete::AtOnce
                } else if sooner {
                    Delete::Sooner
                } else {
                    Delete::Joined
                })
            }
            Stage::Ended { .. } => Err(self.refuse("Deleting")),
            _ => {
                *self = Stage::Deleting {
                    stopping,
                    initialized: self.initialized(),
                };
                Ok(Delete::Began)
            }
        }
    }

    /// The deletion's clients, to be told when it is over.
    pub(super) fn take_clients(&mut self) -> Vec<UnixStream> {
        match self {
            Stage::Deleting { stopping, .. } => std::mem::take(&mut stopping.clients),
            _ => Vec::new(),
        }
    }
}

/// What `Stage::delete` did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delete {
    Began,
    Joined,
    /// Joined, and the deletion is now a SIGKILL at once.
    AtOnce,
    /// Joined, and its grace period now ends sooner.
    Sooner,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopping(now: bool, detached: bool) -> Stopping {
        Stopping {
            grace: Duration::from_secs(30),
            since: Instant::now(),
            now,
            detached,
            clients: Vec::new(),
        }
    }

    #[test]
    fn the_pod_initializes_completes_and_ends_in_order() {
        let mut s = Stage::new(true);
        assert!(!s.initialized());
        assert_eq!(s.complete().unwrap_err().from, "Initializing");
        s.initialize().unwrap();
        assert!(s.initialized() && matches!(s, Stage::Running));
        assert!(s.initialize().is_err());
        s.complete().unwrap();
        assert!(matches!(s, Stage::Completing));
        s.end().unwrap();
        assert!(s.terminal() && s.initialized());
        assert!(s.end().is_err());
        assert!(s.delete(stopping(false, false)).is_err(), "ended");
    }

    #[test]
    fn a_failed_init_ends_the_pod_uninitialized() {
        let mut s = Stage::new(true);
        s.end().unwrap();
        assert!(s.terminal() && !s.initialized());
        assert!(Stage::new(false).initialized());
    }

    #[test]
    fn a_deletion_keeps_what_was_initialized_and_only_gets_harsher() {
        let mut s = Stage::new(true);
        assert_eq!(s.delete(stopping(false, false)), Ok(Delete::Began));
        assert!(!s.initialized() && !s.detached());
        assert!(s.end().is_err() && s.initialize().is_err());
        assert_eq!(s.delete(stopping(false, true)), Ok(Delete::Joined));
        assert!(s.detached());
        assert_eq!(s.delete(stopping(true, false)), Ok(Delete::AtOnce));
        assert_eq!(s.delete(stopping(false, false)), Ok(Delete::Joined));
        let st = s.stopping().unwrap();
        assert!(st.now && st.detached);
        let mut r = Stage::new(false);
        r.delete(stopping(false, false)).unwrap();
        assert!(r.initialized());
    }

    #[test]
    fn a_later_deletion_with_a_shorter_grace_period_ends_it_sooner() {
        let mut s = Stage::new(false);
        let first = stopping(false, false);
        let began = first.since;
        s.delete(first).unwrap();
        let with = |grace: u64, after: u64| Stopping {
            grace: Duration::from_secs(grace),
            since: began + Duration::from_secs(after),
            ..stopping(false, false)
        };
        // 10 s after a 30 s deletion began, one of 1 s: it ends at 11 s.
        assert_eq!(s.delete(with(1, 10)), Ok(Delete::Sooner));
        assert_eq!(s.stopping().unwrap().grace, Duration::from_secs(11));
        assert_eq!(s.stopping().unwrap().since, began);
        // Longer, or ending at the same moment: unchanged.
        assert_eq!(s.delete(with(300, 10)), Ok(Delete::Joined));
        assert_eq!(s.delete(with(1, 10)), Ok(Delete::Joined));
        assert_eq!(s.stopping().unwrap().grace, Duration::from_secs(11));
    }
}
