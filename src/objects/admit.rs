//! A create as the API server admits it, for `pod create`, `pod apply`
//! and the API server's POST alike: the admission chain, the store, and
//! for a pod the scheduler's placement and its supervisor's start.

use anyhow::Result;

use crate::api::podpreset::{self, Admission};
use crate::api::{ApiError, Kind, Object, defaults, validation};
use crate::pods;
use crate::scheduler::queue::{Placement, Queue};
use crate::store::{Store, namespaces, version};

/// `--dry-run`: `Client` opens no store at all (the object is only
/// printed); `Server`, the API's `dryRun=All`, runs every check of the
/// create and stores nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// The API server's part of a create: the admission chain (the
/// namespace must exist and not be terminating; PodPresets are merged into
/// a pod), then the object is stored and, for a pod, placed on the node
/// by the scheduler's `queue` (opened at the first pod) and its supervisor
/// started if it fits. Returns the admission's warnings.
pub fn admit_and_store<'s>(
    store: &'s Store,
    queue: &mut Option<Queue<'s>>,
    object: &mut Object,
    dry_run: DryRun,
) -> Result<(Vec<String>, Option<pods::Starting>)> {
    let kind = object.kind();
    let namespace = object.namespace().to_string();
    if kind.namespaced() {
        namespaces::admit_create(store, kind, &namespace, object.name())?;
    }
    let mut warnings = Vec::new();
    match object {
        Object::Pod(pod) => {
            let presets: Vec<podpreset::PodPreset> = store
                .list(Kind::PodPreset, Some(&namespace))?
                .into_iter()
                .filter_map(|o| match o {
                    Object::PodPreset(p) => Some(*p),
                    _ => None,
                })
                .collect();
            match podpreset::admit(pod, &presets) {
                Admission::Applied(_) => {
                    // The merged pod is defaulted and validated again, as
                    // the server validates after mutating admission.
                    let mut merged = Object::Pod(pod.clone());
                    defaults::default_fields(&mut merged);
                    let causes = validation::validate(&merged);
                    if !causes.is_empty() {
                        return Err(ApiError::Invalid {
                            kind: Kind::Pod.to_string(),
                            name: merged.name().to_string(),
                            causes,
                        }
                        .into());
                    }
                    *object = merged;
                }
                Admission::Conflict(warning) => warnings.push(warning),
                Admission::Untouched => {}
            }
        }
        Object::PodPreset(preset) if dry_run == DryRun::None => {
            preset.metadata.resource_version = Some(version::next(store)?);
        }
        _ => {}
    }
    if dry_run == DryRun::Server {
        if kind == Kind::Node {
            return Err(super::refuse_node_create(store, object.name()).into());
        }
        if super::get(store, kind, &namespace, object.name())?.is_some() {
            return Err(ApiError::AlreadyExists {
                resource: kind.resource().into(),
                name: object.name().to_string(),
            }
            .into());
        }
        return Ok((warnings, None));
    }
    let Object::Pod(pod) = &*object else {
        super::create(store, object)?;
        return Ok((warnings, None));
    };
    // The node is read before the pod is stored: a node that cannot be
    // read leaves nothing behind.
    let queue = match queue {
        Some(queue) => queue,
        None => queue.insert(pods::queue(store)?),
    };
    // A pod that fits is stored bound, in one write (watchers see it
    // ADDED, then MODIFIED as its supervisor writes its status); any other
    // is stored as it came and placed (Pending, or bound in its manifest).
    let bound = queue.bind_before_storing(pod);
    // Its supervisor is started now, and told to go on once the pod is
    // stored: its start-up overlaps the store's fsyncs. Dropped unsaid
    // (an error, a pod left Pending after all), it ends.
    let mut early = match &bound {
        Some(_) => Some(pods::start_before_storing(store, pod)?),
        None => None,
    };
    let stored = match &bound {
        Some(bound) => store.create_sync_later(&Object::Pod(Box::new(bound.clone())))?,
        None => store.create_sync_later(object)?,
    };
    crate::fault::point("create-stored");
    let placed = match bound {
        Some(bound) => queue.bound_when_stored(bound),
        None => queue.place(pod),
    };
    match placed {
        Ok(Placement::Bound(pod)) => {
            crate::fault::point("create-bound");
            let starting = match early.take() {
                Some(early) => early.go(store)?,
                None => pods::start(store, &pod)?,
            };
            // The pod's name and its binding are made durable while the
            // supervisor starts, before the pod is reported created.
            match stored
                .sync()
                .map_err(anyhow::Error::from)
                .and_then(|()| queue.sync_bindings())
            {
                Ok(()) => Ok((warnings, Some(starting))),
                Err(e) => Err(starting.abandon(store, e)),
            }
        }
        Ok(Placement::Pending | Placement::Rejected) => {
            stored.sync()?;
            Ok((warnings, None))
        }
        Err(e) => {
            let _ = store.remove(Kind::Pod, &namespace, object.name());
            Err(e)
        }
    }
}
