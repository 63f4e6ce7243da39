//! The eviction manager's part for this pod (`node::eviction`): every
//! monitoring period the node's signals are measured against the node's
//! `evictionHard`; with one crossed, the active pods are ranked for the
//! starved resource under a node-wide lock, and if this pod ranks first
//! and no pod was evicted in the last period, it is evicted: the Evicted
//! event, DisruptionTarget (TerminationByKubelet), its containers killed
//! with a 1 s grace (a hard threshold's), and the pod left Failed with
//! reason Evicted and the kubelet's message, its record kept.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Pod;

use crate::api::phase::is_terminal;
use crate::api::{Kind, Object};
use crate::node::config::NodeConfig;
use crate::node::eviction::{self, Candidate};
use crate::node::measure;
use crate::node::pressure::{Observed, Signal, Threshold};
use crate::runtime::cgroups::{Cgroup, Layout};
use crate::scheduler::resources::{Side, pod_list};
use crate::store::events::Type;
use crate::store::{Detail, Lock};

use super::Supervisor;

/// The grace a hard eviction gives (`immediateEvictionGracePeriodSeconds`).
const HARD_EVICTION_GRACE: Duration = Duration::from_secs(1);

/// When the node was last looked at, and the node configuration as last
/// read (read again when its file changes).
#[derive(Debug, Default)]
pub(super) struct PressureWatch {
    last: Option<Instant>,
    config: Option<(Option<SystemTime>, NodeConfig)>,
}

impl PressureWatch {
    /// The node configuration the supervisor started with, read when its
    /// file had the modification time `stamp`: the first look reads the
    /// file again only if it changed since.
    pub(super) fn seeded(stamp: Option<SystemTime>, config: NodeConfig) -> PressureWatch {
        PressureWatch {
            last: None,
            config: Some((stamp, config)),
        }
    }
}

impl Supervisor {
    /// Looks at the node's pressure once per monitoring period and evicts
    /// this pod if it is the one to go.
    pub(super) fn watch_pressure(&mut self) {
        if self.stage.stopping().is_some()
            || self.stage.terminal()
            || self.rejected.is_some()
            || self.evicted.is_some()
        {
            return;
        }
        let now = Instant::now();
        if self
            .pressure
            .last
            .is_some_and(|t| now.duration_since(t) < eviction::MONITORING_PERIOD)
        {
            return;
        }
        self.pressure.last = Some(now);
        // The scheduler's periodic retry rides on the same look.
        if let Ok(config) = self.node_config_now() {
            (self.scheduling.flush_if_due)(&self.store, config.unschedulable_retry);
        }
        match self.pressure_victim() {
            Ok(Some(message)) => self.evict_for_pressure(message),
            Ok(None) => {}
            Err(e) => eprintln!("pod-supervisor: looking at the node's pressure: {e:#}"),
        }
    }

    /// The node configuration, read again when its file changed.
    fn node_config_now(&mut self) -> anyhow::Result<NodeConfig> {
        let path = self.store.node_config_path();
        let stamp = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        match &self.pressure.config {
            Some((seen, config)) if *seen == stamp => Ok(config.clone()),
            _ => {
                let config = crate::node::config::NodeConfig::of(&self.store)?;
                self.pressure.config = Some((stamp, config.clone()));
                Ok(config)
            }
        }
    }

