//! Network configuration lists: read from a directory as libcni's
//! `ConfFiles` + `LoadConfList` do (the first `*.conf`, `*.conflist` or
//! `*.json` by name; a single-plugin `.conf` becomes a list of one), and
//! turned into each plugin's stdin.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// A network configuration list.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkList {
    pub name: String,
    pub cni_version: String,
    pub disable_check: bool,
    pub disable_gc: bool,
    /// Each plugin's configuration object, as written.
    pub plugins: Vec<Map<String, Value>>,
}

impl NetworkList {
    /// Parses a `.conflist` document.
    pub fn from_list(value: Value) -> Result<NetworkList, String> {
        let Value::Object(list) = value else {
            return Err("expected a JSON object".into());
        };
        let name = string_field(&list, "name")?;
        let cni_version = string_field(&list, "cniVersion")?;
        let plugins = match list.get("plugins") {
            Some(Value::Array(plugins)) if !plugins.is_empty() => plugins,
            Some(Value::Array(_)) => return Err("\"plugins\" is empty".into()),
            Some(_) => return Err("\"plugins\" must be an array".into()),
            None => return Err("no \"plugins\" key".into()),
        };
        let plugins = plugins
            .iter()
            .enumerate()
            .map(|(i, p)| match p {
                Value::Object(p) => {
                    plugin_type(p).map_err(|e| format!("plugins[{i}]: {e}"))?;
                    Ok(p.clone())
                }
                _ => Err(format!("plugins[{i}]: expected a JSON object")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        let flag = |key: &str| list.get(key).and_then(Value::as_bool).unwrap_or(false);
        let parsed = NetworkList {
            name,
            cni_version,
            disable_check: flag("disableCheck"),
            disable_gc: flag("disableGC"),
            plugins,
        };
        parsed.check()?;
        Ok(parsed)
    }

    /// Wraps a single-plugin `.conf` document in a list, as libcni does.
    pub fn from_single(value: Value) -> Result<NetworkList, String> {
        let Value::Object(conf) = value else {
            return Err("expected a JSON object".into());
        };
        if conf.contains_key("plugins") {
            return Err("a .conf file holds one plugin; use .conflist for \"plugins\"".into());
        }
        plugin_type(&conf)?;
        let parsed = NetworkList {
            name: string_field(&conf, "name")?,
            cni_version: string_field(&conf, "cniVersion")?,
            disable_check: false,
            disable_gc: false,
            plugins: vec![conf],
        };
        parsed.check()?;
        Ok(parsed)
    }

    fn check(&self) -> Result<(), String> {
        // The spec's pattern for network names (they end up in file names).
        let ok = self
            .name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
        if !ok {
            return Err(format!("invalid network name {:?}", self.name));
        }
        super::Version::parse(&self.cni_version)?;
        Ok(())
    }

    /// The list as JSON (kept in the cache, so DEL runs with what ADD ran).
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "cniVersion": self.cni_version,
            "name": self.name,
            "disableCheck": self.disable_check,
            "disableGC": self.disable_gc,
            "plugins": self.plugins,
        })
    }

    /// The `type` of plugin `i`.
    pub fn plugin_type(&self, i: usize) -> &str {
        self.plugins[i]
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Plugin `i`'s stdin: its object with the list's name and version,
    /// the previous result, and the runtime configuration of the
    /// capabilities it declares (libcni's `buildOneConfig`).
    pub fn plugin_stdin(
        &self,
        i: usize,
        prev_result: Option<&Value>,
        capability_args: &Map<String, Value>,
        extra: Option<(&str, Value)>,
    ) -> Vec<u8> {
        let mut conf = self.plugins[i].clone();
        conf.insert("name".into(), Value::String(self.name.clone()));
        conf.insert("cniVersion".into(), Value::String(self.cni_version.clone()));
        if let Some(prev) = prev_result {
            conf.insert("prevResult".into(), prev.clone());
        }
        let declared: Vec<String> = match conf.get("capabilities") {
            Some(Value::Object(caps)) => caps
                .iter()
                .filter(|(_, on)| on.as_bool() == Some(true))
                .map(|(name, _)| name.clone())
                .collect(),
            _ => Vec::new(),
        };
        let runtime: Map<String, Value> = declared
            .iter()
            .filter_map(|cap| capability_args.get(cap).map(|v| (cap.clone(), v.clone())))
            .collect();
        if !runtime.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(runtime));
        }
        if let Some((key, value)) = extra {
            conf.insert(key.into(), value);
        }
        serde_json::to_vec(&conf).unwrap_or_default()
    }
}

