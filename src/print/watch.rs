//! `get -w`: after the first listing, read the store again each time its
//! files change (`store::changes`: inotify, as the API server's watches)
//! and print an object again each time it changed (not merely its age:
//! kubectl prints on watch events), or when it appears or goes away, as
//! kubectl's watch does: table rows without the headers again, aligned
//! with the first table (the tabwriter remembers its widths), other
//! formats the whole object again (yaml separated by `---`). Runs until
//! interrupted (Ctrl-C).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{Context as _, Result};
use jiff::Timestamp;

use super::tabwriter::{self, TabWriter};
use super::{OutputFormat, TableOptions, table};
use crate::api::selector::Selector;
use crate::api::{Kind, Object};
use crate::store::Store;
use crate::store::changes::{Follower, Scope};

/// What `get -w` watches.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub kinds: Vec<Kind>,
    /// `None` for all namespaces.
    pub namespace: Option<String>,
    /// Only these objects, when `get` named them.
    pub names: Option<Vec<(Kind, String)>>,
    pub selector: Option<Selector>,
}

/// The text printed for one object: its table row (a line for the
/// tabwriter) or its whole rendering in a machine format.
fn printed(
    object: &Object,
    format: &OutputFormat,
    options: &TableOptions,
    now: Timestamp,
) -> Result<String> {
    Ok(match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let mut options = options.clone();
            options.wide |= *format == OutputFormat::Wide;
            format!("{}\n", table::row(object, &options, false, now).join("\t"))
        }
        other => {
            // Each object on its own, as a watch event carries it: never
            // a List, even where the first listing named a kind.
            let options = TableOptions {
                no_headers: true,
                as_list: false,
                ..options.clone()
            };
            super::render_at(std::slice::from_ref(object), other, &options, now)?
        }
    })
}

/// The first listing of `get -w`. Tables (and custom columns) as `get`
/// prints them; the other formats one object after another, as kubectl
/// prints the items of its first list when it watches, yaml separated by
/// `---` (`get pods -w -o json` prints Pods, not a List).
pub fn listing(
    shown: &[Object],
    format: &OutputFormat,
    options: &TableOptions,
    now: Timestamp,
) -> Result<String> {
    if matches!(
        format,
        OutputFormat::Table
            | OutputFormat::Wide
            | OutputFormat::CustomColumns(_)
            | OutputFormat::Name
    ) {
        return super::render_at(shown, format, options, now);
    }
    let mut out = String::new();
    for (i, o) in shown.iter().enumerate() {
        if i > 0 && *format == OutputFormat::Yaml {
            out.push_str("---\n");
        }
        out.push_str(&printed(o, format, options, now)?);
    }
    Ok(out)
}

type Key = (Kind, String, String);

fn key(o: &Object) -> Key {
    (o.kind(), o.namespace().to_string(), o.name().to_string())
}

/// Tracks each object as last printed and yields what must be printed
/// now.
pub struct Watcher {
    format: OutputFormat,
    options: TableOptions,
    /// The object's JSON (what a watch event would carry) and the object.
    last: BTreeMap<Key, (String, Object)>,
    rows: TabWriter,
    printed_objects: usize,
}

impl Watcher {
    /// Starts from the objects the first listing showed; the table widths
    /// are seeded from that listing so new rows line up with it.
    pub fn new(
        shown: &[Object],
        format: &OutputFormat,
        options: &TableOptions,
        now: Timestamp,
    ) -> Result<Watcher> {
        let mut rows = TabWriter::new(tabwriter::GET);
        let mut last = BTreeMap::new();
        if format.is_table()
            && !options.no_headers
            && let Some(first) = shown.first()
        {
            let mut o = options.clone();
            o.wide |= *format == OutputFormat::Wide;
            rows.write(&table::headers(first.kind(), &o).join("\t"));
            rows.write("\n");
        }
        for o in shown {
            let text = printed(o, format, options, now)?;
            if format.is_table() {
                rows.write(&text);
            }
            last.insert(key(o), (o.to_json().to_string(), o.clone()));
        }
        rows.flush();
        Ok(Watcher {
            format: format.clone(),
            options: options.clone(),
            last,
            rows,
            printed_objects: shown.len(),
        })
    }

