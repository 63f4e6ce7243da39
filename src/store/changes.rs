//! What tells a reader that the store changed: inotify on the state
//! directory's object directories. The CLI, the supervisors and the API
//! server all write the store (atomically: a sibling temporary file
//! renamed into place; events appended), from separate processes, so the
//! kernel's notification of those writes is the one change feed they
//! share. A reader that waits on it wakes when a file it reads was
//! replaced and reads again: the API server's watches
//! (`apiserver::changes`), `pod wait` and `pod get -w`.
//!
//! Watched (inotify does not recurse: every directory has its own watch,
//! added as it appears), within the reader's [`Scope`]:
//!
//! ```text
//! <root>                          config.yaml (the node), new kind dirs
//! pods/, pods/<ns>/               pods and their events come and go
//! pods/<ns>/<name>/               pod.json, status.json, conditions.json, events.jsonl
//! configmaps|secrets|podpresets/, .../<ns>/   <name>.json
//! namespaces/, nodes/             <name>.json
//! ```
//!
//! A pod's `volumes/` (its emptyDirs: the containers' own writes) is not
//! watched, nor are the temporary files of atomic writes (`.<name>.tmp`).
//! When the kernel's queue overflows, everything counts as changed.
//!
//! What a pod's status reads as also depends on things that are not
//! files written (whether its supervisor still holds its lock; a Node's
//! pressure is measured), so a reader also reads again now and then on
//! its own.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

use crate::api::Kind;

/// What a notification concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Objects of this kind were written, made or removed (for a Node:
    /// the node configuration or its record).
    Objects(Kind),
    /// A pod's events were recorded (or its directory, and so its events,
    /// came or went).
    Events,
    /// The kernel dropped notifications: anything may have changed.
    Everything,
}

/// What a reader follows: fewer directories watched, fewer wakes.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these kinds; every kind when `None`.
    pub kinds: Option<Vec<Kind>>,
    /// Only this namespace (cluster-scoped kinds are not in one); every
    /// namespace when `None`.
    pub namespace: Option<String>,
    /// Only the objects of these names; every object when `None`.
    pub names: Option<Vec<String>>,
}

impl Scope {
    /// The whole store (the API server's).
    pub fn everything() -> Scope {
        Scope::default()
    }

    fn has_kind(&self, kind: Kind) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }

    fn has_namespace(&self, namespace: &OsStr) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|n| n.as_bytes() == namespace.as_bytes())
    }

    /// Whether an entry of an object directory (a pod's directory, an
    /// object's `<name>.json`) is one of the named objects'.
    fn has_object(&self, entry: &[u8]) -> bool {
        self.names.as_ref().is_none_or(|names| {
            names.iter().any(|n| {
                entry.strip_prefix(n.as_bytes()) == Some(b"")
                    || entry.strip_prefix(n.as_bytes()) == Some(b".json")
            })
        })
    }
}

/// The kinds that have a directory under the root, named by their plural.
const KINDS: [Kind; 6] = [
    Kind::Pod,
    Kind::ConfigMap,
    Kind::Secret,
    Kind::PodPreset,
    Kind::Namespace,
    Kind::Node,
];

/// The node configuration's name under the root.
const NODE_CONFIG: &[u8] = b"config.yaml";

/// What a watched directory is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dir {
    /// The state root.
    Root,
    /// `pods/`, `configmaps/`...: namespaces (or, cluster-scoped, objects).
    Kind(Kind),
    /// `pods/<ns>/`, `configmaps/<ns>/`...
    Namespace(Kind),
    /// `pods/<ns>/<name>/`.
    Pod,
}

/// The events that say a directory's content changed.
fn mask() -> WatchFlags {
    WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MODIFY
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::ONLYDIR
        | WatchFlags::DONT_FOLLOW
}

/// The store's changes within a scope, as they come.
pub struct Changes {
    fd: OwnedFd,
    scope: Scope,
    dirs: HashMap<i32, (PathBuf, Dir)>,
    buf: Vec<MaybeUninit<u8>>,
}

