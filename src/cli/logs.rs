//! `pod logs`: read a container's CRI log files.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};
use crate::api::{Kind, Object};
use crate::duration;
use crate::error::ApiError;
use crate::store::Store;
use crate::store::crilog::{self, Line, Reassembler};

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
    let pod = match store.get_required(Kind::Pod, &global.namespace, &name)? {
        Object::Pod(p) => *p,
        _ => unreachable!("asked for a pod"),
    };
    let filter = Filter::from_args(&args)?;
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
            let mut tail = filter.tail.map(std::collections::VecDeque::with_capacity);
            let mut more = true;
            source.each_line(|line| {
                if !filter.keeps(&line) {
                    return Ok(true);
                }
                match &mut tail {
                    Some(kept) => {
                        if kept.len() == filter.tail.unwrap_or(0) {
                            kept.pop_front();
                        }
                        if filter.tail != Some(0) {
                            kept.push_back(line);
                        }
                        Ok(true)
                    }
                    None => {
                        more = emit(&mut out, &prefix, &line, filter.timestamps, &mut budget)?;
                        Ok(more)
                    }
                }
            })?;
            for line in tail.into_iter().flatten() {
                if !more {
                    break;
                }
                more = emit(&mut out, &prefix, &line, filter.timestamps, &mut budget)?;
            }
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
            std::thread::spawn(move || -> Result<()> {
                let (mut source, mut filter) = (source, filter);
                // One instance after the other: a restarted container is
                // followed into its next log file, until there will be no
                // next one (the pod deleted or done).
                loop {
                    let mut stopped = false;
                    source.follow(&store, &filter, |line| {
                        let mut guard = out.lock().expect("stdout lock");
                        let (stdout, budget) = &mut *guard;
                        let mut lock = stdout.lock();
                        let more = emit(&mut lock, &prefix, line, filter.timestamps, budget)?
                            && finish(lock.flush())?;
                        stopped = !more;
                        Ok(more)
                    })?;
                    if stopped {
                        return Ok(());
                    }
                    match source.next_instance(&store) {
                        Some(next) => source = next,
                        None => return Ok(()),
                    }
                    // --tail is about what was there when following began.
                    filter.tail = None;
                }
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
    let mut bytes = prefix.as_bytes().to_vec();
    if timestamps {
        bytes.extend_from_slice(crilog::format_time(line.time).as_bytes());
        bytes.push(b' ');
    }
    bytes.extend_from_slice(&line.content);
    if let Some(left) = budget {
        let take = bytes.len().min(*left as usize);
        bytes.truncate(take);
        *left -= take as u64;
    }
    if !finish(out.write_all(&bytes))? {
        return Ok(false);
    }
    Ok(budget.is_none_or(|left| left > 0))
}

/// Whether output can go on: `pod logs | head` closing the pipe is no
/// error, just the end.
fn finish(result: std::io::Result<()>) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

trait SkipTail<'a, T> {
    fn skip_tail(self, tail: Option<usize>) -> std::slice::Iter<'a, T>;
}

impl<'a, T> SkipTail<'a, T> for std::slice::Iter<'a, T> {
    /// Keeps only the last `tail` items.
    fn skip_tail(self, tail: Option<usize>) -> std::slice::Iter<'a, T> {
        let all = self.as_slice();
        let start = tail.map_or(0, |n| all.len().saturating_sub(n));
        all[start..].iter()
    }
}

/// --since, --since-time, --tail, --timestamps, --limit-bytes.
#[derive(Debug, Clone)]
struct Filter {
    since: Option<Timestamp>,
    tail: Option<usize>,
    timestamps: bool,
    limit_bytes: Option<u64>,
}

