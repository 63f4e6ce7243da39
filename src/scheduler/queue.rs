//! The scheduling queue over the state directory: a pod that fits the
//! node is bound to it (spec.nodeName and the `Scheduled` event) and may
//! start; one that does not stays Pending with PodScheduled=False,
//! reason Unschedulable, and a `FailedScheduling` event, both with the
//! scheduler's message. [`Queue::retry`] tries the waiting pods again, in
//! creation order, when the node or its pods change.
//!
//! One file lock (`<root>/locks/scheduler`) is held from the look at the
//! node's pods to the binding, so that two `pod create` racing for the
//! last CPU bind one pod, not two.
//!
//! Pods the default scheduler leaves alone stay Pending too: one bound
//! to another node (only that node's kubelet would run it), one for
//! another scheduler, one with scheduling gates.

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::admission;
use super::fit::{self, Snapshot};
use crate::api::phase::{PENDING, is_terminal};
use crate::api::{Kind, Object};
use crate::node::admission::Rejection;
use crate::store::events::{PodRef, Recorder, Source, Type};
use crate::store::{DirSync, Lock, Store};

/// The scheduler this one is.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// How many replaced pod records a queue holds open (see `Queue`): as
/// many as `create` starts supervisors before it waits for the first.
const HELD: usize = 32;

/// Where a stored pod stands once the queue has seen it.
#[derive(Debug)]
pub enum Placement {
    /// Bound to this node (now, or before): its supervisor may start.
    Bound(Box<Pod>),
    /// Left Pending.
    Pending,
    /// Bound, and refused by the kubelet's admission: Failed, never runs.
    Rejected,
}

/// The queue, locked: the node and the pods bound to it.
pub struct Queue<'a> {
    store: &'a Store,
    node: Node,
    node_name: String,
    here: Vec<Pod>,
    /// The directories of the records the bindings wrote, whose fsync
    /// is still due (see [`Queue::sync_bindings`]).
    unsynced: Vec<DirSync>,
    _lock: Lock,
    /// The records the bindings replaced, still open: closing one frees
    /// its blocks, which on a disk mounted `discard` without a journal
    /// (this machine's root) waits for the disk inside the call, 2 to 5
    /// ms. Closed when the queue is, after the lock (fields drop in
    /// order), so `create` starts the bound pods' supervisors first; at
    /// most [`HELD`] at a time, the oldest closed first, so that a create
    /// of thousands of pods stays far below a 1024 descriptor limit.
    replaced: std::collections::VecDeque<std::fs::File>,
}

