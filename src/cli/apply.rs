//! `pod apply -f`: create objects, update ConfigMaps and Secrets; pod specs
//! are immutable.

use anyhow::Result;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, directories or `-` (stdin) holding the manifests
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub filenames: Vec<String>,

    /// Process the directories given with -f recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<()> {
    anyhow::bail!("apply is not implemented yet")
}