    /// What to print for the objects now in the store.
    pub fn update(&mut self, current: &[Object], now: Timestamp) -> Result<String> {
        let mut changed: Vec<(String, Object)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for o in current {
            let k = key(o);
            seen.insert(k.clone());
            let json = o.to_json().to_string();
            if self.last.get(&k).is_none_or(|(j, _)| *j != json) {
                let text = printed(o, &self.format, &self.options, now)?;
                changed.push((text, o.clone()));
                self.last.insert(k, (json, o.clone()));
            }
        }
        // A deleted object is printed once more, in its last state (the
        // DELETED event's object). A namespace is deleted only through
        // Terminating: one that went between two polls is shown as the
        // watch would have carried it, Terminating (MODIFIED), then that
        // state again as it goes (DELETED).
        let gone: Vec<Key> = self
            .last
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some((_, o)) = self.last.remove(&k) {
                let o = match terminating(&o, now) {
                    Some(terminating) => {
                        let text = printed(&terminating, &self.format, &self.options, now)?;
                        changed.push((text, terminating.clone()));
                        terminating
                    }
                    None => o,
                };
                let text = printed(&o, &self.format, &self.options, now)?;
                changed.push((text, o));
            }
        }
        let mut out = String::new();
        for (text, _) in changed {
            match self.format {
                OutputFormat::Table | OutputFormat::Wide => {
                    self.rows.write(&text);
                    out.push_str(&self.rows.flush());
                }
                OutputFormat::Yaml | OutputFormat::Kyaml if self.printed_objects > 0 => {
                    if self.format == OutputFormat::Yaml {
                        out.push_str("---\n");
                    }
                    out.push_str(&text);
                }
                _ => out.push_str(&text),
            }
            self.printed_objects += 1;
        }
        Ok(out)
    }
}

/// A namespace last seen before its deletion began, as it was once the
/// deletion began: Terminating, with its deletion time. None for any
/// other object, or a namespace already seen Terminating.
fn terminating(o: &Object, now: Timestamp) -> Option<Object> {
    let Object::Namespace(ns) = o else {
        return None;
    };
    if ns.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let mut ns = ns.clone();
    // The API's time type (k8s-openapi's jiff), whole seconds.
    let at = k8s_openapi::jiff::Timestamp::from_second(now.as_second()).ok()?;
    ns.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at));
    ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
    Some(Object::Namespace(ns))
}

/// The objects the target covers now.
fn current(store: &Store, target: &Target) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    for &kind in &target.kinds {
        for o in crate::objects::list(store, kind, target.namespace.as_deref())? {
            if let Some(names) = &target.names
                && !names.iter().any(|(k, n)| *k == kind && n == o.name())
            {
                continue;
            }
            if let Some(s) = &target.selector
                && !s.matches(o.metadata().labels.as_ref())
            {
                continue;
            }
            out.push(o);
        }
    }
    Ok(out)
}

/// What the watch's reads depend on.
fn scope(target: &Target) -> Scope {
    Scope {
        kinds: Some(target.kinds.clone()),
        namespace: target.namespace.clone(),
        names: target
            .names
            .as_ref()
            .map(|names| names.iter().map(|(_, n)| n.clone()).collect()),
    }
}

