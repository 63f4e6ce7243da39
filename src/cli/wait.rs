//! `pod wait`: wait for a condition, deletion or a jsonpath value.

use anyhow::Result;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TYPE/NAME or TYPE NAME...
    pub resources: Vec<String>,

    /// condition=NAME[=value], delete, create, or jsonpath='{...}'=value
    #[arg(long = "for", value_name = "CONDITION", required = true)]
    pub condition: String,

    /// How long to wait (30s, 5m; 0 checks once)
    #[arg(long, default_value = "30s")]
    pub timeout: String,

    /// Label selector
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Every object of the given types
    #[arg(long)]
    pub all: bool,
}

pub fn run(_global: &GlobalArgs, _args: Args) -> Result<()> {
    anyhow::bail!("wait is not implemented yet")
}
