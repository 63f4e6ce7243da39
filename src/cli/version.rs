//! `pod version`.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: json, yaml
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let info = serde_json::json!({
        "clientVersion": {
            "gitVersion": format!("v{version}"),
            "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
        }
    });
    match args.output.as_deref() {
        None => println!("Client Version: v{version}\nKubernetes API: v1.37 (k8s-openapi)"),
        Some("json") => println!("{}", serde_json::to_string_pretty(&info)?),
        Some("yaml") => print!("{}", crate::print::yaml::to_yaml(&info)),
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
