//! registries.conf, in the containers-registries.conf(5) v2 TOML format
//! podman users know: `[[registry]]` tables with `prefix`, `location`,
//! `insecure`, `blocked` and `[[registry.mirror]]`, and
//! `unqualified-search-registries`.
//!
//! Read from `$POD_REGISTRIES_CONF` if set, else `/etc/pod/registries.conf`,
//! else `/etc/containers/registries.conf` with its `registries.conf.d/*.conf`
//! drop-ins (later files replace registries of the same prefix and, when
//! they set it, the search list).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::reference::{DOCKER_HUB, Reference};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RegistriesConf {
    pub unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    pub registry: Vec<Registry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Registry {
    pub prefix: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Mirror {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
}

/// Where to fetch an image from: a registry host, the repository on it,
/// and whether it speaks plain http.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub repository: String,
    pub insecure: bool,
    pub mirror: bool,
}

impl Registry {
    /// The prefix this table applies to (its location when unset).
    fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref().or(self.location.as_deref())
    }
}

impl RegistriesConf {
    /// The configuration in effect, from the usual places.
    pub fn load() -> Result<RegistriesConf> {
        if let Some(path) = std::env::var_os("POD_REGISTRIES_CONF") {
            return RegistriesConf::from_file(Path::new(&path));
        }
        let pod = Path::new("/etc/pod/registries.conf");
        if pod.is_file() {
            return RegistriesConf::from_file(pod);
        }
        let mut conf = RegistriesConf::default();
        let main = Path::new("/etc/containers/registries.conf");
        if main.is_file() {
            conf = RegistriesConf::from_file(main)?;
        }
        let mut drop_ins: Vec<PathBuf> = fs::read_dir("/etc/containers/registries.conf.d")
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                    .collect()
            })
            .unwrap_or_default();
        drop_ins.sort();
        for path in drop_ins {
            conf.merge(RegistriesConf::from_file(&path)?);
        }
        Ok(conf)
    }

    pub fn from_file(path: &Path) -> Result<RegistriesConf> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("reading registries configuration {}", path.display()))?;
        RegistriesConf::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<RegistriesConf> {
        let conf: RegistriesConf = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!("invalid registries.conf: {}", e.to_string().trim_end())
        })?;
        for (i, registry) in conf.registry.iter().enumerate() {
            if registry.prefix().is_none() {
                bail!("invalid registries.conf: registry[{i}] needs a prefix or a location");
            }
        }
        Ok(conf)
    }

    fn merge(&mut self, other: RegistriesConf) {
        if other.unqualified_search_registries.is_some() {
            self.unqualified_search_registries = other.unqualified_search_registries;
        }
        for registry in other.registry {
            self.registry.retain(|r| r.prefix() != registry.prefix());
            self.registry.push(registry);
        }
    }

    /// The registries an unqualified name (`busybox`) is looked up in, in
    /// order; Docker Hub when none is configured.
    pub fn search_registries(&self) -> Vec<String> {
        match &self.unqualified_search_registries {
            Some(list) if !list.is_empty() => list.clone(),
            _ => vec![DOCKER_HUB.to_string()],
        }
    }

    /// The `[[registry]]` table with the longest prefix matching
    /// `repository` (`host/path`), if any.
    fn table_for(&self, repository: &str) -> Option<(&Registry, usize)> {
        self.registry
            .iter()
            .filter_map(|r| {
                let prefix = r.prefix()?;
                prefix_match(prefix, repository).map(|len| (r, len))
            })
            .max_by_key(|(_, len)| *len)
    }

    /// Where to pull `reference` from: its mirrors first, then its
    /// location. Fails when the registry is blocked.
    pub fn endpoints(&self, reference: &Reference) -> Result<Vec<Endpoint>> {
        let repository = reference.repository();
        let Some((table, matched)) = self.table_for(&repository) else {
            return Ok(vec![Endpoint {
                host: reference.domain.clone(),
                repository: reference.path.clone(),
                insecure: false,
                mirror: false,
            }]);
        };
        if table.blocked {
            bail!(
                "registry {} is blocked in registries.conf",
                table.prefix().unwrap_or_default()
            );
        }
        // Wildcard prefixes (`*.example.com`) do not rewrite.
        let rest = &repository[matched..];
        let rewrite = |location: &str| -> String {
            if table.prefix().is_some_and(|p| p.starts_with("*.")) {
                repository.clone()
            } else {
                format!("{location}{rest}")
            }
        };
        let split = |full: String, insecure: bool, mirror: bool| -> Endpoint {
            let (host, path) = full.split_once('/').unwrap_or((full.as_str(), ""));
            let mut path = path.to_string();
            if host == DOCKER_HUB && !path.contains('/') {
                path = format!("library/{path}");
            }
            Endpoint {
                host: host.to_string(),
                repository: path,
                insecure,
                mirror,
            }
        };
        let mut out: Vec<Endpoint> = table
            .mirror
            .iter()
            .map(|m| split(rewrite(&m.location), m.insecure, true))
            .collect();
        let location = table
            .location
            .clone()
            .unwrap_or_else(|| table.prefix().unwrap_or_default().to_string());
        out.push(split(rewrite(&location), table.insecure, false));
        Ok(out)
    }
}

