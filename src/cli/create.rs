//! `pod create -f FILE`: decode, default, validate, admit, store, start;
//! `pod create namespace NAME`.

use std::collections::VecDeque;

use anyhow::{Result, bail};

use super::GlobalArgs;
use crate::api::decode::{self, Document};
use crate::api::{Kind, Object, defaults, validation};
use crate::error::{ApiError, FromSource};
use crate::objects::{DryRun, admit_and_store};
use crate::pods;
use crate::print;
use crate::store::Store;

#[derive(Debug, clap::Args)]
#[command(
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
pub struct Args {
    /// An object made from its name rather than from a manifest
    #[command(subcommand)]
    pub generate: Option<Generate>,

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

#[derive(Debug, clap::Subcommand)]
pub enum Generate {
    /// Create a namespace with the given name
    #[command(visible_alias = "ns")]
    Namespace {
        name: String,
        /// Only default and validate: none, client or server
        #[arg(long, value_name = "STRATEGY", default_missing_value = "client", num_args = 0..=1, require_equals = true, default_value = "none")]
        dry_run: DryRun,
        /// Output format: yaml, json, name (default: a `namespace/x created` line)
        #[arg(short = 'o', long, value_name = "FORMAT")]
        output: Option<String>,
    },
}

/// How many supervisors `create` starts before it waits for the first of
/// them to be ready: their start-ups (exec, reading the pod, binding the
/// socket) overlap, while the output stays in the order of the documents.
const STARTING_AT_ONCE: usize = 32;

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    if let Some(Generate::Namespace {
        name,
        dry_run,
        output,
    }) = &args.generate
    {
        return create_namespace(global, name, *dry_run, output.as_deref());
    }
    // A bad -o is an error before anything is created, as in kubectl.
    if let Some(format) = &args.output {
        print::OutputFormat::parse(format)?;
    }
    let (documents, unmapped) =
        read_documents_partial(&args.filenames, args.recursive, &global.namespace)?;
    // A server dry run goes through the admission (namespaces, presets)
    // without storing.
    let store = if args.dry_run == DryRun::Client {
        None
    } else {
        Some(global.store()?)
    };
    let mut failures = 0;
    let mut pending = VecDeque::new();
    // The scheduler's queue, locked from the first pod to the end: the
    // pods of one file are placed one after the other, each seeing those
    // bound before it.
    let mut queue = None;
    for mut doc in documents {
        let outcome = match &store {
            Some(store) => admit_and_store(store, &mut queue, &mut doc.object, args.dry_run),
            None => Ok((Vec::new(), None)),
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
    finish(failures, unmapped)
}

/// The end of a create: documents of kinds `pod` does not serve are
/// reported last, as kubectl's aggregate of errors is (`error: ` before
/// the only error of a run, none before each of several), and any failure
/// is exit status 1.
fn finish(failures: usize, unmapped: Vec<decode::DecodeError>) -> Result<()> {
    if failures == 0 {
        let errors = unmapped.into_iter().map(anyhow::Error::from).collect();
        return match crate::error::aggregate(errors) {
            Some(err) => Err(err),
            None => Ok(()),
        };
    }
    for err in &unmapped {
        eprintln!("{err}");
    }
    Err(crate::error::ExitStatus {
        code: 1,
        message: None,
    }
    .into())
}

/// `pod create namespace NAME`.
fn create_namespace(
    global: &GlobalArgs,
    name: &str,
    dry_run: DryRun,
    output: Option<&str>,
) -> Result<()> {
    if let Some(format) = output {
        print::OutputFormat::parse(format)?;
    }
    let mut object = Object::Namespace(k8s_openapi::api::core::v1::Namespace {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    });
    defaults::apply(&mut object, "");
    let causes = validation::validate(&object);
    if !causes.is_empty() {
        return Err(ApiError::Invalid {
            kind: Kind::Namespace.to_string(),
            name: name.to_string(),
            causes,
        }
        .into());
    }
    if dry_run == DryRun::None {
        global.store()?.create(&object)?;
    } else if dry_run == DryRun::Server {
        let store = global.store()?;
        if store.get(Kind::Namespace, "", name)?.is_some() {
            return Err(ApiError::AlreadyExists {
                resource: Kind::Namespace.resource().into(),
                name: name.to_string(),
            }
            .into());
        }
    }
    print_outcome(&object, "created", dry_run, output)
}

/// Prints what became of one document (its warnings, then `created` or
/// its error, as kubectl does object by object) once its supervisor is
/// ready; returns 1 for a failure.
fn report(
    store: Option<&Store>,
    doc: &Document,
    outcome: Result<(Vec<String>, Option<pods::Starting>)>,
    args: &Args,
) -> Result<usize> {
    for warning in validation::warnings(&doc.object) {
        eprintln!("Warning: {warning}");
    }
    let outcome = outcome.map(|(warnings, starting)| {
        for warning in warnings {
            eprintln!("Warning: {warning}");
        }
        starting
    });
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
    let (documents, mut unmapped) = read_documents_partial(filenames, recursive, namespace)?;
    if !unmapped.is_empty() {
        return Err(unmapped.remove(0).into());
    }
    Ok(documents)
}

/// Like [`read_documents`], with the documents of kinds `pod` does not
/// serve set aside with their errors rather than failing the whole read
/// (kubectl maps each document on its own).
pub fn read_documents_partial(
    filenames: &[String],
    recursive: bool,
    namespace: &str,
) -> Result<(Vec<Document>, Vec<decode::DecodeError>)> {
    let mut documents = Vec::new();
    let mut unmapped = Vec::new();
    for source in decode::read_sources(filenames, recursive)? {
        let (found, others) = decode::decode_all(&source)?;
        documents.extend(found);
        unmapped.extend(others);
    }
    if documents.is_empty() && unmapped.is_empty() {
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
    Ok((documents, unmapped))
}

/// kubectl prints an error per failed object and goes on with the rest.
pub fn report_source_error(verb: &'static str, source: &str, err: anyhow::Error) {
    let err = match crate::error::into_api(err) {
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
        None => outln!(
            "{}/{} {operation}{}",
            object.kind().singular(),
            object.name(),
            dry_run.suffix()
        ),
        Some(format) => {
            let format = print::OutputFormat::parse(format)?;
            out!(
                "{}",
                print::render_objects(std::slice::from_ref(object), &format)?
            );
        }
    }
    Ok(())
}