impl Changes {
    /// Starts following the changes under the state root `root`. A change
    /// made after this returns is seen; one made before it is not, so a
    /// reader reads after this.
    pub fn follow(root: &Path, scope: Scope) -> io::Result<Changes> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let mut changes = Changes {
            fd,
            scope,
            dirs: HashMap::new(),
            buf: vec![MaybeUninit::uninit(); 64 * 1024],
        };
        changes.add(root, Dir::Root)?;
        Ok(changes)
    }

    /// The changes that come within `timeout` (however long it takes
    /// with `None`): at least one, or none once the time is up.
    pub fn next(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Change>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if self.readable(left)? {
                let changes = self.read()?;
                if !changes.is_empty() {
                    return Ok(changes);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Vec::new());
            }
        }
    }

    /// Waits up to `left` for notifications to read (false when none
    /// came, or a signal came first).
    fn readable(&self, left: Option<Duration>) -> io::Result<bool> {
        let timeout = match left {
            None => PollTimeout::NONE,
            // Rounded up: a wait rounded down to 0 ms would spin.
            Some(left) => {
                PollTimeout::try_from(left.as_micros().div_ceil(1000)).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads what notifications there are and what they concern; watches
    /// the store's directories that appeared.
    fn read(&mut self) -> io::Result<Vec<Change>> {
        let mut changes = Vec::new();
        let mut new_dirs: Vec<(PathBuf, Dir, Vec<u8>)> = Vec::new();
        let mut reader = inotify::Reader::new(&self.fd, &mut self.buf);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => return Err(e.into()),
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                changes.push(Change::Everything);
            } else if flags.contains(ReadFlags::IGNORED) {
                self.dirs.remove(&event.wd());
            } else if let Some((path, dir)) = self.dirs.get(&event.wd()) {
                let name = event.file_name().map(|n| n.to_bytes()).unwrap_or_default();
                let is_dir = flags.contains(ReadFlags::ISDIR);
                changes.extend(concerns(&self.scope, dir, name, is_dir));
                if is_dir && flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                    new_dirs.push((path.clone(), dir.clone(), name.to_vec()));
                }
            }
            if reader.is_buffer_empty() {
                break;
            }
        }
        for (parent, dir, name) in new_dirs {
            self.add_child(&parent, &dir, OsStr::from_bytes(&name));
        }
        changes.sort();
        changes.dedup();
        Ok(changes)
    }

    /// Watches `path` as `dir`, then what already is inside it (created
    /// before the watch was there).
    fn add(&mut self, path: &Path, dir: Dir) -> io::Result<()> {
        let wd = inotify::add_watch(&self.fd, path, mask())?;
        self.dirs.insert(wd, (path.to_path_buf(), dir.clone()));
        if dir != Dir::Pod
            && let Ok(entries) = std::fs::read_dir(path)
        {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    self.add_child(path, &dir, &entry.file_name());
                }
            }
        }
        Ok(())
    }

    /// A directory that appeared in a watched one, watched if it is one
    /// of the store's in the scope.
    fn add_child(&mut self, parent: &Path, dir: &Dir, name: &OsStr) {
        if name.as_bytes().starts_with(b".") {
            return;
        }
        let child = match dir {
            Dir::Root => match KINDS.iter().find(|k| OsStr::new(k.plural()) == name) {
                Some(&kind) if self.scope.has_kind(kind) => Dir::Kind(kind),
                _ => return,
            },
            Dir::Kind(kind) if kind.namespaced() && self.scope.has_namespace(name) => {
                Dir::Namespace(*kind)
            }
            Dir::Namespace(Kind::Pod) if self.scope.has_object(name.as_bytes()) => Dir::Pod,
            _ => return,
        };
        // Gone already: its parent's watch saw it go.
        let _ = self.add(&parent.join(name), child);
    }
}

/// How long a [`Follower`] waits at most before it reads again on its
/// own: what a pod's status reads as also depends on what is not written
/// (its supervisor's lock), and a Node's on what is measured.
/// `POD_WATCH_RECHECK` (a duration) sets it, for tests that must tell a
/// woken read from a timed one.
const RECHECK: Duration = Duration::from_secs(1);

/// How often a [`Follower`] reads when the kernel gives no notifications
/// (a user's inotify instances, 128 by default, all taken).
const POLL: Duration = Duration::from_millis(100);

/// A reader's wait between two reads of the objects it follows (`pod
/// wait`, `get -w`): until they may have changed.
pub struct Follower {
    changes: Option<Changes>,
    recheck: Duration,
}

impl Follower {
    /// Starts following; read the objects after this, so that no change
    /// falls between the read and the wait.
    pub fn new(root: &Path, scope: Scope) -> Follower {
        let recheck = std::env::var("POD_WATCH_RECHECK")
            .ok()
            .and_then(|text| crate::duration::parse(&text).ok())
            .map_or(RECHECK, |d| d.min(Duration::from_secs(365 * 86400)));
        Follower {
            changes: Changes::follow(root, scope).ok(),
            recheck,
        }
    }

    /// Ends the following, giving up the inotify instance (none when the
    /// kernel gave none): for a command that has it closed after its exit
    /// (`process::after_exit`), as its last close waits on the kernel.
    pub fn into_instance(self) -> Option<OwnedFd> {
        self.changes.map(|changes| changes.fd)
    }

    /// Returns once a change of the followed objects came, after the
    /// recheck period without one, or after `limit`.
    pub fn wait(&mut self, limit: Duration) -> io::Result<()> {
        let Some(changes) = &mut self.changes else {
            std::thread::sleep(POLL.min(limit));
            return Ok(());
        };
        let deadline = Instant::now() + self.recheck.min(limit);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let changed = changes.next(Some(left))?;
            if changed.is_empty() || changed.iter().any(|c| c.read_again(&changes.scope)) {
                return Ok(());
            }
        }
    }
}