/// How much of `repository` the registries.conf `prefix` covers, if it
/// matches on a path boundary (`example.com/foo` matches
/// `example.com/foo/bar`, not `example.com/foobar`); `*.example.com`
/// matches any subdomain's repositories.
fn prefix_match(prefix: &str, repository: &str) -> Option<usize> {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = repository.split('/').next().unwrap_or("");
        return host
            .strip_suffix(domain)
            .filter(|h| h.ends_with('.'))
            .map(|_| host.len());
    }
    if repository == prefix {
        return Some(prefix.len());
    }
    repository
        .strip_prefix(prefix)
        .filter(|rest| rest.starts_with('/'))
        .map(|_| prefix.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
unqualified-search-registries = ["quay.io", "docker.io"]

[[registry]]
prefix = "example.com/team"
location = "127.0.0.1:5000/mirror-of-team"
insecure = true

[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:6000"
insecure = true

[[registry]]
prefix = "*.blocked.io"
blocked = true
"#;

    fn endpoints(conf: &RegistriesConf, text: &str) -> Result<Vec<Endpoint>> {
        conf.endpoints(&Reference::parse(text).unwrap())
    }

    #[test]
    fn rewrites_prefixes_and_orders_mirrors_first() {
        let conf = RegistriesConf::parse(CONF).unwrap();
        assert_eq!(conf.search_registries(), ["quay.io", "docker.io"]);
        let e = endpoints(&conf, "example.com/team/app:v1").unwrap();
        assert_eq!(
            e,
            [Endpoint {
                host: "127.0.0.1:5000".into(),
                repository: "mirror-of-team/app".into(),
                insecure: true,
                mirror: false,
            }]
        );
        let e = endpoints(&conf, "busybox").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (
                e[0].host.as_str(),
                e[0].repository.as_str(),
                e[0].insecure,
                e[0].mirror
            ),
            ("127.0.0.1:6000", "library/busybox", true, true)
        );
        assert_eq!(
            (e[1].host.as_str(), e[1].repository.as_str(), e[1].insecure),
            ("docker.io", "library/busybox", false)
        );
        // Not a path boundary: untouched.
        let e = endpoints(&conf, "example.com/teamster/app").unwrap();
        assert_eq!(e[0].host, "example.com");
        let err = endpoints(&conf, "x.blocked.io/app").unwrap_err();
        assert_eq!(
            err.to_string(),
            "registry *.blocked.io is blocked in registries.conf"
        );
    }

    #[test]
    fn merges_drop_ins_and_reports_bad_files() {
        let mut conf = RegistriesConf::parse(CONF).unwrap();
        conf.merge(
            RegistriesConf::parse(
                "[[registry]]\nprefix = \"example.com/team\"\nlocation = \"other:1\"\n",
            )
            .unwrap(),
        );
        assert_eq!(conf.search_registries(), ["quay.io", "docker.io"]);
        let e = endpoints(&conf, "example.com/team/app").unwrap();
        assert_eq!(e[0].host, "other:1");
        assert!(!e[0].insecure);
        assert!(RegistriesConf::parse("[[registry]]\ninsecure = true\n").is_err());
        let err = RegistriesConf::parse("registry = 3").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid registries.conf"),
            "{err}"
        );
        assert_eq!(RegistriesConf::default().search_registries(), ["docker.io"]);
    }
}
