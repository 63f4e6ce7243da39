//! The taint eviction controller's part for this pod: a NoExecute taint
//! on the node that the pod does not tolerate deletes it at once; one it
//! tolerates for tolerationSeconds deletes it that long after the taint
//! was seen (`processPodOnNode`); a taint removed in time cancels the
//! deletion. The node's record is looked at on every periodic check (2 s),
//! read again only when its file changed, so a quiet node costs one
//! stat(2) every two seconds; a deletion is due at a wake-up of its own.

use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::SignedDuration;

use crate::scheduler::taints::{self, Eviction};
use crate::store::events::{Source, Type};

use super::Supervisor;

/// What was last seen of the node's record, and the deletion the taints
/// call for.
#[derive(Debug, Default)]
pub(super) struct TaintWatch {
    /// The record's modification time and size when last read.
    seen: Option<(SystemTime, u64)>,
    /// When the deletion was scheduled and when it is due.
    scheduled: Option<(Instant, Instant)>,
}

impl Supervisor {
    /// Looks at the node's taints (if they may have changed) and deletes
    /// the pod once they say so.
    pub(super) fn watch_taints(&mut self) {
        if self.stage.stopping().is_some() || self.rejected.is_some() {
            return;
        }
        let path = crate::node::record_file(&self.store, &self.node_name);
        let stamp = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
        if stamp != self.taint_watch.seen {
            self.taint_watch.seen = stamp;
            self.taints_changed();
        }
        self.evict_if_due();
    }

    /// Deletes the pod if its scheduled eviction is due (on every check,
    /// and at the wake-up set for it).
    pub(super) fn evict_if_due(&mut self) {
        if self.stage.stopping().is_some() {
            return;
        }
        if let Some((_, due)) = self.taint_watch.scheduled
            && Instant::now() >= due
        {
            self.evict();
        }
    }

    /// The taints may have changed: schedule, move or cancel the deletion.
    fn taints_changed(&mut self) {
        let node_taints = match crate::node::taints(&self.store, &self.node_name) {
            Ok(taints) => taints,
            Err(e) => {
                eprintln!("pod-supervisor: reading the node: {e:#}");
                return;
            }
        };
        let tolerations = self.spec.tolerations.clone().unwrap_or_default();
        let now = Instant::now();
        match taints::no_execute(&node_taints, &tolerations) {
            Eviction::Never => {
                if self.taint_watch.scheduled.take().is_some() {
                    let message = format!("Cancelling deletion of Pod {}", self.pod_key());
                    self.controller_event(&message);
                }
            }
            Eviction::After(wait) => {
                // A deletion already scheduled keeps its start, as the
                // controller's queue does.
                let since = self.taint_watch.scheduled.map_or(now, |(since, _)| since);
                let due = if wait.is_zero() { now } else { since + wait };
                if self.taint_watch.scheduled.map(|(_, d)| d) != Some(due) {
                    self.wake_at(due);
                }
                self.taint_watch.scheduled = Some((since, due));
            }
        }
    }

    fn pod_key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn controller_event(&mut self, message: &str) {
        let _ = self.events.record(
            None,
            Type::Normal,
            Source::TaintEvictionController,
            "TaintManagerEviction",
            message,
        );
    }

    /// `addConditionAndDeletePod`: the DisruptionTarget condition, then a
    /// deletion with the pod's own grace period.
    fn evict(&mut self) {
        self.taint_watch.scheduled = None;
        let message = format!("Marking for deletion Pod {}", self.pod_key());
        self.controller_event(&message);
        self.conditions.set(
            "DisruptionTarget",
            true,
            Some("DeletionByTaintManager"),
            Some("Taint manager: deleting due to NoExecute taint".into()),
            crate::duration::now(),
        );
        let grace = self.pod_grace();
        if let Err(e) = self.mark_deleted(grace) {
            eprintln!("pod-supervisor: marking the pod for deletion: {e:#}");
        }
        self.begin_stopping(grace, false, false, None);
    }

    /// metadata.deletionTimestamp and deletionGracePeriodSeconds, as the
    /// API server sets them for a deletion.
    fn mark_deleted(&self, grace: Duration) -> anyhow::Result<()> {
        use crate::api::{Kind, Object};
        let _lock = self.store.lock(Kind::Pod, &self.namespace, &self.name)?;
        let Some(Object::Pod(mut pod)) = self.store.get(Kind::Pod, &self.namespace, &self.name)?
        else {
            return Ok(());
        };
        if pod.metadata.uid.as_deref() != Some(self.uid.as_str())
            || pod.metadata.deletion_timestamp.is_some()
        {
            return Ok(());
        }
        let seconds = grace.as_secs() as i64;
        pod.metadata.deletion_timestamp = Some(Time(
            crate::duration::now() + SignedDuration::from_secs(seconds),
        ));
        pod.metadata.deletion_grace_period_seconds = Some(seconds);
        self.store.replace(&Object::Pod(pod))?;
        Ok(())
    }
}