impl<'a> Queue<'a> {
    /// Takes the scheduler's lock and reads the node's pods.
    pub fn open(store: &'a Store, node: Node) -> Result<Queue<'a>> {
        let dir = store.root().join("locks");
        std::fs::create_dir_all(&dir)?;
        let lock = Lock::exclusive(&dir.join("scheduler"))?;
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let here = pods(store)?
            .into_iter()
            .filter(|p| bound_to(p) == Some(&node_name) && !finished(p))
            .collect();
        Ok(Queue {
            store,
            node,
            node_name,
            here,
            unsynced: Vec::new(),
            _lock: lock,
            replaced: std::collections::VecDeque::new(),
        })
    }

    /// Schedules one stored pod.
    pub fn place(&mut self, pod: &Pod) -> Result<Placement> {
        let spec = pod.spec.clone().unwrap_or_default();
        if let Some(node) = bound_to(pod) {
            if *node == self.node_name {
                // Bound before any scheduler saw it: the kubelet's
                // admission is all it gets.
                let admitted = admission::admit_under_pressure(pod, &self.node)
                    .and_then(|()| admission::admit_predicates(pod, &self.node, &self.here));
                if let Err(rejection) = admitted {
                    self.reject(pod, &rejection)?;
                    return Ok(Placement::Rejected);
                }
                self.here.push(pod.clone());
                return Ok(Placement::Bound(Box::new(pod.clone())));
            }
            let message = format!(
                "The pod is bound to node {node:?}, and this node is {:?}: it waits for that node's kubelet",
                self.node_name
            );
            self.write_status(pod, None, Some(message))?;
            return Ok(Placement::Pending);
        }
        if !for_default_scheduler(&spec) {
            self.write_status(pod, None, None)?;
            return Ok(Placement::Pending);
        }
        if gated(&spec) {
            let gated = condition(
                "SchedulingGated",
                "Scheduling is blocked due to non-empty scheduling gates",
            );
            self.write_status(pod, Some(gated), None)?;
            return Ok(Placement::Pending);
        }
        match self.schedule(pod) {
            Ok(()) => match self.bind(pod)? {
                Some(bound) => self.bound(bound),
                None => Ok(Placement::Pending),
            },
            Err(message) => {
                self.write_status(pod, Some(condition("Unschedulable", &message)), None)?;
                self.event(pod, Type::Warning, "FailedScheduling", &message);
                Ok(Placement::Pending)
            }
        }
    }

    /// A pod not stored yet, bound to the node (spec.nodeName set) when
    /// the default scheduler would bind it now, so that `create` stores it
    /// bound in one write instead of storing it and then binding it with a
    /// second (an fsync less on the way to its supervisor's start); the
    /// caller then says so with [`Queue::bound_when_stored`]. None for a
    /// pod [`Queue::place`] would leave Pending, and for one bound in its
    /// manifest: those are stored as they came and placed.
    pub fn bind_before_storing(&self, pod: &Pod) -> Option<Pod> {
        let spec = pod.spec.as_ref()?;
        if bound_to(pod).is_some() || !for_default_scheduler(spec) || gated(spec) {
            return None;
        }
        self.schedule(pod).ok()?;
        let mut bound = pod.clone();
        bound.spec.get_or_insert_with(Default::default).node_name = Some(self.node_name.clone());
        bound.status = None;
        Some(bound)
    }

    /// The rest of a binding made before the pod was stored (see
    /// [`Queue::bind_before_storing`]), once it is: the `Scheduled` event
    /// and the kubelet's admission, as [`Queue::place`] does after its
    /// binding.
    pub fn bound_when_stored(&mut self, bound: Pod) -> Result<Placement> {
        self.scheduled(&bound);
        self.bound(bound)
    }

    /// Whether the pod fits the node as it is now; the scheduler's message
    /// when it does not.
    fn schedule(&self, pod: &Pod) -> std::result::Result<(), String> {
        // A namespace's own labels (what the API server stored, with the
        // kubernetes.io/metadata.name label it adds); a namespace not
        // stored has that one label only.
        let namespace_labels = |ns: &str| -> BTreeMap<String, String> {
            let mut labels = match self.store.get(Kind::Namespace, "", ns) {
                Ok(Some(Object::Namespace(n))) => n.metadata.labels.unwrap_or_default(),
                _ => BTreeMap::new(),
            };
            labels.insert("kubernetes.io/metadata.name".to_string(), ns.to_string());
            labels
        };
        let snapshot = Snapshot {
            node: &self.node,
            here: &self.here,
            namespace_labels: &namespace_labels,
        };
        fit::schedule(pod, &snapshot)
    }

    /// A pod just bound: the kubelet takes no new pod while the node is
    /// under pressure, even one tolerating its taint; one it takes counts
    /// as the node's from now on.
    fn bound(&mut self, bound: Pod) -> Result<Placement> {
        if let Err(rejection) = admission::admit_under_pressure(&bound, &self.node) {
            self.reject(&bound, &rejection)?;
            return Ok(Placement::Rejected);
        }
        self.here.push(bound.clone());
        Ok(Placement::Bound(Box::new(bound)))
    }

    /// Tries every waiting pod again, oldest first (the order of the
    /// scheduler's queue for pods of equal priority); returns those bound.
    pub fn retry(&mut self) -> Result<Vec<Pod>> {
        let mut waiting: Vec<Pod> = pods(self.store)?
            .into_iter()
            .filter(|p| {
                bound_to(p).is_none() && !finished(p) && p.metadata.deletion_timestamp.is_none()
            })
            .collect();
        waiting.sort_by(|a, b| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            created(a).cmp(&created(b)).then_with(|| {
                (&a.metadata.namespace, &a.metadata.name)
                    .cmp(&(&b.metadata.namespace, &b.metadata.name))
            })
        });
        let mut bound = Vec::new();
        for pod in waiting {
            if let Placement::Bound(pod) = self.place(&pod)? {
                bound.push(*pod);
            }
        }
        self.sync_bindings()?;
        Ok(bound)
    }

    /// Makes the bindings written so far durable: the fsync of each bound
    /// record's directory, left out of the binding itself so that `create`
    /// starts the pod's supervisor while the disk works. Called before a
    /// bound pod is reported (a queue dropped first still syncs them).
    pub fn sync_bindings(&mut self) -> Result<()> {
        for dir in self.unsynced.drain(..) {
            dir.sync()?;
        }
        Ok(())
    }

