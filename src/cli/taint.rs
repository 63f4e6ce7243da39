//! `pod taint`: kubectl taint on the node (kubectl's cmd/taint taint.go
//! and utils.go): the same argument rules, error messages, overwrite
//! rule and `tainted` / `untainted` / `modified` outcomes.

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::GlobalArgs;
use crate::api::selector::Selector;
use crate::api::validation::names;
use crate::api::validation::node::TAINT_EFFECTS;
use crate::api::{Kind, Object};
use crate::print::describe::taint_string;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// node NAME..., then KEY=VALUE:EFFECT, KEY:EFFECT to add, KEY:EFFECT- or KEY- to remove
    #[arg(required = true, value_name = "ITEMS")]
    pub items: Vec<String>,

    /// Allow taints to be overwritten
    #[arg(long)]
    pub overwrite: bool,

    /// Select all nodes
    #[arg(long)]
    pub all: bool,

    /// Label selector of the nodes to taint
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
}

/// kubectl's usage errors end with a pointer to the help; on the same
/// line, as every usage error of pod (`src/cli/usage.rs`), so that an
/// error is one line.
fn usage(message: String) -> anyhow::Error {
    anyhow::anyhow!("{message}; see 'pod taint --help'")
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let (resources, specs) = split(&args.items)?;
    if resources.is_empty() {
        bail!("one or more resources must be specified as <resource> <name>");
    }
    if specs.is_empty() {
        bail!("at least one taint update is required");
    }
    let (add, remove) = parse_taints(&specs).map_err(usage)?;
    let kind = Kind::parse(&resources[0].to_lowercase())?;
    if kind != Kind::Node {
        bail!(
            "invalid resource type {}, only node types are supported",
            resources[0].to_lowercase()
        );
    }
    check_conflicts(&add, &remove)?;
    if args.all && args.selector.is_some() {
        bail!("setting 'all' parameter with a non empty selector is prohibited");
    }
    if !args.all && args.selector.is_none() && resources.len() < 2 {
        bail!("at least one resource name must be specified since 'all' parameter is not set");
    }
    let store = global.store()?;
    let names: Vec<String> = if args.all || args.selector.is_some() {
        let selector = args.selector.as_deref().map(Selector::parse).transpose()?;
        crate::objects::list(&store, Kind::Node, None)?
            .into_iter()
            .filter(|o| {
                selector
                    .as_ref()
                    .is_none_or(|s| s.matches(o.metadata().labels.as_ref()))
            })
            .map(|o| o.name().to_string())
            .collect()
    } else {
        resources[1..].to_vec()
    };
    for name in names {
        let _lock = store.lock(Kind::Node, "", &name)?;
        let Object::Node(mut node) = crate::objects::get_required(&store, Kind::Node, "", &name)?
        else {
            unreachable!("a node read as a node");
        };
        let operation = update(&mut node, &add, &remove, args.overwrite, now())?;
        crate::objects::replace(&store, &Object::Node(node))?;
        outln!("node/{name} {operation}");
    }
    // A removed taint may let waiting pods fit.
    crate::pods::retry_quietly(&store);
    Ok(())
}

