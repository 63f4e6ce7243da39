//! Resource arguments the kubectl way: `pods`, `pod nginx`, `po/nginx`,
//! `pods,configmaps`, `cm/a cm/b`.

use anyhow::{Result, bail};

use super::GlobalArgs;
use crate::api::Kind;
use crate::api::selector::Selector;
use crate::store::{Detail, Store, StoreError};

/// What the positional arguments of get/describe/delete name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every object of these kinds (`get pods,cm`).
    Kinds(Vec<Kind>),
    /// These objects by name (`get pod a b`, `get po/a cm/b`).
    Named(Vec<(Kind, String)>),
}

/// Parses `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
pub fn parse(args: &[String]) -> Result<Selection> {
    let Some(first) = args.first() else {
        bail!(
            "You must specify the type of resource to get. Valid resource types include: pods (po), configmaps (cm), secrets, namespaces (ns), nodes (no), podpresets"
        );
    };
    // kubectl's hasCombinedTypeArgs: once one argument is TYPE/NAME, all
    // are (a slash in a bare name never reaches a path).
    if args.iter().any(|a| a.contains('/')) {
        let mut named = Vec::new();
        for arg in args {
            let Some((kind, name)) = arg.split_once('/') else {
                bail!(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'pod get resource/<resource_name>' instead of 'pod get resource resource/<resource_name>')"
                );
            };
            if name.is_empty() {
                bail!("arguments in resource/name form must have a single resource and name");
            }
            named.push((Kind::parse(kind)?, name.to_string()));
        }
        return Ok(Selection::Named(named));
    }
    let mut kinds = Vec::new();
    for word in first.split(',').filter(|w| !w.is_empty()) {
        let kind = Kind::parse(word)?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let names = &args[1..];
    if names.is_empty() {
        return Ok(Selection::Kinds(kinds));
    }
    if kinds.len() != 1 {
        bail!("you may only specify a single resource type when naming objects");
    }
    Ok(Selection::Named(
        names.iter().map(|n| (kinds[0], n.clone())).collect(),
    ))
}

/// An object a command acts on: kind, namespace, name.
pub type Target = (Kind, String, String);

/// The objects `delete` and `wait` act on: the named ones, or every object
/// of the given kinds matching `-l` (or all of them with `--all`), with
/// kubectl's errors for the combinations it refuses.
pub fn targets(
    global: &GlobalArgs,
    store: &Store,
    resources: &[String],
    all: bool,
    selector: Option<&str>,
) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    match parse(resources)? {
        Selection::Named(named) => {
            if all || selector.is_some() {
                bail!("name cannot be provided when a selector or --all is specified");
            }
            for (kind, name) in named {
                out.push((kind, global.namespace.clone(), name));
            }
        }
        Selection::Kinds(kinds) => {
            let everything = selector.is_none();
            let selector = match (selector, all) {
                (Some(s), _) => Selector::parse(s)?,
                (None, true) => Selector::default(),
                (None, false) => bail!("resource(s) were provided, but no name was specified"),
            };
            for kind in kinds {
                // Names and labels are all it needs: a pod's corrupt status
                // record must not keep its deletion from being found.
                for read in crate::objects::list_each(
                    store,
                    kind,
                    global.list_namespace(),
                    Detail::Manifest,
                )? {
                    let object = match read {
                        Ok(object) => object,
                        // A pod whose manifest is damaged has no labels to
                        // match, but --all takes it (by its directory).
                        Err(StoreError::Corrupt { path, .. })
                            if everything && kind == Kind::Pod =>
                        {
                            if let Some((ns, name)) = pod_of_record(&path) {
                                out.push((kind, ns, name));
                            }
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    };
                    if selector.matches(object.metadata().labels.as_ref()) {
                        let (ns, name) = (object.namespace(), object.name());
                        out.push((kind, ns.to_string(), name.to_string()));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The namespace and name of a pod from its record's path
/// (`.../pods/<ns>/<name>/pod.json`).
fn pod_of_record(path: &std::path::Path) -> Option<(String, String)> {
    let dir = path.parent()?;
    let name = dir.file_name()?.to_str()?;
    let namespace = dir.parent()?.file_name()?.to_str()?;
    Some((namespace.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn kinds_and_short_names() {
        assert_eq!(
            parse(&args("po,cm")).unwrap(),
            Selection::Kinds(vec![Kind::Pod, Kind::ConfigMap])
        );
        assert_eq!(
            parse(&args("pod nginx web")).unwrap(),
            Selection::Named(vec![(Kind::Pod, "nginx".into()), (Kind::Pod, "web".into())])
        );
        assert_eq!(
            parse(&args("po/nginx cm/conf")).unwrap(),
            Selection::Named(vec![
                (Kind::Pod, "nginx".into()),
                (Kind::ConfigMap, "conf".into())
            ])
        );
    }

    #[test]
    fn a_slash_in_a_bare_name_is_kubectls_error() {
        let err = parse(&args("pod ../x")).unwrap_err().to_string();
        assert!(
            err.starts_with("there is no need to specify a resource type"),
            "{err}"
        );
        assert_eq!(
            parse(&args("pod/../x")).unwrap(),
            Selection::Named(vec![(Kind::Pod, "../x".into())]),
            "the name is refused by the store, as client-go refuses it"
        );
    }

    #[test]
    fn unknown_kind_names_supported_kinds() {
        let err = parse(&args("deployments")).unwrap_err().to_string();
        assert!(err.contains("\"deployments\""), "{err}");
        assert!(err.contains("pods (po)"), "{err}");
    }
}
