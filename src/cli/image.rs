//! `pod image ...`: the image store's commands, shaped after podman's.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use super::GlobalArgs;
use crate::image::gc::{self, PodImage};
use crate::image::import::{self, Changes};
use crate::image::{ImageStore, Reference, StoredImage};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// Load images from a docker-archive or oci-archive (docker save,
    /// podman save)
    Load(LoadArgs),
    /// Import a root filesystem tarball as a one-layer image
    Import(ImportArgs),
    /// Display detailed information on images, as JSON
    Inspect(InspectArgs),
    /// Remove images
    #[command(alias = "remove", alias = "rmi")]
    Rm(RmArgs),
    /// Remove unreferenced blobs and layers, and with --all unused images
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Show only image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Output format: json
    #[arg(short, long, value_name = "FORMAT")]
    output: Option<String>,
    /// Do not truncate image IDs
    #[arg(long)]
    no_trunc: bool,
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// The image: NAME[:TAG|@DIGEST]
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Print no progress, only the image ID
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The archive to read (plain, gzip or zstd); stdin when omitted or -
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print nothing
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The root filesystem tarball (plain, gzip or zstd), or - for stdin
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The image's name, NAME[:TAG]
    #[arg(value_name = "NAME[:TAG]")]
    name: String,
    /// A Dockerfile instruction for the image config: CMD, ENTRYPOINT, ENV,
    /// EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
    #[arg(short, long, value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Print only the image ID
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Image names or IDs
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Image names or IDs
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
    /// Remove images even when pods use them
    #[arg(short, long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove every image no pod uses, not only unreferenced content
    #[arg(short, long)]
    all: bool,
}

pub fn run(global: &GlobalArgs, command: Command) -> Result<()> {
    let store = global.store()?;
    let images = ImageStore::open(&store.images_dir())?;
    let pods_dir = store.root().join("pods");
    let mut out = super::output::stdout();
    match command {
        Command::Ls(args) => ls(&images, &args, &mut out),
        Command::Pull(args) => {
            Reference::parse(&args.image).map_err(|e| anyhow!("{}: {e}", args.image))?;
            let progress = crate::image::Progress::stderr(args.quiet);
            let image = images.pull(&args.image, &progress)?;
            writeln!(out, "{}", image.id.trim_start_matches("sha256:"))?;
            Ok(())
        }
        Command::Load(args) => load(&images, &args, &mut out),
        Command::Import(args) => import(&images, &args, &mut out),
        Command::Inspect(args) => inspect(&images, &args, &mut out),
        Command::Rm(args) => {
            let pods = gc::pod_images(&pods_dir)?;
            rm(&images, &args, &pods, &mut out)
        }
        Command::Prune(args) => {
            let pods = gc::pod_images(&pods_dir)?;
            let removal = images.prune(args.all, &pods)?;
            for name in &removal.untagged {
                writeln!(out, "Untagged: {name}")?;
            }
            for id in &removal.deleted {
                writeln!(out, "Deleted: {id}")?;
            }
            writeln!(
                out,
                "Total reclaimed space: {}",
                human_size(removal.reclaimed)
            )?;
            Ok(())
        }
    }
}

fn ls(images: &ImageStore, args: &LsArgs, out: &mut impl Write) -> Result<()> {
    let list = images.list()?;
    match args.output.as_deref() {
        None | Some("") | Some("table") => {}
        Some("json") => {
            let items: Vec<Value> = list.iter().map(|i| ls_json(images, i)).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            return Ok(());
        }
        Some(other) => {
            return Err(anyhow!(
                "unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,table"
            ));
        }
    }
    let short = |id: &str| -> String {
        let hex = id.trim_start_matches("sha256:");
        if args.no_trunc {
            id.to_string()
        } else {
            hex[..12.min(hex.len())].to_string()
        }
    };
    if args.quiet {
        for image in &list {
            writeln!(out, "{}", short(&image.id))?;
        }
        return Ok(());
    }
    let mut rows = vec![[
        "REPOSITORY".to_string(),
        "TAG".into(),
        "IMAGE ID".into(),
        "CREATED".into(),
        "SIZE".into(),
    ]];
    let now = jiff::Timestamp::now();
    for image in &list {
        let created = created_ago(image, now);
        let size = human_size(images.size(image));
        for (repository, tag) in repository_tags(image) {
            rows.push([
                repository,
                tag,
                short(&image.id),
                created.clone(),
                size.clone(),
            ]);
        }
    }
    write_table(out, &rows)
}

/// (REPOSITORY, TAG) rows of an image: one a name, `<none>` for a tag
/// when the name is a digest.
fn repository_tags(image: &StoredImage) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = image
        .names
        .iter()
        .filter_map(|n| Reference::parse(n).ok())
        .map(|r| {
            let tag = r.tag.clone().unwrap_or_else(|| "<none>".into());
            (r.repository(), tag)
        })
        .collect();
    if rows.is_empty() {
        rows.push(("<none>".into(), "<none>".into()));
    }
    rows
}

fn created_ago(image: &StoredImage, now: jiff::Timestamp) -> String {
    image
        .config
        .created()
        .as_deref()
        .and_then(|c| c.parse::<jiff::Timestamp>().ok())
        .map(|t| {
            format!(
                "{} ago",
                crate::duration::docker_human(now.duration_since(t).as_secs_f64())
            )
        })
        .unwrap_or_else(|| "N/A".into())
}

