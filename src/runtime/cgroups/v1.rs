//! cgroup v1: one hierarchy per controller.

use std::path::Path;

use anyhow::{Result, bail};

use super::{Layout, Limits, devices, write};

pub fn apply(layout: &Layout, relative: &Path, limits: &Limits) -> Result<()> {
    if let (Some(bytes), Some(root)) = (limits.memory, layout.v1_dir("memory")) {
        write(
            &root.join(relative).join("memory.limit_in_bytes"),
            &bytes.to_string(),
        )?;
    }
    if let Some(root) = layout.v1_dir("cpu") {
        let dir = root.join(relative);
        if let Some(shares) = limits.cpu_shares {
            write(&dir.join("cpu.shares"), &shares.to_string())?;
        }
        if let Some((quota, period)) = limits.cpu_quota {
            write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
        }
    }
    if let (Some(max), Some(root)) = (limits.pids, layout.v1_dir("pids")) {
        write(&root.join(relative).join("pids.max"), &max.to_string())?;
    }
    if let Some(rules) = limits.devices {
        let Some(root) = layout.v1_dir("devices") else {
            // Running the container with every host device open is not
            // an option: refuse.
            bail!(
                "the devices cgroup controller is not mounted, so containers cannot be kept from the host's devices"
            )
        };
        devices::apply_v1(&root.join(relative), rules)?;
    }
    Ok(())
}

/// The `oom_kill` count of memory.oom_control (kernel ≥ 4.13).
pub fn oom_kills(dir: &Path) -> u64 {
    super::v2::counter(&dir.join("memory.oom_control"), "oom_kill")
}
