//! From a pod's container spec and its image to the process to run: the
//! command line (Kubernetes' four rules and `$(VAR)` expansion), the
//! environment (image < envFrom < env, with valueFrom) and the working
//! directory. Errors are the kubelet's CreateContainerConfigError messages.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod};
use oci_spec::image::ImageConfiguration;

use super::StartError;
use crate::api::Kind;
use crate::api::Object;
use crate::api::quantity::Quantity;
use crate::store::Store;

/// The PATH containerd gives a container whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process part of a container, before the user is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    /// `NAME=value`: PATH, HOSTNAME, the image's, then the pod's.
    pub env: Vec<String>,
    pub cwd: String,
}

/// Facts about the pod and the node that fieldRef and resourceFieldRef
/// read.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    pub node_name: String,
    pub host_ip: String,
    pub pod_ip: String,
    /// Node capacity, used for unset limits as the kubelet does.
    pub cpus: i64,
    pub memory_bytes: i64,
}

impl NodeFacts {
    pub fn of_this_machine(store: &Store) -> NodeFacts {
        NodeFacts::named(crate::node::name_of(store))
    }

    /// This machine as the node `config` configures.
    pub fn of_node(config: &crate::node::config::NodeConfig) -> NodeFacts {
        NodeFacts::named(crate::node::name_in(config))
    }

    fn named(node_name: String) -> NodeFacts {
        // The addresses come from the pod's status, which the supervisor
        // fills in (with `node::host_ip`).
        NodeFacts {
            node_name,
            host_ip: String::new(),
            pod_ip: String::new(),
            cpus: crate::node::cpus(),
            memory_bytes: crate::node::memory_bytes(),
        }
    }
}

/// Everything `resolve` needs to know.
pub struct Context<'a> {
    pub store: &'a Store,
    pub pod: &'a Pod,
    pub hostname: &'a str,
    pub node: &'a NodeFacts,
}

pub fn resolve(
    cx: &Context<'_>,
    container: &Container,
    image: &ImageConfiguration,
) -> Result<ProcessSpec, StartError> {
    let config = image.config().as_ref();
    let pod_env = pod_environment(cx, container)?;
    let lookup: BTreeMap<&str, &str> = pod_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    let mut env = EnvList::default();
    env.set("PATH", DEFAULT_PATH);
    env.set("HOSTNAME", cx.hostname);
    for entry in config.and_then(|c| c.env().as_ref()).into_iter().flatten() {
        let (k, v) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        env.set(k, v);
    }
    for (k, v) in &pod_env {
        env.set(k, v);
    }

    let entrypoint = config.and_then(|c| c.entrypoint().clone());
    let cmd = config.and_then(|c| c.cmd().clone());
    let args = command_line(
        container.command.as_deref(),
        container.args.as_deref(),
        entrypoint.as_deref(),
        cmd.as_deref(),
    )
    .into_iter()
    .map(|arg| expand(&arg, &lookup))
    .collect::<Vec<_>>();
    if args.is_empty() {
        return Err(StartError::Runtime(
            "failed to generate spec: no command specified".into(),
        ));
    }

    let cwd = container
        .working_dir
        .clone()
        .filter(|d| !d.is_empty())
        .or_else(|| config.and_then(|c| c.working_dir().clone()))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/".to_string());

    Ok(ProcessSpec {
        args,
        env: env.into_strings(),
        cwd,
    })
}

/// Kubernetes' four rules for command/args against the image's
/// Entrypoint/Cmd.
pub fn command_line(
    command: Option<&[String]>,
    args: Option<&[String]>,
    entrypoint: Option<&[String]>,
    cmd: Option<&[String]>,
) -> Vec<String> {
    let command = command.filter(|c| !c.is_empty());
    let args = args.filter(|a| !a.is_empty());
    match (command, args) {
        (Some(command), args) => [command, args.unwrap_or_default()].concat(),
        (None, Some(args)) => [entrypoint.unwrap_or_default(), args].concat(),
        (None, None) => [entrypoint.unwrap_or_default(), cmd.unwrap_or_default()].concat(),
    }
}

