//! `pod up`: bring the node's pods back after the machine restarted, as
//! the kubelet does when it starts (see `pods::boot`). The systemd unit
//! `pod.service` runs it at boot.

use anyhow::{Result, anyhow};

use super::GlobalArgs;
use crate::pods::boot::{self, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(global: &GlobalArgs, _args: Args) -> Result<()> {
    let store = global.store()?;
    let boot::Report { done, mut errors } = boot::up(&store)?;
    for (pod, outcome) in done {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let what = match outcome {
            Outcome::Started => "started",
            Outcome::Adopted => "adopted",
            Outcome::AdoptedTerminating => "adopted; its deletion goes on",
            Outcome::Deleted => "deleted",
            Outcome::Failed => {
                "failed: its containers were lost when the node restarted (restartPolicy Never)"
            }
        };
        let place = match namespace {
            "default" => String::new(),
            other => format!(" in namespace {other}"),
        };
        outln!("pod/{name}{place} {what}");
    }
    let Some(last) = errors.pop() else {
        return Ok(());
    };
    for e in &errors {
        eprintln!("{}", crate::error::render(e));
    }
    Err(anyhow!(last))
}
