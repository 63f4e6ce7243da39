//! Container logs in the CRI format the kubelet reads
//! (`<RFC3339Nano> <stdout|stderr> <P|F> <content>`), with size-based
//! rotation, and the parser `pod logs` uses.
//!
//! Lines are cut at 16 KiB like containerd's, the cut pieces tagged `P`
//! (partial) and the last piece `F`, so a reader glues them back.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use k8s_openapi::jiff::Timestamp;

/// The longest piece written as one log entry.
pub const MAX_ENTRY: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// When to rotate: kubelet's containerLogMaxSize (10Mi) and
/// containerLogMaxFiles (5), overridable for tests with
/// `POD_LOG_MAX_SIZE` (bytes) and `POD_LOG_MAX_FILES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rotation {
    pub max_size: u64,
    pub max_files: usize,
}

impl Default for Rotation {
    fn default() -> Rotation {
        Rotation {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

impl Rotation {
    pub fn from_env() -> Rotation {
        let mut r = Rotation::default();
        if let Some(n) = std::env::var("POD_LOG_MAX_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            r.max_size = n;
        }
        if let Some(n) = std::env::var("POD_LOG_MAX_FILES")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            r.max_files = std::cmp::max(n, 1);
        }
        r
    }
}

/// Buffered entries are written out once they reach this size.
const FLUSH_AT: usize = 64 * 1024;

/// The log file of one container instance, rotated by size.
///
/// Entries are formatted into a buffer the caller passes (`write_entry`)
/// and written out with `flush`, one write(2) per read of the container's
/// output instead of one per line. The buffer is not the file's own: a
/// supervisor has one for all its containers (`supervisor::memory`), where
/// a buffer per file was 64 KiB per container for the pod's life.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    /// The last entry's time, formatted: the entries of one read share
    /// it, and formatting it for each line was most of a pump's CPU time.
    stamp: Option<(Timestamp, String)>,
    /// The last write failed (a full disk fails every one after it).
    failing: bool,
}

impl LogFile {
    pub fn create(path: &Path, rotation: Rotation) -> io::Result<LogFile> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = File::options().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            stamp: None,
            failing: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Notes a failed write; true for the first since the file was last
    /// written out whole, the one worth reporting: a full disk fails
    /// every write of a chatty container, and the report goes to the
    /// supervisor's log, in /run.
    pub fn first_failure(&mut self) -> bool {
        !std::mem::replace(&mut self.failing, true)
    }

    /// Notes that everything buffered was written out.
    pub fn recovered(&mut self) {
        self.failing = false;
    }

    /// Writes out the entries in `out` and empties it (also when the write
    /// fails: what is in it is this file's only); readers see whole
    /// entries only.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let written = self.file.write_all(out);
        out.clear();
        written
    }

    /// Appends one entry to `out`, which holds only entries of this file
    /// not flushed yet; `content` holds no newline.
    pub fn write_entry(
        &mut self,
        out: &mut Vec<u8>,
        time: Timestamp,
        stream: Stream,
        partial: bool,
        content: &[u8],
    ) -> io::Result<()> {
        if self.stamp.as_ref().is_none_or(|(t, _)| *t != time) {
            self.stamp = Some((time, format_time(time)));
        }
        let stamp = self.stamp.as_ref().map_or("", |(_, s)| s.as_str());
        let tag: &[u8] = if partial { b" P " } else { b" F " };
        let stream = stream.as_str();
        for part in [
            stamp.as_bytes(),
            b" ",
            stream.as_bytes(),
            tag,
            content,
            b"\n",
        ] {
            out.extend_from_slice(part);
        }
        self.size += (stamp.len() + stream.len() + content.len() + 5) as u64;
        if self.size >= self.rotation.max_size {
            self.flush(out)?;
            self.rotate()?;
        } else if out.len() >= FLUSH_AT {
            // A read of short lines makes entries several times its size.
            self.flush(out)?;
        }
        Ok(())
    }

