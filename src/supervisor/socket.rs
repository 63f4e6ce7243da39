//! The supervisor's unix socket: `<run root>/pods/<uid>/supervisor.sock`,
//! mode 0600 in a 0700 directory (root only).
//!
//! The protocol is one JSON request line from the client, then JSON reply
//! lines from the supervisor. A delete gets `accepted` at once and
//! `deleted` when the pod is gone. Requests that open a stream (attach)
//! get one reply line and then the connection carries the stream itself,
//! so the framing of the stream is the business of that request alone.

use std::io;
use std::os::fd::AsRawFd;
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
}
