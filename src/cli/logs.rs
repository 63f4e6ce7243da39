//! `pod logs`: read a container's CRI log files.

use anyhow::Result;

use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pod (POD or pod/POD)
    #[arg(add = ArgValueCompleter::new(candidates::pods))]
    pub pod: String,

    /// The container
    #[arg(short = 'c', long, add = ArgValueCompleter::new(candidates::containers))]
    pub container: Option<String>,

    /// Logs of every container of the pod
    #[arg(long)]
    pub all_containers: bool,

    /// Prefix each line with the pod and container name
    #[arg(long)]
    pub prefix: bool,

    /// Follow the log
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// The previous instance of the container
    #[arg(short = 'p', long)]
    pub previous: bool,

    /// Lines from the end to show (-1: all)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,

    /// Only lines newer than this duration (5s, 2m, 3h)
    #[arg(long)]
    pub since: Option<String>,

    /// Only lines after this RFC3339 time
    #[arg(long)]
    pub since_time: Option<String>,

    /// Show each line's timestamp
    #[arg(long)]
    pub timestamps: bool,

    /// Maximum bytes to show
    #[arg(long)]
    pub limit_bytes: Option<u64>,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<()> {
    anyhow::bail!("logs is not implemented yet")
}
