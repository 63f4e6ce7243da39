//! Helpers of the network tests: the addresses host-local holds, and a
//! bridge a test made, removed when the test ends.

use std::path::Path;
use std::process::{Command, Stdio};

/// The addresses host-local holds in `dir` (its lock and last-reserved
/// files left out), sorted; none when `dir` is not there.
pub fn leases(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// A bridge the test's network makes, deleted when dropped (even when
/// the test fails).
pub struct Bridge(pub &'static str);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", self.0])
            .stderr(Stdio::null())
            .status();
    }
}