    /// Binds the pod to the node (the binding subresource: spec.nodeName)
    /// and says so; None if it was deleted meanwhile.
    fn bind(&mut self, pod: &Pod) -> Result<Option<Pod>> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let bound = {
            let _lock = self.store.lock(Kind::Pod, namespace, name)?;
            let Some(Object::Pod(mut stored)) = self.store.get(Kind::Pod, namespace, name)? else {
                return Ok(None);
            };
            if stored.metadata.uid != pod.metadata.uid
                || stored.metadata.deletion_timestamp.is_some()
            {
                return Ok(None);
            }
            stored.spec.get_or_insert_with(Default::default).node_name =
                Some(self.node_name.clone());
            stored.status = None;
            if self.replaced.len() >= HELD {
                // Its pod's supervisor has long been started.
                self.replaced.pop_front();
            }
            let (replaced, unsynced) = self
                .store
                .replace_keeping_sync_later(&Object::Pod(stored.clone()))?;
            self.replaced.extend(replaced);
            self.unsynced.push(unsynced);
            // What the scheduler wrote while the pod waited is the past now;
            // its supervisor writes the status from here on.
            self.store.remove_pod_status(namespace, name)?;
            *stored
        };
        self.scheduled(pod);
        Ok(Some(bound))
    }

    /// The scheduler's event for a binding.
    fn scheduled(&self, pod: &Pod) {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let message = format!(
            "Successfully assigned {namespace}/{name} to {}",
            self.node_name
        );
        self.event(pod, Type::Normal, "Scheduled", &message);
    }

    /// The kubelet's `rejectPod`: phase Failed with the handler's reason
    /// and message, and its event; nothing of the pod is started.
    fn reject(&self, pod: &Pod, rejection: &Rejection) -> Result<()> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let status = PodStatus {
            phase: Some("Failed".into()),
            reason: Some(rejection.reason.clone()),
            message: Some(rejection.status_message()),
            start_time: Some(Time(crate::duration::now())),
            qos_class: Some(
                crate::api::defaults::qos_class(&pod.spec.clone().unwrap_or_default()).into(),
            ),
            ..Default::default()
        };
        self.store.write_pod_status(namespace, name, &status)?;
        self.event_from(
            pod,
            Source::Kubelet,
            Type::Warning,
            &rejection.reason,
            &rejection.message,
        );
        Ok(())
    }

    /// The status of a pod left Pending: the scheduler's condition, if
    /// any, keeping its transition time while it does not change.
    fn write_status(
        &self,
        pod: &Pod,
        mut scheduled: Option<PodCondition>,
        message: Option<String>,
    ) -> Result<()> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let before = self.store.read_pod_status(namespace, name)?;
        if let (Some(new), Some(old)) = (
            scheduled.as_mut(),
            before
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled")),
        ) && old.status == new.status
            && old.reason == new.reason
        {
            new.last_transition_time = old.last_transition_time.clone();
        }
        let status = PodStatus {
            phase: Some(PENDING.into()),
            conditions: scheduled.map(|c| vec![c]),
            message,
            qos_class: Some(
                crate::api::defaults::qos_class(&pod.spec.clone().unwrap_or_default()).into(),
            ),
            ..Default::default()
        };
        Ok(self.store.write_pod_status(namespace, name, &status)?)
    }

    /// Records a scheduler event about the pod; a repeat within the fold
    /// window counts up the earlier one, as the event recorder does.
    fn event(&self, pod: &Pod, type_: Type, reason: &str, message: &str) {
        self.event_from(pod, Source::Scheduler, type_, reason, message);
    }

    fn event_from(&self, pod: &Pod, source: Source, type_: Type, reason: &str, message: &str) {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let path = self.store.pod_dir(&namespace, &name).join("events.jsonl");
        let mut recorder = Recorder::resume(
            PodRef {
                namespace,
                name,
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                node: self.node_name.clone(),
            },
            &path,
        );
        if let Err(e) = recorder.record(None, type_, source, reason, message) {
            eprintln!("pod: recording the {reason} event: {e}");
        }
    }
}

/// PodScheduled=False with the scheduler's reason and message.
fn condition(reason: &str, message: &str) -> PodCondition {
    PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: Some(Time(crate::duration::now())),
        ..Default::default()
    }
}

/// Every stored pod; one that cannot be read is left out.
fn pods(store: &Store) -> Result<Vec<Pod>> {
    Ok(store
        .list_each(Kind::Pod, None, crate::store::Detail::Full)?
        .into_iter()
        .filter_map(|o| match o {
            Ok(Object::Pod(p)) => Some(*p),
            _ => None,
        })
        .collect())
}

/// Whether the pod is the default scheduler's to place (another
/// scheduler's pods wait for that one).
fn for_default_scheduler(spec: &PodSpec) -> bool {
    spec.scheduler_name.as_deref().unwrap_or(DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
}

/// Whether scheduling gates hold the pod back.
fn gated(spec: &PodSpec) -> bool {
    spec.scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty())
}

/// The node the pod is bound to.
fn bound_to(pod: &Pod) -> Option<&String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .filter(|n| !n.is_empty())
}

/// A pod that finished takes nothing of the node any more.
fn finished(pod: &Pod) -> bool {
    is_terminal(pod.status.as_ref().and_then(|s| s.phase.as_deref()))
}
