//! Helpers of the tests that attack from the host side: a state directory
//! as another host user sees it, its sockets, and the attackers' tools
//! compiled from C.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Env, import_busybox};

/// An environment with the busybox image, its temporary directory opened
/// to other users as /var/lib is (0755), so that only pod's own modes
/// stand between a host user and the state.
pub fn open_env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    chmod(env.dir.path(), 0o755);
    env
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Every entry below `dir` with its metadata (links not followed, the
/// directories in `skip` not entered), sorted by path: the one walk of a
/// state directory the host-side tests look through. An entry that goes
/// away while it is walked is left out.
pub fn walk(dir: &Path, skip: &[PathBuf]) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if skip.contains(&dir) {
            continue;
        }
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.push((entry.path(), meta));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every socket below `dir` (not following links).
pub fn sockets(dir: &Path) -> Vec<PathBuf> {
    walk(dir, &[])
        .into_iter()
        .filter(|(_, meta)| meta.file_type().is_socket())
        .map(|(path, _)| path)
        .collect()
}

/// Compiles the C program `source` into `dir/name` with the host's `cc`
/// and `flags` (`-static` for a tool that runs inside a container).
pub fn compile(dir: &Path, name: &str, source: &str, flags: &[&str]) {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(dir.join(name))
        .arg(&src)
        .output()
        .expect("running cc (the C compiler Rust links with)");
    assert!(
        out.status.success(),
        "cc {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
