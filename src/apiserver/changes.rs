//! What tells watches that the store changed: the store's change feed
//! (`store::changes`, inotify on the state directory) followed on a
//! thread of the server's own. Each change marks the resources whose
//! files it concerns as changed (`Versions::touch`); a watch of one of
//! them wakes, reads it again and sends what changed (see `watch`).

use std::sync::Arc;

use anyhow::{Context as _, Result};

use super::Server;
use super::resources::Backing;
use crate::store::changes::{Change, Changes, Scope};

/// Starts following the store's changes for `server`'s watches, on a
/// thread of its own for as long as the server runs.
pub fn follow(server: Arc<Server>) -> Result<()> {
    let root = server.store.root().to_path_buf();
    let changes = Changes::follow(&root, Scope::everything())
        .with_context(|| format!("watching {}", root.display()))?;
    std::thread::Builder::new()
        .name("changes".into())
        .spawn(move || run(&server, changes))
        .context("starting the change follower")?;
    Ok(())
}

fn run(server: &Server, mut changes: Changes) {
    loop {
        let changed = match changes.next(None) {
            Ok(changed) => changed,
            Err(e) => {
                eprintln!("pod serve: reading store changes: {e}");
                return;
            }
        };
        if changed.contains(&Change::Everything) {
            server.versions.touch_all();
            continue;
        }
        let touched: Vec<Backing> = changed
            .iter()
            .filter_map(|c| match c {
                Change::Objects(kind) => Some(Backing::Kind(*kind)),
                Change::Events => Some(Backing::CoreEvents),
                Change::Everything => None,
            })
            .collect();
        server.versions.touch(&touched);
    }
}
