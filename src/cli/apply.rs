//! `pod apply -f`: creates what is missing, updates ConfigMaps and Secrets
//! in place, and refuses changes to a pod's spec as the API server does
//! (pod specs are immutable but for a few fields).

use anyhow::Result;

use super::GlobalArgs;
use super::create;
use crate::api::{FieldError, Object, validation};
use crate::error::ApiError;
use crate::objects::{DryRun, admit_and_store};
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

    /// Output format: yaml, json, name
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<String>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let documents = create::read_documents(&args.filenames, args.recursive, &global.namespace)?;
    let store = global.store()?;
    let mut failures = 0;
    for doc in documents {
        for warning in validation::warnings(&doc.object) {
            eprintln!("Warning: {warning}");
        }
        match apply_one(&store, doc.object.clone(), args.dry_run) {
            Ok(operation) => {
                create::print_outcome(&doc.object, operation, args.dry_run, args.output.as_deref())?
            }
            Err(err) => {
                create::report_source_error("applying patch", &doc.source, err);
                failures += 1;
            }
        }
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

/// Creates or updates one object; returns kubectl's word for what happened.
fn apply_one(store: &Store, mut desired: Object, dry_run: DryRun) -> Result<&'static str> {
    let (kind, namespace, name) = (
        desired.kind(),
        desired.namespace().to_string(),
        desired.name().to_string(),
    );
    // The scheduler's lock comes before the pod's, as everywhere: binding
    // a pod takes the pod's lock.
    let mut queue = match (&desired, dry_run) {
        (Object::Pod(_), DryRun::None) => Some(crate::pods::queue(store)?),
        _ => None,
    };
    let lock = store.lock(kind, &namespace, &name)?;
    let Some(current) = crate::objects::get(store, kind, &namespace, &name)? else {
        // A create takes the object's lock itself (a second flock of the
        // same file by this process would wait for ever), and is atomic
        // on its own: a racing create is AlreadyExists.
        drop(lock);
        if dry_run != DryRun::Client {
            let (warnings, starting) = admit_and_store(store, &mut queue, &mut desired, dry_run)?;
            for warning in warnings {
                eprintln!("Warning: {warning}");
            }
            if let Some(starting) = starting {
                starting.wait(store)?;
            }
        }
        return Ok("created");
    };
    // The server keeps identity and creation time across updates.
    let meta = current.metadata();
    desired.metadata_mut().uid = meta.uid.clone();
    desired.metadata_mut().creation_timestamp = meta.creation_timestamp.clone();
    desired.metadata_mut().resource_version = meta.resource_version.clone();
    if let Object::Namespace(_) = desired {
        desired.metadata_mut().deletion_timestamp = meta.deletion_timestamp.clone();
    }
    let changed = match (&current, &desired) {
        (Object::Pod(old), Object::Pod(new)) => {
            if old.spec != new.spec {
                return Err(ApiError::Invalid {
                    kind: "Pod".into(),
                    name,
                    causes: vec![FieldError::forbidden(
                        "spec",
                        validation::update::POD_UPDATE_FORBIDDEN,
                    )],
                }
                .into());
            }
            old.metadata != new.metadata
        }
        (Object::ConfigMap(old), Object::ConfigMap(new)) => old != new,
        (Object::Secret(old), Object::Secret(new)) => old != new,
        (Object::Namespace(old), Object::Namespace(new)) => {
            old.metadata != new.metadata || old.spec != new.spec
        }
        (Object::PodPreset(old), Object::PodPreset(new)) => old != new,
        _ => unreachable!("objects read by kind have that kind"),
    };
    if !changed {
        return Ok("unchanged");
    }
    if dry_run == DryRun::None {
        if let Object::Pod(pod) = &mut desired {
            pod.status = None;
        }
        if let Object::PodPreset(preset) = &mut desired {
            // Every write is a new version.
            preset.metadata.resource_version = Some(crate::store::version::next(store)?);
        }
        crate::objects::replace(store, &desired)?;
        if !matches!(desired, Object::Pod(_)) {
            crate::runtime::refresh_volumes(store, &desired)?;
        }
    }
    Ok("configured")
}
