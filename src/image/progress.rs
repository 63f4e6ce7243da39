//! Pull progress: a bar per blob (bytes, rate) on a terminal, podman-like
//! plain lines otherwise, nothing when quiet.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes; cheap to clone into download tasks.
#[derive(Debug, Clone)]
pub enum Progress {
    Quiet,
    Lines,
    Bars(MultiProgress),
}

impl Progress {
    pub fn quiet() -> Progress {
        Progress::Quiet
    }

    /// Bars when stderr is a terminal, lines otherwise, nothing if `quiet`.
    pub fn stderr(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Progress::Lines
        }
    }

    /// A message line (`Trying to pull …`).
    pub fn line(&self, text: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("{text}"),
            Progress::Bars(bars) => {
                let _ = bars.println(text);
            }
        }
    }

    /// Progress of one blob: `kind` is `blob` or `config`.
    pub fn blob(&self, kind: &'static str, digest: &str, size: u64) -> BlobProgress {
        let hex = digest.trim_start_matches("sha256:");
        let short = &hex[..if kind == "config" { 10 } else { 12 }.min(hex.len())];
        let label = format!("Copying {kind} {short}");
        let bar = match self {
            Progress::Bars(bars) => {
                let bar = bars.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(label.clone());
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
            _ => None,
        };
        BlobProgress {
            label,
            digest: format!("sha256:{}…", &hex[..12.min(hex.len())]),
            bar,
            lines: matches!(self, Progress::Lines),
        }
    }
}

/// One blob's bar or line.
#[derive(Debug)]
pub struct BlobProgress {
    label: String,
    /// `sha256:` and the first 12 hex digits, for lines about this blob.
    digest: String,
    bar: Option<ProgressBar>,
    lines: bool,
}

impl BlobProgress {
    pub fn advance(&self, bytes: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes as u64);
        }
    }

    /// A download continues from `offset` bytes already on disk.
    pub fn resuming(&self, offset: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(offset);
        }
        self.note(&format!(
            "resuming {} at {}",
            self.digest,
            HumanBytes(offset)
        ));
    }

    /// What was on disk is thrown away; the download starts over.
    pub fn restarting(&self, why: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
        }
        self.note(&format!(
            "{why}: downloading {} from the start",
            self.digest
        ));
    }

    /// A line about this blob, above the bars on a terminal.
    fn note(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.println(text);
        } else if self.lines {
            eprintln!("{text}");
        }
    }

    fn finish(&self, how: &str) {
        if let Some(bar) = &self.bar {
            bar.set_style(
                ProgressStyle::with_template("{prefix} {msg}").expect("a valid template"),
            );
            bar.finish_with_message(how.to_string());
        } else if self.lines {
            eprintln!("{} {how}", self.label);
        }
    }

    pub fn done(&self) {
        self.finish("done");
    }

    pub fn skipped(&self) {
        self.finish("skipped: already exists");
    }

    pub fn failed(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}
