//! The kubelet's AtomicWriter: a volume's payload swapped in whole with
//! one rename, so a container never sees half an update.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use anyhow::{Context as _, Result, bail};

use super::make_dir;
use super::payload::Payload;

/// A payload path must be relative and stay inside the volume (the API
/// server validates the same; a stored object is checked again here).
pub(super) fn validate_relative(path: &str) -> Result<()> {
    let p = Path::new(path);
    if path.is_empty()
        || p.is_absolute()
        || p.components().any(|c| matches!(c, Component::ParentDir))
        || path.starts_with("..")
    {
        bail!("invalid path {path:?}: must be relative and may not contain '..'");
    }
    Ok(())
}

/// The kubelet's AtomicWriter: payload in a fresh `..<timestamp>`
/// directory, `..data` swapped to it with one rename, user-visible
/// symlinks for the top-level entries, the old generation removed.
pub fn write_atomic_dir(dir: &Path, payload: &Payload, fs_group: Option<u32>) -> Result<()> {
    let data_link = dir.join("..data");
    let old = std::fs::read_link(&data_link).ok();
    let stamp = jiff::Timestamp::now()
        .strftime("%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let generation = format!("..{stamp}{}", std::process::id());
    let target = dir.join(&generation);
    make_dir(&target, 0o755)?;
    for (path, (data, mode)) in payload {
        let file = target.join(path);
        if let Some(parent) = file.parent() {
            make_dir(parent, 0o755)?;
        }
        // 0600 until the payload is whole and the mode is the pod's.
        write_new_private(&file, data).with_context(|| format!("writing {}", file.display()))?;
        std::fs::set_permissions(
            &file,
            std::fs::Permissions::from_mode(*mode as u32 & 0o7777),
        )?;
        if let Some(gid) = fs_group {
            let _ = nix::unistd::chown(&file, None, Some(nix::unistd::Gid::from_raw(gid)));
        }
    }
    let tmp_link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp_link);
    std::os::unix::fs::symlink(&generation, &tmp_link)?;
    std::fs::rename(&tmp_link, &data_link).context("swapping ..data")?;

    let wanted: std::collections::BTreeSet<String> = payload
        .keys()
        .filter_map(|p| p.split('/').next().map(str::to_string))
        .collect();
    for top in &wanted {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !wanted.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(old) = old.filter(|o| o.as_os_str() != generation.as_str()) {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(())
}

fn write_new_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writer_swaps_generations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut payload = Payload::new();
        payload.insert("a".into(), (b"1".to_vec(), 0o644));
        payload.insert("sub/b".into(), (b"2".to_vec(), 0o400));
        write_atomic_dir(dir, &payload, None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        assert_eq!(
            std::fs::read_link(dir.join("a")).unwrap(),
            Path::new("..data/a")
        );
        let mode = std::fs::metadata(dir.join("sub/b"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o400);
        let first = std::fs::read_link(dir.join("..data")).unwrap();

        std::thread::sleep(std::time::Duration::from_millis(2));
        let mut payload = Payload::new();
        payload.insert("a".into(), (b"changed".to_vec(), 0o644));
        write_atomic_dir(dir, &payload, None).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "changed");
        assert!(std::fs::symlink_metadata(dir.join("sub")).is_err());
        assert!(!dir.join(&first).exists(), "the old generation is removed");
    }

    #[test]
    fn payload_paths_stay_inside() {
        assert!(validate_relative("a/b").is_ok());
        assert!(validate_relative("/etc/passwd").is_err());
        assert!(validate_relative("../x").is_err());
        assert!(validate_relative("a/../../x").is_err());
        assert!(validate_relative("..data").is_err());
    }
}
