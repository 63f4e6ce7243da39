//! A bound on the tar headers that are read into memory.
//!
//! The tar crate reads the data of a GNU long name (`L`), long link (`K`)
//! and PAX extended header (`x`) entry whole into a `Vec` before the
//! entry they describe, with no limit but the size the header claims: a
//! layer of a few kilobytes of gzip could make pod hold gigabytes. Go's
//! archive/tar (so containerd and Docker) refuses such an entry over
//! `maxSpecialFileSize`, 1 MiB ("archive/tar: header field too long"),
//! PAX global headers (`g`) included.
//!
//! The crate has no such setting, so [`Guard`] sits beneath it and
//! follows the stream as the crate walks it: each header block, the
//! data and padding after it (a PAX `size` record overriding the size of
//! the entry it precedes, GNU sparse extension blocks after their
//! header), and refuses a special header over the limit before the crate
//! reads a byte of its data. Anything it cannot follow (a bad checksum,
//! an unreadable size, the end-of-archive block) is the crate's to
//! refuse, and the guard stops looking.

use std::io::{self, Read};

/// Go's archive/tar `maxSpecialFileSize`.
pub const MAX_SPECIAL_SIZE: u64 = 1 << 20;

const BLOCK: usize = 512;

/// A special header whose data is over [`MAX_SPECIAL_SIZE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a {kind} of {size} bytes is over the limit of {MAX_SPECIAL_SIZE} bytes (header field too long)"
)]
pub struct TooLong {
    pub kind: &'static str,
    pub size: u64,
}

enum State {
    /// Collecting a header block.
    Header,
    /// Collecting a GNU sparse extension block; then `data` bytes follow.
    SparseExtension { data: u64 },
    /// Collecting the records of a PAX extended header, then `pad` bytes.
    Pax { left: u64, pad: u64 },
    /// Passing entry data and padding.
    Skip(u64),
    /// The end of the archive, or a stream the tar crate will refuse.
    Done,
}

pub struct Guard<R> {
    inner: R,
    state: State,
    block: Box<[u8; BLOCK]>,
    filled: usize,
    pax: Vec<u8>,
    /// The `size` record of the last PAX header, for the entry after it.
    pax_size: Option<u64>,
    refused: Option<TooLong>,
}

