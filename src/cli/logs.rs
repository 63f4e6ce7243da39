//! `pod logs`: read a container's CRI log files.

use std::io::Write;

use anyhow::{Result, anyhow, bail};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};
use crate::api::{Kind, Object};
use crate::duration;
use crate::error::ApiError;
use crate::pods::logs::{self, Filter, Source};
use crate::store::crilog::Line;
use crate::store::{Detail, StoreError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pod (POD or pod/POD)
    #[arg(add = ArgValueCompleter::new(candidates::pods))]
    pub pod: String,

    /// The container
    #[arg(short = 'c', long, add = ArgValueCompleter::new(candidates::containers))]
    pub container: Option<String>,

    /// Logs of every container of the pod
    #[arg(long)]
    pub all_containers: bool,

    /// Prefix each line with the pod and container name
    #[arg(long)]
    pub prefix: bool,

    /// Follow the log
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// The previous instance of the container
    #[arg(short = 'p', long)]
    pub previous: bool,

    /// Lines from the end to show (-1: all)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,

    /// Only lines newer than this duration (5s, 2m, 3h)
    #[arg(long)]
    pub since: Option<String>,

    /// Only lines after this RFC3339 time
    #[arg(long)]
    pub since_time: Option<String>,

    /// Show each line's timestamp
    #[arg(long)]
    pub timestamps: bool,

    /// Maximum bytes to show
    #[arg(long)]
    pub limit_bytes: Option<u64>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    let name = match args.pod.split_once('/') {
        Some((kind, name)) => {
            if Kind::parse(kind)? != Kind::Pod {
                bail!("cannot get logs from {kind}/{name}: only pods have logs");
            }
            name.to_string()
        }
        None => args.pod.clone(),
    };
    let pod = match crate::objects::get_required(&store, Kind::Pod, &global.namespace, &name) {
        Ok(Object::Pod(p)) => *p,
        // The logs are files of their own: a damaged status record only
        // hides which instance is the newest (the newest file says).
        Err(e @ StoreError::Corrupt { .. }) if store_status_file(&e) => {
            eprintln!(
                "Warning: {:#}; showing the newest log",
                anyhow::Error::new(e)
            );
            match store.get_as(Kind::Pod, &global.namespace, &name, Detail::Manifest)? {
                Some(Object::Pod(p)) => *p,
                _ => {
                    return Err(ApiError::NotFound {
                        resource: "pods".into(),
                        name,
                    }
                    .into());
                }
            }
        }
        Err(e) => return Err(e.into()),
        Ok(_) => unreachable!("asked for a pod"),
    };
    let filter = filter(&args)?;
    let containers = containers(&pod, &args)?;
    let mut streams = Vec::new();
    for container in &containers {
        streams.push(Source::open(&store, &pod, container, args.previous)?);
    }
    let prefix = |c: &str| {
        if args.prefix {
            format!("[pod/{name}/{c}] ")
        } else {
            String::new()
        }
    };
    let mut budget = filter.limit_bytes;
    if !args.follow {
        // Streamed: a log file is never held in memory whole; --tail keeps
        // only its last N lines.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for source in streams {
            let prefix = prefix(&source.container);
            let more = source.read(&filter, |line| {
                emit(&mut out, &prefix, line, filter.timestamps, &mut budget)
            })?;
            if !more {
                break;
            }
        }
        finish(out.flush())?;
        return Ok(());
    }
    // Following: one thread per container, lines printed whole.
    let out = std::sync::Arc::new(std::sync::Mutex::new((std::io::stdout(), budget)));
    let handles: Vec<_> = streams
        .into_iter()
        .map(|source| {
            let out = out.clone();
            let store = store.clone();
            let prefix = prefix(&source.container);
            let filter = filter.clone();
            // A restarted container is followed into its next log file,
            // until there will be no next one (the pod deleted or done).
            std::thread::spawn(move || -> Result<()> {
                source.follow_all(
                    &store,
                    filter.clone(),
                    || true,
                    |line| {
                        let mut guard = out.lock().expect("stdout lock");
                        let (stdout, budget) = &mut *guard;
                        let mut lock = stdout.lock();
                        Ok(emit(&mut lock, &prefix, line, filter.timestamps, budget)?
                            && finish(lock.flush())?)
                    },
                )
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| anyhow!("a log reader panicked"))??;
    }
    Ok(())
}

/// Prints one line; false once --limit-bytes is spent.
fn emit(
    out: &mut impl Write,
    prefix: &str,
    line: &Line,
    timestamps: bool,
    budget: &mut Option<u64>,
) -> Result<bool> {
    let (bytes, more) = logs::render(prefix, line, timestamps, budget);
    Ok(finish(out.write_all(&bytes))? && more)
}

/// Whether output can go on: `pod logs | head` closing the pipe ends the
/// process by SIGPIPE, as it ends kubectl (and every other command).
fn finish(result: std::io::Result<()>) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => super::output::die_of_sigpipe(),
        Err(e) => Err(e.into()),
    }
}

/// --since, --since-time, --tail, --timestamps, --limit-bytes.
/// Whether the damaged file is a pod's status record.
fn store_status_file(e: &StoreError) -> bool {
    matches!(e, StoreError::Corrupt { path, .. } if path.file_name() == Some("status.json".as_ref()))
}

fn filter(args: &Args) -> Result<Filter> {
    if args.since.is_some() && args.since_time.is_some() {
        bail!("at most one of `sinceTime` or `sinceSeconds` may be specified");
    }
    let since = match (&args.since, &args.since_time) {
        (Some(d), _) => {
            let d = duration::parse(d)
                .map_err(|e| anyhow!("invalid argument {d:?} for \"--since\" flag: {e}"))?;
            let back = SignedDuration::try_from(d).map_err(|e| anyhow!("--since: {e}"))?;
            Some(duration::now() - back)
        }
        (None, Some(t)) => Some(
            t.parse::<Timestamp>()
                .map_err(|e| anyhow!("--since-time: {t:?} is not an RFC3339 time: {e}"))?,
        ),
        (None, None) => None,
    };
    if args.limit_bytes == Some(0) {
        bail!("--limit-bytes must be greater than 0");
    }
    Ok(Filter {
        since,
        tail: usize::try_from(args.tail).ok(),
        timestamps: args.timestamps,
        limit_bytes: args.limit_bytes,
    })
}

/// The containers whose logs are asked for, in kubectl's order.
fn containers(pod: &Pod, args: &Args) -> Result<Vec<String>> {
    let spec = pod.spec.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let init: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    let apps: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    if args.all_containers {
        if args.container.is_some() {
            bail!(
                "--all-containers=true should not be specified with container name {}",
                args.container.as_deref().unwrap_or("")
            );
        }
        return Ok(init.into_iter().chain(apps).collect());
    }
    if let Some(c) = &args.container {
        if !init.contains(c) && !apps.contains(c) {
            return Err(ApiError::Refused {
                reason: "BadRequest".into(),
                message: format!("container {c} is not valid for pod {name}"),
            }
            .into());
        }
        return Ok(vec![c.clone()]);
    }
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
        .filter(|c| apps.contains(c) || init.contains(c));
    if let Some(c) = annotated {
        return Ok(vec![c.clone()]);
    }
    let first = apps.first().cloned().unwrap_or_default();
    if apps.len() + init.len() > 1 {
        let mut all: Vec<String> = apps.clone();
        all.extend(init.iter().map(|i| format!("{i} (init)")));
        eprintln!("Defaulted container {first:?} out of: {}", all.join(", "));
    }
    Ok(vec![first])
}
