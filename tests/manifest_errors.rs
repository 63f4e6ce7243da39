//! What `pod create` says about bad manifests, snapshot-tested: every
//! message names the file and the field (or line and column) at fault,
//! in kubectl's words, exits 1 and creates nothing.

mod common;

use common::Env;

/// A pod manifest with one container whose body is `container`.
fn pod_with(container: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n{container}"
    )
}

/// `pod create -f bad.yaml` (from the file's directory) as one text.
fn create(env: &Env, manifest: &str) -> String {
    env.manifest("bad.yaml", manifest);
    let out = env
        .pod()
        .current_dir(env.dir.path())
        .args(["create", "-f", "bad.yaml"])
        .output()
        .expect("running pod");
    let listed = env.run(&["get", "pods,configmaps,secrets", "-o", "name"]);
    assert!(listed.stdout.is_empty(), "nothing was created");
    format!(
        "{}{}[exit {}]",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

#[test]
fn decoding_errors() {
    let env = Env::new();
    let cases = [
        (
            "unknown_field",
            pod_with(
                "    image: busybox\n  - name: sidecar\n    image: busybox\n    volumeMount:\n    - {name: data, mountPath: /data}\n    imagePullPolicy: Never\n    tty: true\n    stdn: true\n",
            ),
        ),
        (
            "wrong_type",
            pod_with("    image: busybox\n    ports:\n    - containerPort: \"80\"\n"),
        ),
        (
            "yes_is_a_bool",
            pod_with("    image: busybox\n    env:\n    - name: VERBOSE\n      value: yes\n"),
        ),
        (
            "octal_is_a_number",
            pod_with("    image: busybox\n    args: [sleep, 0777]\n"),
        ),
        (
            "duplicate_key",
            pod_with("    image: busybox\n    image: nginx\n"),
        ),
        (
            "syntax_error",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n   labels: {}\n".to_string(),
        ),
        (
            "flow_syntax_error",
            "{apiVersion: v1, kind: Pod, metadata: {name: web}\n".to_string(),
        ),
        (
            "missing_kind",
            "apiVersion: v1\nmetadata: {name: web}\n".to_string(),
        ),
        (
            "unsupported_kind",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n".to_string(),
        ),
        (
            "bad_base64",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: 'not base64!'}\n"
                .to_string(),
        ),
    ];
    for (name, manifest) in cases {
        insta::assert_snapshot!(name, create(&env, &manifest));
    }
}

#[test]
fn validation_errors() {
    let env = Env::new();
    let cases = [
        ("missing_image", pod_with("    ports: [{containerPort: 80}]\n")),
        (
            "several_causes",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Web\nspec:\n  restartPolicy: Sometimes\n  containers:\n  - name: web\n    image: nginx\n    ports: [{containerPort: 0, name: HTTP}]\n    volumeMounts: [{name: data, mountPath: /data}]\n    livenessProbe: {successThreshold: 2, exec: {command: [check]}}\n  - name: web\n    image: nginx\n".to_string(),
        ),
        (
            "requests_above_limits",
            pod_with("    image: busybox\n    resources:\n      requests: {cpu: '2', memory: 1Gi}\n      limits: {cpu: 500m, memory: 1Gi}\n"),
        ),
        (
            "bad_quantity",
            pod_with("    image: busybox\n    resources: {limits: {memory: 1GB}}\n"),
        ),
        (
            "bad_config_key",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {'my key': x}\n".to_string(),
        ),
    ];
    for (name, manifest) in cases {
        insta::assert_snapshot!(name, create(&env, &manifest));
    }
}

#[test]
fn warnings_name_the_fields_a_single_node_leaves_aside() {
    let env = Env::new();
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  nodeSelector: {disktype: ssd}\n  tolerations: [{key: k, operator: Exists}]\n  priorityClassName: high\n  containers: [{name: web, image: busybox}]\n";
    env.manifest("pod.yaml", manifest);
    let out = env
        .pod()
        .current_dir(env.dir.path())
        .args(["create", "--dry-run=client", "-f", "pod.yaml"])
        .output()
        .expect("running pod");
    insta::assert_snapshot!(format!(
        "{}{}[exit {}]",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    ));
}

/// A Windows hostProcess container needs the host's network; the API
/// server's message, exit 1, nothing created.
#[test]
fn host_process_without_the_host_network_is_refused() {
    let env = Env::new();
    let manifest = pod_with(
        "    image: busybox\n    securityContext:\n      windowsOptions:\n        hostProcess: true\n",
    );
    assert_eq!(
        create(&env, &manifest),
        "The Pod \"web\" is invalid: spec.hostNetwork: Invalid value: false: hostNetwork must be true if pod contains any hostProcess containers\n[exit 1]"
    );
}
