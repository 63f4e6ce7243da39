//! `pod label` (and, through the same code, `pod annotate`): add, change
//! or remove metadata entries of stored objects.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::GlobalArgs;
use super::resources::{self, Selection};
use crate::api::{Kind, Object, validation};
use crate::error::ApiError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE NAME... or TYPE/NAME..., then KEY=VALUE or KEY- items
    #[arg(required = true)]
    pub items: Vec<String>,

    /// Allow changing an existing value
    #[arg(long)]
    pub overwrite: bool,

    /// Every object of the type in the namespace
    #[arg(long)]
    pub all: bool,
}

/// Which metadata map a command edits, with kubectl's verbs for it.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Labels,
    Annotations,
}

impl Field {
    fn done(self) -> &'static str {
        match self {
            Field::Labels => "labeled",
            Field::Annotations => "annotated",
        }
    }

    fn undone(self) -> &'static str {
        match self {
            Field::Labels => "unlabeled",
            Field::Annotations => "annotated",
        }
    }

    fn unchanged(self) -> &'static str {
        match self {
            Field::Labels => "not labeled",
            Field::Annotations => "not annotated",
        }
    }
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    edit(global, args, Field::Labels)
}

/// A requested change: set `key` to a value, or remove it (`key-`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Set(String, String),
    Remove(String),
}

fn parse_changes(items: &[String]) -> (Vec<String>, Vec<Change>) {
    let mut targets = Vec::new();
    let mut changes = Vec::new();
    for item in items {
        if let Some((k, v)) = item.split_once('=') {
            changes.push(Change::Set(k.to_string(), v.to_string()));
        } else if let Some(k) = item.strip_suffix('-').filter(|_| !targets.is_empty()) {
            changes.push(Change::Remove(k.to_string()));
        } else {
            targets.push(item.clone());
        }
    }
    (targets, changes)
}

pub fn edit(global: &GlobalArgs, args: Args, field: Field) -> Result<()> {
    let (targets, changes) = parse_changes(&args.items);
    if changes.is_empty() {
        bail!(
            "at least one {} update is required",
            match field {
                Field::Labels => "label",
                Field::Annotations => "annotation",
            }
        );
    }
    let store = global.store()?;
    let named: Vec<(Kind, String)> = match resources::parse(&targets)? {
        Selection::Named(named) => named,
        Selection::Kinds(kinds) if args.all => {
            let mut named = Vec::new();
            for kind in kinds {
                for o in crate::objects::list(&store, kind, Some(&global.namespace))? {
                    named.push((kind, o.name().to_string()));
                }
            }
            named
        }
        Selection::Kinds(_) => bail!("resource(s) were provided, but no name was specified"),
    };
    let mut relabelled = false;
    for (kind, name) in named {
        let _lock = store.lock(kind, &global.namespace, &name)?;
        let mut object = crate::objects::get_required(&store, kind, &global.namespace, &name)?;
        let map = match field {
            Field::Labels => &mut object.metadata_mut().labels,
            Field::Annotations => &mut object.metadata_mut().annotations,
        };
        let outcome = apply_changes(map, &changes, args.overwrite)?;
        let causes = validation::validate(&object);
        if !causes.is_empty() {
            return Err(ApiError::Invalid {
                kind: kind.to_string(),
                name: name.clone(),
                causes,
            }
            .into());
        }
        if outcome != Outcome::Unchanged {
            crate::objects::replace(&store, &without_status(object))?;
            relabelled |= matches!(field, Field::Labels)
                && matches!(kind, Kind::Node | Kind::Pod | Kind::Namespace);
        }
        let verb = match outcome {
            Outcome::Set => field.done(),
            Outcome::RemovedOnly => field.undone(),
            Outcome::Unchanged => field.unchanged(),
        };
        outln!("{}/{name} {verb}", kind.singular());
    }
    // The node's labels decide nodeSelector and node affinity, a pod's
    // labels the anti-affinity of others, a namespace's labels their
    // namespaceSelector: waiting pods may fit now, as the
    // scheduler's queue moves them on such an update.
    if relabelled {
        crate::pods::retry_quietly(&store);
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Set,
    RemovedOnly,
    Unchanged,
}

fn apply_changes(
    map: &mut Option<BTreeMap<String, String>>,
    changes: &[Change],
    overwrite: bool,
) -> Result<Outcome> {
    let current = map.get_or_insert_with(BTreeMap::new);
    let before = current.clone();
    let mut set_any = false;
    for change in changes {
        match change {
            Change::Set(k, v) => {
                if let Some(old) = current.get(k).filter(|old| *old != v && !overwrite) {
                    bail!("'{k}' already has a value ({old}), and --overwrite is false");
                }
                current.insert(k.clone(), v.clone());
                set_any = true;
            }
            Change::Remove(k) => {
                current.remove(k);
            }
        }
    }
    let outcome = if *current == before {
        Outcome::Unchanged
    } else if set_any {
        Outcome::Set
    } else {
        Outcome::RemovedOnly
    };
    if current.is_empty() {
        *map = None;
    }
    Ok(outcome)
}

/// Status is the supervisor's; only the manifest is rewritten.
fn without_status(object: Object) -> Object {
    match object {
        Object::Pod(mut pod) => {
            pod.status = None;
            Object::Pod(pod)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn splits_targets_from_changes() {
        let (targets, changes) = parse_changes(&strings("pods nginx app=web tier-"));
        assert_eq!(targets, strings("pods nginx"));
        assert_eq!(
            changes,
            vec![
                Change::Set("app".into(), "web".into()),
                Change::Remove("tier".into())
            ]
        );
    }

    #[test]
    fn refuses_to_overwrite_without_flag() {
        let mut map = Some(BTreeMap::from([("app".to_string(), "web".to_string())]));
        let err =
            apply_changes(&mut map, &[Change::Set("app".into(), "db".into())], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'app' already has a value (web), and --overwrite is false"
        );
        let same = apply_changes(&mut map, &[Change::Set("app".into(), "web".into())], false);
        assert_eq!(same.unwrap(), Outcome::Unchanged);
        let removed = apply_changes(&mut map, &[Change::Remove("app".into())], false);
        assert_eq!(removed.unwrap(), Outcome::RemovedOnly);
        assert_eq!(map, None);
    }
}
