//! `pod shell`, and `pod` with no subcommand: the interactive prompt.

use anyhow::Result;

use super::GlobalArgs;

pub fn run(global: &GlobalArgs) -> Result<()> {
    super::repl::run(global)
}