/// `$(VAR)` expansion as the kubelet's (third_party/forked/golang/
/// expansion): `$$` is a literal `$`, an unknown or unterminated reference
/// stays as written.
pub fn expand(input: &str, vars: &BTreeMap<&str, &str>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest[1..].find(')') {
                    Some(end) => {
                        let name = &rest[1..1 + end];
                        match vars.get(name) {
                            Some(value) => out.push_str(value),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        end + 2
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // `$x`: kept as is; a multi-byte character is copied
                    // whole at the next checkpoint.
                    out.push('$');
                    0
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    out
}

/// An ordered environment where setting a name again replaces its value in
/// place (containerd's replaceOrAppendEnvValues).
#[derive(Debug, Default)]
struct EnvList(Vec<(String, String)>);

impl EnvList {
    fn set(&mut self, name: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((name.to_string(), value.to_string())),
        }
    }

    fn into_strings(self) -> Vec<String> {
        self.0
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// The variables the kubelet computes for a container: envFrom (with
/// prefixes) then env, each value expanded against the ones before it.
fn pod_environment(
    cx: &Context<'_>,
    container: &Container,
) -> Result<Vec<(String, String)>, StartError> {
    let namespace = cx.pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = EnvList::default();
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or("");
        if let Some(r) = &source.config_map_ref {
            let optional = r.optional.unwrap_or(false);
            if let Some(data) = config_map_data(cx.store, namespace, &r.name, optional)? {
                for (k, v) in data {
                    let name = format!("{prefix}{k}");
                    if is_env_name(&name) {
                        env.set(&name, &v);
                    }
                }
            }
        }
        if let Some(r) = &source.secret_ref {
            let optional = r.optional.unwrap_or(false);
            if let Some(data) = secret_data(cx.store, namespace, &r.name, optional)? {
                for (k, v) in data {
                    let name = format!("{prefix}{k}");
                    if is_env_name(&name) {
                        env.set(&name, &String::from_utf8_lossy(&v));
                    }
                }
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match env_value(cx, container, namespace, var, &env)? {
            Some(v) => v,
            None => continue,
        };
        env.set(&var.name, &value);
    }
    Ok(env.0)
}

fn env_value(
    cx: &Context<'_>,
    container: &Container,
    namespace: &str,
    var: &EnvVar,
    so_far: &EnvList,
) -> Result<Option<String>, StartError> {
    if let Some(value) = var.value.as_deref().filter(|v| !v.is_empty()) {
        let vars: BTreeMap<&str, &str> = so_far
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        return Ok(Some(expand(value, &vars)));
    }
    let Some(from) = &var.value_from else {
        return Ok(Some(String::new()));
    };
    if let Some(field) = &from.field_ref {
        return field_value(cx, &field.field_path).map(Some);
    }
    if let Some(resource) = &from.resource_field_ref {
        let target = match resource.container_name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => find_container(cx.pod, name).unwrap_or(container),
            None => container,
        };
        let divisor = resource.divisor.as_ref().map(|q| q.0.as_str());
        return resource_value(target, &resource.resource, divisor, cx.node).map(Some);
    }
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional.unwrap_or(false);
        let Some(data) = config_map_data(cx.store, namespace, &r.name, optional)? else {
            return Ok(None);
        };
        return match data.get(&r.key) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(StartError::Config(format!(
                "couldn't find key {} in ConfigMap {namespace}/{}",
                r.key, r.name
            ))),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let optional = r.optional.unwrap_or(false);
        let Some(data) = secret_data(cx.store, namespace, &r.name, optional)? else {
            return Ok(None);
        };
        return match data.get(&r.key) {
            Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
            None if optional => Ok(None),
            None => Err(StartError::Config(format!(
                "couldn't find key {} in Secret {namespace}/{}",
                r.key, r.name
            ))),
        };
    }
    Ok(Some(String::new()))
}

fn find_container<'p>(pod: &'p Pod, name: &str) -> Option<&'p Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

/// A downward-API field (`metadata.name`, `metadata.labels['app']`, ...).
pub fn field_value(cx: &Context<'_>, path: &str) -> Result<String, StartError> {
    let meta = &cx.pod.metadata;
    let spec = cx.pod.spec.as_ref();
    let status = cx.pod.status.as_ref();
    let map_value = |map: &Option<BTreeMap<String, String>>, key: &str| {
        map.as_ref()
            .and_then(|m| m.get(key))
            .cloned()
            .unwrap_or_default()
    };
    if let Some(key) = subscript(path, "metadata.labels") {
        return Ok(map_value(&meta.labels, key));
    }
    if let Some(key) = subscript(path, "metadata.annotations") {
        return Ok(map_value(&meta.annotations, key));
    }
    let pod_ip = status
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_else(|| cx.node.pod_ip.clone());
    let host_ip = status
        .and_then(|s| s.host_ip.clone())
        .unwrap_or_else(|| cx.node.host_ip.clone());
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| cx.node.node_name.clone()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".to_string()),
        "status.podIP" | "status.podIPs" => pod_ip,
        "status.hostIP" | "status.hostIPs" => host_ip,
        other => {
            return Err(StartError::Config(format!(
                "unsupported fieldPath: {other}"
            )));
        }
    })
}

