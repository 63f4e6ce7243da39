//! `pod attach`: connect to a container's main process.

use anyhow::Result;
use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};
use crate::pods::session::attach::{self, Streams};
use crate::pods::session::target::{Target, Verb};

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

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    let target = Target::resolve(
        &store,
        &global.namespace,
        &args.pod,
        args.container.as_deref(),
        Verb::Attach,
    )?;
    let container = &target.container;
    // kubectl attach: the container decides whether there is a terminal.
    let has_tty = container.tty == Some(true);
    let mut tty = args.tty;
    if tty && !has_tty {
        eprintln!(
            "error: Unable to use a TTY - container {} did not allocate one",
            container.name
        );
        tty = false;
    } else if !tty && has_tty {
        tty = true;
    }
    let raw = crate::pods::session::use_tty(args.stdin, tty);
    let streams = Streams {
        stdin: args.stdin && container.stdin == Some(true),
        raw,
        prompt_hint: args.stdin && raw,
    };
    attach::run(&store, &target, streams)?;
    let always = target
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .is_none_or(|p| p == "Always");
    if args.stdin && raw && always {
        let namespace = match global.namespace.as_str() {
            "default" => String::new(),
            ns => format!(" -n {ns}"),
        };
        outln!(
            "Session ended, resume using 'pod attach {} -c {}{namespace} -i -t' command when the pod is running",
            target.pod_name(),
            container.name
        );
    }
    Ok(())
}