/// Columns padded to their widest cell, separated by three spaces, as
/// kubectl's tabwriter lays out tables.
fn write_table<const N: usize>(out: &mut impl Write, rows: &[[String; N]]) -> Result<()> {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn ls_json(images: &ImageStore, image: &StoredImage) -> Value {
    let created = image.config.created().clone().unwrap_or_default();
    let created_unix = created
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .unwrap_or(0);
    let size = images.size(image);
    json!({
        "Id": image.id.trim_start_matches("sha256:"),
        "Digest": image.digest,
        "RepoTags": image.names,
        "RepoDigests": image.repo_digests(),
        "Names": image.names,
        "Size": size,
        "VirtualSize": size,
        "Labels": image.config.config().as_ref().and_then(|c| c.labels().clone()),
        "Created": created_unix,
        "CreatedAt": created,
    })
}

/// A file, or stdin for `-`; refuses a terminal as stdin.
fn input(path: Option<&std::path::Path>) -> Result<Box<dyn Read>> {
    match path {
        Some(path) if path.as_os_str() != "-" => Ok(Box::new(
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        _ => {
            let stdin = io::stdin();
            if std::io::IsTerminal::is_terminal(&stdin) {
                anyhow::bail!(
                    "stdin is a terminal: give a file with -i FILE or pipe an archive in"
                );
            }
            Ok(Box::new(stdin.lock()))
        }
    }
}

fn load(images: &ImageStore, args: &LoadArgs, out: &mut impl Write) -> Result<()> {
    let reader = input(args.input.as_deref())?;
    let source = match &args.input {
        Some(path) if path.as_os_str() != "-" => path.display().to_string(),
        _ => "stdin".to_string(),
    };
    let names =
        crate::image::archive::load(images, reader).with_context(|| format!("loading {source}"))?;
    if !args.quiet {
        for name in names {
            writeln!(out, "Loaded image: {name}")?;
        }
    }
    Ok(())
}

fn import(images: &ImageStore, args: &ImportArgs, out: &mut impl Write) -> Result<()> {
    let name = Reference::parse(&args.name).map_err(|e| anyhow!("{}: {e}", args.name))?;
    let changes = Changes::parse(&args.change)?;
    let reader = input(Some(&args.file))?;
    let image = import::import(images, reader, &name, &changes)
        .with_context(|| format!("importing {}", args.file.display()))?;
    if !args.quiet {
        writeln!(out, "{}", image.id)?;
    } else {
        writeln!(out, "{}", image.id.trim_start_matches("sha256:"))?;
    }
    Ok(())
}

fn inspect(images: &ImageStore, args: &InspectArgs, out: &mut impl Write) -> Result<()> {
    let mut items = Vec::new();
    for text in &args.images {
        let image = images
            .find(text)?
            .ok_or_else(|| crate::error::ApiError::NotFound {
                resource: "images".into(),
                name: text.clone(),
            })?;
        items.push(inspect_json(images, &image));
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
    Ok(())
}

/// The shape of `podman image inspect`.
fn inspect_json(images: &ImageStore, image: &StoredImage) -> Value {
    let config = &image.config;
    let size = images.size(image);
    json!({
        "Id": image.id.trim_start_matches("sha256:"),
        "Digest": image.digest,
        "RepoTags": image.names,
        "RepoDigests": image.repo_digests(),
        "Created": config.created(),
        "Config": config.config(),
        "Version": "",
        "Author": config.author().clone().unwrap_or_default(),
        "Architecture": config.architecture().to_string(),
        "Os": config.os().to_string(),
        "Size": size,
        "VirtualSize": size,
        "Labels": config.config().as_ref().and_then(|c| c.labels().clone()),
        "Annotations": image.manifest.annotations().clone().unwrap_or_default(),
        "ManifestType": image.manifest.media_type().as_ref().map(|m| m.to_string())
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into()),
        "RootFS": { "Type": "layers", "Layers": image.diff_ids() },
        "History": config.history(),
    })
}

fn rm(images: &ImageStore, args: &RmArgs, pods: &[PodImage], out: &mut impl Write) -> Result<()> {
    for text in &args.images {
        let removal = images.remove(text, args.force, pods)?;
        for name in &removal.untagged {
            writeln!(out, "Untagged: {name}")?;
        }
        for id in &removal.deleted {
            writeln!(out, "Deleted: {}", id.trim_start_matches("sha256:"))?;
        }
    }
    Ok(())
}

/// Sizes in SI units with three significant digits, as podman prints them
/// (`4.27 MB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit + 1 < UNITS.len() {
        size /= 1000.0;
        unit += 1;
    }
    // Go's %.3g: three significant digits, trailing zeros dropped.
    let decimals = if size >= 100.0 {
        0
    } else if size >= 10.0 {
        1
    } else {
        2
    };
    let mut text = format!("{size:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_podman() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(4_268_000), "4.27 MB");
        assert_eq!(human_size(12_000_000), "12 MB");
        assert_eq!(human_size(123_456_789), "123 MB");
        assert_eq!(human_size(1_500), "1.5 kB");
    }
}