/// `metadata.labels['app']` → `app`.
fn subscript<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?.strip_prefix("['")?;
    rest.strip_suffix("']")
}

/// The downward API's `key="value"` lines, sorted by key.
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A resourceFieldRef value (`limits.memory` with divisor `1Mi`), rounded
/// up as the kubelet's ExtractContainerResourceValue; unset limits are the
/// node's capacity, unset requests fall back to the limit, then 0.
pub fn resource_value(
    container: &Container,
    resource: &str,
    divisor: Option<&str>,
    node: &NodeFacts,
) -> Result<String, StartError> {
    let resources = container.resources.as_ref();
    let get = |which: &str, name: &str| -> Option<Quantity> {
        let map = match which {
            "limits" => resources.and_then(|r| r.limits.as_ref()),
            _ => resources.and_then(|r| r.requests.as_ref()),
        };
        map.and_then(|m| m.get(name))
            .and_then(|q| Quantity::parse(&q.0).ok())
    };
    let (which, name) = resource.split_once('.').ok_or_else(|| {
        StartError::Config(format!("unsupported container resource : {resource:?}"))
    })?;
    let divisor = match divisor.filter(|d| !d.is_empty()) {
        Some(d) => Quantity::parse(d)
            .map_err(|e| StartError::Config(format!("invalid divisor {d:?}: {e}")))?,
        None => Quantity::parse("1").expect("1 is a quantity"),
    };
    let quantity = match which {
        "limits" => get("limits", name),
        "requests" => get("requests", name).or_else(|| get("limits", name)),
        _ => None,
    };
    let ceil_div = |value: i64, by: i64| -> i64 {
        if by <= 0 {
            return 0;
        }
        (value + by - 1).div_euclid(by)
    };
    Ok(match name {
        "cpu" => {
            let millis = match (&quantity, which) {
                (Some(q), _) => q.as_millis_ceil(),
                (None, "limits") => node.cpus * 1000,
                (None, _) => 0,
            };
            ceil_div(millis, divisor.as_millis_ceil()).to_string()
        }
        "memory" | "ephemeral-storage" => {
            let bytes = match (&quantity, which) {
                (Some(q), _) => q.as_bytes_ceil(),
                (None, "limits") if name == "memory" => node.memory_bytes,
                (None, _) => 0,
            };
            ceil_div(bytes, divisor.as_bytes_ceil()).to_string()
        }
        _ if name.starts_with("hugepages-") => {
            let bytes = quantity.map_or(0, |q| q.as_bytes_ceil());
            ceil_div(bytes, divisor.as_bytes_ceil()).to_string()
        }
        _ => {
            return Err(StartError::Config(format!(
                "unsupported container resource : {resource:?}"
            )));
        }
    })
}

