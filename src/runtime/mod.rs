//! The container runtime: namespaces, the pause process, overlay root
//! filesystems, mounts, cgroups, process spawning, ptys and exec.

pub mod reexec;
