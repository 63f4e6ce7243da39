//! Completion values that come from the state directory: pod names,
//! container names, the names of a resource type. The shells (through
//! clap_complete's dynamic completion) and the REPL ask the same functions.
//!
//! A completer gets only the word being completed, but the answer depends
//! on the rest of the line (`-n`, `--root`, the pod before `-c`, the type
//! before a name). The line is therefore kept here, set by whoever starts
//! a completion, and parsed leniently (clap's `ignore_errors`) since it is
//! half typed.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::Mutex;

use clap::ArgMatches;
use clap_complete::engine::{CompletionCandidate, ValueCompleter};
use k8s_openapi::api::core::v1::Pod;

use crate::api::{Kind, Object};
use crate::store::Store;

/// The words of the command line being completed, starting with `pod`.
static LINE: Mutex<Option<Vec<OsString>>> = Mutex::new(None);

/// Sets the command line being completed (the REPL does this before each
/// completion; shells pass it as arguments after `--`).
pub fn set_line(words: Vec<OsString>) {
    *LINE.lock().unwrap_or_else(|e| e.into_inner()) = Some(words);
}

fn line() -> Vec<OsString> {
    if let Some(words) = LINE.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return words;
    }
    // A shell's request: `pod -- pod get pods <current>`.
    std::env::args_os()
        .skip_while(|a| a != "--")
        .skip(1)
        .collect()
}

/// What the half-typed line says, as far as completion cares.
struct Line {
    matches: Option<ArgMatches>,
}

impl Line {
    fn parse() -> Line {
        let mut words = line();
        if words.is_empty() {
            words.push("pod".into());
        }
        let matches = super::command()
            .ignore_errors(true)
            .try_get_matches_from(words)
            .ok();
        Line { matches }
    }

    fn store(&self) -> Option<Store> {
        let m = self.matches.as_ref()?;
        let root = m.get_one::<PathBuf>("root")?;
        let run_root = m.get_one::<PathBuf>("run_root")?;
        // Completion must not create a state directory that is not there.
        if !root.is_dir() {
            return None;
        }
        Store::open(root, run_root).ok()
    }

    /// The namespace to look in, or `None` with `-A`.
    fn namespace(&self) -> Option<String> {
        let m = self.matches.as_ref();
        let all = m.is_some_and(|m| m.get_flag("all_namespaces"))
            || self
                .sub()
                .is_some_and(|s| matches!(s.try_get_one::<bool>("all_namespaces"), Ok(Some(true))));
        if all {
            return None;
        }
        let from = |m: &ArgMatches| m.try_get_one::<String>("namespace").ok().flatten().cloned();
        Some(
            self.sub()
                .and_then(from)
                .or_else(|| m.and_then(from))
                .unwrap_or_else(|| "default".to_string()),
        )
    }

    /// The matches of the innermost subcommand.
    fn sub(&self) -> Option<&ArgMatches> {
        let mut m = self.matches.as_ref()?;
        while let Some((_, sub)) = m.subcommand() {
            m = sub;
        }
        Some(m)
    }

    fn sub_value(&self, id: &str) -> Option<String> {
        self.sub()?
            .try_get_one::<String>(id)
            .ok()
            .flatten()
            .cloned()
    }

    fn sub_values(&self, id: &str) -> Vec<String> {
        self.sub()
            .and_then(|m| m.try_get_many::<String>(id).ok().flatten())
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    }
}

fn names(line: &Line, kind: Kind) -> Vec<String> {
    let Some(store) = line.store() else {
        return Vec::new();
    };
    let namespace = line.namespace();
    crate::objects::list(&store, kind, namespace.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|o| o.name().to_string())
        .collect()
}

fn candidates(
    values: impl IntoIterator<Item = String>,
    current: &OsStr,
) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let mut values: Vec<String> = values
        .into_iter()
        .filter(|v| v.starts_with(current.as_ref()))
        .collect();
    values.sort();
    values.dedup();
    values.into_iter().map(CompletionCandidate::new).collect()
}

/// The namespaces there are.
pub fn namespaces(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(store) = Line::parse().store() else {
        return Vec::new();
    };
    let found = store
        .list(Kind::Namespace, None)
        .unwrap_or_default()
        .iter()
        .map(|o| o.name().to_string())
        .collect::<Vec<_>>();
    candidates(found, current)
}

