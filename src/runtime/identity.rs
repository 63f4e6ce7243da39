//! The identity a container process runs with: user and groups,
//! capabilities, no_new_privs. Applied in the re-executed child just
//! before `execve`.

use std::str::FromStr;

use anyhow::{Context, Result, anyhow};
use caps::{CapSet, Capability, CapsHashSet};

use super::config::Process;

/// containerd's default capability set (oci/spec_opts.go
/// `defaultUnixCaps`), which Kubernetes containers get unless they add or
/// drop some.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability this kernel knows and `pod` itself may grant (its own
/// bounding set), by name: what `privileged` and `add: [ALL]` give. As in
/// podman, a capability the runtime was started without (a root in a
/// restricted sandbox) is left out rather than failing every privileged
/// container.
pub fn all_capabilities() -> Vec<String> {
    let bounding = caps::read(None, CapSet::Bounding).unwrap_or_default();
    let mut names: Vec<String> = caps::runtime::thread_all_supported()
        .into_iter()
        .filter(|c| bounding.is_empty() || bounding.contains(c))
        .map(|c| c.to_string())
        .collect();
    names.sort();
    names
}

pub fn apply(process: &Process) -> Result<()> {
    let wanted: CapsHashSet = process
        .capabilities
        .iter()
        .map(|name| Capability::from_str(name).map_err(|_| anyhow!("unknown capability {name}")))
        .collect::<Result<_>>()?;

    // The bounding set can only shrink, and only while CAP_SETPCAP is
    // still effective: before the user switch.
    for cap in caps::runtime::thread_all_supported() {
        if !wanted.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("dropping {cap} from the bounding set"))?;
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0);
    }
    let groups: Vec<nix::unistd::Gid> = process
        .additional_gids
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    nix::unistd::setgroups(&groups).context("setgroups")?;
    let gid = nix::unistd::Gid::from_raw(process.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .with_context(|| format!("setting group id {}", process.gid))?;
    let uid = nix::unistd::Uid::from_raw(process.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .with_context(|| format!("setting user id {}", process.uid))?;
    // After setuid only the permitted set survived (keepcaps); restore the
    // effective one. containerd gives no inheritable or ambient
    // capabilities, so a non-root program ends with none after execve.
    // Effective first: it must stay within permitted at every step.
    caps::set(None, CapSet::Effective, &wanted).context("setting effective capabilities")?;
    caps::set(None, CapSet::Permitted, &wanted).context("setting permitted capabilities")?;
    caps::clear(None, CapSet::Inheritable).context("clearing inheritable capabilities")?;
    if process.no_new_privileges {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("setting no_new_privs");
        }
    }
    Ok(())
}
