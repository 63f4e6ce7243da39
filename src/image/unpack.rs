//! The layer unpacker: a tar stream (gzip, zstd or plain, told apart by
//! magic) becomes a directory usable as an overlay lower layer.
//!
//! Layers come from the network, so every entry is treated as hostile:
//! - names are cleaned; a `..` component refuses the layer, a leading `/`
//!   is taken relative to the layer;
//! - every directory is opened with `openat2(RESOLVE_IN_ROOT)` from the
//!   layer root, so symlinks unpacked earlier (`etc -> /etc`) resolve
//!   inside the layer, never on the host;
//! - the final component is created with `O_EXCL`/`O_NOFOLLOW` semantics
//!   (an existing entry is unlinked first), so nothing is written through a
//!   symlink;
//! - hard links must name an entry already inside the layer;
//! - character and block devices are not made (see below).
//!
//! Whiteouts become what overlayfs understands: `.wh.name` a 0:0
//! character device, `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr.
//!
//! Device nodes are skipped, as podman does where it cannot make them,
//! rather than refused: real images carry a few (old base images ship
//! /dev/null and friends), Docker and containerd accept them, and refusing
//! would turn away images a cluster runs. Nothing is lost: a container's
//! /dev is its own tmpfs, its root is mounted `nodev` and its device
//! cgroup refuses such nodes anyway; and a node that exists in the layer
//! store would be a door to the host's devices (with the layer's mode,
//! and no device cgroup on the host side) for whoever reaches the store.
//! A 0:0 character device is kept: it is no device, overlay's own
//! whiteout, as some tools export them.
//!
//! A layer is bounded: its uncompressed stream and the file data it
//! writes (sparse files count whole) may not pass [`Limits::bytes`], nor
//! the entries it creates [`Limits::entries`], so a small compressed blob
//! cannot fill the disk or its inodes (a decompression bomb). The caller
//! unpacks into a staging directory and throws it away on any error.
//!
//! The layer's root directory is left 0700 (whatever the archive says of
//! `./`; the container's `/` takes its mode from its own upper
//! directory): set-uid files and file capabilities the layer carries are
//! for containers, never reachable by a host user through the store.
//!
//! Kept as one file because every entry kind is made under the rules
//! above; split, a rule would sit apart from the code that keeps it, and
//! the file is read whole when one of them is checked.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

use super::blobs::HashingReader;
use super::tar_guard::{self, Guard};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// What unpacking learnt about the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// `sha256:` of the uncompressed tar stream, the config's diff_id.
    pub diff_id: String,
    /// Bytes of the uncompressed tar stream.
    pub size: u64,
}

/// How much one layer (or one archive) may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the uncompressed tar stream, and of file data written.
    pub bytes: u64,
    /// Files, directories and links created.
    pub entries: u64,
}

impl Limits {
    /// 64 GiB and 4 Mi entries: several times the largest layers of
    /// public images (CUDA and ML framework layers reach 10-20 GB and a
    /// few hundred thousand files), far below what fills a node.
    /// Neither containerd nor Docker caps an unpacked layer; both stream
    /// it to disk, as we do, and fail only when the disk is full.
    pub const DEFAULT: Limits = Limits {
        bytes: 64 << 30,
        entries: 4 << 20,
    };

    /// The defaults, or `POD_LAYER_MAX_BYTES` / `POD_LAYER_MAX_ENTRIES`
    /// when set to a number.
    pub fn from_env() -> Limits {
        let read = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        Limits {
            bytes: read("POD_LAYER_MAX_BYTES", Limits::DEFAULT.bytes),
            entries: read("POD_LAYER_MAX_ENTRIES", Limits::DEFAULT.entries),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("unpacks to more than {0} bytes, the limit for a layer (POD_LAYER_MAX_BYTES)")]
    TooManyBytes(u64),
    #[error("has more than {0} entries, the limit for a layer (POD_LAYER_MAX_ENTRIES)")]
    TooManyEntries(u64),
    #[error("{0}")]
    TooLong(tar_guard::TooLong),
    #[error("layer entry {entry:?} refused: {reason}")]
    Refused { entry: String, reason: &'static str },
    // The io::Error is in the message and not a `source`: the CLI
    // prints an error's chain, which said it twice ("Is a directory (os
    // error 21): Is a directory (os error 21)").
    #[error("layer entry {entry:?}: {error}")]
    Entry { entry: String, error: io::Error },
    #[error("reading layer: {0}")]
    Read(io::Error),
}

impl From<io::Error> for UnpackError {
    fn from(error: io::Error) -> UnpackError {
        UnpackError::Read(error)
    }
}

/// The compression of a layer stream, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The OCI layer media type of a tarball so compressed.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Decompresses `reader` according to its magic.
pub fn decompress<'a>(reader: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let head = reader.fill_buf()?;
    Ok(match Compression::detect(head) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        Compression::None => Box::new(reader),
    })
}

