//! Validation with the API server's field paths and messages
//! (kubernetes pkg/apis/core/validation/validation.go and apimachinery's
//! pkg/util/validation), in the order the server reports them.

mod affinity;
mod container;
mod data;
mod meta;
pub mod names;
pub mod node;
mod pod;
mod security;
mod settings;
pub mod update;
mod volumes;
mod warnings;

use std::fmt;

use super::field::BadValue;
use super::{FieldError, Object};

pub use warnings::warnings;

/// The resolver's limits the API server enforces on dnsConfig and the
/// kubelet on the pod's whole DNS (validation.go MaxDNSNameservers,
/// MaxDNSSearchPaths, MaxDNSSearchListChars).
pub const MAX_DNS_NAMESERVERS: usize = 3;
pub const MAX_DNS_SEARCH_PATHS: usize = 32;
pub const MAX_DNS_SEARCH_LIST_CHARS: usize = 2048;

/// Every cause for which the API server would reject `object` on create.
pub fn validate(object: &Object) -> Vec<FieldError> {
    match object {
        Object::Pod(pod) => pod::validate_pod(pod),
        Object::ConfigMap(config_map) => data::validate_config_map(config_map),
        Object::Secret(secret) => data::validate_secret(secret),
        Object::Namespace(ns) => settings::validate_namespace(ns),
        Object::PodPreset(preset) => settings::validate_pod_preset(preset),
        Object::Node(node) => node::validate_node(node),
    }
}

/// A field path in apimachinery's notation: `spec.containers[0].name`,
/// `spec.containers[0].resources.limits[cpu]`.
#[derive(Debug, Clone)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    pub fn key(&self, key: &str) -> Path {
        Path(format!("{}[{key}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Path> for String {
    fn from(path: &Path) -> String {
        path.0.clone()
    }
}

/// The causes so far; small helpers keep the rules readable.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn required(&mut self, path: &Path) {
        self.push(FieldError::required(path, ""));
    }

    pub fn required_because(&mut self, path: &Path, detail: &str) {
        self.push(FieldError::required(path, detail));
    }

    pub fn invalid(&mut self, path: &Path, value: impl Into<Value>, detail: impl Into<String>) {
        self.push(FieldError::invalid(path, value.into().0, detail));
    }

    /// One `Invalid value` per message of a string check.
    pub fn check(&mut self, path: &Path, value: &str, messages: Vec<String>) {
        for message in messages {
            self.invalid(path, value, message);
        }
    }

    pub fn forbidden(&mut self, path: &Path, detail: &str) {
        self.push(FieldError::forbidden(path, detail));
    }

    pub fn duplicate(&mut self, path: &Path, value: impl Into<Value>) {
        self.push(FieldError::duplicate(path, value.into().0));
    }

    pub fn not_found(&mut self, path: &Path, value: &str) {
        self.push(FieldError::not_found(path, BadValue::Str(value.into())));
    }

    pub fn not_supported(&mut self, path: &Path, value: &str, supported: &[&str]) {
        self.push(FieldError::not_supported(
            path,
            BadValue::Str(value.into()),
            supported,
        ));
    }

    /// `ValidateNonnegativeField`
    pub fn non_negative(&mut self, path: &Path, value: Option<i64>) {
        if let Some(v) = value
            && v < 0
        {
            self.invalid(path, v, "must be greater than or equal to 0");
        }
    }

    pub fn extend(&mut self, other: Errors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// A value as an error shows it.
pub struct Value(BadValue);

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value(BadValue::Str(s.to_string()))
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value(BadValue::Str(s.clone()))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value(BadValue::Str(s))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value(BadValue::Int(i))
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value(BadValue::Int(i.into()))
    }
}

