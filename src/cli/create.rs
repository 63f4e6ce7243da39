//! `pod create -f FILE`: decode, default, validate, store, start.

use std::collections::VecDeque;

use anyhow::{Result, bail};

use super::GlobalArgs;
use crate::api::decode::{self, Document};
use crate::api::{Object, defaults, validation};
use crate::error::{ApiError, FromSource};
use crate::pods;
use crate::print;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, directories or `-` (stdin) holding the manifests
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub filenames: Vec<String>,

    /// Process the directories given with -f recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,

    /// Only decode, default and validate: none, client or server
    #[arg(long, value_name = "STRATEGY", default_missing_value = "client", num_args = 0..=1, require_equals = true, default_value = "none")]
    pub dry_run: DryRun,

    /// Output format: yaml, json, name (default: a `pod/x created` line)
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// How many supervisors `create` starts before it waits for the first of
/// them to be ready: their start-ups (exec, reading the pod, binding the
/// socket) overlap, while the output stays in the order of the documents.
const STARTING_AT_ONCE: usize = 32;

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    // A bad -o is an error before anything is created, as in kubectl.
    if let Some(format) = &args.output {
        print::OutputFormat::parse(format)?;
    }
    let documents = read_documents(&args.filenames, args.recursive, &global.namespace)?;
    let store = if args.dry_run == DryRun::None {
        Some(global.store()?)
    } else {
        None
    };
    let mut failures = 0;
    let mut pending = VecDeque::new();
    for doc in documents {
        let outcome = match &store {
            Some(store) => store_and_start(store, &doc.object),
            None => Ok(None),
        };
        pending.push_back((doc, outcome));
        if pending.len() > STARTING_AT_ONCE
            && let Some((doc, outcome)) = pending.pop_front()
        {
            failures += report(store.as_ref(), &doc, outcome, &args)?;
        }
    }
    while let Some((doc, outcome)) = pending.pop_front() {
        failures += report(store.as_ref(), &doc, outcome, &args)?;
    }
    if failures > 0 {
        return Err(crate::error::ExitStatus {
            code: 1,
            message: None,
        }
        .into());
    }
    Ok(())
}

/// Stores one object and, for a pod, starts its supervisor.
fn store_and_start(store: &Store, object: &Object) -> Result<Option<pods::Starting>> {
    store.create(object)?;
    match object {
        Object::Pod(pod) => pods::start(store, pod).map(Some),
        _ => Ok(None),
    }
}

/// Prints what became of one document (its warnings, then `created` or
/// its error, as kubectl does object by object) once its supervisor is
/// ready; returns 1 for a failure.
fn report(
    store: Option<&Store>,
    doc: &Document,
    outcome: Result<Option<pods::Starting>>,
    args: &Args,
) -> Result<usize> {
    for warning in validation::warnings(&doc.object) {
        eprintln!("Warning: {warning}");
    }
    let started = outcome.and_then(|starting| match (starting, store) {
        (Some(starting), Some(store)) => starting.wait(store),
        _ => Ok(()),
    });
    if let Err(err) = started {
        report_source_error("creating", &doc.source, err);
        return Ok(1);
    }
    print_outcome(&doc.object, "created", args.dry_run, args.output.as_deref())?;
    Ok(0)
}

/// Reads, decodes, defaults and validates every object named by `-f`.
/// Nothing is stored unless every object is valid, so a bad file never
/// leaves half its objects behind.
pub fn read_documents(
    filenames: &[String],
    recursive: bool,
    namespace: &str,
) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    for source in decode::read_sources(filenames, recursive)? {
        documents.extend(decode::decode(&source)?);
    }
    if documents.is_empty() {
        bail!("no objects passed to create");
    }
    for doc in &mut documents {
        // Fields left out while decoding: said once, for create and apply.
        for warning in &doc.warnings {
            eprintln!("Warning: {warning}");
        }
        defaults::apply(&mut doc.object, namespace);
        let causes = validation::validate(&doc.object);
        if !causes.is_empty() {
            return Err(ApiError::Invalid {
                kind: doc.object.kind().to_string(),
                name: doc.object.name().to_string(),
                causes,
            }
            .into());
        }
    }
    Ok(documents)
}

/// kubectl prints an error per failed object and goes on with the rest.
pub fn report_source_error(verb: &'static str, source: &str, err: anyhow::Error) {
    let err = match err.downcast::<ApiError>() {
        Ok(error) => anyhow::Error::new(FromSource {
            verb,
            source: source.to_string(),
            error,
        }),
        Err(other) => other,
    };
    eprintln!("{}", crate::error::render(&err));
}

/// `pod/nginx created`, or the object in the requested format.
pub fn print_outcome(
    object: &Object,
    operation: &str,
    dry_run: DryRun,
    output: Option<&str>,
) -> Result<()> {
    match output {
        None => println!(
            "{}/{} {operation}{}",
            object.kind().singular(),
            object.name(),
            dry_run.suffix()
        ),
        Some(format) => {
            let format = print::OutputFormat::parse(format)?;
            print!(
                "{}",
                print::render_objects(std::slice::from_ref(object), &format)?
            );
        }
    }
    Ok(())
}