    /// Moves the current file aside as `<file>.<YYYYMMDD-HHMMSS>` (the
    /// kubelet's suffix) and keeps at most `max_files` files in all.
    fn rotate(&mut self) -> io::Result<()> {
        let stamp = crate::duration::now().strftime("%Y%m%d-%H%M%S").to_string();
        let mut aside = suffixed(&self.path, &stamp);
        let mut n = 1;
        while aside.exists() {
            aside = suffixed(&self.path, &format!("{stamp}.{n}"));
            n += 1;
        }
        fs::rename(&self.path, &aside)?;
        self.file = File::options().create(true).append(true).open(&self.path)?;
        self.size = 0;
        let mut rotated = rotated_files(&self.path)?;
        while rotated.len() + 1 > self.rotation.max_files {
            let _ = fs::remove_file(rotated.remove(0));
        }
        Ok(())
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// The rotated-away files of `path`, oldest first.
pub fn rotated_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = format!(
        "{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut out: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let modified = entry.metadata()?.modified()?;
            out.push((modified, entry.path()));
        }
    }
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

/// Go's RFC3339Nano: UTC, fractional seconds without trailing zeros.
pub fn format_time(time: Timestamp) -> String {
    time.to_string()
}

/// Cuts a byte stream into log entries: whole lines, and 16 KiB pieces of
/// longer ones.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes read from the container; `emit(content, partial)` is
    /// called for each complete entry.
    pub fn feed(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        while let Some(newline) = memchr::memchr(b'\n', data) {
            let (line, rest) = data.split_at(newline);
            if self.pending.is_empty() {
                emit_cut(line, &mut emit);
            } else {
                self.pending.extend_from_slice(line);
                emit_cut(&std::mem::take(&mut self.pending), &mut emit);
            }
            data = &rest[1..];
        }
        self.pending.extend_from_slice(data);
        while self.pending.len() >= MAX_ENTRY {
            let rest = self.pending.split_off(MAX_ENTRY);
            emit(&self.pending, true);
            self.pending = rest;
        }
    }

    /// The stream ended: what is left is a last, unterminated line.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit(&std::mem::take(&mut self.pending), false);
        }
    }
}

fn emit_cut(line: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
    let mut chunks = line.chunks(MAX_ENTRY).peekable();
    if chunks.peek().is_none() {
        emit(b"", false);
    }
    while let Some(chunk) = chunks.next() {
        emit(chunk, chunks.peek().is_some());
    }
}

/// One parsed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time: Timestamp,
    pub stream: Stream,
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parses one CRI log line (without its newline), as the kubelet's
/// `parseCRILog`: tags are `:`-separated and only the first counts.
pub fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let tags = parts.next()?;
    let partial = tags.split(|&b| b == b':').next()? == b"P";
    let content = parts.next().unwrap_or(b"");
    Some(Entry {
        time,
        stream,
        partial,
        content,
    })
}

/// A whole line as the container wrote it, glued from its pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The time of the line's first piece.
    pub time: Timestamp,
    pub stream: Stream,
    /// The content with its newline.
    pub content: Vec<u8>,
}

/// Glues pieces back into lines as raw log lines come in (a file read
/// whole, or followed as it grows).
#[derive(Debug, Default)]
pub struct Reassembler {
    open: [Option<Line>; 2],
}

impl Reassembler {
    /// Takes one raw log line (without its newline); returns the line it
    /// completes, if any. Lines that do not parse are skipped.
    pub fn push(&mut self, raw: &[u8]) -> Option<Line> {
        let entry = parse_line(raw)?;
        let slot = &mut self.open[entry.stream as usize];
        let line = slot.get_or_insert_with(|| Line {
            time: entry.time,
            stream: entry.stream,
            content: Vec::new(),
        });
        line.content.extend_from_slice(entry.content);
        if entry.partial {
            return None;
        }
        let mut done = slot.take().expect("just filled");
        done.content.push(b'\n');
        Some(done)
    }

    /// Lines still waiting for their last piece, as they stand.
    pub fn unfinished(self) -> impl Iterator<Item = Line> {
        self.open.into_iter().flatten()
    }
}