impl From<&[String]> for Value {
    fn from(list: &[String]) -> Value {
        Value(BadValue::StrList(list.to_vec()))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value(BadValue::Bool(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::decode::{self, Source};
    use crate::api::defaults;

    /// The causes for a manifest, after defaulting, as the server shows them.
    fn causes(yaml: &str) -> Vec<String> {
        let source = Source {
            name: "test.yaml".into(),
            text: yaml.into(),
        };
        let mut docs = decode::decode(&source).unwrap_or_else(|e| panic!("{e:#}"));
        let mut object = docs.remove(0).object;
        defaults::apply(&mut object, "default");
        validate(&object).iter().map(ToString::to_string).collect()
    }

    fn pod(spec: &str) -> Vec<String> {
        causes(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n{spec}"
        ))
    }

    #[test]
    fn host_process_needs_the_host_network_and_only_such_containers() {
        let host_process = "securityContext: {windowsOptions: {hostProcess: true}}";
        assert_eq!(
            pod(&format!(
                "  containers:\n  - {{name: a, image: b, {host_process}}}\n"
            )),
            [
                "spec.hostNetwork: Invalid value: false: hostNetwork must be true if pod contains any hostProcess containers"
            ]
        );
        assert_eq!(
            pod(&format!(
                "  hostNetwork: true\n  containers:\n  - {{name: a, image: b, {host_process}}}\n"
            )),
            Vec::<String>::new()
        );
        // Inherited from the pod, contradicted by one container, missing
        // from an init container.
        assert_eq!(
            pod(&format!(
                "  hostNetwork: true\n  {host_process}\n  initContainers: [{{name: i, image: b, securityContext: {{windowsOptions: {{hostProcess: false}}}}}}]\n  containers:\n  - {{name: a, image: b}}\n"
            )),
            [
                "spec.initContainers[0].securityContext.windowsOptions.hostProcess: Invalid value: false: pod hostProcess value must be identical if both are specified, was true",
                "spec: Invalid value: \"\": If pod contains any hostProcess containers then all containers must be HostProcess containers",
            ]
        );
        assert_eq!(
            pod(
                "  containers:\n  - {name: a, image: b, securityContext: {windowsOptions: {hostProcess: false}}}\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn namespaces_and_pod_presets() {
        assert_eq!(
            causes("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n"),
            ["metadata.name: Invalid value: \"a.b\": must not contain dots"]
        );
        assert_eq!(
            causes("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n"),
            Vec::<String>::new()
        );
        let preset = |spec: &str| {
            causes(&format!(
                "apiVersion: settings.k8s.io/v1alpha1\nkind: PodPreset\nmetadata: {{name: p}}\nspec: {spec}\n"
            ))
        };
        assert_eq!(
            preset("{selector: {matchLabels: {role: db}}}"),
            ["spec.volumes.env.envFrom.volumeMounts: Required value: must specify at least one"]
        );
        assert_eq!(
            preset(
                "{volumeMounts: [{name: cache, mountPath: /cache}], env: [{name: '', value: v}]}"
            ),
            [
                "spec.env[0].name: Required value",
                "spec.volumeMounts[0].name: Not found: \"cache\"",
            ]
        );
        assert_eq!(
            preset(
                "{selector: {matchExpressions: [{key: role, operator: Is}]}, env: [{name: A, value: b}]}"
            ),
            [
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Is\": not a valid selector operator"
            ]
        );
    }

    #[test]
    fn a_valid_pod_has_no_causes() {
        let spec = "  volumes: [{name: data}]\n  containers:\n  - name: web\n    image: nginx\n    ports: [{name: http, containerPort: 80, hostPort: 8080}]\n    volumeMounts: [{name: data, mountPath: /data}]\n    livenessProbe: {httpGet: {port: http}}\n    resources: {requests: {cpu: 100m}, limits: {cpu: 1, memory: 64Mi}}\n    env: [{name: A, value: x}, {name: B, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n";
        assert_eq!(pod(spec), Vec::<String>::new());
    }

    #[test]
    fn names() {
        assert_eq!(
            causes(
                "apiVersion: v1\nkind: Pod\nmetadata: {name: Web}\nspec: {containers: [{name: a, image: b}]}\n"
            ),
            vec![
                "metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert_eq!(
            causes(
                "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: a, image: b}]}\n"
            ),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(
            pod("  containers: [{name: a.b, image: x}]\n"),
            vec!["spec.containers[0].name: Invalid value: \"a.b\": must not contain dots"]
        );
    }

    #[test]
    fn containers() {
        assert_eq!(
            pod("  containers: []\n"),
            vec!["spec.containers: Required value"]
        );
        assert_eq!(
            pod("  containers: [{name: a}]\n"),
            vec!["spec.containers[0].image: Required value"]
        );
        assert_eq!(
            pod(
                "  initContainers: [{name: a, image: x}]\n  containers: [{name: a, image: x}, {name: a, image: x}]\n"
            ),
            vec![
                "spec.containers[1].name: Duplicate value: \"a\"",
                "spec.initContainers[0].name: Duplicate value: \"a\"",
            ]
        );
        assert_eq!(
            pod(
                "  initContainers: [{name: i, image: x, restartPolicy: OnFailure, livenessProbe: {exec: {command: [x]}}}]\n  containers: [{name: a, image: x}]\n"
            ),
            vec![
                "spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ]
        );
        assert_eq!(
            pod(
                "  restartPolicy: Sometimes\n  containers: [{name: a, image: x, imagePullPolicy: Maybe}]\n"
            ),
            vec![
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ]
        );
    }

    #[test]
    fn ports() {
        assert_eq!(
            pod(
                "  containers: [{name: a, image: x, ports: [{containerPort: 70000, name: HTTP}, {containerPort: 80, hostPort: 80}]}, {name: b, image: x, ports: [{containerPort: 81, hostPort: 80}]}]\n"
            ),
            vec![
                "spec.containers[0].ports[0].name: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].ports[0].name: Invalid value: \"HTTP\": must contain at least one letter (a-z)",
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[1].ports[0].hostPort: Duplicate value: \"/TCP/80\"",
            ]
        );
    }

    #[test]
    fn dns_config() {
        let c = "  containers: [{name: a, image: x}]\n";
        #[rustfmt::skip]
        let rows: Vec<(String, Vec<&str>)> = vec![
            (format!("  dnsPolicy: None\n{c}"),
             vec!["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
            // Without a nameserver None stops there: the bad search is not reported.
            (format!("  dnsPolicy: None\n  dnsConfig: {{searches: [Bad]}}\n{c}"),
             vec!["spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"]),
            (format!("  dnsConfig: {{nameservers: [1.1.1.1, 1.1.1.2, 1.1.1.3, dns.example]}}\n{c}"),
             vec![
                "spec.dnsConfig.nameservers: Invalid value: []string{\"1.1.1.1\", \"1.1.1.2\", \"1.1.1.3\", \"dns.example\"}: must not have more than 3 nameservers",
                "spec.dnsConfig.nameservers[3]: Invalid value: \"dns.example\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
             ]),
            (format!("  dnsConfig: {{searches: [a.example., Bad.example.], options: [{{name: ndots, value: '2'}}, {{value: '1'}}]}}\n{c}"),
             vec![
                "spec.dnsConfig.searches[1]: Invalid value: \"Bad.example\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.dnsConfig.options[1]: Required value: must not be empty",
             ]),
            (format!("  dnsPolicy: Default\n  dnsConfig: {{options: [{{name: edns0}}]}}\n{c}"), vec![]),
        ];
        for (spec, want) in rows {
            assert_eq!(pod(&spec), want, "{spec}");
        }

        let many: Vec<String> = (0..33).map(|i| format!("s{i}.example")).collect();
        let causes = pod(&format!(
            "  dnsConfig: {{searches: [{}]}}\n{c}",
            many.join(", ")
        ));
        let list: Vec<String> = many.iter().map(|s| format!("\"{s}\"")).collect();
        assert_eq!(
            causes,
            [format!(
                "spec.dnsConfig.searches: Invalid value: []string{{{}}}: must not have more than 32 search paths",
                list.join(", ")
            )]
        );
        // Nine 243-character domains are 2195 characters with their spaces.
        let long: Vec<String> = (0..9)
            .map(|i| vec![format!("{i}{}", "a".repeat(59)); 4].join("."))
            .collect();
        let causes = pod(&format!(
            "  dnsConfig: {{searches: [{}]}}\n{c}",
            long.join(", ")
        ));
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(
            causes[0].starts_with("spec.dnsConfig.searches: Invalid value: []string{")
                && causes[0].ends_with("}: must not have more than 2048 characters (including spaces) in the search list"),
            "{causes:?}"
        );
    }

    #[test]
    fn host_network_ports() {
        assert_eq!(
            pod(
                "  hostNetwork: true\n  containers: [{name: a, image: x, ports: [{containerPort: 80}, {containerPort: 81, hostPort: 81}, {containerPort: 82, hostPort: 8082}]}]\n"
            ),
            vec![
                "spec.containers[0].ports[2].hostPort: Invalid value: 8082: must match `containerPort` when `hostNetwork` is true"
            ]
        );
    }

    #[test]
    fn volumes_and_mounts() {
        assert_eq!(
            pod(
                "  volumes: [{name: v, emptyDir: {}, hostPath: {path: /tmp}}]\n  containers: [{name: a, image: x, volumeMounts: [{name: v, mountPath: /a}, {name: w, mountPath: /a}]}]\n"
            ),
            vec![
                "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
                "spec.containers[0].volumeMounts[0].name: Not found: \"v\"",
                "spec.containers[0].volumeMounts[1].name: Not found: \"w\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
            ]
        );
    }

    #[test]
    fn probes() {
        assert_eq!(
            pod(
                "  containers: [{name: a, image: x, livenessProbe: {successThreshold: 2, exec: {command: [x]}, tcpSocket: {port: 0}}, readinessProbe: {}}]\n"
            ),
            vec![
                "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.containers[0].readinessProbe: Required value: must specify a handler type",
            ]
        );
    }

    #[test]
    fn env_and_resources() {
        assert_eq!(
            pod(
                "  containers: [{name: a, image: x, env: [{name: 'A=B'}, {name: C, value: v, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}], resources: {requests: {cpu: 2, memory: abc}, limits: {cpu: 1}}}]\n"
            ),
            vec![
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.containers[0].env[1].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
                "spec.containers[0].resources.requests[memory]: Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ]
        );
    }

    #[test]
    fn security_contexts() {
        assert_eq!(
            pod(
                "  securityContext:\n    runAsUser: -1\n    seccompProfile: {type: Localhost}\n    sysctls: [{name: net.core.somaxconn, value: '1'}, {name: 'Bad Name', value: '1'}, {name: net/core/somaxconn, value: '2'}]\n  containers: [{name: a, image: x, securityContext: {appArmorProfile: {type: Sometimes}}}]\n"
            ),
            vec![
                "spec.containers[0].securityContext.appArmorProfile.type: Unsupported value: \"Sometimes\": supported values: \"Localhost\", \"RuntimeDefault\", \"Unconfined\"",
                "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
                "spec.securityContext.sysctls[1].name: Invalid value: \"Bad Name\": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
                "spec.securityContext.sysctls[2].name: Duplicate value: \"net/core/somaxconn\"",
                "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
            ]
        );
    }

    #[test]
    fn an_unmasked_proc_needs_the_pods_own_user_namespace() {
        assert_eq!(
            pod(
                "  containers: [{name: a, image: x, securityContext: {procMount: Unmasked}}]\n  initContainers: [{name: i, image: x, securityContext: {procMount: Unmasked}}]\n"
            ),
            vec![
                "spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
                "spec.initContainers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
            ]
        );
        assert_eq!(
            pod(
                "  hostUsers: false\n  containers: [{name: a, image: x, securityContext: {procMount: Unmasked}}]\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn scheduling_fields_are_checked_though_ignored() {
        assert_eq!(
            pod(
                "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions: [{key: disk, operator: Is, values: [ssd]}, {key: zone, operator: In}]\n    podAntiAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 0\n        podAffinityTerm: {topologyKey: ''}\n  topologySpreadConstraints: [{maxSkew: 0, topologyKey: zone, whenUnsatisfiable: Never}]\n  containers: [{name: a, image: x}]\n"
            ),
            vec![
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: \"Is\": not a valid selector operator",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
                "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: Required value: can not be empty",
                "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
                "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Never\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
            ]
        );
    }

    #[test]
    fn config_maps_and_secrets() {
        assert_eq!(
            causes(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'a b': x, ok: yy}\n"
            ),
            vec![
                "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ]
        );
        assert_eq!(
            causes(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n"
            ),
            vec!["data[tls.key]: Required value"]
        );
    }

    #[test]
    fn warns_about_what_one_node_cannot_honour() {
        let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeSelector: {disk: ssd}\n  volumes: [{name: d, persistentVolumeClaim: {claimName: c}}]\n  containers: [{name: a, image: x}]\n";
        let source = Source {
            name: "t".into(),
            text: yaml.into(),
        };
        let object = decode::decode(&source).unwrap().remove(0).object;
        assert_eq!(
            warnings(&object),
            // The nodeSelector is the scheduler's, and honoured.
            vec![
                "spec.volumes[0].persistentVolumeClaim: not supported: needs a cluster's storage, which a single node does not have",
            ]
        );
    }
}