impl Change {
    /// Whether a reader of `scope`'s objects must read them again.
    fn read_again(self, scope: &Scope) -> bool {
        match self {
            Change::Objects(kind) => scope.has_kind(kind),
            Change::Events => false,
            Change::Everything => true,
        }
    }
}

/// What a notification in `dir` about its entry `name` concerns.
fn concerns(scope: &Scope, dir: &Dir, name: &[u8], is_dir: bool) -> Vec<Change> {
    if name.starts_with(b".") {
        return Vec::new();
    }
    match dir {
        Dir::Root if name == NODE_CONFIG && scope.has_kind(Kind::Node) => {
            vec![Change::Objects(Kind::Node)]
        }
        Dir::Root => Vec::new(),
        // A namespace's directory made or removed.
        Dir::Kind(kind) if kind.namespaced() => vec![Change::Objects(*kind)],
        Dir::Kind(_) | Dir::Namespace(_) if !scope.has_object(name) => Vec::new(),
        // A pod's directory made or removed: the pod and its events.
        Dir::Namespace(Kind::Pod) => vec![Change::Objects(Kind::Pod), Change::Events],
        Dir::Kind(kind) | Dir::Namespace(kind) => vec![Change::Objects(*kind)],
        Dir::Pod if is_dir => Vec::new(),
        Dir::Pod => match name {
            b"events.jsonl" => vec![Change::Events],
            b"pod.json" | b"status.json" | b"conditions.json" => {
                vec![Change::Objects(Kind::Pod)]
            }
            _ => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_atomic(path: &Path, text: &str) {
        let tmp = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    #[test]
    fn a_status_replaced_wakes_the_reader_of_its_pod_and_an_event_does_not() {
        let root = tempfile::tempdir().unwrap();
        let pod = root.path().join("pods/default/web");
        std::fs::create_dir_all(&pod).unwrap();
        let scope = Scope {
            kinds: Some(vec![Kind::Pod]),
            namespace: Some("default".into()),
            names: Some(vec!["web".into()]),
        };
        let mut changes = Changes::follow(root.path(), scope).unwrap();
        // Nothing written: the time runs out with nothing.
        assert_eq!(
            changes.next(Some(Duration::from_millis(20))).unwrap(),
            vec![]
        );
        // An event appended, then another pod's status: nothing for web.
        std::fs::write(pod.join("events.jsonl"), "{}\n").unwrap();
        std::fs::create_dir_all(root.path().join("pods/default/other")).unwrap();
        write_atomic(&root.path().join("pods/default/other/status.json"), "{}");
        let got = changes.next(Some(Duration::from_millis(20))).unwrap();
        assert!(!got.contains(&Change::Objects(Kind::Pod)), "{got:?}");
        // Its status replaced (from another thread, while the reader
        // waits with no time limit): the reader wakes.
        let status = pod.join("status.json");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            write_atomic(&status, "{}");
        });
        let got = changes.next(None).unwrap();
        writer.join().unwrap();
        assert_eq!(got, vec![Change::Objects(Kind::Pod)]);
    }

    #[test]
    fn directories_made_after_the_start_are_followed() {
        let root = tempfile::tempdir().unwrap();
        let scope = Scope {
            kinds: Some(vec![Kind::Pod]),
            ..Scope::default()
        };
        let mut changes = Changes::follow(root.path(), scope).unwrap();
        // The kind's, the namespace's and the pod's directories appear in
        // turn; each is watched once made, so the status written last is
        // seen in the new pod's directory.
        let pod = root.path().join("pods/ns/web");
        std::fs::create_dir(root.path().join("pods")).unwrap();
        changes.next(Some(Duration::from_millis(20))).unwrap();
        std::fs::create_dir(root.path().join("pods/ns")).unwrap();
        assert!(
            changes
                .next(None)
                .unwrap()
                .contains(&Change::Objects(Kind::Pod))
        );
        std::fs::create_dir(&pod).unwrap();
        assert_eq!(
            changes.next(None).unwrap(),
            vec![Change::Objects(Kind::Pod), Change::Events]
        );
        write_atomic(&pod.join("status.json"), "{}");
        assert_eq!(
            changes.next(None).unwrap(),
            vec![Change::Objects(Kind::Pod)]
        );
        // A kind outside the scope is not followed.
        std::fs::create_dir_all(root.path().join("configmaps/ns")).unwrap();
        write_atomic(&root.path().join("configmaps/ns/c.json"), "{}");
        assert_eq!(
            changes.next(Some(Duration::from_millis(50))).unwrap(),
            vec![]
        );
    }
}
