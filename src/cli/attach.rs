//! `pod attach`: connect to a container's main process.

use anyhow::Result;

use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};

#[derive(Debug, clap::Args)]
#[command(override_usage = "pod attach (POD | TYPE/NAME) -c CONTAINER [-i] [-t]")]
pub struct Args {
    /// The pod (POD or pod/POD)
    #[arg(add = ArgValueCompleter::new(candidates::pods))]
    pub pod: String,

    /// The container
    #[arg(short = 'c', long, add = ArgValueCompleter::new(candidates::containers))]
    pub container: Option<String>,

    /// Pass stdin to the container
    #[arg(short = 'i', long)]
    pub stdin: bool,

    /// Stdin is a terminal
    #[arg(short = 't', long)]
    pub tty: bool,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<()> {
    anyhow::bail!("attach is not implemented yet")
}
