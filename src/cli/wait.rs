//! `pod wait`: wait for a condition, deletion or a jsonpath value.

use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};

use super::GlobalArgs;
use super::resources;
use crate::api::{Kind, Object};
use crate::duration;
use crate::error::ApiError;
use crate::print::jsonpath::{self, JsonPath};
use crate::store::changes::{Follower, Scope};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE/NAME or TYPE NAME...
    pub resources: Vec<String>,

    /// condition=NAME[=value], delete, create, or jsonpath='{...}'=value
    #[arg(long = "for", value_name = "CONDITION", required = true)]
    pub condition: String,

    /// How long to wait (30s, 5m; 0 checks once)
    #[arg(long, default_value = "30s")]
    pub timeout: String,

    /// Label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Every object of the given types
    #[arg(long)]
    pub all: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let condition = Condition::parse(&args.condition)?;
    let timeout = duration::parse(&args.timeout).map_err(|e| anyhow!("invalid --timeout: {e}"))?;
    let store = global.store()?;
    let targets = resources::targets(
        global,
        &store,
        &args.resources,
        args.all,
        args.selector.as_deref(),
    )?;
    if targets.is_empty() {
        bail!("no matching resources found");
    }
    // Followed from before the first read, so no change falls between a
    // read and the wait after it.
    let mut follower = Follower::new(store.root(), scope(&targets));
    let deadline = Instant::now() + timeout;
    for (kind, namespace, name) in targets {
        loop {
            let object = crate::objects::get(&store, kind, &namespace, &name)?;
            if condition.met(object.as_ref(), kind, &name)? {
                outln!("{}/{name} condition met", kind.singular());
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "timed out waiting for the condition on {}/{name}",
                    kind.resource()
                );
            }
            follower
                .wait(left)
                .context("following the state directory's changes")?;
        }
    }
    // The answer is out; the exit would still wait for the kernel to
    // release the inotify instance (a grace period, above 10 ms under
    // load), and so would whoever waits for this command.
    if let Some(instance) = follower.into_instance() {
        crate::process::after_exit::close_after_exit(instance);
    }
    Ok(())
}

/// What the targets' reads depend on: their kinds, their namespace when
/// they share one, their names.
fn scope(targets: &[(Kind, String, String)]) -> Scope {
    let mut kinds: Vec<Kind> = targets.iter().map(|(k, _, _)| *k).collect();
    kinds.sort();
    kinds.dedup();
    let mut namespaces = targets
        .iter()
        .filter(|(k, _, _)| k.namespaced())
        .map(|(_, ns, _)| ns);
    let namespace = match namespaces.next() {
        Some(first) if namespaces.all(|ns| ns == first) => Some(first.clone()),
        _ => None,
    };
    Scope {
        kinds: Some(kinds),
        namespace,
        names: Some(targets.iter().map(|(_, _, n)| n.clone()).collect()),
    }
}

/// What `--for` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Delete,
    Create,
    /// A status condition of this type with this status (kubectl compares
    /// both ignoring case).
    Status {
        type_: String,
        status: String,
    },
    /// A jsonpath whose single value equals this, or, without a value,
    /// that finds anything.
    JsonPath {
        path: String,
        value: Option<String>,
    },
}

impl Condition {
    fn parse(text: &str) -> Result<Condition> {
        let lower = text.to_ascii_lowercase();
        if lower == "delete" {
            return Ok(Condition::Delete);
        }
        if lower == "create" {
            return Ok(Condition::Create);
        }
        if let Some(rest) = text.strip_prefix("condition=") {
            let (type_, status) = match rest.split_once('=') {
                Some((t, s)) => (t, s),
                None => (rest, "true"),
            };
            if type_.is_empty() {
                bail!("condition name cannot be empty");
            }
            return Ok(Condition::Status {
                type_: type_.into(),
                status: status.into(),
            });
        }
        if let Some(rest) = text.strip_prefix("jsonpath=") {
            // `{.status.phase}=Succeeded`: the value follows the closing
            // brace of the expression.
            let (path, value) = match rest.rfind("}=") {
                Some(i) => (&rest[..=i], Some(rest[i + 2..].to_string())),
                None => (rest, None),
            };
            if !path.starts_with('{') || !path.ends_with('}') {
                bail!("unrecognized JSONPath expression {path:?}: it must be wrapped in {{}}");
            }
            JsonPath::parse(path).map_err(|e| anyhow!("{}", e.0))?;
            return Ok(Condition::JsonPath {
                path: path.into(),
                value,
            });
        }
        bail!("unrecognized condition: {text:?}")
    }

    fn met(&self, object: Option<&Object>, kind: Kind, name: &str) -> Result<bool> {
        let object = match (self, object) {
            (Condition::Delete, found) => return Ok(found.is_none()),
            (Condition::Create, found) => return Ok(found.is_some()),
            (_, Some(o)) => o,
            (_, None) => {
                return Err(ApiError::NotFound {
                    resource: kind.resource().into(),
                    name: name.into(),
                }
                .into());
            }
        };
        let value = object.to_json();
        Ok(match self {
            Condition::Status { type_, status } => value["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| {
                    c["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(type_))
                        && c["status"]
                            .as_str()
                            .is_some_and(|s| s.eq_ignore_ascii_case(status))
                }),
            Condition::JsonPath { path, value: want } => {
                let parsed = JsonPath::parse(path).map_err(|e| anyhow!("{}", e.0))?;
                let found = parsed.values(&value).unwrap_or_default();
                match (want, found.as_slice()) {
                    (None, found) => !found.is_empty(),
                    (Some(want), [one]) => jsonpath::to_text(one) == *want,
                    (Some(_), _) => false,
                }
            }
            Condition::Delete | Condition::Create => unreachable!("answered above"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_for_forms() {
        assert_eq!(Condition::parse("delete").unwrap(), Condition::Delete);
        assert_eq!(
            Condition::parse("condition=Ready").unwrap(),
            Condition::Status {
                type_: "Ready".into(),
                status: "true".into()
            }
        );
        assert_eq!(
            Condition::parse("condition=Ready=false").unwrap(),
            Condition::Status {
                type_: "Ready".into(),
                status: "false".into()
            }
        );
        assert_eq!(
            Condition::parse("jsonpath={.status.phase}=Succeeded").unwrap(),
            Condition::JsonPath {
                path: "{.status.phase}".into(),
                value: Some("Succeeded".into())
            }
        );
        assert_eq!(
            Condition::parse("bogus").unwrap_err().to_string(),
            "unrecognized condition: \"bogus\""
        );
    }

    #[test]
    fn conditions_and_jsonpaths_are_checked_on_the_object() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let object = Object::Pod(Box::new(pod));
        let met = |c: &str| {
            Condition::parse(c)
                .unwrap()
                .met(Some(&object), Kind::Pod, "web")
                .unwrap()
        };
        assert!(met("condition=Ready"));
        assert!(met("condition=ready=TRUE"));
        assert!(!met("condition=Ready=False"));
        assert!(met("jsonpath={.status.phase}=Running"));
        assert!(!met("jsonpath={.status.phase}=Succeeded"));
        assert!(met("jsonpath={.status.phase}"));
        assert!(!met("delete"));
        let missing = Condition::parse("condition=Ready")
            .unwrap()
            .met(None, Kind::Pod, "web");
        assert_eq!(missing.unwrap_err().to_string(), "pods \"web\" not found");
    }
}
