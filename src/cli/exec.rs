//! `pod exec`: run a command inside a running container.

use anyhow::Result;
use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};
use crate::pods::session::exec::{self, Streams};
use crate::pods::session::target::{Target, Verb};

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

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    let target = Target::resolve(
        &store,
        &global.namespace,
        &args.pod,
        args.container.as_deref(),
        Verb::Exec,
    )?;
    let streams = Streams {
        stdin: args.stdin,
        tty: crate::pods::session::use_tty(args.stdin, args.tty),
    };
    exec::run(&store, &target, &args.command, streams)
}
