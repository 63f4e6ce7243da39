//! The version of the state files' format, so that a binary replaced
//! while pods run (an upgrade, or a downgrade) never misreads what
//! another build wrote. The JSON records the CLI and the supervisors share
//! (stored objects, a pod's status, the supervisor's process list, the
//! runtime's sandbox and container records) carry
//! `"recordVersion": N` as their first key. A record without it was
//! written before versions existed and reads as version 1, the format it
//! has; a version above [`CURRENT`] is refused with the file named,
//! because the decoders ignore fields they do not know and would
//! otherwise read a newer record as something it is not.
//!
//! Checking costs a prefix comparison for every record this build
//! writes; only a record that has the key elsewhere (edited by hand) is
//! parsed a second time to find it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The record format this build writes and the newest it reads. Raise it
/// when a record changes in a way an older build would misread, and keep
/// reading the older versions.
pub const CURRENT: u64 = 1;

const PREFIX: &[u8] = b"{\"recordVersion\":";

/// A record of a version this build does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "state file {} has record version {version}, newer than this pod reads ({CURRENT}): it was written by a newer pod binary",
    path.display()
)]
pub struct UnknownVersion {
    pub path: PathBuf,
    pub version: u64,
}

/// `value` as JSON with the version as its first key (`value` must
/// serialize as a JSON object).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let body = serde_json::to_vec(value)?;
    let Some(rest) = body.strip_prefix(b"{") else {
        return Err(serde::ser::Error::custom("a record must be a JSON object"));
    };
    let mut out = Vec::with_capacity(body.len() + PREFIX.len() + 4);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(CURRENT.to_string().as_bytes());
    if rest != b"}" {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Ok(out)
}

/// The version of a record (1 when it has none); an error naming `path`
/// when it is newer than this build reads. A record that is not JSON at
/// all passes: its decoder says what is wrong with it.
pub fn check(path: &Path, bytes: &[u8]) -> Result<u64, UnknownVersion> {
    let version = version(bytes);
    if version > CURRENT {
        return Err(UnknownVersion {
            path: path.to_path_buf(),
            version,
        });
    }
    Ok(version)
}

fn version(bytes: &[u8]) -> u64 {
    if let Some(rest) = bytes.strip_prefix(PREFIX) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let after = rest.get(digits).copied();
        if digits > 0 && matches!(after, Some(b',' | b'}')) {
            // Too many digits for a u64 is newer than anything.
            return std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(u64::MAX);
        }
    }
    if !contains(bytes, &PREFIX[1..PREFIX.len() - 1]) {
        return 1;
    }
    // The key somewhere else (whitespace, another order, or inside a
    // value): only the top level counts.
    #[derive(Deserialize)]
    struct Top {
        #[serde(rename = "recordVersion")]
        version: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Top>(bytes) {
        Ok(Top { version: None }) | Err(_) => 1,
        Ok(Top { version: Some(v) }) => v.as_u64().unwrap_or(u64::MAX),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_carry_the_version_first_and_read_back() {
        let bytes = encode(&json!({"kind": "Pod", "spec": {}})).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"recordVersion":1,"kind":"Pod","spec":{}}"#
        );
        let back: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back["kind"], "Pod");
        assert_eq!(
            encode(&json!({})).unwrap(),
            br#"{"recordVersion":1}"#.to_vec()
        );
        assert!(encode(&json!([1])).is_err());
        assert_eq!(check(Path::new("f"), &bytes).unwrap(), 1);
    }

    #[test]
    fn records_without_a_version_are_version_one() {
        let p = Path::new("f");
        assert_eq!(check(p, br#"{"kind":"Pod"}"#).unwrap(), 1);
        // The key inside a value is not the record's version.
        assert_eq!(
            check(p, br#"{"metadata":{"labels":{"recordVersion":"9"}}}"#).unwrap(),
            1
        );
        // Not JSON: left to the decoder.
        assert_eq!(check(p, b"{\"kind\":\"Po").unwrap(), 1);
    }

    #[test]
    fn a_newer_version_is_refused_wherever_the_key_is() {
        let p = Path::new("/s/pods/default/a/pod.json");
        for bytes in [
            &br#"{"recordVersion":2,"kind":"Pod"}"#[..],
            br#"{"recordVersion":2}"#,
            br#"{ "kind": "Pod", "recordVersion": 7 }"#,
            br#"{"recordVersion":99999999999999999999999,"kind":"Pod"}"#,
            br#"{"recordVersion":"two"}"#,
        ] {
            let err = check(p, bytes).unwrap_err();
            assert!(err.version > CURRENT, "{bytes:?}");
            let text = err.to_string();
            assert!(
                text.starts_with("state file /s/pods/default/a/pod.json has record version"),
                "{text}"
            );
            assert_eq!(text.lines().count(), 1);
        }
        assert_eq!(
            check(p, br#"{"recordVersion":2,"kind":"Pod"}"#)
                .unwrap_err()
                .to_string(),
            "state file /s/pods/default/a/pod.json has record version 2, newer than this pod reads (1): it was written by a newer pod binary"
        );
    }
}
