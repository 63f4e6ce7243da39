//! `pod serve`: the Kubernetes API for this state directory, in the
//! foreground (see `apiserver`; `scripts/pod-serve.service` runs it under
//! systemd).

use anyhow::Result;

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port to listen on, on 127.0.0.1 only (0: any free port)
    #[arg(long, default_value_t = crate::apiserver::DEFAULT_PORT, value_name = "PORT")]
    pub port: u16,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    // A reader that has gone ends the server as any command (`out!`).
    crate::apiserver::serve(global.store()?, args.port, |url| {
        outln!("Serving the Kubernetes API on {url}")
    })
}
