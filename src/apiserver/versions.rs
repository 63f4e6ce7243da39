//! resourceVersions for what the store holds. The CLI and the supervisors
//! write objects and pod status without versions; the server gives one
//! to each change it sees, from the state directory's one counter
//! (`store::version`), so versions increase across every object and
//! survive a restart of the server. Each read (get, list, the watch
//! poller) compares what it read with what was last seen of the object:
//! unchanged keeps its version; new, changed or gone takes the next one
//! and is recorded in a history that watches replay from a version.
//!
//! The history holds the last [`HISTORY`] changes; a watch from a version
//! older than that (or older than this server's start, whose changes it
//! never saw) is 410 Gone, and the client lists again, as with the API
//! server's watch cache.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::read::{self, Item};
use super::resources::{Backing, Resource};
use crate::api::Kind;
use crate::store::{Store, version};

/// How many changes are kept for watches.
pub const HISTORY: usize = 10_000;

/// What identifies an object across reads. Both event resources read the
/// same events: they share one key space (and versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub backing: Backing,
    pub namespace: String,
    pub name: String,
}

/// The key space of a resource's objects.
pub fn key_backing(resource: &Resource) -> Backing {
    match resource.backing {
        Backing::Events => Backing::CoreEvents,
        other => other,
    }
}

fn key(resource: &Resource, item: &Item) -> Key {
    Key {
        backing: key_backing(resource),
        namespace: item.namespace().to_string(),
        name: item.name().to_string(),
    }
}

/// An object with its version, as `resource` serves it.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub item: Item,
    pub json: Value,
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One recorded change: the object after it (before it, when deleted).
#[derive(Debug, Clone)]
pub struct Event {
    pub version: u64,
    pub change: Change,
    pub key: Key,
    pub item: Item,
    /// The object before a change (a watch's selector may have matched
    /// it and no longer match, or the other way round).
    pub previous: Option<Item>,
}

#[derive(Debug)]
struct Known {
    version: u64,
    /// The object's JSON as last seen, to tell a change.
    fingerprint: String,
    item: Item,
}

#[derive(Debug, Default)]
struct Inner {
    known: HashMap<Key, Known>,
    history: VecDeque<Event>,
    /// The oldest version a watch can start from: changes after it are
    /// all in `history`.
    floor: u64,
    /// The newest version given.
    latest: u64,
    /// How many change notifications each key space has had (`touch`).
    touched: HashMap<Backing, u64>,
    /// Each key space's last read for watches: the notifications it
    /// covers, and when.
    read: HashMap<Backing, (u64, Instant)>,
}

#[derive(Debug, Default)]
pub struct Versions {
    inner: Mutex<Inner>,
    /// Woken when changes are recorded or notified (watches wait on it).
    changed: Condvar,
    /// One reader at a time: watches woken together read the store once.
    reading: Mutex<()>,
}

/// A watch that started from a version no longer in the history.
#[derive(Debug, thiserror::Error)]
#[error("too old resource version: {asked} ({floor})")]
pub struct TooOld {
    pub asked: u64,
    pub floor: u64,
}