fn now() -> Time {
    let now = crate::duration::now();
    Time(k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Resources first, then taint changes: an argument with `=` or `:` or a
/// trailing `-` is a change.
fn split(items: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let mut resources = Vec::new();
    let mut specs = Vec::new();
    for item in items {
        let is_taint = item.contains('=') || item.contains(':') || item.ends_with('-');
        match (specs.is_empty(), is_taint) {
            (_, true) => specs.push(item.clone()),
            (true, false) => resources.push(item.clone()),
            (false, false) => bail!("all resources must be specified before taint changes: {item}"),
        }
    }
    Ok((resources, specs))
}

/// `parseTaint`: `key=value:effect`, `key:effect` or `key`.
fn parse_taint(spec: &str) -> Result<Taint, String> {
    let invalid = |why: Vec<String>| {
        if why.is_empty() {
            format!("invalid taint spec: {spec}")
        } else {
            format!("invalid taint spec: {spec}, {}", why.join("; "))
        }
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (key, value, effect) = match parts.as_slice() {
        [key] => (*key, "", ""),
        [kv, effect] => {
            if !TAINT_EFFECTS.contains(effect) {
                return Err(format!(
                    "invalid taint effect: {effect}, unsupported taint effect"
                ));
            }
            let kv: Vec<&str> = kv.split('=').collect();
            match kv.as_slice() {
                [key] => (*key, "", *effect),
                [key, value] => {
                    let errs = names::label_value(value);
                    if !errs.is_empty() {
                        return Err(invalid(errs));
                    }
                    (*key, *value, *effect)
                }
                _ => return Err(invalid(Vec::new())),
            }
        }
        _ => return Err(invalid(Vec::new())),
    };
    let errs = names::qualified_name(key);
    if !errs.is_empty() {
        return Err(invalid(errs));
    }
    Ok(Taint {
        key: key.into(),
        value: (!value.is_empty()).then(|| value.into()),
        effect: effect.into(),
        time_added: None,
    })
}

/// `parseTaints`: taints to add (each with an effect, unique by key and
/// effect) and to remove (`…-`).
fn parse_taints(specs: &[String]) -> Result<(Vec<Taint>, Vec<Taint>), String> {
    let mut add: Vec<Taint> = Vec::new();
    let mut remove = Vec::new();
    for spec in specs {
        if let Some(spec) = spec.strip_suffix('-') {
            let t = parse_taint(spec)?;
            remove.push(Taint { value: None, ..t });
            continue;
        }
        let t = parse_taint(spec)?;
        if t.effect.is_empty() {
            return Err(format!("invalid taint spec: {spec}"));
        }
        if add.iter().any(|a| a.key == t.key && a.effect == t.effect) {
            // Go's %v of the struct: {Key Value Effect TimeAdded}.
            return Err(format!(
                "duplicated taints with the same key and effect: {{{} {} {} <nil>}}",
                t.key,
                t.value.as_deref().unwrap_or(""),
                t.effect
            ));
        }
        add.push(t);
    }
    Ok((add, remove))
}

/// A taint both added and removed in one command.
fn check_conflicts(add: &[Taint], remove: &[Taint]) -> Result<()> {
    let mut conflicts = Vec::new();
    for a in add {
        for r in remove {
            if a.key == r.key && (r.effect.is_empty() || a.effect == r.effect) {
                conflicts.push(format!("{{\"{}\":\"{}\"}}", r.key, r.effect));
            }
        }
    }
    if !conflicts.is_empty() {
        bail!(
            "can not both modify and remove the following taint(s) in the same command: {}",
            conflicts.join(", ")
        );
    }
    Ok(())
}

fn same(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

/// `updateTaints` and `reorganizeTaints`: the node's new taints and the
/// word for what happened. A NoExecute taint added now is stamped with
/// the time, as the API server records `timeAdded`, so a toleration's
/// `tolerationSeconds` counts from it.
fn update(
    node: &mut Node,
    add: &[Taint],
    remove: &[Taint],
    overwrite: bool,
    now: Time,
) -> Result<&'static str> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let spec = node.spec.get_or_insert_with(Default::default);
    let old = spec.taints.clone().unwrap_or_default();
    if !overwrite {
        let exists: Vec<&str> = add
            .iter()
            .flat_map(|a| {
                old.iter()
                    .filter(move |o| same(a, o))
                    .map(|_| a.key.as_str())
            })
            .collect();
        if !exists.is_empty() {
            bail!(
                "node {name} already has {} taint(s) with same effect(s) and --overwrite is false",
                exists.join(",")
            );
        }
    }
    let mut taints: Vec<Taint> = add
        .iter()
        .map(|t| Taint {
            time_added: (t.effect == "NoExecute").then(|| now.clone()),
            ..t.clone()
        })
        .collect();
    for o in &old {
        if !taints.iter().any(|t| same(t, o)) {
            taints.push(o.clone());
        }
    }
    let added = old.len() != taints.len();
    let mut errors = Vec::new();
    let mut removed = false;
    for r in remove {
        let before = taints.len();
        taints.retain(|t| {
            if r.effect.is_empty() {
                t.key != r.key
            } else {
                !same(t, r)
            }
        });
        removed = taints.len() != before;
        if !removed {
            errors.push(format!("taint {:?} not found", taint_string(r)));
        }
    }
    match errors.len() {
        0 => {}
        1 => bail!("{}", errors[0]),
        _ => bail!("[{}]", errors.join(", ")),
    }
    spec.taints = (!taints.is_empty()).then_some(taints);
    Ok(if (added && removed) || overwrite {
        "modified"
    } else if added {
        "tainted"
    } else {
        "untainted"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn node(taints: &[&str]) -> Node {
        let (add, _) = parse_taints(&strings(&taints.join(" "))).unwrap();
        Node {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("box".into()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::core::v1::NodeSpec {
                taints: (!add.is_empty()).then_some(add),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn apply(node: &mut Node, specs: &str, overwrite: bool) -> Result<&'static str, String> {
        let (add, remove) = parse_taints(&strings(specs))?;
        update(
            node,
            &add,
            &remove,
            overwrite,
            Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        )
        .map_err(|e| e.to_string())
    }

    fn shown(node: &Node) -> Vec<String> {
        node.spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .map(taint_string)
            .collect()
    }

    #[test]
    fn specs_parse_as_kubectl_parses_them() {
        let (add, remove) =
            parse_taints(&strings("a=b:NoSchedule c:NoExecute d:NoSchedule- e-")).unwrap();
        assert_eq!(
            add.iter().map(taint_string).collect::<Vec<_>>(),
            ["a=b:NoSchedule", "c:NoExecute"]
        );
        assert_eq!(
            remove.iter().map(taint_string).collect::<Vec<_>>(),
            ["d:NoSchedule", "e"]
        );
        let err = |s: &str| parse_taints(&strings(s)).unwrap_err();
        assert_eq!(
            err("a=b:Sometimes"),
            "invalid taint effect: Sometimes, unsupported taint effect"
        );
        assert!(err("a=b").starts_with("invalid taint spec: a=b, name part must"));
        assert_eq!(err("a"), "invalid taint spec: a");
        assert_eq!(
            err("a=b=c:NoSchedule"),
            "invalid taint spec: a=b=c:NoSchedule"
        );
        assert_eq!(err("a:b:NoSchedule"), "invalid taint spec: a:b:NoSchedule");
        assert!(err("a=b c:NoSchedule").starts_with("invalid taint spec: a=b"));
        assert!(err("a/:NoSchedule").starts_with("invalid taint spec: a/:NoSchedule, "));
        assert!(
            err("a=-x:NoSchedule")
                .starts_with("invalid taint spec: a=-x:NoSchedule, a valid label must")
        );
        assert_eq!(
            err("a=1:NoSchedule a=2:NoSchedule"),
            "duplicated taints with the same key and effect: {a 2 NoSchedule <nil>}"
        );
        assert_eq!(
            split(&strings("node box a=b:NoSchedule other"))
                .unwrap_err()
                .to_string(),
            "all resources must be specified before taint changes: other"
        );
    }

    #[test]
    fn outcomes_and_errors_are_kubectls() {
        let mut n = node(&[]);
        assert_eq!(
            apply(&mut n, "dedicated=gpu:NoSchedule", false),
            Ok("tainted")
        );
        assert_eq!(
            apply(&mut n, "dedicated=cpu:NoSchedule", false),
            Err("node box already has dedicated taint(s) with same effect(s) and --overwrite is false".into())
        );
        assert_eq!(
            apply(&mut n, "dedicated=cpu:NoSchedule", true),
            Ok("modified")
        );
        assert_eq!(shown(&n), ["dedicated=cpu:NoSchedule"]);
        // Same key, another effect: a second taint.
        assert_eq!(apply(&mut n, "dedicated:NoExecute", false), Ok("tainted"));
        assert_eq!(
            shown(&n),
            ["dedicated:NoExecute", "dedicated=cpu:NoSchedule"]
        );
        let stamped = &n.spec.as_ref().unwrap().taints.as_ref().unwrap()[0];
        assert!(
            stamped.time_added.is_some(),
            "NoExecute taints carry timeAdded"
        );
        assert_eq!(
            apply(&mut n, "dedicated:NoSchedule-", false),
            Ok("untainted")
        );
        assert_eq!(shown(&n), ["dedicated:NoExecute"]);
        assert_eq!(
            apply(&mut n, "gpu:NoSchedule dedicated-", false),
            Ok("modified")
        );
        assert_eq!(shown(&n), ["gpu:NoSchedule"]);
        assert_eq!(
            apply(&mut n, "missing-", false),
            Err("taint \"missing\" not found".into())
        );
        assert_eq!(
            apply(&mut n, "missing:NoExecute- other-", false),
            Err("[taint \"missing:NoExecute\" not found, taint \"other\" not found]".into())
        );
        assert_eq!(
            shown(&n),
            ["gpu:NoSchedule"],
            "nothing changed by a failed command"
        );
        assert_eq!(apply(&mut n, "gpu-", false), Ok("untainted"));
        assert!(n.spec.as_ref().unwrap().taints.is_none());
    }

    #[test]
    fn adding_and_removing_one_taint_is_refused() {
        let (add, remove) = parse_taints(&strings("a=b:NoSchedule a-")).unwrap();
        assert_eq!(
            check_conflicts(&add, &remove).unwrap_err().to_string(),
            "can not both modify and remove the following taint(s) in the same command: {\"a\":\"\"}"
        );
    }
}