impl<R: Read> Guard<R> {
    pub fn new(inner: R) -> Guard<R> {
        Guard {
            inner,
            state: State::Header,
            block: Box::new([0; BLOCK]),
            filled: 0,
            pax: Vec::new(),
            pax_size: None,
            refused: None,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Follows `bytes` of the stream.
    fn follow(&mut self, mut bytes: &[u8]) -> Result<(), TooLong> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return Ok(()),
                State::Skip(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.state = State::Header;
                    }
                }
                State::Pax { left, pad } => {
                    let n = (*left).min(bytes.len() as u64) as usize;
                    self.pax.extend_from_slice(&bytes[..n]);
                    *left -= n as u64;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        let pad = *pad;
                        self.pax_size = size_record(&self.pax);
                        self.state = after(pad);
                    }
                }
                State::Header | State::SparseExtension { .. } => {
                    let n = (BLOCK - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
                    self.filled += n;
                    bytes = &bytes[n..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.state = match self.state {
                            State::SparseExtension { data } => {
                                // GnuExtSparseHeader: isextended at 504.
                                if self.block[504] == 1 {
                                    State::SparseExtension { data }
                                } else {
                                    after(data)
                                }
                            }
                            _ => self.header()?,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// What follows the complete header block, as the tar crate reads it.
    fn header(&mut self) -> Result<State, TooLong> {
        let bytes: &[u8; BLOCK] = &self.block;
        if bytes.iter().all(|b| *b == 0) {
            return Ok(State::Done);
        }
        let header = tar::Header::from_byte_slice(bytes);
        let sum = bytes[..148]
            .iter()
            .chain(&bytes[156..])
            .fold(8 * 32, |a, b| a + u32::from(*b));
        if header.cksum().ok() != Some(sum) {
            return Ok(State::Done);
        }
        let Ok(size) = header.entry_size() else {
            return Ok(State::Done);
        };
        let kind = header.entry_type();
        let special = match kind {
            tar::EntryType::GNULongName => Some("GNU long name"),
            tar::EntryType::GNULongLink => Some("GNU long link name"),
            tar::EntryType::XHeader => Some("PAX extended header"),
            tar::EntryType::XGlobalHeader => Some("PAX global header"),
            _ => None,
        };
        if let Some(kind) = special
            && size > MAX_SPECIAL_SIZE
        {
            return Err(TooLong { kind, size });
        }
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        // The crate gathers recognized L, K and x headers for the entry
        // that follows; any other header is that entry, and a PAX size
        // applies to it unless it is an extension header itself.
        let gathered =
            recognized && !matches!(kind, tar::EntryType::XGlobalHeader) && special.is_some();
        let size = if gathered {
            size
        } else {
            let pax = self.pax_size.take();
            if special.is_some() {
                size
            } else {
                pax.unwrap_or(size)
            }
        };
        if gathered && kind == tar::EntryType::XHeader {
            self.pax.clear();
            let pad = padded(size) - size;
            return Ok(if size == 0 {
                self.pax_size = None;
                after(pad)
            } else {
                State::Pax { left: size, pad }
            });
        }
        if kind == tar::EntryType::GNUSparse
            && let Some(gnu) = header.as_gnu()
            && gnu.is_extended()
        {
            return Ok(State::SparseExtension { data: padded(size) });
        }
        Ok(after(padded(size)))
    }
}

fn after(skip: u64) -> State {
    if skip == 0 {
        State::Header
    } else {
        State::Skip(skip)
    }
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// The `size` record of PAX records, as the tar crate finds it (the
/// first one; none past a malformed record).
fn size_record(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() == Ok("size") {
            return record.value().ok()?.parse().ok();
        }
    }
    None
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(refused) = &self.refused {
            return Err(io::Error::other(refused.clone()));
        }
        let n = self.inner.read(buf)?;
        if let Err(refused) = self.follow(&buf[..n]) {
            self.refused = Some(refused.clone());
            return Err(io::Error::other(refused));
        }
        Ok(n)
    }
}

/// The refusal in an error the tar crate passed on, if it is one.
pub fn refusal(e: &io::Error) -> Option<&TooLong> {
    e.get_ref().and_then(|e| e.downcast_ref::<TooLong>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow_all(stream: &[u8], chunk: usize) -> Result<(), TooLong> {
        let mut guard = Guard::new(stream);
        let mut buf = vec![0; chunk];
        loop {
            match guard.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(refusal(&e).expect("a refusal").clone()),
            }
        }
    }

    /// The entries the tar crate reads through the guard, or its error.
    fn entries(stream: &[u8]) -> io::Result<Vec<(String, u64)>> {
        let mut archive = tar::Archive::new(Guard::new(stream));
        let mut out = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            out.push((
                String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                data.len() as u64,
            ));
        }
        Ok(out)
    }

    fn raw(kind: tar::EntryType, name: &str, body: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_path(name).unwrap();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(body);
        out.resize(padded(out.len() as u64) as usize, 0);
        out
    }

    fn pax_record(key: &str, value: &str) -> Vec<u8> {
        let rest = format!(" {key}={value}\n");
        let mut len = rest.len() + 1;
        while len.to_string().len() + rest.len() != len {
            len += 1;
        }
        format!("{len}{rest}").into_bytes()
    }

    #[test]
    fn follows_long_names_pax_sizes_and_sparse_files() {
        let mut b = tar::Builder::new(Vec::new());
        let long = "d/".repeat(200) + "file";
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "link", "t/".repeat(200)).unwrap();
        let mut stream = b.into_inner().unwrap();
        stream.truncate(stream.len() - 1024);
        stream.extend(raw(
            tar::EntryType::XHeader,
            "pax",
            &pax_record("comment", "hello"),
        ));
        stream.extend(raw(tar::EntryType::Regular, "after-pax", &[7u8; 700]));
        // A PAX size record overriding the header's (which says 0): the
        // guard must skip 600 bytes of data, not 0.
        stream.extend(raw(
            tar::EntryType::XHeader,
            "pax",
            &pax_record("size", "600"),
        ));
        let mut data = raw(tar::EntryType::Regular, "sized", b"");
        let mut body = vec![0u8; 1024];
        // Data that would be an over-limit long name header if the guard
        // read it as a header.
        body[..512].copy_from_slice(
            &{
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::GNULongName);
                h.set_size(MAX_SPECIAL_SIZE + 1);
                h.set_cksum();
                *h.as_bytes()
            }[..],
        );
        data.truncate(512);
        data.extend_from_slice(&body[..1024]);
        stream.extend(data);
        stream.extend(sparse_with_extension());
        stream.extend([0; 1024]);
        let got = entries(&stream).unwrap();
        let names: Vec<_> = got.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        assert_eq!(
            names,
            [
                (long.as_str(), 3),
                ("link", 0),
                ("after-pax", 700),
                ("sized", 600),
                ("sparse", 25 * 2048 - 1536),
            ]
        );
        for chunk in [1, 511, 512, 4096, 1 << 20] {
            assert_eq!(follow_all(&stream, chunk), Ok(()), "chunk {chunk}");
        }
    }

