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

/// Every socket below `dir` (not following links).
pub fn sockets(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_socket() {
                out.push(entry.path());
            }
        }
    }
    out
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
