//! `pod completion SHELL`: completion scripts generated from the clap
//! definitions.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh or fish
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<()> {
    let mut command = super::command();
    clap_complete::generate(args.shell, &mut command, "pod", &mut std::io::stdout());
    Ok(())
}