/// Unpacks the layer in `reader` into the existing empty directory
/// `dest`, within the limits the environment sets.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<Unpacked, UnpackError> {
    unpack_within(reader, dest, Limits::from_env())
}

/// Unpacks the layer in `reader` into the existing empty directory `dest`;
/// past `limits` it stops with an error, leaving `dest` to the caller to
/// remove.
pub fn unpack_within(
    reader: impl Read,
    dest: &Path,
    limits: Limits,
) -> Result<Unpacked, UnpackError> {
    let over = std::rc::Rc::new(std::cell::Cell::new(false));
    let capped = Capped {
        inner: decompress(reader)?,
        left: limits.bytes,
        over: over.clone(),
    };
    // Whatever error the tar reader makes of the cut, the cut is the news.
    let too_big = |e: UnpackError| {
        if over.get() {
            UnpackError::TooManyBytes(limits.bytes)
        } else {
            e
        }
    };
    unpack_stream(capped, dest, limits).map_err(too_big)
}

fn unpack_stream(stream: impl Read, dest: &Path, limits: Limits) -> Result<Unpacked, UnpackError> {
    let stream = HashingReader::new(stream);
    let root = rustix::fs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    rustix::fs::fchmod(&root, Mode::from_raw_mode(0o700)).map_err(io::Error::from)?;
    let mut unpacker = Unpacker {
        root,
        parent_cache: None,
        directories: Vec::new(),
        limits,
        written: 0,
        created: 0,
    };
    let mut archive = tar::Archive::new(Guard::new(stream));
    let too_long = |e: io::Error| match tar_guard::refusal(&e) {
        Some(refused) => UnpackError::TooLong(refused.clone()),
        None => UnpackError::Read(e),
    };
    for entry in archive.entries().map_err(too_long)? {
        let mut entry = entry.map_err(too_long)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        unpacker.entry(&mut entry).map_err(|e| match e {
            EntryError::Refused(reason) => UnpackError::Refused {
                entry: name.clone(),
                reason,
            },
            EntryError::Limit(e) => e,
            EntryError::Io(source) if tar_guard::refusal(&source).is_some() => too_long(source),
            EntryError::Io(error) => UnpackError::Entry {
                entry: name.clone(),
                error,
            },
        })?;
    }
    unpacker.finish_directories()?;
    let (diff_id, size) = archive.into_inner().into_inner().finish()?;
    Ok(Unpacked { diff_id, size })
}

