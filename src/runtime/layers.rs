//! A file of the image as the container will see it, read from the
//! unpacked layers before any overlay is mounted (the user database is
//! needed to set up the container): the topmost layer holding the path
//! wins, unless a layer above deletes it (a whiteout, a 0:0 character
//! device) or hides the layers below one of its directories (an opaque
//! directory); symlinks are followed through that same merged view.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Symlinks followed before giving up, as the kernel's limit.
const MAX_LINKS: u32 = 40;

/// The largest file read: an /etc/passwd of 100 000 accounts is 6 MiB.
pub const MAX_FILE: u64 = 16 << 20;

/// The content of `path` in the image whose layers are `layers` (lowest
/// first), or None when the image has no such file. The image is not
/// trusted: the file is opened without following a symlink (those were
/// resolved in the merged view above) and without blocking on a FIFO, and
/// anything but a regular file of at most [`MAX_FILE`] bytes is an error
/// saying so, rather than a hang or a silently empty database.
pub fn read_file(layers: &[PathBuf], path: &str) -> Result<Option<String>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut links = 0;
    let Some(found) = locate(layers, path, &mut links) else {
        return Ok(None);
    };
    let failed = |e: std::io::Error| format!("reading {path} of the image: {e}");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&found)
        .map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    if !meta.is_file() {
        return Err(format!("{path} of the image is not a regular file"));
    }
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{path} of the image is larger than {} MiB",
            MAX_FILE >> 20
        ));
    }
    let mut bytes = Vec::new();
    // The size was checked; `take` holds even if the file grows meanwhile.
    file.take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The path, in one layer, of the image's `path`.
fn locate(layers: &[PathBuf], path: &str, links: &mut u32) -> Option<PathBuf> {
    let parts = normalize(path);
    'layers: for layer in layers.iter().rev() {
        let mut here = layer.clone();
        // A directory above on the path was opaque in this layer: what
        // this layer lacks, the image lacks.
        let mut opaque = false;
        for (i, part) in parts.iter().enumerate() {
            here.push(part);
            let Ok(meta) = std::fs::symlink_metadata(&here) else {
                if opaque {
                    return None;
                }
                continue 'layers;
            };
            let kind = meta.file_type();
            if kind.is_char_device() && meta.rdev() == 0 {
                return None;
            }
            if kind.is_symlink() {
                *links += 1;
                if *links > MAX_LINKS {
                    return None;
                }
                let target = std::fs::read_link(&here).ok()?;
                let mut next = PathBuf::from("/");
                if target.is_relative() {
                    next.extend(&parts[..i]);
                }
                next.push(target);
                next.extend(&parts[i + 1..]);
                return locate(layers, &next.to_string_lossy(), links);
            }
            let last = i + 1 == parts.len();
            if last {
                return (!kind.is_dir()).then_some(here);
            }
            if !kind.is_dir() {
                // A file where the path needs a directory hides the lower
                // layers' directory.
                return None;
            }
            opaque |= is_opaque(&here);
        }
        // The path is the root itself.
        return None;
    }
    None
}

/// The path's components with `.` dropped and `..` applied (the root's
/// parent is the root).
fn normalize(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts
}

/// Whether the unpacker marked the directory opaque (`.wh..wh..opq`).
fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 1];
    matches!(
        rustix::fs::getxattr(dir, "trusted.overlay.opaque", &mut value),
        Ok(1) if value[0] == b'y'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn read(layers: &[PathBuf], path: &str) -> Option<String> {
        read_file(layers, path).unwrap()
    }

    #[test]
    fn a_symlink_out_of_the_root_stays_in_the_image() {
        // Links that climb above the root, absolute or relative, land in
        // the image's own root, never the host's.
        let (_d, layers) = image(&[&[
            ("etc/passwd", "@../../../../../../etc/hostname"),
            ("etc/group", "@/proc/self/root/etc/group"),
        ]]);
        assert_eq!(read(&layers, "/etc/passwd"), None);
        assert_eq!(read(&layers, "/etc/group"), None);
    }

    #[test]
    fn a_fifo_or_a_huge_file_is_an_error_not_a_hang() {
        let (dir, layers) = image(&[&[("etc/group", "g")]]);
        let passwd = layers[0].join("etc/passwd");
        nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        assert_eq!(
            read_file(&layers, "/etc/passwd").unwrap_err(),
            "/etc/passwd of the image is not a regular file"
        );
        let big = fs::File::create(layers[0].join("etc/group")).unwrap();
        big.set_len(MAX_FILE + 1).unwrap();
        assert_eq!(
            read_file(&layers, "/etc/group").unwrap_err(),
            "/etc/group of the image is larger than 16 MiB"
        );
        drop(dir);
    }

    /// Layers, lowest first, from (path, what) entries: `"@X"` a symlink
    /// to X, anything else a file with that content. (Whiteouts and
    /// opaque directories need root: tests/privileged/layers.rs.)
    fn image(layers: &[&[(&str, &str)]]) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (n, entries) in layers.iter().enumerate() {
            let layer = dir.path().join(n.to_string());
            fs::create_dir_all(&layer).unwrap();
            for (path, what) in entries.iter() {
                let full = layer.join(path);
                fs::create_dir_all(full.parent().unwrap()).unwrap();
                match *what {
                    link if link.starts_with('@') => {
                        std::os::unix::fs::symlink(&link[1..], &full).unwrap()
                    }
                    text => fs::write(&full, text).unwrap(),
                }
            }
            paths.push(layer);
        }
        (dir, paths)
    }

    #[test]
    fn the_topmost_layer_wins() {
        let (_d, layers) = image(&[
            &[("etc/passwd", "base"), ("etc/group", "base group")],
            &[("etc/passwd", "top")],
        ]);
        assert_eq!(read(&layers, "/etc/passwd").as_deref(), Some("top"));
        assert_eq!(read(&layers, "/etc/group").as_deref(), Some("base group"));
        assert_eq!(read(&layers, "/etc/shadow"), None);
        assert_eq!(read(&layers, "/etc"), None);
    }

    #[test]
    fn symlinks_resolve_through_the_merged_view() {
        // Debian's merged /usr: /lib -> usr/lib in the base, files under
        // /usr/lib in a layer above; a link in one layer to a file in
        // another.
        let (_d, layers) = image(&[
            &[("lib", "@usr/lib"), ("usr/lib/base", "base")],
            &[
                ("usr/lib/os-release", "top"),
                ("etc/os-release", "@../usr/lib/os-release"),
                ("etc/abs", "@/lib/base"),
                ("etc/loop", "@loop"),
            ],
        ]);
        assert_eq!(read(&layers, "/lib/os-release").as_deref(), Some("top"));
        assert_eq!(read(&layers, "/etc/os-release").as_deref(), Some("top"));
        assert_eq!(read(&layers, "/etc/abs").as_deref(), Some("base"));
        assert_eq!(read(&layers, "/etc/loop"), None);
        assert_eq!(read(&layers, "/etc/../lib/./base").as_deref(), Some("base"));
    }
}