fn string_field(map: &Map<String, Value>, key: &str) -> Result<String, String> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(format!("no {key:?} key")),
        Some(_) => Err(format!("{key:?} must be a string")),
    }
}

fn plugin_type(conf: &Map<String, Value>) -> Result<(), String> {
    match conf.get("type") {
        Some(Value::String(t)) if !t.is_empty() => Ok(()),
        _ => Err("no plugin \"type\"".into()),
    }
}

/// The network of `dir`: its first configuration file by name, or None
/// when it has none (or does not exist). A file that does not parse is an
/// error naming it: the user's network is never silently replaced.
pub fn load_dir(dir: &Path) -> Result<Option<(PathBuf, NetworkList)>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "reading CNI configuration directory {}: {e}",
                dir.display()
            ));
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("conf" | "conflist" | "json")
            ) && p.is_file()
        })
        .collect();
    files.sort();
    let Some(file) = files.into_iter().next() else {
        return Ok(None);
    };
    let invalid = |e: String| format!("invalid CNI configuration {}: {e}", file.display());
    let bytes = std::fs::read(&file).map_err(|e| invalid(e.to_string()))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    let list = if file.extension().and_then(|e| e.to_str()) == Some("conflist") {
        NetworkList::from_list(value)
    } else {
        NetworkList::from_single(value)
    }
    .map_err(invalid)?;
    Ok(Some((file, list)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_file_by_name_is_the_network_and_a_conf_is_a_list_of_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_dir(&dir.path().join("none")).unwrap(), None);
        assert_eq!(load_dir(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join("README"), "not a config").unwrap();
        std::fs::write(
            dir.path().join("20-b.conflist"),
            r#"{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"ptp"},{"type":"portmap"}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("10-a.conf"),
            r#"{"cniVersion":"0.4.0","name":"a","type":"bridge","bridge":"x"}"#,
        )
        .unwrap();
        let (file, list) = load_dir(dir.path()).unwrap().unwrap();
        assert_eq!(file, dir.path().join("10-a.conf"));
        assert_eq!(list.name, "a");
        assert_eq!(list.cni_version, "0.4.0");
        assert_eq!(list.plugins.len(), 1);
        assert_eq!(list.plugin_type(0), "bridge");
        std::fs::remove_file(dir.path().join("10-a.conf")).unwrap();
        let (_, list) = load_dir(dir.path()).unwrap().unwrap();
        assert_eq!((list.name.as_str(), list.plugins.len()), ("b", 2));
    }

    #[test]
    fn a_bad_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("10-x.conflist");
        for (text, want) in [
            ("{", "EOF while parsing an object at line 1 column 1"),
            (
                r#"{"cniVersion":"1.0.0","plugins":[{"type":"a"}]}"#,
                "no \"name\" key",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"n","plugins":[]}"#,
                "\"plugins\" is empty",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"bridge":"x"}]}"#,
                "plugins[0]: no plugin \"type\"",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"../n","plugins":[{"type":"a"}]}"#,
                "invalid network name \"../n\"",
            ),
            (
                r#"{"cniVersion":"one","name":"n","plugins":[{"type":"a"}]}"#,
                "invalid cniVersion \"one\"",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            assert_eq!(
                load_dir(dir.path()).unwrap_err(),
                format!("invalid CNI configuration {}: {want}", file.display())
            );
        }
    }

    #[test]
    fn stdin_carries_name_version_prev_result_and_declared_capabilities_only() {
        let list = NetworkList::from_list(json!({
            "cniVersion": "1.0.0", "name": "net",
            "plugins": [
                {"type": "bridge"},
                {"type": "portmap", "capabilities": {"portMappings": true, "bandwidth": false}}
            ]
        }))
        .unwrap();
        let mut caps = Map::new();
        caps.insert("portMappings".into(), json!([{"hostPort": 80}]));
        caps.insert("bandwidth".into(), json!({"ingressRate": 1}));
        let first: Value =
            serde_json::from_slice(&list.plugin_stdin(0, None, &caps, None)).unwrap();
        assert_eq!(
            first,
            json!({"type": "bridge", "name": "net", "cniVersion": "1.0.0"})
        );
        let prev = json!({"cniVersion": "1.0.0", "ips": []});
        let second: Value =
            serde_json::from_slice(&list.plugin_stdin(1, Some(&prev), &caps, None)).unwrap();
        assert_eq!(second["prevResult"], prev);
        assert_eq!(
            second["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 80}]})
        );
    }
}