enum EntryError {
    Refused(&'static str),
    Limit(UnpackError),
    Io(io::Error),
}

/// The uncompressed stream, cut after `left` bytes: reading past it is an
/// error, and `over` says the cut was the cause.
struct Capped<R> {
    inner: R,
    left: u64,
    over: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte more than allowed tells a stream at the limit from one
        // past it.
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.over.set(true);
            return Err(io::Error::other("layer over its size limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> Self {
        EntryError::Io(e)
    }
}

impl From<Errno> for EntryError {
    fn from(e: Errno) -> Self {
        EntryError::Io(e.into())
    }
}

/// Ownership, mode and times of an entry.
#[derive(Debug, Clone)]
struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    fn of<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Meta> {
        let header = entry.header();
        let id = |v: u64| u32::try_from(v).unwrap_or(u32::MAX - 1);
        // Blank numeric fields read as 0, as Go's archive/tar (and so
        // Docker) reads them.
        let mut meta = Meta {
            uid: id(header.uid().unwrap_or(0)),
            gid: id(header.gid().unwrap_or(0)),
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            mtime: i64::try_from(header.mtime().unwrap_or(0)).unwrap_or(0),
            xattrs: Vec::new(),
        };
        if let Some(extensions) = entry.pax_extensions()? {
            for ext in extensions {
                let ext = ext?;
                let Ok(key) = ext.key() else { continue };
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    // Layers may carry file capabilities and user xattrs;
                    // overlay's own trusted.* markers come only from
                    // whiteouts.
                    if name == "security.capability" || name.starts_with("user.") {
                        meta.xattrs
                            .push((name.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        Ok(meta)
    }

    fn timestamps(&self) -> Timestamps {
        let t = Timespec {
            tv_sec: self.mtime,
            tv_nsec: 0,
        };
        Timestamps {
            last_access: t,
            last_modification: t,
        }
    }
}

struct Unpacker {
    root: OwnedFd,
    /// The last parent directory opened; tar streams list siblings together.
    parent_cache: Option<(PathBuf, OwnedFd)>,
    /// Directory metadata, applied at the end because creating children
    /// changes a directory's mtime.
    directories: Vec<(PathBuf, Meta)>,
    limits: Limits,
    /// File data written so far.
    written: u64,
    /// Entries created so far (parents made on the way count).
    created: u64,
}

impl Unpacker {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), EntryError> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let path = clean(&entry.path_bytes())?;
        self.count()?;
        let meta = Meta::of(entry)?;
        let Some(name) = path.file_name().map(|n| n.to_owned()) else {
            // The layer root itself ("./"): it stays 0700 (see above).
            return Ok(());
        };
        let name_str = name.to_string_lossy();
        let parent_path = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let parent = self.parent(&parent_path)?;
        if name_str == OPAQUE_MARKER {
            rustix::fs::fsetxattr(
                &parent,
                "trusted.overlay.opaque",
                b"y",
                rustix::fs::XattrFlags::empty(),
            )?;
            return Ok(());
        }
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(EntryError::Refused("malformed whiteout"));
            }
            remove_existing(&parent, hidden)?;
            rustix::fs::mknodat(&parent, hidden, FileType::CharacterDevice, Mode::empty(), 0)?;
            return Ok(());
        }
        match kind {
            tar::EntryType::Directory => {
                match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
                    Ok(_) => {
                        rustix::fs::unlinkat(&parent, &name, AtFlags::empty())?;
                        rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o700))?;
                    }
                    Err(Errno::NOENT) => {
                        rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o700))?
                    }
                    Err(e) => return Err(e.into()),
                }
                self.directories.push((path, meta));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                remove_existing(&parent, &name)?;
                let fd = rustix::fs::openat(
                    &parent,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut file = File::from(fd);
                // A sparse entry is small in the stream but written whole.
                let left = self.limits.bytes - self.written;
                let n = io::copy(&mut entry.take(left.saturating_add(1)), &mut file)?;
                if n > left {
                    return Err(EntryError::Limit(UnpackError::TooManyBytes(
                        self.limits.bytes,
                    )));
                }
                self.written += n;
                apply_fd(&file, &meta)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or(EntryError::Refused("symlink without a target"))?;
                remove_existing(&parent, &name)?;
                rustix::fs::symlinkat(target.as_ref(), &parent, &name)?;
                rustix::fs::chownat(
                    &parent,
                    &name,
                    Some(rustix::fs::Uid::from_raw(meta.uid)),
                    Some(rustix::fs::Gid::from_raw(meta.gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
                rustix::fs::utimensat(
                    &parent,
                    &name,
                    &meta.timestamps(),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or(EntryError::Refused("hard link without a target"))?;
                let target = clean(&target)?;
                if target.as_os_str().is_empty() {
                    return Err(EntryError::Refused("hard link to the layer root"));
                }
                let source = match rustix::fs::openat2(
                    &self.root,
                    &target,
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::IN_ROOT,
                ) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => {
                        return Err(EntryError::Refused(
                            "hard link to a file that is not in the layer",
                        ));
                    }
                    Err(e) => return Err(e.into()),
                };
                let st = rustix::fs::fstat(&source)?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    return Err(EntryError::Refused("hard link to a directory"));
                }
                remove_existing(&parent, &name)?;
                rustix::fs::linkat(&source, "", &parent, &name, AtFlags::EMPTY_PATH)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let major = entry.header().device_major()?.unwrap_or(0);
                let minor = entry.header().device_minor()?.unwrap_or(0);
                let file_type = match kind {
                    tar::EntryType::Char if (major, minor) == (0, 0) => {
                        // overlay's whiteout, not a device.
                        remove_existing(&parent, &name)?;
                        rustix::fs::mknodat(
                            &parent,
                            &name,
                            FileType::CharacterDevice,
                            Mode::empty(),
                            0,
                        )?;
                        return Ok(());
                    }
                    tar::EntryType::Fifo => FileType::Fifo,
                    // Devices are skipped (see the module documentation);
                    // what an earlier entry put there is still replaced.
                    _ => {
                        remove_existing(&parent, &name)?;
                        return Ok(());
                    }
                };
                remove_existing(&parent, &name)?;
                rustix::fs::mknodat(&parent, &name, file_type, Mode::from_raw_mode(meta.mode), 0)?;
                let fd = rustix::fs::openat(
                    &parent,
                    &name,
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                // fchown/fchmod do not work on O_PATH descriptors; go
                // through the descriptor's /proc entry, which names this
                // very inode.
                let proc = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
                rustix::fs::chown(
                    proc.as_str(),
                    Some(rustix::fs::Uid::from_raw(meta.uid)),
                    Some(rustix::fs::Gid::from_raw(meta.gid)),
                )?;
                rustix::fs::chmod(proc.as_str(), Mode::from_raw_mode(meta.mode))?;
                rustix::fs::utimensat(
                    &parent,
                    &name,
                    &meta.timestamps(),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Counts one more entry created, refusing one past the limit.
    fn count(&mut self) -> Result<(), EntryError> {
        self.created += 1;
        if self.created > self.limits.entries {
            return Err(EntryError::Limit(UnpackError::TooManyEntries(
                self.limits.entries,
            )));
        }
        Ok(())
    }

    /// Opens (creating when missing) the directory `rel` of the layer,
    /// resolving every component inside the layer.
    fn parent(&mut self, rel: &Path) -> Result<OwnedFd, EntryError> {
        if let Some((cached, fd)) = &self.parent_cache
            && cached == rel
        {
            return Ok(fd.try_clone()?);
        }
        let fd = match open_in_root(&self.root, rel) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                let mut prefix = PathBuf::new();
                let mut dir = open_in_root(&self.root, &prefix)?;
                for component in rel.components() {
                    prefix.push(component);
                    dir = match open_in_root(&self.root, &prefix) {
                        Ok(fd) => fd,
                        Err(Errno::NOENT) => {
                            self.count()?;
                            match rustix::fs::mkdirat(
                                &dir,
                                component.as_os_str(),
                                Mode::from_raw_mode(0o755),
                            ) {
                                Ok(()) => {}
                                Err(Errno::EXIST) => {
                                    return Err(EntryError::Refused(
                                        "parent is a link that leads out of the layer",
                                    ));
                                }
                                Err(e) => return Err(e.into()),
                            }
                            open_in_root(&self.root, &prefix)?
                        }
                        Err(Errno::NOTDIR) => {
                            return Err(EntryError::Refused("parent is not a directory"));
                        }
                        Err(e) => return Err(e.into()),
                    };
                }
                dir
            }
            Err(Errno::NOTDIR) => return Err(EntryError::Refused("parent is not a directory")),
            Err(Errno::LOOP) => return Err(EntryError::Refused("parent is a symlink loop")),
            Err(e) => return Err(e.into()),
        };
        self.parent_cache = Some((rel.to_path_buf(), fd.try_clone()?));
        Ok(fd)
    }

    fn finish_directories(&mut self) -> Result<(), UnpackError> {
        for (path, meta) in std::mem::take(&mut self.directories) {
            let entry = path.display().to_string();
            let fd = open_in_root(&self.root, &path).map_err(|e| UnpackError::Entry {
                entry: entry.clone(),
                error: e.into(),
            })?;
            apply_fd(&File::from(fd), &meta)
                .map_err(|error| UnpackError::Entry { entry, error })?;
        }
        Ok(())
    }
}

/// Opens the regular file `rel` inside `dir` for reading, resolving
/// symlinks as if `dir` were the root (for archives unpacked to a scratch
/// directory: their links cannot reach the host).
pub fn open_beneath(dir: &Path, rel: &str) -> io::Result<File> {
    let root = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let fd = rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )?;
    Ok(File::from(fd))
}

fn open_in_root(root: &OwnedFd, rel: &Path) -> Result<OwnedFd, Errno> {
    let rel: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    rustix::fs::openat2(
        root,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
}

/// Unlinks `name` in `dir` unless it is a directory (tar's "replace"
/// semantics for everything but directories, which a layer may not turn
/// into something else).
fn remove_existing(dir: &OwnedFd, name: impl AsRef<std::ffi::OsStr>) -> Result<(), EntryError> {
    let name = name.as_ref();
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            Err(EntryError::Refused("entry replaces a directory"))
        }
        Ok(_) => Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?),
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Owner, then mode (chown clears set-id bits), xattrs, then times.
fn apply_fd(file: &File, meta: &Meta) -> io::Result<()> {
    rustix::fs::fchown(
        file.as_fd(),
        Some(rustix::fs::Uid::from_raw(meta.uid)),
        Some(rustix::fs::Gid::from_raw(meta.gid)),
    )?;
    rustix::fs::fchmod(file.as_fd(), Mode::from_raw_mode(meta.mode))?;
    for (name, value) in &meta.xattrs {
        rustix::fs::fsetxattr(
            file.as_fd(),
            name.as_str(),
            value,
            rustix::fs::XattrFlags::empty(),
        )?;
    }
    rustix::fs::futimens(file.as_fd(), &meta.timestamps())?;
    Ok(())
}

/// The entry's path relative to the layer root: `/`, `.` and empty
/// components dropped, `..` refused.
fn clean(raw: &[u8]) -> Result<PathBuf, EntryError> {
    use std::os::unix::ffi::OsStrExt;
    let raw = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => return Err(EntryError::Refused("path climbs out with \"..\"")),
            Component::Normal(part) => out.push(part),
        }
    }
    Ok(out)
}
