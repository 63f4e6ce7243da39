//! `pod kubeconfig FILE`: a kubeconfig for `pod serve` (mode 0600: it
//! holds the client key, which is root on this machine), with the CA, the
//! client certificate and key (or the bearer token with `--token`) and
//! the server's URL: the address the running server recorded, else
//! 127.0.0.1 on `--port`.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use serde_json::json;

use super::GlobalArgs;
use crate::apiserver::pki;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to write (refused if it exists, unless --force); `-` for stdout
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,

    /// The server's port, when no server has recorded its address
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Authenticate with the bearer token instead of the client certificate
    #[arg(long)]
    pub token: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let store = global.store()?;
    let pki = pki::ensure(&store)?;
    let server = match args.port {
        Some(port) => format!("https://127.0.0.1:{port}"),
        None => fs::read_to_string(pki::dir(&store).join("address"))
            .map(|a| a.trim().to_string())
            .unwrap_or_else(|_| format!("https://127.0.0.1:{}", crate::apiserver::DEFAULT_PORT)),
    };
    let text = render(&pki, &server, args.token);
    if args.file.as_os_str() == "-" {
        out!("{text}");
        return Ok(());
    }
    if args.file.exists() && !args.force {
        bail!(
            "{} already exists (use --force to replace it)",
            args.file.display()
        );
    }
    // Written 0600 from the start: the key is never readable by others,
    // not even for a moment.
    let tmp = args.file.with_extension("pod-kubeconfig.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &args.file).with_context(|| format!("writing {}", args.file.display()))?;
    Ok(())
}

/// The kubeconfig, in the YAML kubectl itself writes.
fn render(pki: &pki::Pki, server: &str, token: bool) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user = if token {
        json!({"token": pki.token})
    } else {
        json!({
            "client-certificate-data": b64(&pki.client_cert),
            "client-key-data": b64(&pki.client_key),
        })
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "pod", "cluster": {
            "certificate-authority-data": b64(&pki.ca_cert),
            "server": server,
        }}],
        "users": [{"name": pki::ADMIN_USER, "user": user}],
        "contexts": [{"name": "pod", "context": {"cluster": "pod", "user": pki::ADMIN_USER}}],
        "current-context": "pod",
        "preferences": {},
    });
    crate::print::yaml::to_yaml(&config)
}
