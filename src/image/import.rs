//! `pod image import`: a root filesystem tarball becomes a one-layer image,
//! its config set by Dockerfile-like `--change` instructions.

use std::io::{self, Read};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

use super::unpack::Compression;
use super::{ImageStore, Reference, StoredImage};

/// The PATH images get when they do not set one, as buildah gives
/// imported images.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Config fields set by `--change`; unset fields stay out of the config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub stop_signal: Option<String>,
    pub volumes: Vec<String>,
}

impl Changes {
    /// Parses `--change` values (`CMD ["sh"]`, `ENV A=b`, `WORKDIR /x`, …).
    pub fn parse(instructions: &[String]) -> Result<Changes> {
        let mut changes = Changes::default();
        for text in instructions {
            changes
                .apply(text)
                .with_context(|| format!("invalid --change {text:?}"))?;
        }
        Ok(changes)
    }

    fn apply(&mut self, text: &str) -> Result<()> {
        let text = text.trim();
        let (instruction, args) = match text.split_once(char::is_whitespace) {
            Some((i, a)) => (i, a.trim()),
            None => (text, ""),
        };
        if args.is_empty() {
            bail!("{instruction} needs an argument");
        }
        match instruction.to_ascii_uppercase().as_str() {
            "CMD" => self.cmd = Some(command_form(args)?),
            "ENTRYPOINT" => self.entrypoint = Some(command_form(args)?),
            "ENV" => self.env.extend(key_values(args, "ENV")?),
            "LABEL" => self.labels.extend(key_values(args, "LABEL")?),
            "WORKDIR" => self.working_dir = Some(args.to_string()),
            "USER" => self.user = Some(args.to_string()),
            "STOPSIGNAL" => self.stop_signal = Some(args.to_string()),
            "EXPOSE" => {
                for port in args.split_whitespace() {
                    let port = if port.contains('/') {
                        port.to_string()
                    } else {
                        format!("{port}/tcp")
                    };
                    self.exposed_ports.push(port);
                }
            }
            "VOLUME" => {
                if args.starts_with('[') {
                    self.volumes.extend(json_strings(args)?);
                } else {
                    self.volumes
                        .extend(args.split_whitespace().map(str::to_string));
                }
            }
            other => bail!(
                "unknown instruction {other:?} (expected CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR)"
            ),
        }
        Ok(())
    }

    /// The `config` object of an image configuration.
    pub fn to_config(&self) -> Value {
        let mut config = Map::new();
        let mut env = vec![DEFAULT_PATH.to_string()];
        for (key, value) in &self.env {
            let entry = format!("{key}={value}");
            match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
                Some(existing) => *existing = entry,
                None => env.push(entry),
            }
        }
        config.insert("Env".into(), json!(env));
        if let Some(v) = &self.entrypoint {
            config.insert("Entrypoint".into(), json!(v));
        }
        if let Some(v) = &self.cmd {
            config.insert("Cmd".into(), json!(v));
        }
        if let Some(v) = &self.working_dir {
            config.insert("WorkingDir".into(), json!(v));
        }
        if let Some(v) = &self.user {
            config.insert("User".into(), json!(v));
        }
        if let Some(v) = &self.stop_signal {
            config.insert("StopSignal".into(), json!(v));
        }
        let set = |items: &[String]| -> Value {
            Value::Object(items.iter().map(|p| (p.clone(), json!({}))).collect())
        };
        if !self.exposed_ports.is_empty() {
            config.insert("ExposedPorts".into(), set(&self.exposed_ports));
        }
        if !self.volumes.is_empty() {
            config.insert("Volumes".into(), set(&self.volumes));
        }
        if !self.labels.is_empty() {
            let labels: Map<String, Value> = self
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            config.insert("Labels".into(), Value::Object(labels));
        }
        Value::Object(config)
    }
}

/// `["a", "b"]` (exec form) or `a b` (shell form, run by /bin/sh -c).
fn command_form(args: &str) -> Result<Vec<String>> {
    if args.starts_with('[') {
        json_strings(args)
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), args.into()])
    }
}

fn json_strings(args: &str) -> Result<Vec<String>> {
    serde_json::from_str(args).map_err(|_| anyhow!("{args} is not a JSON array of strings"))
}

