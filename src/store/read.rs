//! Bounded reads of the state's files and of what containers wrote:
//! whole small files in four system calls, a prefix or suffix of a
//! regular file, never a FIFO, a device or a symlink.

use std::fs;
use std::io;
use std::path::Path;

/// Reads a whole small file (a state file, a pid file, /proc/<pid>/stat)
/// in four system calls: open, fstat, read, close. `fs::read` adds a read
/// that confirms the end, which with its `statx` made up 40% of the
/// system calls of `get pods`. A read of a regular file (or of a /proc file
/// smaller than a page) that returns less than asked has reached the end.
/// Whatever stands in a record's place that is not a regular file (a FIFO
/// would hold the reader until something writes to it) is an error.
pub fn read_small_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut bytes = Vec::with_capacity(4096);
    loop {
        let asked = bytes.capacity() - bytes.len();
        // Reads into the spare capacity: no zero-filling of the buffer.
        match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut bytes)) {
            Ok(n) if n < asked => return Ok(bytes),
            Ok(_) => bytes.reserve(bytes.capacity()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// At most the first `max` bytes of a regular file that something else
/// (a container) may have written: never more read into memory, and a
/// FIFO, device or symlink in its place is an error, not a hang.
pub fn read_prefix(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// At most the last `max` bytes of a regular file (as `read_prefix`),
/// and whether they start at the file's start.
pub fn read_suffix(path: &Path, max: u64) -> io::Result<(Vec<u8>, bool)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok((bytes, start == 0))
}

/// Opens for reading without following a final symlink and without
/// blocking on a FIFO, and refuses anything but a regular file (its
/// callers name the path).
pub fn open_regular(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::{read_prefix, read_small_file, read_suffix};

    #[test]
    fn bounded_reads_stop_at_their_limit_and_refuse_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_prefix(&path, 4).unwrap(), b"0123");
        assert_eq!(read_suffix(&path, 4).unwrap(), (b"6789".to_vec(), false));
        assert_eq!(
            read_suffix(&path, 40).unwrap(),
            (b"0123456789".to_vec(), true)
        );
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(
            read_prefix(&fifo, 4).is_err(),
            "a FIFO is refused, not waited on"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(read_prefix(&link, 4).is_err(), "a symlink is not followed");
    }

    #[test]
    fn small_files_are_read_whole_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0, 1, 4095, 4096, 4097, 100_000] {
            let path = dir.path().join(size.to_string());
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, &data).unwrap();
            assert_eq!(read_small_file(&path).unwrap(), data);
        }
        let stat = read_small_file(std::path::Path::new("/proc/self/stat")).unwrap();
        assert!(stat.ends_with(b"\n"));
    }

    /// A FIFO in a record's place is an error at once: opened as before,
    /// it held the reader until something wrote to it. Read on a thread,
    /// so that the old code fails the test instead of hanging it.
    #[test]
    fn a_fifo_in_a_records_place_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("status.json");
        let reading = fifo.clone();
        let read = crate::store::on_fifos(&[fifo], move || {
            read_small_file(&reading).map_err(|e| e.to_string())
        });
        assert_eq!(
            read.expect("the read returned"),
            Err("not a regular file".to_string())
        );
        let dev = std::path::Path::new("/dev/zero");
        assert!(read_small_file(dev).is_err(), "a device is refused");
    }
}