    /// The eviction message if this pod is the one to evict now.
    fn pressure_victim(&mut self) -> anyhow::Result<Option<String>> {
        let config = self.node_config_now()?;
        let observed = Observed {
            memory: measure::memory()?,
            fs: measure::filesystem(self.store.root())?,
            pids: measure::pids()?,
        };
        // Memory first, as the kubelet orders the thresholds it reclaims.
        let Some(threshold) = config.eviction_hard.crossed(&observed).first().copied() else {
            return Ok(None);
        };
        let dir = self.store.root().join("locks");
        std::fs::create_dir_all(&dir)?;
        let _lock = Lock::exclusive(&dir.join("eviction"))?;
        let stamp = self.last_eviction_file();
        let recent = std::fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|since| since < eviction::MONITORING_PERIOD);
        if recent {
            return Ok(None);
        }
        let layout = Layout::detect().ok();
        let candidates: Vec<Candidate> = self
            .active_pods()?
            .iter()
            .map(|pod| self.candidate(pod, threshold.signal, layout.as_ref()))
            .collect();
        let ranked = eviction::rank(candidates);
        if ranked.first().map(|c| c.uid.as_str()) != Some(self.uid.as_str()) {
            return Ok(None);
        }
        crate::store::write_atomic(&stamp, b"")?;
        let (available, capacity) = threshold.signal.observe(&observed);
        Ok(Some(eviction::message(
            &threshold,
            available,
            capacity,
            &self.container_usage(&threshold),
        )))
    }

    fn last_eviction_file(&self) -> PathBuf {
        self.store
            .root()
            .join("nodes")
            .join(format!("{}.last-eviction", self.node_name))
    }

    /// The pods of this node that run or may run: bound here, not
    /// finished, not being deleted.
    fn active_pods(&self) -> anyhow::Result<Vec<Pod>> {
        Ok(self
            .store
            .list_each(Kind::Pod, None, Detail::Full)?
            .into_iter()
            .filter_map(|o| match o {
                Ok(Object::Pod(p)) => Some(*p),
                _ => None,
            })
            .filter(|p| {
                p.spec.as_ref().and_then(|s| s.node_name.as_deref())
                    == Some(self.node_name.as_str())
                    && p.metadata.deletion_timestamp.is_none()
                    && !is_terminal(p.status.as_ref().and_then(|s| s.phase.as_deref()))
            })
            .collect())
    }

    /// A pod's usage and request of the resource `signal` starves.
    fn candidate(&self, pod: &Pod, signal: Signal, layout: Option<&Layout>) -> Candidate {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let requests = pod_list(&pod.spec.clone().unwrap_or_default(), Side::Requests);
        let request = |resource: &str| requests.get(resource).map_or(0, |q| q.as_bytes_ceil());
        let disk = || {
            [
                self.store.pod_writable_dir(&uid),
                self.store.pod_log_dir(&namespace, &name, &uid),
                self.store
                    .pod_dir(&namespace, &name)
                    .join("volumes/empty-dir"),
            ]
            .iter()
            .map(|d| eviction::disk_usage(d))
            .fold((0, 0), |(b, i), (db, di)| (b + db, i + di))
        };
        let cgroup = layout.map(|l| Cgroup::new(l.clone(), PathBuf::from("pod").join(&uid)));
        let (usage, request) = match signal {
            Signal::MemoryAvailable => (
                cgroup.as_ref().map_or(0, Cgroup::working_set) as i64,
                request("memory"),
            ),
            Signal::NodefsAvailable | Signal::ImagefsAvailable => {
                (disk().0 as i64, request("ephemeral-storage"))
            }
            Signal::NodefsInodesFree | Signal::ImagefsInodesFree => (disk().1 as i64, 0),
            Signal::PidAvailable => (cgroup.map_or(0, |c| c.pids().len()) as i64, 0),
        };
        Candidate {
            uid,
            usage,
            request,
        }
    }

    /// Each app container's usage and request of the resource, for the
    /// eviction message (the kubelet names containers for ephemeral
    /// storage and memory; pod gives their disk use: its writable layers
    /// and logs).
    fn container_usage(&self, threshold: &Threshold) -> Vec<(String, i64, i64)> {
        if !matches!(
            threshold.signal,
            Signal::NodefsAvailable | Signal::ImagefsAvailable
        ) {
            return Vec::new();
        }
        let writable = self.store.pod_writable_dir(&self.uid).join("containers");
        let logs = self
            .store
            .pod_log_dir(&self.namespace, &self.name, &self.uid);
        self.spec
            .containers
            .iter()
            .map(|c| {
                let used = eviction::disk_usage(&writable.join(&c.name)).0
                    + eviction::disk_usage(&logs.join(&c.name)).0;
                let request = c
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get("ephemeral-storage"))
                    .and_then(|q| crate::api::quantity::Quantity::parse(&q.0).ok())
                    .map_or(0, |q| q.as_bytes_ceil());
                (c.name.clone(), used as i64, request)
            })
            .collect()
    }

    /// The kubelet's `evictPod`: the event, the DisruptionTarget
    /// condition, and the containers killed; the pod stays, Failed.
    fn evict_for_pressure(&mut self, message: String) {
        self.event(None, Type::Warning, "Evicted", &message);
        self.conditions.set(
            "DisruptionTarget",
            true,
            Some("TerminationByKubelet"),
            Some(message.clone()),
            crate::duration::now(),
        );
        self.evicted = Some(message);
        self.begin_stopping(HARD_EVICTION_GRACE, false, false, None);
    }
}
