//! Registry credentials from the usual `auth.json` files:
//! `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json` (for
//! root without XDG_RUNTIME_DIR, `/run/containers/0/auth.json`), then
//! `~/.docker/config.json`. The first file with an entry for the registry
//! wins; an entry may be for a host or for a host and a namespace.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::HashMap<String, AuthEntry>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// A username and password for a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

fn auth_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(path) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(path));
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) => files.push(PathBuf::from(dir).join("containers/auth.json")),
        None => files.push(PathBuf::from("/run/containers/0/auth.json")),
    }
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".docker/config.json"));
    }
    files
}

/// The keys an entry for `host/repository` may be stored under, most
/// specific first.
fn keys(host: &str, repository: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut path = format!("{host}/{repository}");
    loop {
        keys.push(path.clone());
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => break,
        }
    }
    if host == "docker.io" {
        keys.extend(
            [
                "https://index.docker.io/v1/",
                "index.docker.io",
                "registry-1.docker.io",
            ]
            .map(String::from),
        );
    }
    keys.push(format!("https://{host}"));
    keys.push(format!("http://{host}"));
    keys
}

/// The credentials for `host/repository`, if a file has them.
pub fn lookup(host: &str, repository: &str) -> Result<Option<Credentials>> {
    for path in auth_files() {
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) => continue,
        };
        let file: AuthFile = serde_json::from_str(&text)
            .with_context(|| format!("parsing credentials file {}", path.display()))?;
        for key in keys(host, repository) {
            if let Some(entry) = file.auths.get(&key) {
                let credentials = decode(entry)
                    .with_context(|| format!("credentials for {key} in {}", path.display()))?;
                if credentials.is_some() {
                    return Ok(credentials);
                }
            }
        }
    }
    Ok(None)
}

fn decode(entry: &AuthEntry) -> Result<Option<Credentials>> {
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        }));
    }
    let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| anyhow!("\"auth\" is not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow!("\"auth\" is not UTF-8"))?;
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| anyhow!("\"auth\" is not user:password"))?;
    Ok(Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_entries() {
        let entry = AuthEntry {
            auth: Some(base64::engine::general_purpose::STANDARD.encode("me:s3:cret")),
            ..AuthEntry::default()
        };
        assert_eq!(
            decode(&entry).unwrap(),
            Some(Credentials {
                username: "me".into(),
                password: "s3:cret".into()
            })
        );
        let bad = AuthEntry {
            auth: Some("!!".into()),
            ..AuthEntry::default()
        };
        assert!(decode(&bad).is_err());
        assert_eq!(decode(&AuthEntry::default()).unwrap(), None);
    }

    #[test]
    fn looks_up_namespaces_before_hosts() {
        let k = keys("quay.io", "team/app");
        assert_eq!(&k[..3], ["quay.io/team/app", "quay.io/team", "quay.io"]);
        assert!(keys("docker.io", "library/x").contains(&"https://index.docker.io/v1/".into()));
    }
}
