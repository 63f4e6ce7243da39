//! What tells watches that the store changed: inotify on the state
//! directory's object directories. The CLI, the supervisors and the
//! server itself all write the store (atomically: a sibling temporary
//! file renamed into place; events appended), from separate processes,
//! so the kernel's notification of those writes is the one change feed
//! they share. Each notification marks the resources whose files it
//! concerns as changed (`Versions::touch`); a watch of one of them wakes,
//! reads it again and sends what changed (see `watch`).
//!
//! Watched (inotify does not recurse: every directory has its own watch,
//! added as it appears):
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

use std::collections::HashMap;
use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

use super::Server;
use super::resources::Backing;
use crate::api::Kind;

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

/// The directory of each kind under the root.
const KIND_DIRS: &[(&str, Kind)] = &[
    ("pods", Kind::Pod),
    ("configmaps", Kind::ConfigMap),
    ("secrets", Kind::Secret),
    ("podpresets", Kind::PodPreset),
    ("namespaces", Kind::Namespace),
    ("nodes", Kind::Node),
];

/// Whether a kind's directory holds namespaces (rather than objects).
fn namespaced(kind: Kind) -> bool {
    !matches!(kind, Kind::Namespace | Kind::Node)
}

struct Watcher {
    fd: OwnedFd,
    dirs: HashMap<i32, (PathBuf, Dir)>,
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

impl Watcher {
    /// Watches `path` as `dir`, then what already is inside it (created
    /// before the watch was there).
    fn add(&mut self, path: &Path, dir: Dir) -> rustix::io::Result<()> {
        let wd = inotify::add_watch(&self.fd, path, mask())?;
        self.dirs.insert(wd, (path.to_path_buf(), dir.clone()));
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    self.add_child(path, &dir, &entry.file_name());
                }
            }
        }
        Ok(())
    }

    /// A directory that appeared in a watched one, watched if it is one
    /// of the store's.
    fn add_child(&mut self, parent: &Path, dir: &Dir, name: &OsStr) {
        if name.as_bytes().starts_with(b".") {
            return;
        }
        let child = match dir {
            Dir::Root => match KIND_DIRS.iter().find(|(n, _)| OsStr::new(n) == name) {
                Some((_, kind)) => Dir::Kind(*kind),
                None => return,
            },
            Dir::Kind(kind) if namespaced(*kind) => Dir::Namespace(*kind),
            Dir::Namespace(Kind::Pod) => Dir::Pod,
            _ => return,
        };
        // Gone already: its parent's watch saw it go.
        let _ = self.add(&parent.join(name), child);
    }

    /// The resources a notification in `dir` about `name` concerns.
    fn concerns(dir: &Dir, name: Option<&OsStr>, is_dir: bool) -> Vec<Backing> {
        let name = name.map(OsStr::as_bytes).unwrap_or_default();
        if name.starts_with(b".") {
            return Vec::new();
        }
        match dir {
            Dir::Root if name == b"config.yaml" => vec![Backing::Kind(Kind::Node)],
            Dir::Root => Vec::new(),
            // A pod's directory made or removed: the pod and its events.
            Dir::Kind(Kind::Pod) | Dir::Namespace(Kind::Pod) => {
                vec![Backing::Kind(Kind::Pod), Backing::CoreEvents]
            }
            Dir::Kind(kind) | Dir::Namespace(kind) => vec![Backing::Kind(*kind)],
            Dir::Pod if is_dir => Vec::new(),
            Dir::Pod => match name {
                b"events.jsonl" => vec![Backing::CoreEvents],
                b"pod.json" | b"status.json" | b"conditions.json" => {
                    vec![Backing::Kind(Kind::Pod)]
                }
                _ => Vec::new(),
            },
        }
    }
}

/// Starts following the store's changes for `server`'s watches, on a
/// thread of its own for as long as the server runs.
pub fn follow(server: Arc<Server>) -> Result<()> {
    let fd = inotify::init(CreateFlags::CLOEXEC).context("inotify_init1")?;
    let mut watcher = Watcher {
        fd,
        dirs: HashMap::new(),
    };
    let root = server.store.root().to_path_buf();
    watcher
        .add(&root, Dir::Root)
        .with_context(|| format!("watching {}", root.display()))?;
    std::thread::Builder::new()
        .name("changes".into())
        .spawn(move || run(&server, watcher))
        .context("starting the change follower")?;
    Ok(())
}

fn run(server: &Server, mut watcher: Watcher) {
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
    loop {
        let mut touched: Vec<Backing> = Vec::new();
        let mut new_dirs: Vec<(PathBuf, Dir, Vec<u8>)> = Vec::new();
        let mut overflow = false;
        {
            let mut reader = inotify::Reader::new(&watcher.fd, &mut buf);
            // One blocking read, then whatever else that read brought.
            loop {
                let event = match reader.next() {
                    Ok(event) => event,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => {
                        eprintln!("pod serve: reading store changes: {e}");
                        return;
                    }
                };
                let flags = event.events();
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    overflow = true;
                } else if flags.contains(ReadFlags::IGNORED) {
                    watcher.dirs.remove(&event.wd());
                } else if let Some((path, dir)) = watcher.dirs.get(&event.wd()) {
                    let name = event.file_name().map(|n| OsStr::from_bytes(n.to_bytes()));
                    let is_dir = flags.contains(ReadFlags::ISDIR);
                    touched.extend(Watcher::concerns(dir, name, is_dir));
                    if is_dir
                        && flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO)
                        && let Some(name) = name
                    {
                        new_dirs.push((path.clone(), dir.clone(), name.as_bytes().to_vec()));
                    }
                }
                if reader.is_buffer_empty() {
                    break;
                }
            }
        }
        for (parent, dir, name) in new_dirs {
            watcher.add_child(&parent, &dir, OsStr::from_bytes(&name));
        }
        if overflow {
            server.versions.touch_all();
        } else if !touched.is_empty() {
            touched.sort_by_key(|b| format!("{b:?}"));
            touched.dedup();
            server.versions.touch(&touched);
        }
    }
}
