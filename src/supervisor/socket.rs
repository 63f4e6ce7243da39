//! The supervisor's unix socket: `<run root>/pods/<uid>/supervisor.sock`,
//! mode 0600 in a 0700 directory (root only).
//!
//! The protocol is one JSON request line from the client, then JSON reply
//! lines from the supervisor. A delete gets `accepted` at once and
//! `deleted` when the pod is gone. Requests that open a stream (attach)
//! get one reply line and then the connection carries the stream itself,
//! so the framing of the stream is the business of that request alone.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Request {
    /// Stop the pod (preStop hooks, the stop signal, SIGKILL once the grace
    /// period is spent), tear it down and remove it from the store.
    #[serde(rename_all = "camelCase")]
    Delete {
        grace_period_seconds: u64,
        /// The CLI removes the pod record itself (force deletion): the
        /// supervisor must not write to it any more.
        force: bool,
    },
    /// Connect to a container's main process (`pod attach`); after the
    /// `accepted` reply the connection carries `attach` frames.
    Attach { container: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "camelCase")]
pub enum Reply {
    Accepted,
    Deleted,
    Error { message: String },
}

/// sun_path holds 108 bytes; a longer path is reached through
/// /proc/self/fd of its directory, which is short whatever the directory.
pub fn with_short_path<T>(path: &Path, f: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    if path.as_os_str().len() < 100 {
        return f(path);
    }
    let dir = std::fs::File::open(path.parent().unwrap_or(Path::new("/")))?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}/{}",
        dir.as_raw_fd(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    f(&short)
}

/// A client connection to a supervisor.
pub struct Client {
    reader: BufReader<UnixStream>,
}

impl Client {
    pub fn connect(path: &Path) -> io::Result<Client> {
        let stream = with_short_path(path, |p| UnixStream::connect(p))?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    pub fn send(&mut self, request: &Request) -> io::Result<()> {
        let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
        line.push(b'\n');
        self.reader.get_mut().write_all(&line)
    }

    /// The next reply, or None when the supervisor closed the connection.
    pub fn reply(&mut self) -> io::Result<Option<Reply>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The stream, for requests that continue as one.
    pub fn into_stream(self) -> UnixStream {
        self.reader.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_are_json_lines() {
        let r = Request::Delete {
            grace_period_seconds: 30,
            force: false,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"op":"delete","gracePeriodSeconds":30,"force":false}"#
        );
        assert_eq!(
            serde_json::to_string(&Reply::Accepted).unwrap(),
            r#"{"reply":"accepted"}"#
        );
    }

    #[test]
    fn long_socket_paths_are_reachable() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a".repeat(60)).join("b".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("supervisor.sock");
        let listener =
            with_short_path(&path, |p| std::os::unix::net::UnixListener::bind(p)).unwrap();
        assert!(path.exists());
        let mut client = Client::connect(&path).unwrap();
        let (server, _) = listener.accept().unwrap();
        client
            .send(&Request::Delete {
                grace_period_seconds: 1,
                force: true,
            })
            .unwrap();
        let mut line = String::new();
        BufReader::new(server).read_line(&mut line).unwrap();
        assert_eq!(
            serde_json::from_str::<Request>(&line).unwrap(),
            Request::Delete {
                grace_period_seconds: 1,
                force: true
            }
        );
    }
}
