use super::*;
use crate::api::decode::{self, Source};

fn decoded(yaml: &str) -> Object {
    let source = Source {
        name: "test.yaml".into(),
        text: yaml.into(),
    };
    let mut docs = decode::decode(&source).unwrap();
    let mut object = docs.remove(0).object;
    apply(&mut object, "default");
    object
}

fn pod(yaml: &str) -> Pod {
    match decoded(yaml) {
        Object::Pod(p) => *p,
        other => panic!("not a pod: {other:?}"),
    }
}

#[test]
fn defaults_a_minimal_pod_as_the_server_does() {
    let pod = pod(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: web\n    image: nginx\n    ports: [{containerPort: 80}]\n",
    );
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(spec.enable_service_links, Some(true));
    assert_eq!(spec.priority, Some(0));
    assert_eq!(spec.security_context, Some(PodSecurityContext::default()));
    let c = &spec.containers[0];
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(
        c.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
    assert_eq!(
        c.ports.as_ref().unwrap()[0].protocol.as_deref(),
        Some("TCP")
    );
    assert_eq!(c.resources, Some(ResourceRequirements::default()));
    assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
    let uid = pod.metadata.uid.as_deref().unwrap();
    assert_eq!(uid.len(), 36);
    assert_eq!(&uid[14..15], "4");
    assert!(pod.metadata.creation_timestamp.is_some());
    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
}

#[test]
fn generate_name_gets_a_random_suffix() {
    let pod = pod(
        "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\nspec: {containers: [{name: a, image: b}]}\n",
    );
    let name = pod.metadata.name.unwrap();
    assert_eq!(name.len(), 9, "{name}");
    assert!(name.starts_with("web-"));
    assert!(
        name[4..]
            .bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
    );
}

#[test]
fn pull_policy_follows_the_tag() {
    assert_eq!(pull_policy_for("nginx"), "Always");
    assert_eq!(pull_policy_for("nginx:latest"), "Always");
    assert_eq!(pull_policy_for("nginx:1.27"), "IfNotPresent");
    assert_eq!(pull_policy_for("localhost:5000/nginx"), "Always");
    assert_eq!(pull_policy_for("localhost:5000/nginx:1"), "IfNotPresent");
    assert_eq!(pull_policy_for("nginx@sha256:abcd"), "IfNotPresent");
    assert_eq!(pull_policy_for("nginx:latest@sha256:abcd"), "IfNotPresent");
}

#[test]
fn defaults_probes_volumes_and_references() {
    let pod = pod(r#"
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox:1.36
    livenessProbe: {httpGet: {port: 80}}
    readinessProbe: {grpc: {port: 9000}, periodSeconds: 5}
    env:
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
  volumes:
  - name: scratch
  - {name: cm, configMap: {name: cm}}
  - {name: s, secret: {secretName: s}}
  - {name: h, hostPath: {path: /tmp}}
  - name: p
    projected:
      sources:
      - serviceAccountToken: {path: token}
      - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
"#);
    let spec = pod.spec.as_ref().unwrap();
    let c = &spec.containers[0];
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let live = c.liveness_probe.as_ref().unwrap();
    assert_eq!(
        (
            live.timeout_seconds,
            live.period_seconds,
            live.success_threshold,
            live.failure_threshold
        ),
        (Some(1), Some(10), Some(1), Some(3))
    );
    let http = live.http_get.as_ref().unwrap();
    assert_eq!(
        (http.path.as_deref(), http.scheme.as_deref()),
        (Some("/"), Some("HTTP"))
    );
    let ready = c.readiness_probe.as_ref().unwrap();
    assert_eq!(ready.period_seconds, Some(5));
    assert_eq!(ready.grpc.as_ref().unwrap().service.as_deref(), Some(""));
    let env = c.env.as_ref().unwrap();
    let field_ref = env[0]
        .value_from
        .as_ref()
        .unwrap()
        .field_ref
        .as_ref()
        .unwrap();
    assert_eq!(field_ref.api_version.as_deref(), Some("v1"));
    let divisor = &env[1]
        .value_from
        .as_ref()
        .unwrap()
        .resource_field_ref
        .as_ref()
        .unwrap()
        .divisor;
    assert_eq!(divisor.as_ref().unwrap().0, "0");
    let volumes = spec.volumes.as_ref().unwrap();
    assert!(volumes[0].empty_dir.is_some());
    assert_eq!(
        volumes[1].config_map.as_ref().unwrap().default_mode,
        Some(420)
    );
    assert_eq!(volumes[2].secret.as_ref().unwrap().default_mode, Some(420));
    assert_eq!(
        volumes[3].host_path.as_ref().unwrap().type_.as_deref(),
        Some("")
    );
    let projected = volumes[4].projected.as_ref().unwrap();
    assert_eq!(projected.default_mode, Some(420));
    let sources = projected.sources.as_ref().unwrap();
    assert_eq!(
        sources[0]
            .service_account_token
            .as_ref()
            .unwrap()
            .expiration_seconds,
        Some(3600)
    );
}

#[test]
fn requests_default_to_limits_in_canonical_form() {
    let pod = pod(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources:\n      limits: {cpu: 0.5, memory: 128Mi}\n      requests: {cpu: 250m}\n",
    );
    let spec = pod.spec.as_ref().unwrap();
    let resources = spec.containers[0].resources.as_ref().unwrap();
    let requests = resources.requests.as_ref().unwrap();
    assert_eq!(requests["cpu"].0, "250m");
    assert_eq!(requests["memory"].0, "128Mi");
    assert_eq!(resources.limits.as_ref().unwrap()["cpu"].0, "500m");
    assert_eq!(pod.status.unwrap().qos_class.as_deref(), Some("Burstable"));
}

#[test]
fn qos_classes() {
    let qos = |resources: &str| {
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources: {resources}\n"
        );
        pod(&yaml).status.unwrap().qos_class.unwrap()
    };
    assert_eq!(qos("{}"), "BestEffort");
    assert_eq!(qos("{limits: {cpu: 1, memory: 1Gi}}"), "Guaranteed");
    assert_eq!(
        qos("{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 1000m}}"),
        "Guaranteed"
    );
    assert_eq!(
        qos("{limits: {cpu: 1, memory: 1Gi}, requests: {cpu: 500m}}"),
        "Burstable"
    );
    assert_eq!(qos("{limits: {cpu: 1}}"), "Burstable");
    assert_eq!(qos("{requests: {memory: 1Gi}}"), "Burstable");
    assert_eq!(qos("{requests: {ephemeral-storage: 1Gi}}"), "BestEffort");
}

#[test]
fn secrets_merge_string_data() {
    let Object::Secret(secret) = decoded(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: eA==, b: eA==}\nstringData: {b: hello}\n",
    ) else {
        panic!("not a secret");
    };
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert!(secret.string_data.is_none());
    let data = secret.data.unwrap();
    assert_eq!(data["a"].0, b"x");
    assert_eq!(data["b"].0, b"hello");
}

#[test]
fn host_network_publishes_container_ports() {
    let pod = pod(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers:\n  - {name: c, image: busybox, ports: [{containerPort: 8080}]}\n",
    );
    let spec = pod.spec.unwrap();
    let port = &spec.containers[0].ports.as_ref().unwrap()[0];
    assert_eq!(port.host_port, Some(8080));
}
