//! The merged view of unpacked layers (`runtime::layers`) with what only
//! root can make: a whiteout (a 0:0 character device) and an opaque
//! directory (the `trusted.overlay.opaque` xattr), as the unpacker makes
//! them.

use std::fs;
use std::path::PathBuf;

use pod::privileged::read_file;

#[test]
fn whiteouts_and_opaque_directories_hide_lower_layers() {
    let dir = tempfile::tempdir().unwrap();
    let layer = |n: &str, files: &[(&str, &str)]| -> PathBuf {
        let layer = dir.path().join(n);
        for (path, text) in files {
            let full = layer.join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        layer
    };
    let base = layer(
        "0",
        &[
            ("etc/passwd", "base"),
            ("etc/group", "base group"),
            ("opt/app/users", "base users"),
        ],
    );
    let top = layer("1", &[]);
    fs::create_dir_all(top.join("etc")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        top.join("etc/passwd"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    fs::create_dir_all(top.join("opt")).unwrap();
    rustix::fs::setxattr(
        top.join("opt"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let layers = [base.clone(), top];
    let read = |path: &str| read_file(&layers, path).unwrap();
    assert_eq!(read("/etc/passwd"), None);
    assert_eq!(read("/opt/app/users"), None);
    assert_eq!(read("/etc/group").as_deref(), Some("base group"));
    // Without the layer above, the files are there.
    let alone = [base];
    assert_eq!(
        read_file(&alone, "/opt/app/users").unwrap().as_deref(),
        Some("base users")
    );
    assert_eq!(
        read_file(&alone, "/etc/passwd").unwrap().as_deref(),
        Some("base")
    );
}