/// `K=V K2="v 2"` or the legacy `K V`.
fn key_values(args: &str, instruction: &str) -> Result<Vec<(String, String)>> {
    let first = args.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        return match args.split_once(char::is_whitespace) {
            Some((k, v)) => Ok(vec![(k.to_string(), v.trim().to_string())]),
            None => bail!("{instruction} {args}: expected KEY=VALUE"),
        };
    }
    let mut out = Vec::new();
    for word in shell_words(args)? {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| anyhow!("{instruction} {word}: expected KEY=VALUE"))?;
        if k.is_empty() {
            bail!("{instruction} {word}: empty key");
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Splits on whitespace, honouring double and single quotes and `\`.
fn shell_words(text: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, c) => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if quote.is_some() {
        bail!("unterminated quote in {text:?}");
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Imports the root filesystem tarball in `reader` (plain, gzip or zstd)
/// as a one-layer image named `name`.
pub fn import(
    store: &ImageStore,
    reader: impl Read,
    name: &Reference,
    changes: &Changes,
) -> Result<StoredImage> {
    let _gc = super::gc::CollectionLock::writer(store)?;
    let mut reader = io::BufReader::new(reader);
    let head = io::BufRead::fill_buf(&mut reader)?.to_vec();
    if head.is_empty() {
        bail!("the tarball is empty");
    }
    let compression = Compression::detect(&head);
    let layer = store.put_blob(reader, None)?;
    let layer_size = store.blobs().size(&layer);
    let (diff_id, _) = match store.unpack_layer(&layer, None) {
        Ok(unpacked) => unpacked,
        Err(e) => {
            // Leave nothing behind, unless a stored image shares the blob.
            let referenced = store.list().is_ok_and(|images| {
                images.iter().any(|i| {
                    i.manifest
                        .layers()
                        .iter()
                        .any(|l| l.digest().to_string() == layer)
                })
            });
            if !referenced {
                let _ = store.blobs().remove(&layer);
            }
            return Err(e.context(format!("image {name}")));
        }
    };
    let created = jiff::Timestamp::now().to_string();
    let config = json!({
        "created": created,
        "architecture": super::go_arch(),
        "os": "linux",
        "config": changes.to_config(),
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": created, "created_by": "pod image import" }],
    });
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = store.blobs().put_bytes(&config_bytes)?;
    let layer_media_type = compression.oci_media_type();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_bytes.len(),
        },
        "layers": [{
            "mediaType": layer_media_type,
            "digest": layer,
            "size": layer_size,
        }],
    });
    store.commit(&serde_json::to_vec(&manifest)?, std::slice::from_ref(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[&str]) -> Result<Changes> {
        Changes::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_changes() {
        let c = parse(&[
            r#"CMD ["sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /bin/init --flag",
            r#"ENV A=1 B="two words""#,
            "ENV LEGACY some value",
            "WORKDIR /srv",
            "USER nobody",
            "EXPOSE 80 53/udp",
            "STOPSIGNAL SIGQUIT",
        ])
        .unwrap();
        assert_eq!(c.cmd.as_deref().unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(
            c.entrypoint.as_deref().unwrap(),
            ["/bin/sh", "-c", "/bin/init --flag"]
        );
        assert_eq!(
            c.env,
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("LEGACY".into(), "some value".into())
            ]
        );
        let config = c.to_config();
        assert_eq!(config["WorkingDir"], "/srv");
        assert_eq!(config["User"], "nobody");
        assert_eq!(config["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(config["Env"][1], "A=1");
    }

    #[test]
    fn refuses_bad_changes() {
        let err = parse(&["FROM scratch"]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "invalid --change \"FROM scratch\": unknown instruction \"FROM\" (expected CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR)"
        );
        assert!(parse(&["CMD [sh]"]).is_err());
        assert!(parse(&["WORKDIR"]).is_err());
        assert!(parse(&["ENV =x"]).is_err());
    }

    #[test]
    fn env_overrides_path() {
        let c = parse(&["ENV PATH=/bin"]).unwrap();
        assert_eq!(c.to_config()["Env"], json!(["PATH=/bin"]));
    }
}
