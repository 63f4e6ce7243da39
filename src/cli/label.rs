//! `pod label`: add, change or remove labels of stored objects.

use anyhow::Result;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE NAME or TYPE/NAME, then KEY=VALUE or KEY- items
    #[arg(required = true)]
    pub items: Vec<String>,

    /// Allow changing an existing value
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<()> {
    anyhow::bail!("label is not implemented yet")
}
