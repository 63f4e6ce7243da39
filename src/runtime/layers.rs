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

/// The content of `path` in the image whose layers are `layers` (lowest
/// first), or None when the image has no such file.
pub fn read_file(layers: &[PathBuf], path: &str) -> Option<String> {
    let mut links = 0;
    let found = locate(layers, path, &mut links)?;
    std::fs::read_to_string(found).ok()
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

    /// Layers, lowest first, from (path, what) entries: `"-"` a whiteout,
    /// `"@X"` a symlink to X, `"opaque"` an opaque directory, anything else
    /// a file with that content. Whiteouts and opaque markers need root,
    /// as the unpacker's own tests.
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
                    "-" => rustix::fs::mknodat(
                        rustix::fs::CWD,
                        &full,
                        rustix::fs::FileType::CharacterDevice,
                        rustix::fs::Mode::empty(),
                        0,
                    )
                    .unwrap(),
                    "opaque" => {
                        fs::create_dir_all(&full).unwrap();
                        rustix::fs::setxattr(
                            &full,
                            "trusted.overlay.opaque",
                            b"y",
                            rustix::fs::XattrFlags::empty(),
                        )
                        .unwrap();
                    }
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
        assert_eq!(read_file(&layers, "/etc/passwd").as_deref(), Some("top"));
        assert_eq!(
            read_file(&layers, "/etc/group").as_deref(),
            Some("base group")
        );
        assert_eq!(read_file(&layers, "/etc/shadow"), None);
        assert_eq!(read_file(&layers, "/etc"), None);
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_layers() {
        let (_d, layers) = image(&[
            &[
                ("etc/passwd", "base"),
                ("etc/group", "base group"),
                ("opt/app/users", "base users"),
            ],
            &[("etc/passwd", "-"), ("opt", "opaque")],
        ]);
        assert_eq!(read_file(&layers, "/etc/passwd"), None);
        assert_eq!(read_file(&layers, "/opt/app/users"), None);
        assert_eq!(
            read_file(&layers, "/etc/group").as_deref(),
            Some("base group")
        );
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
        assert_eq!(
            read_file(&layers, "/lib/os-release").as_deref(),
            Some("top")
        );
        assert_eq!(
            read_file(&layers, "/etc/os-release").as_deref(),
            Some("top")
        );
        assert_eq!(read_file(&layers, "/etc/abs").as_deref(), Some("base"));
        assert_eq!(read_file(&layers, "/etc/loop"), None);
        assert_eq!(
            read_file(&layers, "/etc/../lib/./base").as_deref(),
            Some("base")
        );
    }
}
