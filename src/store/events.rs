//! Events as the kubelet records them: core/v1 Event objects appended to
//! the pod's `events.jsonl`, repeats folded into one event whose count
//! grows (the EventCorrelator's dedup: same object, type, reason and
//! message within 10 minutes).
//!
//! A folded event is appended again under the same name with its new
//! count; readers keep the last copy of each name
//! (`Store::read_pod_events`). Appending keeps every write one small
//! `write(2)` instead of a rewrite of the whole file; every 1000 lines the
//! file is rewritten with the last copies only, if copies are most of it.
//!
//! Like the kubelet's EventAggregator, once 10 different messages with the
//! same source, type and reason came within 10 minutes (a probe whose
//! output changes every time), further ones fold into one event
//! `(combined from similar events): <latest message>`. Only events of the
//! last 10 minutes are remembered for folding, so a supervisor that runs
//! for weeks keeps a bounded memory and a bounded events file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// How long a repeat is folded into the previous event.
const FOLD_WINDOW: SignedDuration = SignedDuration::from_secs(600);

/// Different messages of one kind within the window before they are
/// combined (client-go's defaultAggregateMaxEvents).
const AGGREGATE_AFTER: usize = 10;

/// Events remembered for folding at most (client-go's LRU cache size).
const MAX_REMEMBERED: usize = 4096;

/// Lines appended between two looks at compacting the file.
const COMPACT_EVERY: usize = 1000;

/// The prefix of a combined event's message.
const COMBINED: &str = "(combined from similar events): ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Normal,
    Warning,
}

/// Which component reports the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Kubelet,
    Scheduler,
    TaintEvictionController,
}

impl Source {
    fn component(self) -> &'static str {
        match self {
            Source::Kubelet => "kubelet",
            Source::Scheduler => "default-scheduler",
            Source::TaintEvictionController => "taint-eviction-controller",
        }
    }
}

/// The pod the events are about.
#[derive(Debug, Clone)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub node: String,
}

#[derive(Debug)]
pub struct Recorder {
    pod: PodRef,
    /// The kind of the object the events are about: a Pod, or the Node
    /// (then `pod` names the node, its uid the node's name, as the
    /// kubelet's node reference has it).
    kind: &'static str,
    path: PathBuf,
    file: Option<File>,
    /// Events of the fold window, by the key repeats share, oldest first.
    seen: Vec<(String, Event)>,
    /// Per source, type and reason: the distinct messages of the window,
    /// oldest first, and when the last one came.
    similar: HashMap<String, (Vec<String>, Timestamp)>,
    /// Lines written since the file was last compacted.
    appended: usize,
}

impl Recorder {
    pub fn new(pod: PodRef, path: &Path) -> Recorder {
        Recorder {
            pod,
            kind: "Pod",
            path: path.to_path_buf(),
            file: None,
            seen: Vec::new(),
            similar: HashMap::new(),
            appended: 0,
        }
    }

    /// A recorder of the kubelet's events about its Node, folding into
    /// those already in the file.
    pub fn for_node(name: &str, path: &Path) -> Recorder {
        let mut recorder = Recorder::resume(
            PodRef {
                namespace: "default".into(),
                name: name.into(),
                uid: name.into(),
                node: name.into(),
            },
            path,
        );
        recorder.kind = "Node";
        recorder
    }

    /// A recorder that folds repeats into the events already in the file
    /// (those of the fold window): for a process that records about a pod
    /// now and then, as the scheduler does, not for its whole life.
    pub fn resume(pod: PodRef, path: &Path) -> Recorder {
        let mut recorder = Recorder::new(pod, path);
        for event in read(path).unwrap_or_default() {
            let component = event
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .unwrap_or_default();
            let key = format!(
                "{component}\0{}\0{}\0{}\0{}",
                event.type_.as_deref().unwrap_or_default(),
                event.reason.as_deref().unwrap_or_default(),
                event
                    .involved_object
                    .field_path
                    .as_deref()
                    .unwrap_or_default(),
                event.message.as_deref().unwrap_or_default(),
            );
            recorder.seen.push((key, event));
        }
        recorder.forget_before(crate::duration::now());
        recorder
    }