impl Versions {
    /// Starts from the counter's current value: changes before it were
    /// never seen by this server.
    pub fn new(store: &Store) -> Result<Versions> {
        let now = version::current(store)?;
        Ok(Versions {
            inner: Mutex::new(Inner {
                floor: now,
                latest: now,
                ..Inner::default()
            }),
            changed: Condvar::new(),
            reading: Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads every object of `resource` (all namespaces), records what
    /// changed since the last read, and returns them with their versions
    /// and the newest version given (a list's resourceVersion).
    pub fn observe(&self, store: &Store, resource: &Resource) -> Result<(Vec<Stamped>, u64)> {
        let items = read::fetch(store, resource, None)?;
        let mut inner = self.lock();
        let mut seen = HashSet::new();
        let mut pending: Vec<(Key, Item, String, Change)> = Vec::new();
        let mut out: Vec<(Key, Item)> = Vec::with_capacity(items.len());
        for item in items {
            let k = key(resource, &item);
            let fingerprint = fingerprint(&item);
            match inner.known.get(&k) {
                Some(known) if known.fingerprint == fingerprint => {}
                Some(_) => pending.push((k.clone(), item.clone(), fingerprint, Change::Modified)),
                None => pending.push((k.clone(), item.clone(), fingerprint, Change::Added)),
            }
            seen.insert(k.clone());
            out.push((k, item));
        }
        let backing = key_backing(resource);
        let gone: Vec<Key> = inner
            .known
            .keys()
            .filter(|k| k.backing == backing && !seen.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            let item = inner.known[&k].item.clone();
            pending.push((k, item, String::new(), Change::Deleted));
        }
        self.record(store, &mut inner, pending)?;
        let stamped = out
            .into_iter()
            .map(|(k, item)| {
                let version = inner.known[&k].version;
                stamp(resource, item, version)
            })
            .collect();
        Ok((stamped, inner.latest))
    }

    /// Marks key spaces as changed in the store (`changes` calls it on
    /// the kernel's notification) and wakes the watches.
    pub fn touch(&self, backings: &[Backing]) {
        let mut inner = self.lock();
        for b in backings {
            *inner.touched.entry(*b).or_default() += 1;
        }
        self.changed.notify_all();
    }

    /// Marks every key space read so far as changed (notifications lost).
    pub fn touch_all(&self) {
        let mut inner = self.lock();
        for b in inner.read.keys().copied().collect::<Vec<_>>() {
            *inner.touched.entry(b).or_default() += 1;
        }
        self.changed.notify_all();
    }

    /// Whether `backing` had notifications its last read did not cover,
    /// or is computed on read and was last read `RESCAN` ago.
    fn stale(inner: &Inner, backing: Backing) -> bool {
        let touched = inner.touched.get(&backing).copied().unwrap_or(0);
        match inner.read.get(&backing) {
            None => true,
            Some((covered, at)) => {
                *covered != touched || (computed(backing) && at.elapsed() >= RESCAN)
            }
        }
    }

    /// Reads `resource` again (as `observe`) if its files changed since
    /// the last such read: every watch of a resource shares the reads.
    pub fn refresh(&self, store: &Store, resource: &Resource) -> Result<()> {
        let backing = key_backing(resource);
        let _reading = self.reading.lock().unwrap_or_else(|p| p.into_inner());
        let touched = {
            let inner = self.lock();
            if !Self::stale(&inner, backing) {
                return Ok(());
            }
            inner.touched.get(&backing).copied().unwrap_or(0)
        };
        // Notifications during the read are not covered by it: the next
        // refresh reads again.
        self.observe(store, resource)?;
        self.lock().read.insert(backing, (touched, Instant::now()));
        Ok(())
    }

    /// One object read by name: its version (a new one if it changed).
    pub fn stamp_one(&self, store: &Store, resource: &Resource, item: Item) -> Result<Stamped> {
        let k = key(resource, &item);
        let fingerprint = fingerprint(&item);
        let mut inner = self.lock();
        let change = match inner.known.get(&k) {
            Some(known) if known.fingerprint == fingerprint => None,
            Some(_) => Some(Change::Modified),
            None => Some(Change::Added),
        };
        if let Some(change) = change {
            self.record(
                store,
                &mut inner,
                vec![(k.clone(), item.clone(), fingerprint, change)],
            )?;
        }
        let version = inner.known[&k].version;
        Ok(stamp(resource, item, version))
    }

    /// Gives the changes their versions and records them.
    fn record(
        &self,
        store: &Store,
        inner: &mut Inner,
        pending: Vec<(Key, Item, String, Change)>,
    ) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let first = version::reserve(store, pending.len() as u64)?;
        for (i, (k, item, fingerprint, change)) in pending.into_iter().enumerate() {
            let version = first + i as u64;
            let previous = if change == Change::Deleted {
                inner.known.remove(&k).map(|known| known.item)
            } else {
                inner
                    .known
                    .insert(
                        k.clone(),
                        Known {
                            version,
                            fingerprint,
                            item: item.clone(),
                        },
                    )
                    .map(|known| known.item)
            };
            inner.history.push_back(Event {
                version,
                change,
                key: k,
                item,
                previous,
            });
            inner.latest = inner.latest.max(version);
        }
        while inner.history.len() > HISTORY {
            if let Some(dropped) = inner.history.pop_front() {
                inner.floor = inner.floor.max(dropped.version);
            }
        }
        self.changed.notify_all();
        Ok(())
    }

    /// The recorded changes after `since` of the objects `backing` names,
    /// or `TooOld` when some of them are no longer kept.
    pub fn since(&self, backing: Backing, since: u64) -> Result<(Vec<Event>, u64), TooOld> {
        let inner = self.lock();
        changes_since(&inner, backing, since)
    }

    /// Like `since`, but waits up to `timeout` for a change after `since`
    /// (of any object) when there is none yet.
    pub fn wait_since(
        &self,
        backing: Backing,
        since: u64,
        timeout: Duration,
    ) -> Result<(Vec<Event>, u64), TooOld> {
        let inner = self.lock();
        let (inner, _) = self
            .changed
            .wait_timeout_while(inner, timeout, |i| {
                i.latest <= since && !Self::stale(i, backing)
            })
            .unwrap_or_else(|p| p.into_inner());
        changes_since(&inner, backing, since)
    }

    /// The newest version given.
    pub fn latest(&self) -> u64 {
        self.lock().latest
    }
}

/// How often what is partly computed on read (the node's measurements,
/// the Unknown of a pod whose supervisor died: no file changes) is read
/// again without a notification: the kubelet's node status period.
pub const RESCAN: Duration = Duration::from_secs(10);

fn computed(backing: Backing) -> bool {
    matches!(backing, Backing::Kind(Kind::Node | Kind::Pod))
}

fn changes_since(inner: &Inner, backing: Backing, since: u64) -> Result<(Vec<Event>, u64), TooOld> {
    if since < inner.floor {
        return Err(TooOld {
            asked: since,
            floor: inner.floor,
        });
    }
    let events = inner
        .history
        .iter()
        .filter(|e| e.version > since && e.key.backing == backing)
        .cloned()
        .collect();
    Ok((events, inner.latest))
}

/// The JSON compared to tell a change (the object as read, without a
/// version: a stored PodPreset carries the one the CLI gave it).
fn fingerprint(item: &Item) -> String {
    let mut json = item.canonical_json();
    if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    json.to_string()
}

/// The object as `resource` serves it, with its version.
pub fn stamp(resource: &Resource, item: Item, version: u64) -> Stamped {
    let mut json = item.to_json(resource);
    if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(version.to_string()));
    }
    Stamped { item, json }
}