/// Reads the store again whenever it changes, until interrupted, printing
/// changes to `out` (the CLI's standard output, which ends the process
/// when its reader has gone).
pub fn run(
    store: &Store,
    target: &Target,
    shown: &[Object],
    format: &OutputFormat,
    options: &TableOptions,
    out: &mut impl Write,
) -> Result<()> {
    let mut watcher = Watcher::new(shown, format, options, Timestamp::now())?;
    // Followed from here, and read at once: what changed since the first
    // listing is printed, and nothing falls between a read and the wait.
    let mut follower = Follower::new(store.root(), scope(target));
    loop {
        let text = watcher.update(&current(store, target)?, Timestamp::now())?;
        if !text.is_empty() {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        follower
            .wait(Duration::MAX)
            .context("following the state directory's changes")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str) -> Object {
        Object::Pod(Box::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"containers": [{"name": "c"}]},
                "status": {"phase": phase},
            }))
            .unwrap(),
        ))
    }

    #[test]
    fn prints_changed_new_and_deleted_rows_aligned_with_the_first_table() {
        let now: Timestamp = "2026-01-01T00:00:30Z".parse().unwrap();
        let shown = [pod("a-long-pod-name", "Pending")];
        let options = TableOptions::default();
        let mut w = Watcher::new(&shown, &OutputFormat::Table, &options, now).unwrap();
        // Nothing changed but the age: nothing printed.
        let later: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        assert_eq!(w.update(&shown, later).unwrap(), "");
        let out = w
            .update(
                &[pod("a-long-pod-name", "Running"), pod("b", "Pending")],
                now,
            )
            .unwrap();
        assert_eq!(
            out,
            "a-long-pod-name   0/1     Running   0          30s\nb                 0/1     Pending   0          30s\n"
        );
        // b goes away: printed once more, then forgotten.
        let out = w.update(&[pod("a-long-pod-name", "Running")], now).unwrap();
        assert_eq!(out, "b                 0/1     Pending   0          30s\n");
        assert_eq!(
            w.update(&[pod("a-long-pod-name", "Running")], now).unwrap(),
            ""
        );
    }

    #[test]
    fn machine_formats_print_the_object_again() {
        let now: Timestamp = "2026-01-01T00:00:30Z".parse().unwrap();
        let mut w = Watcher::new(
            &[pod("a", "Pending")],
            &OutputFormat::Name,
            &TableOptions::default(),
            now,
        )
        .unwrap();
        // kubectl prints the name again on every modification.
        assert_eq!(w.update(&[pod("a", "Running")], now).unwrap(), "pod/a\n");
        let mut w = Watcher::new(
            &[pod("a", "Pending")],
            &OutputFormat::JsonPath("{.status.phase}{\"\\n\"}".into()),
            &TableOptions::default(),
            now,
        )
        .unwrap();
        assert_eq!(w.update(&[pod("a", "Running")], now).unwrap(), "Running\n");
    }

    #[test]
    fn a_listed_kind_is_printed_object_by_object_never_as_a_list() {
        let now: Timestamp = "2026-01-01T00:00:30Z".parse().unwrap();
        // `get pods -w`: a kind listed, which `get` alone prints as a List.
        let options = TableOptions {
            as_list: true,
            ..TableOptions::default()
        };
        let shown = [pod("a", "Pending"), pod("b", "Pending")];
        let format = OutputFormat::JsonPath("{.metadata.name} {.status.phase}{\"\\n\"}".into());
        assert_eq!(
            listing(&shown, &format, &options, now).unwrap(),
            "a Pending\nb Pending\n"
        );
        let mut w = Watcher::new(&shown, &format, &options, now).unwrap();
        assert_eq!(
            w.update(&[pod("a", "Running"), pod("b", "Pending")], now)
                .unwrap(),
            "a Running\n"
        );
        let yaml = listing(&shown, &OutputFormat::Yaml, &options, now).unwrap();
        assert!(yaml.starts_with("apiVersion: v1\nkind: Pod\n"), "{yaml}");
        assert_eq!(yaml.matches("\n---\n").count(), 1, "{yaml}");
    }

    fn namespace(name: &str, phase: &str, deleting: bool) -> Object {
        let mut meta = json!({"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"});
        if deleting {
            meta["deletionTimestamp"] = json!("2026-01-01T00:00:20Z");
        }
        Object::Namespace(
            serde_json::from_value(json!({"metadata": meta, "status": {"phase": phase}})).unwrap(),
        )
    }

    #[test]
    fn a_namespace_goes_through_terminating() {
        let now: Timestamp = "2026-01-01T00:00:30Z".parse().unwrap();
        let options = TableOptions::default();
        let shown = [
            namespace("default", "Active", false),
            namespace("x", "Active", false),
        ];
        let mut w = Watcher::new(&shown, &OutputFormat::Table, &options, now).unwrap();
        // Gone between two polls: Terminating, then gone in that state.
        let out = w.update(&shown[..1], now).unwrap();
        assert_eq!(
            out,
            "x         Terminating   30s\nx         Terminating   30s\n"
        );
        // Seen Terminating before it went: its last state, once.
        let mut w = Watcher::new(&shown, &OutputFormat::Table, &options, now).unwrap();
        let deleting = [shown[0].clone(), namespace("x", "Terminating", true)];
        assert_eq!(
            w.update(&deleting, now).unwrap(),
            "x         Terminating   30s\n"
        );
        assert_eq!(
            w.update(&shown[..1], now).unwrap(),
            "x         Terminating   30s\n"
        );
    }
}
