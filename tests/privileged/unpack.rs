//! The layer unpacker (`image::unpack`) on crafted layers: files, links,
//! owners and times as the archive says, overlay whiteouts, devices
//! skipped, and hostile entries kept inside the layer. Root: the entries
//! are owned by others and whiteouts are device nodes and trusted xattrs.

use std::io;
use std::path::{Path, PathBuf};

use pod::privileged::{digest_of, unpack};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

fn header(kind: tar::EntryType, path: &str, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(1000);
    h.set_gid(100);
    h.set_mtime(1_600_000_000);
    // Bypass the tar crate's own path checks: hostile layers do not
    // use it.
    let name = &mut h.as_old_mut().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
    h
}

fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().unwrap()
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
    let h = header(tar::EntryType::Regular, path, body.len() as u64, 0o644);
    b.append(&h, body).unwrap();
}

fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
    let mut h = header(kind, path, 0, 0o777);
    h.set_link_name(target).unwrap();
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
}

#[test]
fn unpacks_files_links_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let tar = layer(|b| {
        b.append(
            &header(tar::EntryType::Directory, "./bin/", 0, 0o755),
            &[][..],
        )
        .unwrap();
        file(b, "./bin/busybox", b"#!binary");
        link(b, tar::EntryType::Symlink, "bin/sh", "busybox");
        link(b, tar::EntryType::Link, "bin/ls", "/bin/busybox");
        file(b, "deep/er/file", b"x");
    });
    let unpacked = unpack(&tar[..], dir.path()).unwrap();
    assert_eq!(unpacked.diff_id, digest_of(&tar));
    let busybox = dir.path().join("bin/busybox");
    assert_eq!(fs::read(&busybox).unwrap(), b"#!binary");
    let meta = fs::metadata(&busybox).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mtime()),
        (1000, 100, 1_600_000_000)
    );
    assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
    assert_eq!(meta.nlink(), 2);
    assert_eq!(
        fs::read_link(dir.path().join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::metadata(dir.path().join("bin")).unwrap().mtime(),
        1_600_000_000
    );
    assert_eq!(fs::read(dir.path().join("deep/er/file")).unwrap(), b"x");
}

#[test]
fn detects_compression() {
    let tar = layer(|b| file(b, "a", b"hello"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&tar[..], 1).unwrap();
    for input in [tar.clone(), gz, zst] {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = unpack(&input[..], dir.path()).unwrap();
        assert_eq!(unpacked.diff_id, digest_of(&tar));
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"hello");
    }
}

#[test]
fn makes_overlay_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let tar = layer(|b| {
        file(b, "etc/.wh.motd", b"");
        file(b, "var/cache/.wh..wh..opq", b"");
    });
    unpack(&tar[..], dir.path()).unwrap();
    let motd = fs::symlink_metadata(dir.path().join("etc/motd")).unwrap();
    assert!(motd.file_type().is_char_device());
    assert_eq!(motd.rdev(), 0);
    assert!(!dir.path().join("etc/.wh.motd").exists());
    let mut value = [0u8; 4];
    let n = rustix::fs::getxattr(
        dir.path().join("var/cache").as_path(),
        "trusted.overlay.opaque",
        &mut value,
    )
    .unwrap();
    assert_eq!(&value[..n], b"y");
}

fn node(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, dev: (u32, u32)) {
    let mut h = header(kind, path, 0, 0o666);
    h.set_device_major(dev.0).unwrap();
    h.set_device_minor(dev.1).unwrap();
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
}