/// The names of the pods in the line's namespace.
pub fn pods(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(names(&Line::parse(), Kind::Pod), current)
}

/// The containers (init, app, ephemeral) of the pod named on the line.
pub fn containers(current: &OsStr) -> Vec<CompletionCandidate> {
    let line = Line::parse();
    let Some(pod) = line.sub_value("pod") else {
        return Vec::new();
    };
    let pod = pod.strip_prefix("pod/").unwrap_or(&pod);
    let (Some(store), Some(namespace)) = (line.store(), line.namespace()) else {
        return Vec::new();
    };
    let Ok(Some(Object::Pod(pod))) = store.get(Kind::Pod, &namespace, pod) else {
        return Vec::new();
    };
    candidates(container_names(&pod), current)
}

/// The container ports of the pod named on the line, by number and by
/// name (`port-forward`'s REMOTE_PORT).
pub fn ports(current: &OsStr) -> Vec<CompletionCandidate> {
    let line = Line::parse();
    let Some(pod) = line.sub_value("pod") else {
        return Vec::new();
    };
    let pod = pod.strip_prefix("pod/").unwrap_or(&pod);
    let (Some(store), Some(namespace)) = (line.store(), line.namespace()) else {
        return Vec::new();
    };
    let Ok(Some(Object::Pod(pod))) = store.get(Kind::Pod, &namespace, pod) else {
        return Vec::new();
    };
    candidates(container_ports(&pod), current)
}

/// Every container port of `pod` (app and init containers): its number,
/// and its name when it has one.
pub fn container_ports(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .flat_map(|p| std::iter::once(p.container_port.to_string()).chain(p.name.clone()))
        .collect()
}

/// Every container name of `pod`, app containers first.
pub fn container_names(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(|c| &c.name);
    spec.containers
        .iter()
        .map(|c| &c.name)
        .chain(spec.init_containers.iter().flatten().map(|c| &c.name))
        .chain(ephemeral)
        .cloned()
        .collect()
}

/// `TYPE NAME...` and `TYPE/NAME` arguments (get, describe, delete): the
/// types first, then names of the type given first.
#[derive(Debug, Clone, Copy)]
pub struct Resources;

const TYPES: [&str; 6] = [
    "pods",
    "configmaps",
    "secrets",
    "namespaces",
    "podpresets",
    "nodes",
];

impl ValueCompleter for Resources {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        let line = Line::parse();
        let text = current.to_string_lossy();
        if let Some((word, _)) = text.split_once('/') {
            let Ok(kind) = Kind::parse(word) else {
                return Vec::new();
            };
            let prefixed = names(&line, kind)
                .into_iter()
                .map(|n| format!("{word}/{n}"));
            return candidates(prefixed, current);
        }
        // The word being completed is the last of the values the lenient
        // parse found (clap_complete's own index does not count values of
        // a positional reliably).
        let typed = line.sub_values("resources");
        if typed.len() <= 1 {
            return candidates(TYPES.iter().map(|t| t.to_string()), current);
        }
        let first = typed.into_iter().next();
        match first.as_deref().map(|t| t.split(',').collect::<Vec<_>>()) {
            Some(types) if types.len() == 1 => match Kind::parse(types[0]) {
                Ok(kind) => candidates(names(&line, kind), current),
                Err(_) => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_listed_app_first() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [{"name": "setup"}],
                "containers": [{"name": "nginx"}, {"name": "shell"}]
            }
        }))
        .unwrap();
        assert_eq!(container_names(&pod), ["nginx", "shell", "setup"]);
    }

    #[test]
    fn ports_are_offered_by_number_and_name() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [{"name": "proxy", "ports": [{"containerPort": 9090}]}],
                "containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 80}]}]
            }
        }))
        .unwrap();
        assert_eq!(container_ports(&pod), ["80", "http", "9090"]);
    }

    #[test]
    fn types_complete_by_prefix() {
        let got: Vec<_> = candidates(TYPES.iter().map(|t| t.to_string()), OsStr::new("co"))
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["configmaps"]);
    }
}
