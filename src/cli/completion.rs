//! `pod completion SHELL`: the completion script of a shell.
//!
//! The scripts are small: they call `pod` back with POD_COMPLETE set and
//! the words of the command line (clap_complete's dynamic completion), so
//! that subcommands and flags come from the clap definitions and pod,
//! container and resource names from the state directory at the moment
//! of the <TAB> (see `candidates`).

use std::io::Write;

use anyhow::Result;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

/// The environment variable that turns a run of `pod` into a completion
/// request.
pub const ENV_VAR: &str = "POD_COMPLETE";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh or fish
    pub shell: Shell,
}

pub fn run(args: Args) -> Result<()> {
    let mut out = super::output::stdout();
    out.write_all(&script(args.shell))?;
    out.flush()?;
    Ok(())
}

/// The script that registers pod's completion in `shell`. It calls the
/// `pod` found on PATH.
pub fn script(shell: Shell) -> Vec<u8> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    let mut buf = Vec::new();
    completer
        .write_registration(ENV_VAR, "pod", "pod", "pod", &mut buf)
        .expect("writing to memory cannot fail");
    if shell == Shell::Zsh {
        // Installed as the autoloaded `_pod`, the file's body runs at the
        // first <TAB>: complete right away instead of only registering.
        buf.extend_from_slice(
            b"if [ \"$funcstack[1]\" = \"_pod\" ]; then\n    _clap_dynamic_completer_pod \"$@\"\nfi\n",
        );
    }
    buf
}
