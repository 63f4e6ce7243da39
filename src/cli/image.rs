//! `pod image ...`: the image store's commands.

use anyhow::Result;

use super::GlobalArgs;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List images
    #[command(alias = "list")]
    Ls,
}

pub fn run(_global: &GlobalArgs, _command: Command) -> Result<()> {
    anyhow::bail!("images are not implemented yet")
}
