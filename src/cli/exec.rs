//! `pod exec`: run a command inside a running container.

use anyhow::Result;

use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};

#[derive(Debug, clap::Args)]
#[command(
    override_usage = "pod exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]"
)]
pub struct Args {
    /// The pod (POD or pod/POD)
    #[arg(add = ArgValueCompleter::new(candidates::pods))]
    pub pod: String,

    /// The command and its arguments
    #[arg(last = true, required = true)]
    pub command: Vec<String>,

    /// The container
    #[arg(short = 'c', long, add = ArgValueCompleter::new(candidates::containers))]
    pub container: Option<String>,

    /// Pass stdin to the command
    #[arg(short = 'i', long)]
    pub stdin: bool,

    /// Allocate a terminal
    #[arg(short = 't', long)]
    pub tty: bool,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<()> {
    anyhow::bail!("exec is not implemented yet")
}
