//! Removing what a container instance or the whole pod leaves: its
//! processes, mounts, cgroups and directories (buried on the state disk
//! while the pod is being deleted).

use std::path::Path;

use anyhow::{Context, Result};

use super::{PodRuntime, state, userns};

impl PodRuntime {
    /// Kills what a finished instance left behind and removes its cgroup
    /// and files (its overlay upper directory, its termination log).
    pub fn cleanup_container(&mut self, name: &str, instance: u32) -> Result<()> {
        self.cgroup.child(name).destroy()?;
        state::ContainerRecord::remove(&self.run_dir, name);
        let dir = self.instance_dir(name, instance);
        state::unmount_under(&dir)?;
        remove_dir(&dir)?;
        self.remove_disk_dir(&self.instance_writable_dir(name, instance))
    }

    /// From now on, what [`PodRuntime::cleanup_container`] and
    /// [`PodRuntime::teardown`] remove from the state disk is buried
    /// ([`Store::bury`]): a pod being deleted, whose supervisor empties
    /// the graves once the deletion is answered.
    pub fn bury_removals(&mut self) {
        self.bury = true;
    }

    /// Removes a directory on the state disk, or buries it.
    fn remove_disk_dir(&self, dir: &Path) -> Result<()> {
        if !self.bury {
            return remove_dir(dir);
        }
        self.store
            .bury(dir)
            .with_context(|| format!("removing {}", dir.display()))
    }

    /// Stops everything of the pod and removes its mounts, cgroups and run
    /// directory. Idempotent; works without the supervisor.
    pub fn teardown(&mut self) -> Result<()> {
        if let Some(sandbox) = self.sandbox.take().filter(|s| s.is_alive()) {
            // The pid comes from the sandbox's record on disk: a damaged
            // one must not turn this into a kill of a process group.
            let _ = crate::process::kill(sandbox.pid, libc::SIGKILL);
        }
        // The pinned namespace outlives the pause process: DEL runs in it
        // (each plugin within its time limit). A DEL that fails does not
        // stop the teardown; its attachment stays cached.
        if let Err(e) = crate::network::detach(&self.store, self.uid()) {
            eprintln!("Warning: {e:#}");
        }
        self.cgroup.destroy()?;
        state::unmount_under(&self.run_dir)?;
        remove_dir(&self.run_dir)?;
        self.remove_disk_dir(&self.writable_dir)?;
        // Last: the range is free once nothing of the pod is left.
        userns::release(self.store.root(), self.uid())
    }
}

/// Removes a directory tree; a missing one is fine.
fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}