/// Reassembles the lines of a log file's text. A last line cut short (a
/// partial piece with nothing after it yet) is returned as it stands.
pub fn lines(text: &[u8]) -> Vec<Line> {
    let mut glue = Reassembler::default();
    let mut out: Vec<Line> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|raw| glue.push(raw))
        .collect();
    out.extend(glue.unfinished());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn writes_kubelet_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/0.log");
        let mut log = LogFile::create(&path, Rotation::default()).unwrap();
        let t = ts("2016-10-06T00:17:09.669794202Z");
        let mut out = Vec::new();
        log.write_entry(&mut out, t, Stream::Stdout, false, b"log content")
            .unwrap();
        let half = ts("2016-10-06T00:17:10Z");
        log.write_entry(&mut out, half, Stream::Stderr, true, b"half")
            .unwrap();
        // Nothing reaches the file before the flush, which empties `out`.
        assert_eq!(fs::read_to_string(&path).unwrap(), "");
        log.flush(&mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "2016-10-06T00:17:09.669794202Z stdout F log content\n\
             2016-10-06T00:17:10Z stderr P half\n"
        );
    }

    #[test]
    fn trailing_zeros_of_the_nanoseconds_are_dropped() {
        assert_eq!(
            format_time(ts("2024-01-02T03:04:05.120000000Z")),
            "2024-01-02T03:04:05.12Z"
        );
    }

    #[test]
    fn parses_what_it_writes_and_glues_pieces() {
        let text = b"2016-10-06T00:17:09.669794202Z stdout P hel\n\
2016-10-06T00:17:09.7Z stderr F oops\n\
2016-10-06T00:17:09.8Z stdout F lo\n\
garbage\n\
2016-10-06T00:17:09.9Z stdout F\n\
2016-10-06T00:17:10Z stdout P:x tail";
        let got = lines(text);
        let contents: Vec<_> = got
            .iter()
            .map(|l| (l.stream, String::from_utf8_lossy(&l.content).into_owned()))
            .collect();
        assert_eq!(
            contents,
            [
                (Stream::Stderr, "oops\n".to_string()),
                (Stream::Stdout, "hello\n".to_string()),
                (Stream::Stdout, "\n".to_string()),
                (Stream::Stdout, "tail".to_string()),
            ]
        );
        assert_eq!(got[1].time, ts("2016-10-06T00:17:09.669794202Z"));
    }

    #[test]
    fn splitter_cuts_long_lines_and_keeps_unfinished_ones() {
        let mut s = LineSplitter::default();
        let mut got: Vec<(usize, bool)> = Vec::new();
        let long = vec![b'x'; MAX_ENTRY * 2 + 5];
        s.feed(b"a\nb", |c, p| got.push((c.len(), p)));
        s.feed(b"c\n\n", |c, p| got.push((c.len(), p)));
        s.feed(&long, |c, p| got.push((c.len(), p)));
        s.feed(b"\nend", |c, p| got.push((c.len(), p)));
        s.finish(|c, p| got.push((c.len(), p)));
        assert_eq!(
            got,
            [
                (1, false),
                (2, false),
                (0, false),
                (MAX_ENTRY, true),
                (MAX_ENTRY, true),
                (5, false),
                (3, false),
            ]
        );
    }

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let rotation = Rotation {
            max_size: 100,
            max_files: 3,
        };
        let mut log = LogFile::create(&path, rotation).unwrap();
        let mut out = Vec::new();
        for i in 0..40 {
            log.write_entry(
                &mut out,
                crate::duration::now(),
                Stream::Stdout,
                false,
                format!("line {i}").as_bytes(),
            )
            .unwrap();
        }
        log.flush(&mut out).unwrap();
        let rotated = rotated_files(&path).unwrap();
        assert_eq!(rotated.len(), 2);
        let current = fs::read(&path).unwrap();
        assert!(current.len() < 100);
        // Nothing lost between the last rotated file and the current one.
        let last_rotated = lines(&fs::read(rotated.last().unwrap()).unwrap());
        let now = lines(&current);
        let last_number = |l: &Line| {
            String::from_utf8_lossy(&l.content)
                .trim()
                .trim_start_matches("line ")
                .parse::<u32>()
                .unwrap()
        };
        let next = now.first().map(last_number).unwrap_or(40);
        assert_eq!(last_number(last_rotated.last().unwrap()) + 1, next);
    }
}
