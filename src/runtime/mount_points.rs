//! The pod's /etc files need something in the container's root to be
//! mounted on. An image without /etc/hosts, /etc/hostname or
//! /etc/resolv.conf (busybox has none of them) used to get each made by
//! the container's init in its overlay: three files created in the
//! writable layer on the state disk, and /etc copied up there first, at
//! every container start. Instead, the overlay gets one more lower layer,
//! below the image's: a directory in the pod's run directory holding
//! `etc/` and an empty file for each of those the runtime mounts in this
//! container. What the image has wins (its layers are above), a symlink,
//! whiteout or opaque directory of the image hides this layer as it would
//! hide any lower one, and the init then makes the mount point itself as
//! before; nothing is written to the writable layer by the runtime.
//!
//! Only the files the runtime mounts are there: a user's volume mounted at
//! /etc/hosts (the runtime then mounts none) may be a directory, and a
//! file below it would make that mount fail where it works on a cluster.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The /etc files the runtime mounts in a container (see
/// `PodRuntime::container_mounts`), in the order of that list.
pub const ETC_FILES: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

/// The layer holding `etc/<name>` for each name of `mounted` (each one of
/// [`ETC_FILES`]), made under `run_dir` if it is not there yet. One
/// layer per set of names, shared by the pod's containers: it is only
/// read, by overlayfs, as a lower layer.
pub fn layer(run_dir: &Path, mounted: &[&str]) -> Result<PathBuf> {
    let variant: Vec<&str> = ETC_FILES
        .iter()
        .copied()
        .filter(|name| mounted.contains(name))
        .collect();
    let dir = run_dir.join("mount-points").join(if variant.is_empty() {
        "none".to_string()
    } else {
        variant.join("+")
    });
    let etc = dir.join("etc");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&etc)
        .with_context(|| format!("creating {}", etc.display()))?;
    for name in variant {
        let file = etc.join(name);
        // Opened for writing only to create it; an existing one is left
        // as it is (empty: nothing ever writes to it).
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&file)
            .with_context(|| format!("creating {}", file.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_holds_exactly_the_files_mounted() {
        let dir = tempfile::tempdir().unwrap();
        let all = layer(dir.path(), &ETC_FILES).unwrap();
        let names = |layer: &Path| {
            let mut names: Vec<String> = fs::read_dir(layer.join("etc"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(&all), ["hostname", "hosts", "resolv.conf"]);
        // Made once: asking again gives the same directory, unchanged.
        assert_eq!(layer(dir.path(), &ETC_FILES).unwrap(), all);
        let some = layer(dir.path(), &["resolv.conf", "hostname"]).unwrap();
        assert_ne!(some, all);
        assert_eq!(names(&some), ["hostname", "resolv.conf"]);
        assert_eq!(
            names(&layer(dir.path(), &[]).unwrap()),
            Vec::<String>::new()
        );
        for file in ["hosts", "hostname", "resolv.conf"] {
            assert_eq!(fs::metadata(all.join("etc").join(file)).unwrap().len(), 0);
        }
    }
}