    /// Records an event about the pod (`field_path` None) or one of its
    /// containers (`spec.containers{nginx}`).
    pub fn record(
        &mut self,
        field_path: Option<&str>,
        type_: Type,
        source: Source,
        reason: &str,
        message: &str,
    ) -> io::Result<()> {
        let now = crate::duration::now();
        let event = self.fold(field_path, type_, source, reason, message, now);
        let mut line = serde_json::to_vec(&event).map_err(io::Error::other)?;
        line.push(b'\n');
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        // One write per event: a reader never sees two events mixed.
        self.file.as_mut().expect("opened").write_all(&line)?;
        self.appended += 1;
        if self.appended >= COMPACT_EVERY {
            self.appended = 0;
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the file with the last copy of each event when copies of
    /// folded events make up most of it: a probe failing every second
    /// would otherwise add a line a second for as long as the pod runs.
    /// The new file replaces the old one by rename, so a reader sees one
    /// or the other whole.
    fn compact(&mut self) -> io::Result<()> {
        let text = std::fs::read_to_string(&self.path)?;
        let copies: Vec<Event> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let total = copies.len();
        let latest = latest_copies(copies);
        if latest.len() * 2 > total {
            return Ok(());
        }
        let mut out = Vec::with_capacity(text.len() / 2);
        for event in &latest {
            serde_json::to_writer(&mut out, event).map_err(io::Error::other)?;
            out.push(b'\n');
        }
        let staging = self.path.with_extension("jsonl.tmp");
        std::fs::write(&staging, &out)?;
        std::fs::rename(&staging, &self.path)?;
        // The next event goes to the new file.
        self.file = None;
        Ok(())
    }

    /// The event to write: a repeat of a recent one with its count raised,
    /// or a new one.
    fn fold(
        &mut self,
        field_path: Option<&str>,
        type_: Type,
        source: Source,
        reason: &str,
        message: &str,
        now: Timestamp,
    ) -> Event {
        let type_name = match type_ {
            Type::Normal => "Normal",
            Type::Warning => "Warning",
        };
        let source_name = source.component();
        // What the aggregator compares: everything but the container and
        // the message.
        let kind = format!("{source_name}\0{type_name}\0{reason}");
        let key = format!("{kind}\0{}\0{message}", field_path.unwrap_or(""));
        self.forget_before(now);
        let (messages, last) = self
            .similar
            .entry(kind.clone())
            .or_insert_with(|| (Vec::new(), now));
        if !messages.contains(&key) {
            messages.push(key.clone());
        }
        *last = now;
        let combined = messages.len() >= AGGREGATE_AFTER;
        let (key, message) = if combined {
            // Keep the set at its limit, as client-go does. It lets any one
            // go (PopAny); the oldest here, so that what folds where does
            // not depend on hashing.
            messages.remove(0);
            (kind, format!("{COMBINED}{message}"))
        } else {
            (key, message.to_string())
        };
        if let Some((_, event)) = self.seen.iter_mut().find(|(k, _)| *k == key) {
            event.count = Some(event.count.unwrap_or(1) + 1);
            event.last_timestamp = Some(Time(now));
            event.message = Some(message);
            event.involved_object.field_path = field_path.map(str::to_string);
            return event.clone();
        }
        let pod = &self.pod;
        let event = Event {
            metadata: ObjectMeta {
                // The API server's naming: the object's name and a hex time.
                name: Some(format!("{}.{:x}", pod.name, now.as_nanosecond())),
                namespace: Some(pod.namespace.clone()),
                creation_timestamp: Some(Time(now)),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some(self.kind.into()),
                name: Some(pod.name.clone()),
                // A Node has no namespace; its events are kept in default.
                namespace: (self.kind == "Pod").then(|| pod.namespace.clone()),
                uid: Some(pod.uid.clone()),
                field_path: field_path.map(str::to_string),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(type_name.into()),
            source: Some(EventSource {
                component: Some(source.component().into()),
                host: (source == Source::Kubelet).then(|| pod.node.clone()),
            }),
            reporting_component: Some(source.component().into()),
            reporting_instance: (source == Source::Kubelet).then(|| pod.node.clone()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            ..Default::default()
        };
        if self.seen.len() >= MAX_REMEMBERED {
            self.seen.remove(0);
        }
        self.seen.push((key, event.clone()));
        event
    }

    /// Drops what is older than the fold window: such events are not
    /// folded into any more.
    fn forget_before(&mut self, now: Timestamp) {
        let recent = |t: Timestamp| now.duration_since(t) <= FOLD_WINDOW;
        self.seen
            .retain(|(_, e)| e.last_timestamp.as_ref().is_some_and(|t| recent(t.0)));
        self.similar.retain(|_, (_, last)| recent(*last));
    }
}

/// The events of a file, oldest first: the last copy of each name (a
/// folded event is appended again). A line cut short by a crash
/// mid-append is skipped, not fatal; a missing file holds none.
pub fn read(path: &Path) -> io::Result<Vec<Event>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(latest_copies(
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect(),
    ))
}

/// Keeps the last copy of each event name, in the order the names first
/// appeared (what `Store::read_pod_events` returns).
pub fn latest_copies(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut index = std::collections::HashMap::new();
    for event in events {
        let name = event.metadata.name.clone().unwrap_or_default();
        match index.get(&name) {
            Some(&i) => out[i] = event,
            None => {
                index.insert(name, out.len());
                out.push(event);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodRef {
        PodRef {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u-1".into(),
            node: "host".into(),
        }
    }

    fn recorder(dir: &Path) -> Recorder {
        Recorder::new(pod(), &dir.join("events.jsonl"))
    }

    /// The component an event says it came from.
    fn component(event: &Event) -> Option<&str> {
        event.source.as_ref()?.component.as_deref()
    }

    fn read(dir: &Path) -> Vec<Event> {
        let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let all = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        latest_copies(all)
    }

    #[test]
    fn a_resumed_recorder_folds_into_the_events_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        for message in ["no room", "no room", "other"] {
            Recorder::resume(pod(), &path)
                .record(
                    None,
                    Type::Warning,
                    Source::Scheduler,
                    "FailedScheduling",
                    message,
                )
                .unwrap();
        }
        let events = read(dir.path());
        let counts: Vec<(Option<&str>, Option<i32>)> = events
            .iter()
            .map(|e| (e.message.as_deref(), e.count))
            .collect();
        assert_eq!(
            counts,
            [(Some("no room"), Some(2)), (Some("other"), Some(1))]
        );
        assert_eq!(component(&events[0]), Some("default-scheduler"));
    }

    #[test]
    fn repeats_fold_into_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        let c = Some("spec.containers{app}");
        r.record(
            None,
            Type::Normal,
            Source::Scheduler,
            "Scheduled",
            "Successfully assigned default/web to host",
        )
        .unwrap();
        for _ in 0..3 {
            r.record(
                c,
                Type::Warning,
                Source::Kubelet,
                "BackOff",
                "Back-off restarting failed container app in pod web_default(u-1)",
            )
            .unwrap();
        }
        r.record(c, Type::Normal, Source::Kubelet, "Pulled", "x")
            .unwrap();
        let events = read(dir.path());
        let summary: Vec<_> = events
            .iter()
            .map(|e| (e.reason.clone().unwrap(), e.count.unwrap()))
            .collect();
        assert_eq!(
            summary,
            [
                ("Scheduled".to_string(), 1),
                ("BackOff".to_string(), 3),
                ("Pulled".to_string(), 1)
            ]
        );
        let backoff = &events[1];
        assert_eq!(backoff.type_.as_deref(), Some("Warning"));
        assert_eq!(
            backoff.involved_object.field_path.as_deref(),
            Some("spec.containers{app}")
        );
        assert_eq!(component(backoff), Some("kubelet"));
        assert!(
            backoff.last_timestamp.as_ref().unwrap().0
                >= backoff.first_timestamp.as_ref().unwrap().0
        );
        assert_eq!(component(&events[0]), Some("default-scheduler"));
    }

    #[test]
    fn different_messages_do_not_fold() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        let c = Some("spec.containers{app}");
        r.record(
            c,
            Type::Warning,
            Source::Kubelet,
            "Unhealthy",
            "Liveness probe failed: a",
        )
        .unwrap();
        r.record(
            c,
            Type::Warning,
            Source::Kubelet,
            "Unhealthy",
            "Liveness probe failed: b",
        )
        .unwrap();
        assert_eq!(read(dir.path()).len(), 2);
    }

    #[test]
    fn many_different_messages_are_combined_like_the_kubelets() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        let c = Some("spec.containers{app}");
        for i in 1..=12 {
            let message = format!("Readiness probe failed: {i}");
            r.record(c, Type::Warning, Source::Kubelet, "Unhealthy", &message)
                .unwrap();
        }
        let events = read(dir.path());
        assert_eq!(events.len(), 10);
        assert_eq!(
            events[8].message.as_deref(),
            Some("Readiness probe failed: 9")
        );
        let combined = &events[9];
        assert_eq!(
            combined.message.as_deref(),
            Some("(combined from similar events): Readiness probe failed: 12")
        );
        assert_eq!(combined.count, Some(3));
        // A recent message is still its own event; the oldest ones were
        // let go to make room, and now fold into the combined event.
        for message in ["Readiness probe failed: 9", "Readiness probe failed: 1"] {
            r.record(c, Type::Warning, Source::Kubelet, "Unhealthy", message)
                .unwrap();
        }
        let events = read(dir.path());
        assert_eq!(events.len(), 10);
        assert_eq!(events[8].count, Some(2));
        assert_eq!(events[0].count, Some(1));
        assert_eq!(
            events[9].message.as_deref(),
            Some("(combined from similar events): Readiness probe failed: 1")
        );
        assert_eq!(events[9].count, Some(4));
    }

    #[test]
    fn only_the_fold_window_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        let start = Timestamp::UNIX_EPOCH + SignedDuration::from_secs(1_000_000);
        for i in 0..1000 {
            let at = start + SignedDuration::from_millis(i * 100);
            let reason = format!("Reason{i}");
            r.fold(None, Type::Normal, Source::Kubelet, &reason, "m", at);
        }
        assert_eq!(r.seen.len(), 1000);
        let later = start + SignedDuration::from_secs(100 + 601);
        r.fold(None, Type::Normal, Source::Kubelet, "Last", "m", later);
        assert_eq!(r.seen.len(), 1);
        assert_eq!(r.similar.len(), 1);
    }

    #[test]
    fn the_file_keeps_the_last_copy_of_each_event_once_copies_pile_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        let c = Some("spec.containers{app}");
        r.record(None, Type::Normal, Source::Scheduler, "Scheduled", "x")
            .unwrap();
        for _ in 0..COMPACT_EVERY + 10 {
            r.record(c, Type::Warning, Source::Kubelet, "BackOff", "again")
                .unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
        // Compacted at the 1000th line to two events; 11 copies since.
        assert_eq!(text.lines().count(), 2 + 11);
        let events = read(dir.path());
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].count, Some(COMPACT_EVERY as i32 + 10));
        assert!(!dir.path().join("events.jsonl.tmp").exists());
    }
}