    /// A GNU sparse file of 25 one-block pieces: 4 in the header and 21
    /// in one extension block.
    fn sparse_with_extension() -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_path("sparse").unwrap();
        h.set_mode(0o644);
        h.set_size(25 * 512);
        let octal = |field: &mut [u8], v: u64| {
            let text = format!("{v:0w$o}\0", w = field.len() - 1);
            field.copy_from_slice(text.as_bytes());
        };
        let gnu = h.as_gnu_mut().unwrap();
        for (i, s) in gnu.sparse.iter_mut().enumerate() {
            octal(&mut s.offset, i as u64 * 2048);
            octal(&mut s.numbytes, 512);
        }
        octal(&mut gnu.realsize, 25 * 2048 - 1536);
        gnu.isextended[0] = 1;
        h.set_cksum();
        let mut ext = tar::GnuExtSparseHeader::new();
        for (i, s) in ext.sparse.iter_mut().enumerate() {
            octal(&mut s.offset, (i as u64 + 4) * 2048);
            octal(&mut s.numbytes, 512);
        }
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(ext.as_bytes());
        out.extend(std::iter::repeat_n(1u8, 25 * 512));
        out
    }

    #[test]
    fn refuses_special_headers_over_a_mebibyte() {
        for (kind, name) in [
            (tar::EntryType::GNULongName, "GNU long name"),
            (tar::EntryType::GNULongLink, "GNU long link name"),
            (tar::EntryType::XHeader, "PAX extended header"),
            (tar::EntryType::XGlobalHeader, "PAX global header"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(MAX_SPECIAL_SIZE + 1);
            h.set_cksum();
            let mut stream = h.as_bytes().to_vec();
            stream.extend(vec![b'a'; (MAX_SPECIAL_SIZE + 512) as usize]);
            let refused = TooLong {
                kind: name,
                size: MAX_SPECIAL_SIZE + 1,
            };
            assert_eq!(follow_all(&stream, 4096), Err(refused.clone()));
            let err = entries(&stream).unwrap_err();
            assert_eq!(refusal(&err), Some(&refused), "{err}");
            // At the limit it is the crate's to read.
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(MAX_SPECIAL_SIZE);
            h.set_cksum();
            let mut stream = h.as_bytes().to_vec();
            stream.extend(vec![b'a'; MAX_SPECIAL_SIZE as usize]);
            assert_eq!(follow_all(&stream, 4096), Ok(()));
        }
    }
}
