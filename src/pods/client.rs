//! The CLI's end of a supervisor's socket: one JSON request line, then
//! the reply lines (the protocol is `supervisor::socket`'s).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::supervisor::socket::{Reply, Request, with_short_path};

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
