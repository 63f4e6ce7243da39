//! Image references, normalised the way Docker does: `busybox` is
//! `docker.io/library/busybox:latest`, `registry:5000/app` keeps its port,
//! `app@sha256:…` names a manifest by digest.

use std::fmt;

/// Docker Hub's canonical domain; `index.docker.io` is an alias of it.
pub const DOCKER_HUB: &str = "docker.io";

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `quay.io`, `127.0.0.1:5000`.
    pub domain: String,
    /// `library/busybox`.
    pub path: String,
    /// The tag, `None` when only a digest was given.
    pub tag: Option<String>,
    /// `sha256:<hex>` when given.
    pub digest: Option<String>,
}

/// Why a reference does not parse; the text follows Docker's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Format,
    #[error("invalid reference format: repository name must be lowercase")]
    Uppercase,
    #[error("invalid reference format: repository name must have at most 255 characters")]
    TooLong,
    #[error("invalid checksum digest format")]
    Digest,
}

impl Reference {
    /// Parses and normalises `text`; a missing tag becomes `latest` unless a
    /// digest is given.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(parse_digest(digest)?)),
            None => (text, None),
        };
        // A tag is after the last ':' that follows the last '/', so that
        // `host:5000/app` is not mistaken for a tag.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&name[..at], Some(name[at + 1..].to_string()))
            }
            None => (name, None),
        };
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(ReferenceError::Format);
        }
        if name.is_empty() {
            return Err(ReferenceError::Format);
        }
        let (domain, path) = split_domain(name);
        if path.len() > 255 {
            return Err(ReferenceError::TooLong);
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase);
        }
        if !valid_domain(&domain) || !path.split('/').all(valid_path_component) {
            return Err(ReferenceError::Format);
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Whether the user wrote a registry host (`quay.io/x`) or left it to
    /// the unqualified-search registries (`busybox`, `library/busybox`).
    pub fn is_qualified(text: &str) -> bool {
        match text.split_once('/') {
            Some((first, _)) => looks_like_domain(first),
            None => false,
        }
    }

    /// `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// What to ask the registry for: the digest if known, else the tag.
    pub fn tag_or_digest(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_domain(first) => (first.to_string(), rest.to_string()),
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        domain
    };
    let path = if domain == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (domain, path)
}

/// Docker's rule: the first component is a host when it has a dot or a
/// port, or is `localhost`.
fn looks_like_domain(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Docker's domain: dot-separated components of letters, digits and inner
/// hyphens (so never `..` or `.`), or a bracketed IPv6 address; an
/// optional port.
fn valid_domain(domain: &str) -> bool {
    let host = match domain.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || domain.starts_with('[') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        _ => domain,
    };
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    let component = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    };
    host.split('.').all(component)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// Accepts `sha256:<64 lowercase hex>`.
pub fn parse_digest(text: &str) -> Result<String, ReferenceError> {
    match text.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(text.to_string())
        }
        _ => Err(ReferenceError::Digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(norm("bitnami/redis"), "docker.io/bitnami/redis:latest");
        assert_eq!(
            norm("index.docker.io/library/busybox:1"),
            "docker.io/library/busybox:1"
        );
        assert_eq!(norm("quay.io/coreos/etcd"), "quay.io/coreos/etcd:latest");
        assert_eq!(norm("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app:v2");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("registry:5000/app"), "registry:5000/app:latest");
        assert_eq!(
            norm(&format!("busybox@{D}")),
            format!("docker.io/library/busybox@{D}")
        );
        assert_eq!(
            norm(&format!("busybox:1.36@{D}")),
            format!("docker.io/library/busybox:1.36@{D}")
        );
    }

    #[test]
    fn refuses_bad_references() {
        assert_eq!(Reference::parse("Busybox"), Err(ReferenceError::Uppercase));
        assert_eq!(Reference::parse(""), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("busybox:"), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("busy box"), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("a//b"), Err(ReferenceError::Format));
        assert_eq!(Reference::parse("x@sha256:12"), Err(ReferenceError::Digest));
        assert_eq!(Reference::parse("-x"), Err(ReferenceError::Format));
        // A first component with a dot is a domain, which `..` and `.`
        // are not (they parsed once, as the registry "..").
        for climbing in [
            "../x",
            "./x",
            "../../x:1",
            "a..b/x",
            ".x/y",
            "x-/y",
            "[zz]/x",
        ] {
            assert_eq!(
                Reference::parse(climbing),
                Err(ReferenceError::Format),
                "{climbing}"
            );
        }
        assert_eq!(norm("[::1]:5000/x"), "[::1]:5000/x:latest");
        assert_eq!(norm("my-reg.example.com/x"), "my-reg.example.com/x:latest");
    }

    #[test]
    fn tells_qualified_names() {
        assert!(Reference::is_qualified("quay.io/x"));
        assert!(Reference::is_qualified("localhost:5000/x"));
        assert!(!Reference::is_qualified("busybox"));
        assert!(!Reference::is_qualified("library/busybox"));
    }
}
