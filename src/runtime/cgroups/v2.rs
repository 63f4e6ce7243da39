//! cgroup v2: the unified hierarchy; controllers are enabled down the
//! path through cgroup.subtree_control.

use std::path::Path;

use anyhow::{Context, Result};

use super::{Limits, write};

const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

/// Creates `relative` under `root`, enabling our controllers in every
/// ancestor's subtree_control on the way.
pub fn create(root: &Path, relative: &Path) -> Result<()> {
    let mut dir = root.to_path_buf();
    for part in relative.components() {
        enable_controllers(&dir)?;
        dir.push(part);
        if !dir.exists() {
            std::fs::create_dir(&dir)
                .with_context(|| format!("creating cgroup {}", dir.display()))?;
        }
    }
    Ok(())
}

fn enable_controllers(dir: &Path) -> Result<()> {
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

/// Writes `limits` in the cgroup `dir`. A limit whose controller the
/// hierarchy does not offer is skipped, as the v1 path skips a controller
/// that is not mounted: on a hybrid host the v1 hierarchies hold memory,
/// cpu and pids, and the cgroup2 one has none of them (its files, such as
/// pids.max, do not exist, and writing one fails with EACCES).
pub fn apply(dir: &Path, limits: &Limits) -> Result<()> {
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|a| a == c);
    if let (Some(bytes), true) = (limits.memory, has("memory")) {
        write(&dir.join("memory.max"), &bytes.to_string())?;
    }
    if has("cpu") {
        if let Some((quota, period)) = limits.cpu_quota {
            write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
        }
        if let Some(shares) = limits.cpu_shares {
            write(
                &dir.join("cpu.weight"),
                &weight_from_shares(shares).to_string(),
            )?;
        }
    }
    if let (Some(max), true) = (limits.pids, has("pids")) {
        write(&dir.join("pids.max"), &max.to_string())?;
    }
    Ok(())
}

/// The OCI conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000].
pub fn weight_from_shares(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The `oom_kill` line of memory.events.
pub fn oom_kills(dir: &Path) -> u64 {
    counter(&dir.join("memory.events"), "oom_kill")
}

/// A `name value` line of a flat-keyed control file.
pub fn counter(file: &Path, name: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}