impl Filter {
    fn from_args(args: &Args) -> Result<Filter> {
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

    fn keeps(&self, line: &Line) -> bool {
        self.since.is_none_or(|t| line.time >= t)
    }
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

/// One container instance's log file.
struct Source {
    container: String,
    path: PathBuf,
    /// The pod and restart count, to tell when following may stop.
    pod: (String, String),
    instance: i32,
}

impl Source {
    fn open(store: &Store, pod: &Pod, container: &str, previous: bool) -> Result<Source> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let uid = crate::store::pod_uid(pod)?;
        let status = container_status(pod, container);
        let bad = |message: String| -> anyhow::Error {
            ApiError::Refused {
                reason: "BadRequest".into(),
                message,
            }
            .into()
        };
        let restarts = status.as_ref().map_or(0, |s| s.restart_count);
        let instance = if previous {
            if restarts == 0 {
                return Err(bad(format!(
                    "previous terminated container {container:?} in pod {name:?} not found"
                )));
            }
            restarts - 1
        } else {
            restarts
        };
        let path = store
            .pod_log_dir(&namespace, &name, uid)
            .join(container)
            .join(format!("{instance}.log"));
        if !path.exists() {
            let waiting = status
                .and_then(|s| s.state)
                .and_then(|s| s.waiting)
                .and_then(|w| w.reason)
                .unwrap_or_else(|| "ContainerCreating".into());
            return Err(bad(format!(
                "container {container:?} in pod {name:?} is waiting to start: {waiting}"
            )));
        }
        Ok(Source {
            container: container.to_string(),
            path,
            pod: (namespace, name),
            instance,
        })
    }

    /// Calls `f` with every line of the instance's log file, read as a
    /// stream, until `f` says stop.
    fn each_line(&self, mut f: impl FnMut(Line) -> Result<bool>) -> Result<()> {
        use std::io::BufRead;
        let file = std::fs::File::open(&self.path)
            .with_context(|| format!("reading {}", self.path.display()))?;
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
        let mut glue = Reassembler::default();
        let mut raw = Vec::new();
        loop {
            raw.clear();
            if reader.read_until(b'\n', &mut raw)? == 0 {
                break;
            }
            let text = raw.strip_suffix(b"\n").unwrap_or(&raw);
            if text.is_empty() {
                continue;
            }
            if let Some(line) = glue.push(text)
                && !f(line)?
            {
                return Ok(());
            }
        }
        for line in glue.unfinished() {
            if !f(line)? {
                break;
            }
        }
        Ok(())
    }

    /// Whether the instance still runs (more may be written).
    fn running(&self, store: &Store) -> bool {
        let Ok(Some(Object::Pod(pod))) = store.get(Kind::Pod, &self.pod.0, &self.pod.1) else {
            return false;
        };
        container_status(&pod, &self.container).is_some_and(|s| {
            s.restart_count == self.instance
                && s.state
                    .is_some_and(|st| st.running.is_some() || st.waiting.is_some())
        })
    }

    /// The container's next instance, once its log file exists; `None`
    /// when there will be none: the pod is gone or being deleted, has
    /// completed, or its restart policy does not restart this exit.
    fn next_instance(&self, store: &Store) -> Option<Source> {
        let next = self.instance + 1;
        let path = self.path.with_file_name(format!("{next}.log"));
        loop {
            if path.exists() {
                return Some(Source {
                    container: self.container.clone(),
                    path,
                    pod: self.pod.clone(),
                    instance: next,
                });
            }
            let Ok(Some(Object::Pod(pod))) = store.get(Kind::Pod, &self.pod.0, &self.pod.1) else {
                return None;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                return None;
            }
            let status = pod.status.as_ref();
            if matches!(
                status.and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            ) {
                return None;
            }
            let exit = container_status(&pod, &self.container)
                .and_then(|s| s.state)
                .and_then(|s| s.terminated)
                .map(|t| t.exit_code);
            let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
            match (policy, exit) {
                (Some("Never"), Some(_)) | (Some("OnFailure"), Some(0)) => return None,
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Prints the lines kept by `filter` and what is written after, until
    /// the instance has ended (or `emit` says stop). --tail applies to what
    /// is there at the start.
    fn follow(
        &self,
        store: &Store,
        filter: &Filter,
        mut emit: impl FnMut(&Line) -> Result<bool>,
    ) -> Result<()> {
        let mut file = std::fs::File::open(&self.path)?;
        let mut pending = Vec::new();
        file.read_to_end(&mut pending)?;
        let complete = pending
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let head: Vec<u8> = pending.drain(..complete).collect();
        let mut glue = Reassembler::default();
        let existing: Vec<Line> = head
            .split(|&b| b == b'\n')
            .filter(|raw| !raw.is_empty())
            .filter_map(|raw| glue.push(raw))
            .filter(|l| filter.keeps(l))
            .collect();
        for line in existing.iter().skip_tail(filter.tail) {
            if !emit(line)? {
                return Ok(());
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n > 0 {
                pending.extend_from_slice(&buf[..n]);
            }
            if pending.contains(&b'\n') {
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let raw: Vec<u8> = pending.drain(..=end).collect();
                    if let Some(line) = glue.push(&raw[..raw.len() - 1])
                        && filter.keeps(&line)
                        && !emit(&line)?
                    {
                        return Ok(());
                    }
                }
                continue;
            }
            // At the end: rotated away, finished, or just quiet.
            let rotated = std::fs::metadata(&self.path)
                .map(|m| m.ino() != file.metadata().map(|f| f.ino()).unwrap_or(0))
                .unwrap_or(false);
            if rotated {
                // Several rotations may have happened since the last look:
                // the files rotated after ours come first, in order. Files
                // already removed by rotation are lost, as with the kubelet.
                // Rotations go on while we read, so the newest file read
                // becomes ours: the next look starts after it, and the
                // current file is opened only when nothing rotated is left.
                let mut newest = None;
                for path in rotated_after(&self.path, &file)? {
                    if let Ok(mut aside) = std::fs::File::open(&path) {
                        aside.read_to_end(&mut pending)?;
                        newest = Some(aside);
                    }
                }
                match newest {
                    Some(aside) => file = aside,
                    None => match std::fs::File::open(&self.path) {
                        Ok(current) => file = current,
                        // Between the rotation's rename and the new file.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => return Err(e.into()),
                    },
                }
                continue;
            }
            if !self.running(store) {
                // One last read: the pump may have written after our EOF.
                let n = file.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                pending.extend_from_slice(&buf[..n]);
                continue;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The rotated copies of `current` made after `file` (which was `current`
/// until it was rotated), oldest first. Order comes from the names the
/// supervisor gives (`N.log.<stamp>[.<n>]`): file times are too coarse
/// when rotations come fast.
fn rotated_after(current: &std::path::Path, file: &std::fs::File) -> Result<Vec<PathBuf>> {
    let ours = file.metadata()?.ino();
    let mut rotated: Vec<(String, u64, PathBuf)> = crilog::rotated_files(current)?
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let suffix = name.rsplit_once(".log.")?.1.to_string();
            let (stamp, n) = match suffix.split_once('.') {
                Some((stamp, n)) => (stamp.to_string(), n.parse().ok()?),
                None => (suffix, 0),
            };
            Some((stamp, n, path))
        })
        .collect();
    rotated.sort();
    let position = rotated
        .iter()
        .position(|(_, _, path)| std::fs::metadata(path).is_ok_and(|m| m.ino() == ours));
    // Our file already removed: everything still there is newer than it.
    let start = position.map_or(0, |i| i + 1);
    Ok(rotated.drain(start..).map(|(_, _, path)| path).collect())
}

fn container_status(pod: &Pod, container: &str) -> Option<ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|s| s.name == container)
        .cloned()
}
