//! `pod version`.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: json, yaml
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<String>,
}

/// The commit a release build was made from, and whether what was
/// compiled differed from it (`clean` or `dirty`); none in a debug build.
pub const GIT_COMMIT: Option<&str> = option_env!("POD_GIT_COMMIT");
pub const GIT_TREE_STATE: Option<&str> = option_env!("POD_GIT_TREE_STATE");

pub fn run(args: Args) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let mut client = serde_json::json!({
        "gitVersion": format!("v{version}"),
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    });
    // A release build names its commit (see build.rs), as kubectl does.
    if let (Some(commit), Some(state)) = (GIT_COMMIT, GIT_TREE_STATE) {
        client["gitCommit"] = commit.into();
        client["gitTreeState"] = state.into();
    }
    let info = serde_json::json!({ "clientVersion": client });
    match args.output.as_deref() {
        None => outln!("Client Version: v{version}\nKubernetes API: v1.37 (k8s-openapi)"),
        Some("json") => outln!("{}", serde_json::to_string_pretty(&info)?),
        Some("yaml") => out!("{}", crate::print::yaml::to_yaml(&info)),
        Some(other) => anyhow::bail!("--output must be 'yaml' or 'json', not {other:?}"),
    }
    Ok(())
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