/// A ConfigMap's data, or None when it is missing and optional.
pub fn config_map_data(
    store: &Store,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, String>>, StartError> {
    match store.get(Kind::ConfigMap, namespace, name) {
        Ok(Some(Object::ConfigMap(cm))) => Ok(Some(cm.data.unwrap_or_default())),
        Ok(_) if optional => Ok(None),
        Ok(_) => Err(StartError::Config(format!("configmap {name:?} not found"))),
        Err(e) => Err(StartError::Config(format!("{e:#}"))),
    }
}

/// A Secret's data, or None when it is missing and optional.
pub fn secret_data(
    store: &Store,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, StartError> {
    match store.get(Kind::Secret, namespace, name) {
        Ok(Some(Object::Secret(secret))) => {
            let mut data: BTreeMap<String, Vec<u8>> = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            // stringData is write-only in the API; a stored one still counts.
            for (k, v) in secret.string_data.unwrap_or_default() {
                data.insert(k, v.into_bytes());
            }
            Ok(Some(data))
        }
        Ok(_) if optional => Ok(None),
        Ok(_) => Err(StartError::Config(format!("secret {name:?} not found"))),
        Err(e) => Err(StartError::Config(format!("{e:#}"))),
    }
}

/// The relaxed C-identifier-ish rule the kubelet applies to envFrom keys.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_four_command_rules() {
        let ep = strings(&["/ep"]);
        let cmd = strings(&["cmd-arg"]);
        let c = strings(&["/bin/c"]);
        let a = strings(&["a1", "a2"]);
        let run = |command: Option<&[String]>, args: Option<&[String]>| {
            command_line(command, args, Some(&ep), Some(&cmd))
        };
        assert_eq!(run(None, None), strings(&["/ep", "cmd-arg"]));
        assert_eq!(run(Some(&c), None), strings(&["/bin/c"]));
        assert_eq!(run(None, Some(&a)), strings(&["/ep", "a1", "a2"]));
        assert_eq!(run(Some(&c), Some(&a)), strings(&["/bin/c", "a1", "a2"]));
        // An empty list counts as unset.
        assert_eq!(run(Some(&[]), None), strings(&["/ep", "cmd-arg"]));
    }

    #[test]
    fn expansion_follows_the_kubelet() {
        let vars: BTreeMap<&str, &str> = [("A", "x"), ("B", "y y")].into_iter().collect();
        let cases = [
            ("$(A)", "x"),
            ("pre-$(A)-$(B)", "pre-x-y y"),
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$x"),
            ("$(MISSING)", "$(MISSING)"),
            ("$(A", "$(A"),
            ("$A", "$A"),
            ("a$", "a$"),
            ("$", "$"),
            ("100$$", "100$"),
            ("é$(A)é", "éxé"),
            ("$é", "$é"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &vars), want, "expanding {input:?}");
        }
    }

    #[test]
    fn env_names_are_replaced_in_place() {
        let mut env = EnvList::default();
        env.set("PATH", "/a");
        env.set("X", "1");
        env.set("PATH", "/b");
        assert_eq!(env.into_strings(), strings(&["PATH=/b", "X=1"]));
    }

    #[test]
    fn resource_values_round_up_by_divisor() {
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}
        }))
        .unwrap();
        let node = NodeFacts {
            cpus: 2,
            memory_bytes: 1 << 30,
            ..NodeFacts::default()
        };
        let value = |r: &str, d: Option<&str>| resource_value(&container, r, d, &node).unwrap();
        assert_eq!(value("limits.cpu", None), "1");
        assert_eq!(value("limits.cpu", Some("1m")), "250");
        assert_eq!(value("limits.memory", Some("1Mi")), "64");
        assert_eq!(value("requests.memory", None), "67108864");
        assert_eq!(value("requests.cpu", Some("1m")), "250");
        let bare: Container = serde_json::from_value(serde_json::json!({"name": "c"})).unwrap();
        assert_eq!(
            resource_value(&bare, "limits.cpu", None, &node).unwrap(),
            "2"
        );
        assert_eq!(
            resource_value(&bare, "requests.cpu", None, &node).unwrap(),
            "0"
        );
    }

    #[test]
    fn label_maps_are_quoted_and_sorted() {
        let map: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "x\"y".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(format_map(Some(&map)), "a=\"x\\\"y\"\nb=\"2\"");
    }
}