#[test]
fn devices_are_skipped_and_the_root_stays_private() {
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("diff");
    fs::create_dir(&diff).unwrap();
    fs::set_permissions(&diff, fs::Permissions::from_mode(0o755)).unwrap();
    let tar = layer(|b| {
        b.append(&header(tar::EntryType::Directory, "./", 0, 0o755), &[][..])
            .unwrap();
        file(b, "dev/kmsg", b"replaced by the node below");
        node(b, tar::EntryType::Char, "dev/kmsg", (1, 11));
        node(b, tar::EntryType::Block, "dev/sda", (8, 0));
        node(b, tar::EntryType::Char, "etc/gone", (0, 0));
        node(b, tar::EntryType::Fifo, "run/fifo", (0, 0));
        let mut h = header(tar::EntryType::Regular, "bin/su", 1, 0o4755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
    });
    unpack(&tar[..], &diff).unwrap();
    assert!(fs::symlink_metadata(diff.join("dev/kmsg")).is_err());
    assert!(fs::symlink_metadata(diff.join("dev/sda")).is_err());
    let whiteout = fs::symlink_metadata(diff.join("etc/gone")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
    let fifo = fs::symlink_metadata(diff.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    // The set-uid file is there for containers; the layer's root, not
    // the archive's "./" mode, keeps host users out.
    let su = fs::metadata(diff.join("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755);
    let root = fs::metadata(&diff).unwrap();
    assert_eq!(root.permissions().mode() & 0o7777, 0o700);
}

/// A scratch "host" directory the hostile layers aim at, beside the
/// layer directory, so the tests never touch the real /etc.
struct Scene {
    _dir: tempfile::TempDir,
    layer: PathBuf,
    outside: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("a/b/layer");
    let outside = dir.path().join("a/etc");
    fs::create_dir_all(&layer).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("shadow"), "secret").unwrap();
    Scene {
        layer,
        outside,
        _dir: dir,
    }
}

fn outside_untouched(s: &Scene) {
    let mut names: Vec<_> = fs::read_dir(&s.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec!["shadow"]);
    assert_eq!(
        fs::read_to_string(s.outside.join("shadow")).unwrap(),
        "secret"
    );
}

#[test]
fn refuses_dot_dot() {
    let s = scene();
    let tar = layer(|b| file(b, "../../etc/x", b"pwned"));
    let err = unpack(&tar[..], &s.layer).unwrap_err();
    assert!(err.to_string().contains("\"..\""), "{err}");
    outside_untouched(&s);
}

#[test]
fn confines_absolute_symlinks() {
    let s = scene();
    let outside = s.outside.to_str().unwrap().to_string();
    let tar = layer(|b| {
        link(b, tar::EntryType::Symlink, "escape", &outside);
        file(b, "escape/x", b"pwned");
    });
    let err = unpack(&tar[..], &s.layer).unwrap_err();
    assert!(err.to_string().contains("escape/x"), "{err}");
    outside_untouched(&s);

    // A relative symlink climbing out, then a file written over it.
    let s = scene();
    let tar = layer(|b| {
        link(b, tar::EntryType::Symlink, "up", "../../etc/shadow");
        file(b, "up", b"pwned");
    });
    unpack(&tar[..], &s.layer).unwrap();
    assert_eq!(fs::read(s.layer.join("up")).unwrap(), b"pwned");
    outside_untouched(&s);
}

#[test]
fn refuses_hard_links_out_of_the_layer() {
    for target in ["/etc/shadow", "../../etc/shadow", "../etc/shadow"] {
        let s = scene();
        let tar = layer(|b| link(b, tar::EntryType::Link, "shadow", target));
        let err = unpack(&tar[..], &s.layer).unwrap_err();
        assert!(err.to_string().contains("refused"), "{target}: {err}");
        outside_untouched(&s);
        assert_eq!(fs::metadata(s.outside.join("shadow")).unwrap().nlink(), 1);
    }
    // Through a symlink to outside: resolved inside the layer, so not
    // found.
    let s = scene();
    let outside = s.outside.to_str().unwrap().to_string();
    let tar = layer(|b| {
        link(b, tar::EntryType::Symlink, "etc", &outside);
        link(b, tar::EntryType::Link, "shadow", "etc/shadow");
    });
    assert!(unpack(&tar[..], &s.layer).is_err());
    assert_eq!(fs::metadata(s.outside.join("shadow")).unwrap().nlink(), 1);
}
