//! The binary's sealed copy (`runtime::exe`): the detached overlay it is
//! opened through stays mounted, its own descriptor open, for the
//! process's life. Closing that descriptor unmounts the overlay from its
//! anonymous namespace, which waits for an RCU grace period: the
//! supervisor paid it on the way to a pod's first container. Root: the
//! overlay is a mount.

use std::os::fd::RawFd;

/// The mount id `/proc/self/fdinfo` gives for `fd`.
fn mount_id(fd: RawFd) -> Option<u64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix("mnt_id:"))
        .and_then(|id| id.trim().parse().ok())
}

#[test]
fn the_sealed_binarys_overlay_keeps_its_mount_descriptor_open() {
    let sealed = pod::privileged::sealed_binary_fd().unwrap();
    let overlay = mount_id(sealed).expect("the sealed binary's mount id");
    // The mount's own descriptor: a directory, the overlay's root, on
    // that mount (the binary's descriptor is the file in it).
    let held = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
        .filter(|&fd| fd != sealed && mount_id(fd) == Some(overlay))
        .any(|fd| std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok_and(|m| m.is_dir()));
    assert!(
        held,
        "no open descriptor of the sealed overlay's mount: it was closed, and its unmount waited"
    );
}
