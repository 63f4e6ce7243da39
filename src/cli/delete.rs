//! `pod delete`: by name, by file, by label or all; pods are stopped by
//! their supervisor first.

use anyhow::{Result, bail};

use super::GlobalArgs;
use super::resources::{self, Target};
use crate::api::Kind;
use crate::error::ApiError;
use crate::objects::delete_one;
use crate::pods::{self, Termination};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE [NAME...] or TYPE/NAME...
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(super::candidates::Resources))]
    pub resources: Vec<String>,

    /// Files, directories or `-` naming the objects to delete
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub filenames: Vec<String>,

    /// Process the directories given with -f recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,

    /// Delete every object of the given types in the namespace
    #[arg(long)]
    pub all: bool,

    /// Label selector (=, ==, !=, in, notin, key, !key)
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Seconds given to the pod to end gracefully (-1: the pod's own)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true, value_name = "SECONDS")]
    pub grace_period: i64,

    /// With --grace-period=0: delete immediately, without waiting
    #[arg(long)]
    pub force: bool,

    /// Same as --grace-period=1
    #[arg(long)]
    pub now: bool,

    /// Wait for the objects to be gone before returning
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub wait: bool,

    /// Treat "not found" as success
    #[arg(long)]
    pub ignore_not_found: bool,

    /// Output format: name
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<String>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    if let Some(o) = args.output.as_deref().filter(|o| *o != "name") {
        bail!(
            "unable to match a printer suitable for the output format \"{o}\", allowed formats are: name"
        );
    }
    let grace = grace_period(&args)?;
    let targets = targets(global, &store, &args)?;
    let mut errors = Vec::new();
    if targets.is_empty() {
        eprintln!("No resources found");
        return Ok(());
    }
    // Like kubectl, every object is asked to go before any is waited for:
    // pods end their grace periods side by side, not one after another.
    // Namespaces go after the other objects: deleting one deletes what is
    // in it, which must not race the deletion of those same objects named
    // beside it (`delete -f` of a file with a namespace and its pods).
    let mut outcomes: Vec<Option<Result<bool>>> = targets.iter().map(|_| None).collect();
    for namespaces in [false, true] {
        std::thread::scope(|scope| {
            let handles: Vec<_> = targets
                .iter()
                .enumerate()
                .filter(|(_, (kind, _, _))| (*kind == Kind::Namespace) == namespaces)
                .map(|(i, (kind, namespace, name))| {
                    let store = &store;
                    let handle = scope
                        .spawn(move || delete_one(store, *kind, namespace, name, grace, args.wait));
                    (i, handle)
                })
                .collect();
            for (i, handle) in handles {
                outcomes[i] = Some(
                    handle
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("deleting failed unexpectedly"))),
                );
            }
        });
    }
    let outcomes: Vec<Result<bool>> = outcomes
        .into_iter()
        .map(|o| o.expect("every target was deleted in one of the phases"))
        .collect();
    // A deleted pod (a namespace's too) may leave room for one that waits.
    if targets
        .iter()
        .zip(&outcomes)
        .any(|((kind, _, _), outcome)| {
            matches!(kind, Kind::Pod | Kind::Namespace) && matches!(outcome, Ok(true))
        })
    {
        pods::retry_quietly(&store);
    }
    for ((kind, _, name), outcome) in targets.into_iter().zip(outcomes) {
        match outcome {
            Ok(true) => print_deleted(kind, &name, &args, grace),
            Ok(false) if args.ignore_not_found => {}
            Ok(false) => errors.push(
                ApiError::NotFound {
                    resource: kind.resource().into(),
                    name: name.clone(),
                }
                .into(),
            ),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(()),
        _ => {
            let last = errors.pop();
            for e in &errors {
                eprintln!("{}", crate::error::render(e));
            }
            Err(last.expect("at least one error"))
        }
    }
}

fn grace_period(args: &Args) -> Result<Termination> {
    if args.now {
        return Ok(Termination::Grace(1));
    }
    match args.grace_period {
        0 if !args.force => bail!("--grace-period=0 requires --force for immediate deletion"),
        0 => {
            eprintln!(
                "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely."
            );
            Ok(Termination::Immediate)
        }
        // kubectl turns a negative period into "the object's own".
        n if n < 0 => Ok(Termination::PodDefault),
        n => Ok(Termination::Grace(n as u64)),
    }
}

/// The objects of `-f FILE`, or those the resource arguments select.
fn targets(global: &GlobalArgs, store: &Store, args: &Args) -> Result<Vec<Target>> {
    if args.filenames.is_empty() {
        return resources::targets(
            global,
            store,
            &args.resources,
            args.all,
            args.selector.as_deref(),
        );
    }
    let documents =
        super::create::read_documents(&args.filenames, args.recursive, &global.namespace)?;
    Ok(documents
        .iter()
        .map(|doc| {
            let o = &doc.object;
            (o.kind(), o.namespace().to_string(), o.name().to_string())
        })
        .collect())
}

/// kubectl 1.33's wording (`pod "nginx" deleted`), kept to one version.
fn print_deleted(kind: Kind, name: &str, args: &Args, grace: Termination) {
    if args.output.as_deref() == Some("name") {
        outln!("{}/{name}", kind.singular());
        return;
    }
    let verb = if grace == Termination::Immediate {
        "force deleted"
    } else {
        "deleted"
    };
    outln!("{} \"{name}\" {verb}", kind.singular());
}
