//! Names typed on the command line reach paths in the state directory, so
//! they are checked before any path is built from them: kubectl's
//! client-side check (client-go's IsValidPathSegmentName, with its
//! messages), then the object-name rule the API server validates on
//! create. A name that passes the first but not the second names nothing
//! that can be stored: reading it is NotFound, as from the API server,
//! without touching the filesystem.

use anyhow::{Result, bail};

/// client-go's `invalid resource name "..": [may not be '..']`.
pub fn check_path_segment(value: &str) -> Result<()> {
    if value.is_empty() {
        bail!("resource name may not be empty");
    }
    if let Some(problems) = segment_problems(value) {
        bail!("invalid resource name {value:?}: {problems}");
    }
    Ok(())
}

/// client-go's `invalid namespace "../..": [may not contain '/']`.
pub fn check_namespace(value: &str) -> Result<()> {
    if value.is_empty() {
        bail!("namespace may not be empty");
    }
    if let Some(problems) = segment_problems(value) {
        bail!("invalid namespace {value:?}: {problems}");
    }
    Ok(())
}

/// What IsValidPathSegmentName finds wrong, as Go prints a `[]string`.
fn segment_problems(value: &str) -> Option<String> {
    let problems: Vec<String> = if value == "." || value == ".." {
        vec![format!("may not be '{value}'")]
    } else {
        ["/", "%"]
            .iter()
            .filter(|bad| value.contains(*bad))
            .map(|bad| format!("may not contain '{bad}'"))
            .collect()
    };
    (!problems.is_empty()).then(|| format!("[{}]", problems.join(" ")))
}

/// Whether an object could be stored under `value`: the characters of a
/// DNS-1123 subdomain (every stored name and namespace is one), never a
/// leading dot (the store's own temporary files start with one).
pub fn storable(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_err(value: &str) -> String {
        check_path_segment(value).unwrap_err().to_string()
    }

    #[test]
    fn client_go_messages() {
        assert_eq!(
            name_err(".."),
            r#"invalid resource name "..": [may not be '..']"#
        );
        assert_eq!(
            name_err("."),
            r#"invalid resource name ".": [may not be '.']"#
        );
        assert_eq!(
            name_err("../x"),
            r#"invalid resource name "../x": [may not contain '/']"#
        );
        assert_eq!(
            name_err("a/%2e"),
            r#"invalid resource name "a/%2e": [may not contain '/' may not contain '%']"#
        );
        assert_eq!(name_err(""), "resource name may not be empty");
        assert_eq!(
            check_namespace("../..").unwrap_err().to_string(),
            r#"invalid namespace "../..": [may not contain '/']"#
        );
        assert!(check_path_segment("Web_1").is_ok());
        assert!(check_namespace("kube-system").is_ok());
    }

    #[test]
    fn storable_names() {
        assert!(storable("web-1.example"));
        assert!(!storable("Web"));
        assert!(!storable(".hidden"));
        assert!(!storable("a_b"));
        assert!(!storable(""));
    }
}
