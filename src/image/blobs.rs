//! Content-addressed blobs: `blobs/sha256/<hex>`, written to a temporary
//! file while hashing and renamed into place only when the digest is the
//! one expected, so a stored blob is always what its name says.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// Why a blob could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("digest mismatch: expected {expected}, got {actual}")]
    Mismatch { expected: String, actual: String },
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    Size {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("unsupported digest {0} (only sha256 is supported)")]
    Algorithm(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The blob directory of an image store.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
    tmp: PathBuf,
}

impl Blobs {
    pub fn new(dir: PathBuf, tmp: PathBuf) -> Blobs {
        Blobs { dir, tmp }
    }

    /// Where the blob `digest` (`sha256:<hex>`) lives, stored or not.
    pub fn path(&self, digest: &str) -> Result<PathBuf, BlobError> {
        match digest.split_once(':') {
            Some(("sha256", hex))
                if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Ok(self.dir.join("sha256").join(hex))
            }
            _ => Err(BlobError::Algorithm(digest.to_string())),
        }
    }

    pub fn contains(&self, digest: &str) -> bool {
        self.path(digest).is_ok_and(|p| p.is_file())
    }

    pub fn read(&self, digest: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path(digest)?;
        fs::read(&path).map_err(io_err(&path))
    }

    pub fn open(&self, digest: &str) -> Result<File, BlobError> {
        let path = self.path(digest)?;
        File::open(&path).map_err(io_err(&path))
    }

    /// Stores bytes whose digest is computed here.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<String, BlobError> {
        self.put(bytes, None)
    }

    /// Streams `reader` into the store, verifying it against `expected`
    /// when given; returns the digest.
    pub fn put(&self, reader: impl Read, expected: Option<&str>) -> Result<String, BlobError> {
        let mut writer = self.writer()?;
        let mut reader = reader;
        io::copy(&mut reader, &mut writer).map_err(io_err(&writer.path))?;
        writer.commit(expected, None)
    }

    /// A writer to a temporary file that becomes a blob on `commit`.
    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        fs::create_dir_all(&self.tmp).map_err(io_err(&self.tmp))?;
        let file = tempfile::Builder::new()
            .prefix(".blob-")
            .tempfile_in(&self.tmp)
            .map_err(io_err(&self.tmp))?;
        Ok(BlobWriter {
            path: file.path().to_path_buf(),
            file,
            hasher: Sha256::new(),
            size: 0,
            blobs: self.clone(),
        })
    }

    /// Where a download of `digest` keeps what it has so far
    /// (`tmp/partial/<hex>`), so that a later attempt can continue it.
    pub fn partial_path(&self, digest: &str) -> Result<PathBuf, BlobError> {
        let stored = self.path(digest)?;
        let hex = stored.file_name().expect("a blob path has a file name");
        Ok(self.tmp.join("partial").join(hex))
    }

    /// Moves a file written elsewhere (a finished download) into the store
    /// once its content hashes to `digest` and is `size` bytes long.
    pub fn adopt(&self, file: &Path, digest: &str, size: u64) -> Result<(), BlobError> {
        let target = self.path(digest)?;
        let opened = File::open(file).map_err(io_err(file))?;
        let (actual, len) = HashingReader::new(&opened).finish().map_err(io_err(file))?;
        if actual != digest {
            return Err(BlobError::Mismatch {
                expected: digest.to_string(),
                actual,
            });
        }
        if len != size {
            return Err(BlobError::Size {
                digest: actual,
                expected: size,
                actual: len,
            });
        }
        opened.sync_all().map_err(io_err(file))?;
        let parent = target.parent().expect("blob path has a parent");
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        fs::rename(file, &target).map_err(io_err(&target))
    }

    /// Every stored blob's digest.
    pub fn list(&self) -> Result<Vec<String>, BlobError> {
        let dir = self.dir.join("sha256");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            if let Some(name) = entry.file_name().to_str()
                && name.len() == 64
            {
                out.push(format!("sha256:{name}"));
            }
        }
        Ok(out)
    }

    pub fn remove(&self, digest: &str) -> Result<(), BlobError> {
        let path = self.path(digest)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&path)(e)),
            _ => Ok(()),
        }
    }

    pub fn size(&self, digest: &str) -> u64 {
        self.path(digest)
            .ok()
            .and_then(|p| fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }
}

/// A blob being written; dropped without `commit`, it leaves nothing.
pub struct BlobWriter {
    file: tempfile::NamedTempFile,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    blobs: Blobs,
}

impl BlobWriter {
    /// Verifies the digest (and size) and moves the blob into place.
    pub fn commit(
        mut self,
        expected: Option<&str>,
        expected_size: Option<u64>,
    ) -> Result<String, BlobError> {
        let actual = format!("sha256:{}", hex::encode(self.hasher.finalize_reset()));
        if let Some(expected) = expected
            && expected != actual
        {
            return Err(BlobError::Mismatch {
                expected: expected.to_string(),
                actual,
            });
        }
        if let Some(expected_size) = expected_size
            && expected_size != self.size
        {
            return Err(BlobError::Size {
                digest: actual,
                expected: expected_size,
                actual: self.size,
            });
        }
        let target = self.blobs.path(&actual)?;
        let parent = target.parent().expect("blob path has a parent");
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        self.file.as_file().sync_all().map_err(io_err(&self.path))?;
        self.file
            .persist(&target)
            .map_err(|e| io_err(&target)(e.error))?;
        Ok(actual)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Hashes what passes through a reader (the uncompressed layer stream, to
/// check it against the config's diff_ids).
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Reads what is left, then returns `(sha256:<hex>, bytes read)`.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.size,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_verified_blobs_only() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().join("blobs"), dir.path().join("tmp"));
        let digest = blobs.put_bytes(b"hello").unwrap();
        assert_eq!(digest, digest_of(b"hello"));
        assert_eq!(blobs.read(&digest).unwrap(), b"hello");
        let wrong = digest_of(b"other");
        let err = blobs.put(&b"hello"[..], Some(&wrong)).unwrap_err();
        assert!(matches!(err, BlobError::Mismatch { .. }), "{err}");
        assert!(!blobs.contains(&wrong));
        assert_eq!(blobs.list().unwrap(), vec![digest]);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn adopts_a_downloaded_file_only_when_digest_and_size_match() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().join("blobs"), dir.path().join("tmp"));
        let digest = digest_of(b"layer");
        let file = dir.path().join("download");
        fs::write(&file, b"layer").unwrap();
        let err = blobs.adopt(&file, &digest, 4).unwrap_err();
        assert!(matches!(err, BlobError::Size { .. }), "{err}");
        fs::write(&file, b"LAYER").unwrap();
        let err = blobs.adopt(&file, &digest, 5).unwrap_err();
        assert!(matches!(err, BlobError::Mismatch { .. }), "{err}");
        assert!(!blobs.contains(&digest));
        fs::write(&file, b"layer").unwrap();
        blobs.adopt(&file, &digest, 5).unwrap();
        assert_eq!(blobs.read(&digest).unwrap(), b"layer");
        assert!(!file.exists());
        assert_eq!(
            blobs.partial_path(&digest).unwrap(),
            dir.path().join("tmp/partial").join(&digest[7..])
        );
    }
}
