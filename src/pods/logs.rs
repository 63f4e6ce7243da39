//! Following a container's logs (`pod logs`): its CRI log files read as
//! the supervisor writes and rotates them, from one instance of the
//! container into the next after a restart, until there will be no next.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;

use crate::api::ApiError;
use crate::api::{Kind, Object};
use crate::store::Store;
use crate::store::crilog::{self, Line, Reassembler};

/// --since, --since-time, --tail, --timestamps, --limit-bytes.
#[derive(Debug, Clone)]
pub struct Filter {
    pub since: Option<Timestamp>,
    pub tail: Option<usize>,
    pub timestamps: bool,
    pub limit_bytes: Option<u64>,
}

impl Filter {
    pub fn keeps(&self, line: &Line) -> bool {
        self.since.is_none_or(|t| line.time >= t)
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

/// One container instance's log file.
pub struct Source {
    pub container: String,
    path: PathBuf,
    /// The pod (namespace, name, uid) and restart count, to tell when
    /// following may stop and where the next instance's log is.
    pod: (String, String, String),
    instance: i32,
}

impl Source {
    pub fn open(store: &Store, pod: &Pod, container: &str, previous: bool) -> Result<Source> {
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
        let dir = store.pod_log_dir(&namespace, &name, uid).join(container);
        let waiting = |why: String| {
            bad(format!(
                "container {container:?} in pod {name:?} is waiting to start: {why}"
            ))
        };
        let instance = if previous {
            let id_of = |instance| crate::store::container_id(uid, container, instance);
            previous_instance(status.as_ref(), &dir, id_of).ok_or_else(|| {
                bad(format!(
                    "previous terminated container {container:?} in pod {name:?} not found"
                ))
            })?
        } else {
            current_instance(status.as_ref(), &dir).map_err(waiting)?
        };
        let path = store.container_log((&namespace, &name, uid), container, instance as u32);
        if !path.exists() {
            return Err(waiting(waiting_reason(status.as_ref())));
        }
        Ok(Source {
            container: container.to_string(),
            path,
            pod: (namespace, name, uid.to_string()),
            instance,
        })
    }

    /// Calls `f` with every line of the instance's log file, read as a
    /// stream, until `f` says stop.
    pub fn each_line(&self, mut f: impl FnMut(Line) -> Result<bool>) -> Result<()> {
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
    /// completed, or its restart policy does not restart this exit; or
    /// when `wanted` says no one waits any more.
    fn next_instance(&self, store: &Store, wanted: &impl Fn() -> bool) -> Option<Source> {
        let next = self.instance + 1;
        let (namespace, name, uid) = &self.pod;
        let path = store.container_log((namespace, name, uid), &self.container, next as u32);
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
            if !wanted() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Calls `emit` with the lines kept by `filter` (the last `tail` of
    /// them), streamed: the file is never held in memory whole. Returns
    /// false when `emit` said stop.
    pub fn read(
        &self,
        filter: &Filter,
        mut emit: impl FnMut(&Line) -> Result<bool>,
    ) -> Result<bool> {
        let mut tail = filter.tail.map(std::collections::VecDeque::with_capacity);
        let mut more = true;
        self.each_line(|line| {
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
                    more = emit(&line)?;
                    Ok(more)
                }
            }
        })?;
        for line in tail.into_iter().flatten() {
            if !more {
                break;
            }
            more = emit(&line)?;
        }
        Ok(more)
    }

    /// Follows the container from this instance into the next ones after
    /// restarts, until there will be no next one (the pod deleted or
    /// done), `emit` says stop, or `wanted` says no one reads any more
    /// (checked while the log is quiet: a client that went away).
    /// --tail applies to what is there at the start.
    pub fn follow_all(
        self,
        store: &Store,
        mut filter: Filter,
        wanted: impl Fn() -> bool,
        mut emit: impl FnMut(&Line) -> Result<bool>,
    ) -> Result<()> {
        let mut source = self;
        loop {
            if !source.follow(store, &filter, &wanted, &mut emit)? {
                return Ok(());
            }
            match source.next_instance(store, &wanted) {
                Some(next) => source = next,
                None => return Ok(()),
            }
            filter.tail = None;
        }
    }

    /// The lines kept by `filter` and what is written after, until the
    /// instance has ended; false when `emit` said stop or no one is
    /// `wanted` any more.
    fn follow(
        &self,
        store: &Store,
        filter: &Filter,
        wanted: &impl Fn() -> bool,
        emit: &mut impl FnMut(&Line) -> Result<bool>,
    ) -> Result<bool> {
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
                return Ok(false);
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
                        return Ok(false);
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
            if !wanted() {
                return Ok(false);
            }
            if !self.running(store) {
                // One last read: the pump may have written after our EOF.
                let n = file.read(&mut buf)?;
                if n == 0 {
                    return Ok(true);
                }
                pending.extend_from_slice(&buf[..n]);
                continue;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One line as written out: after `prefix` (`[pod/web/app] ` or none)
/// and its time when `timestamps`, cut to what is left of `budget`
/// (--limit-bytes, spent as it goes). The flag says whether there is
/// budget for more.
pub fn render(
    prefix: &str,
    line: &Line,
    timestamps: bool,
    budget: &mut Option<u64>,
) -> (Vec<u8>, bool) {
    let mut bytes = Vec::with_capacity(prefix.len() + line.content.len() + 32);
    bytes.extend_from_slice(prefix.as_bytes());
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
    (bytes, budget.is_none_or(|left| left > 0))
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

/// The instance `pod logs` reads, as the kubelet picks the container
/// (`validateContainerLogStatus`): the one running or ended; while the
/// container waits after a run (CrashLoopBackOff, or its next instance
/// being made), the last one that ran (the kubelet's lastState); only a
/// container that never ran has no log, and the error says what it waits
/// for. Without a status (not written yet, or unreadable), the newest log
/// file.
fn current_instance(
    status: Option<&ContainerStatus>,
    dir: &std::path::Path,
) -> Result<i32, String> {
    let Some(s) = status else {
        return Ok(newest_instance(dir));
    };
    let logged = |instance: i32| dir.join(format!("{instance}.log")).exists();
    let state = s.state.as_ref();
    if state.is_some_and(|st| st.running.is_some() || st.terminated.is_some())
        || logged(s.restart_count)
    {
        return Ok(s.restart_count);
    }
    let ran = s
        .last_state
        .as_ref()
        .is_some_and(|l| l.terminated.is_some());
    if ran && let Some(last) = (0..s.restart_count).rev().find(|i| logged(*i)) {
        return Ok(last);
    }
    Err(waiting_reason(status))
}

/// The instance `pod logs --previous` reads: the kubelet's lastState
/// (`validateContainerLogStatus`), the instance that ended last before
/// the one the status shows. Its id (`id_of` makes an instance's) names
/// it: while the next instance starts (counted in the status, its log
/// made, not running yet) the count alone would name the new one. With a
/// lastState of an id of another form (written by an older binary), by
/// the count: while the container runs or has ended, the newest instance
/// below its restart count; while it waits after a run (CrashLoopBackOff,
/// or its next instance counted but not started), the newest that ran,
/// which `pod logs` shows too. None without a lastState (no instance
/// ended before) or without its log. Without a status (not written yet,
/// or unreadable), the newest log file is the current instance and the
/// one before it the previous.
fn previous_instance(
    status: Option<&ContainerStatus>,
    dir: &std::path::Path,
    id_of: impl Fn(u32) -> String,
) -> Option<i32> {
    let logged = |instance: i32| dir.join(format!("{instance}.log")).exists();
    let Some(s) = status else {
        return (0..newest_instance(dir)).rev().find(|i| logged(*i));
    };
    let last = s.last_state.as_ref()?.terminated.as_ref()?;
    let newest = s.restart_count.max(0);
    if let Some(id) = &last.container_id
        && let Some(instance) = (0..=newest).rev().find(|&i| id_of(i as u32) == *id)
    {
        return logged(instance).then_some(instance);
    }
    let current_ran = s
        .state
        .as_ref()
        .is_some_and(|st| st.running.is_some() || st.terminated.is_some());
    let below = if current_ran {
        s.restart_count
    } else {
        s.restart_count + 1
    };
    (0..below).rev().find(|i| logged(*i))
}

/// What a container that never ran waits for, in the kubelet's words.
fn waiting_reason(status: Option<&ContainerStatus>) -> String {
    let reason = status
        .and_then(|s| s.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref());
    match reason {
        Some("ErrImagePull") => "image can't be pulled".into(),
        Some("ImagePullBackOff") => "trying and failing to pull image".into(),
        Some(reason) => reason.into(),
        None => "ContainerCreating".into(),
    }
}

/// The highest `<n>` of the `<n>.log` files in `dir` (0 when none).
fn newest_instance(dir: &std::path::Path) -> i32 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
        .max()
        .unwrap_or(0)
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

#[cfg(test)]
mod tests;
