//! Events as the kubelet records them: core/v1 Event objects appended to
//! the pod's `events.jsonl`, repeats folded into one event whose count
//! grows (the EventCorrelator's dedup: same object, type, reason and
//! message within 10 minutes).
//!
//! A folded event is appended again under the same name with its new
//! count; readers keep the last copy of each name
//! (`Store::read_pod_events`). Appending keeps every write one small
//! `write(2)` instead of a rewrite of the whole file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// How long a repeat is folded into the previous event.
const FOLD_WINDOW: SignedDuration = SignedDuration::from_secs(600);

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
}

impl Source {
    fn component(self) -> &'static str {
        match self {
            Source::Kubelet => "kubelet",
            Source::Scheduler => "default-scheduler",
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
    path: PathBuf,
    file: Option<File>,
    /// Events recorded so far, for folding repeats.
    seen: Vec<Event>,
}

impl Recorder {
    pub fn new(pod: PodRef, path: &Path) -> Recorder {
        Recorder {
            pod,
            path: path.to_path_buf(),
            file: None,
            seen: Vec::new(),
        }
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
        let now = super::now();
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
        self.file.as_mut().expect("opened").write_all(&line)
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
        let repeat = self.seen.iter_mut().find(|e| {
            e.involved_object.field_path.as_deref() == field_path
                && e.type_.as_deref() == Some(type_name)
                && e.reason.as_deref() == Some(reason)
                && e.message.as_deref() == Some(message)
                && e.source.as_ref().and_then(|s| s.component.as_deref())
                    == Some(source.component())
                && e.last_timestamp
                    .as_ref()
                    .is_some_and(|t| now.duration_since(t.0) <= FOLD_WINDOW)
        });
        if let Some(event) = repeat {
            event.count = Some(event.count.unwrap_or(1) + 1);
            event.last_timestamp = Some(Time(now));
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
                kind: Some("Pod".into()),
                name: Some(pod.name.clone()),
                namespace: Some(pod.namespace.clone()),
                uid: Some(pod.uid.clone()),
                field_path: field_path.map(str::to_string),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
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
        self.seen.push(event.clone());
        event
    }
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

    fn recorder(dir: &Path) -> Recorder {
        let pod = PodRef {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u-1".into(),
            node: "host".into(),
        };
        Recorder::new(pod, &dir.join("events.jsonl"))
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
        assert_eq!(
            backoff.source.as_ref().unwrap().component.as_deref(),
            Some("kubelet")
        );
        assert!(
            backoff.last_timestamp.as_ref().unwrap().0
                >= backoff.first_timestamp.as_ref().unwrap().0
        );
        assert_eq!(
            events[0].source.as_ref().unwrap().component.as_deref(),
            Some("default-scheduler")
        );
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
}
