//! Confinement attacks that must fail (issue 14): system calls a
//! RuntimeDefault container may not make, a Localhost seccomp profile, the
//! host's kernel settings through sysctls, an unmasked /proc, AppArmor on
//! a host without it. Each attack is first shown to work against a
//! weakened set-up (an Unconfined container, a node that allows the
//! sysctl), so that the test can fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pods::{create, jsonpath, wait_log, wait_until};
use common::{Env, import_busybox};

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// A static program that makes one system call and prints `ok` or the
/// errno: `probe keyctl`, `probe mkdir DIR`, `probe seccomp` (the
/// process's seccomp mode). Built with the toolchain that builds pod, so
/// the busybox image needs nothing it lacks.
const PROBE: &str = r#"
use std::ffi::CString;
extern "C" {
    fn syscall(n: i64, ...) -> i64;
    fn mkdir(path: *const i8, mode: u32) -> i32;
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ret = match args[1].as_str() {
        // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create)
        "keyctl" => {
            let nr = if cfg!(target_arch = "aarch64") { 219 } else { 250 };
            unsafe { syscall(nr, 0i64, -3i64, 1i64) }
        }
        "mkdir" => {
            let path = CString::new(args[2].as_str()).unwrap();
            unsafe { mkdir(path.as_ptr(), 0o755) as i64 }
        }
        "seccomp" => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("Seccomp:")).unwrap();
            println!("{}", line.split_whitespace().nth(1).unwrap());
            return;
        }
        other => panic!("unknown probe {other}"),
    };
    if ret < 0 {
        println!("errno {}", std::io::Error::last_os_error().raw_os_error().unwrap());
    } else {
        println!("ok");
    }
}
"#;

/// Builds the probe into `dir` (mounted into containers at /probe).
fn build_probe(dir: &Path) -> PathBuf {
    let source = dir.join("probe.rs");
    std::fs::write(&source, PROBE).unwrap();
    let out_dir = dir.join("bin");
    std::fs::create_dir_all(&out_dir).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-o",
        ])
        .arg(out_dir.join("probe"))
        .arg(&source)
        .status()
        .expect("running rustc");
    assert!(status.success(), "building the probe");
    out_dir
}

fn write_config(env: &Env, text: &str) {
    env.node_config(text);
}

/// A container that runs `script` with the probe at /probe/probe, with
/// `seccompProfile: <seccomp>` (and more of a securityContext in `more`).
fn container(name: &str, seccomp: Option<&str>, script: &str) -> String {
    container_with(name, seccomp, "", script)
}

fn container_with(name: &str, seccomp: Option<&str>, more: &str, script: &str) -> String {
    let profile = match seccomp {
        Some(p) => format!("\n    securityContext: {{seccompProfile: {p}{more}}}"),
        None => String::new(),
    };
    format!(
        "  - name: {name}\n    image: busybox\n    imagePullPolicy: Never{profile}\n    volumeMounts: [{{name: probe, mountPath: /probe}}]\n    command: [sh, -c, '{script}; echo done; sleep 3600']\n"
    )
}

fn pod_yaml(name: &str, probe: &Path, containers: &[String]) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes:\n  - name: probe\n    hostPath: {{path: {}, type: Directory}}\n  containers:\n{}",
        probe.display(),
        containers.concat()
    )
}

const ATTACKS: &str = "echo seccomp=$(/probe/probe seccomp); echo keyctl=$(/probe/probe keyctl); unshare -U true && echo userns=ok || echo userns=denied; unshare -Urm sh -c \"mount -t tmpfs t /tmp\" && echo userns-mount=ok || echo userns-mount=denied; mount -t tmpfs t /tmp && echo mount=ok || echo mount=denied";

fn line<'a>(log: &'a str, key: &str) -> &'a str {
    log.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{log}"))
}

#[test]
fn runtime_default_denies_keyctl_user_namespaces_and_mount() {
    let env = env();
    let probe = build_probe(env.dir.path());
    let yaml = pod_yaml(
        "attacks",
        &probe,
        &[
            container("unconfined", Some("{type: Unconfined}"), ATTACKS),
            container("runtime-default", Some("{type: RuntimeDefault}"), ATTACKS),
            // No profile: the node's seccompDefault (on by default).
            container("by-default", None, ATTACKS),
            // no_new_privs and a user: the filter goes on after the user
            // switch, without CAP_SYS_ADMIN.
            container_with(
                "no-new-privs",
                Some("{type: RuntimeDefault}"),
                ", runAsUser: 1000, allowPrivilegeEscalation: false",
                ATTACKS,
            ),
        ],
    );
    let uid = create(&env, "attacks", &yaml);

    // The weakened set-up: every attack works.
    let open = wait_log(&env, "attacks", &uid, "unconfined", "done");
    assert_eq!(line(&open, "seccomp"), "0", "{open}");
    assert_eq!(line(&open, "keyctl"), "ok", "{open}");
    assert_eq!(line(&open, "userns"), "ok", "{open}");
    assert_eq!(line(&open, "userns-mount"), "ok", "{open}");
    // (Without CAP_SYS_ADMIN a direct mount fails even unconfined.)
    assert_eq!(line(&open, "mount"), "denied", "{open}");

    for name in ["runtime-default", "by-default", "no-new-privs"] {
        let log = wait_log(&env, "attacks", &uid, name, "done");
        assert_eq!(line(&log, "seccomp"), "2", "{name}: {log}");
        assert_eq!(line(&log, "keyctl"), "errno 1", "{name}: {log}");
        assert_eq!(line(&log, "userns"), "denied", "{name}: {log}");
        assert!(
            log.contains("unshare: unshare(0x10000000): Operation not permitted"),
            "{name}: {log}"
        );
        assert_eq!(line(&log, "userns-mount"), "denied", "{name}: {log}");
        assert_eq!(line(&log, "mount"), "denied", "{name}: {log}");
    }

    // pod exec runs under the container's profile too.
    let keyctl = |container: &str| {
        env.ok(&[
            "exec",
            "attacks",
            "-c",
            container,
            "--",
            "/probe/probe",
            "keyctl",
        ])
    };
    assert_eq!(keyctl("unconfined"), "ok\n");
    assert_eq!(keyctl("runtime-default"), "errno 1\n");
    assert_eq!(keyctl("no-new-privs"), "errno 1\n");
    let out = env.run(&[
        "exec",
        "attacks",
        "-c",
        "by-default",
        "--",
        "unshare",
        "-U",
        "true",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn seccomp_default_false_leaves_containers_unconfined() {
    let env = env();
    write_config(&env, "seccompDefault: false\n");
    let probe = build_probe(env.dir.path());
    let yaml = pod_yaml("open", &probe, &[container("plain", None, ATTACKS)]);
    let uid = create(&env, "open", &yaml);
    let log = wait_log(&env, "open", &uid, "plain", "done");
    assert_eq!(line(&log, "seccomp"), "0", "{log}");
    assert_eq!(line(&log, "keyctl"), "ok", "{log}");
}

#[test]
fn a_localhost_profile_denies_what_it_names() {
    let env = env();
    let profiles = env.root().join("seccomp").join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("no-mkdir.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
    )
    .unwrap();
    let probe = build_probe(env.dir.path());
    let script = "echo mkdir=$(/probe/probe mkdir /tmp/x)";
    let yaml = pod_yaml(
        "local",
        &probe,
        &[
            container("unconfined", Some("{type: Unconfined}"), script),
            container(
                "profiled",
                Some("{type: Localhost, localhostProfile: profiles/no-mkdir.json}"),
                script,
            ),
        ],
    );
    let uid = create(&env, "local", &yaml);
    let open = wait_log(&env, "local", &uid, "unconfined", "done");
    assert_eq!(line(&open, "mkdir"), "ok", "{open}");
    let denied = wait_log(&env, "local", &uid, "profiled", "done");
    assert_eq!(line(&denied, "mkdir"), "errno 13", "{denied}");
    // What the profile does not name still works.
    assert_eq!(
        env.ok(&[
            "exec",
            "local",
            "-c",
            "profiled",
            "--",
            "/probe/probe",
            "keyctl"
        ]),
        "ok\n"
    );

    // A profile outside the directory is not read.
    let outside = pod_yaml(
        "climb",
        &probe,
        &[container(
            "c",
            Some("{type: Localhost, localhostProfile: profiles/../../../x.json}"),
            "true",
        )],
    );
    let file = env.manifest("climb.yaml", &outside);
    let err = env.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(err.contains("must not contain '..'"), "{err}");
}

/// A Localhost profile the runtime cannot use (missing, not JSON, an
/// action it does not know) never lets the container run unconfined: it
/// waits in CreateContainerError with containerd's words, as under
/// containerd, which reads the profile when it makes the container; a
/// sibling with a good profile runs.
#[test]
fn a_broken_localhost_profile_is_a_create_container_error() {
    let env = env();
    let root = env.root().join("seccomp");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("not-json.json"), "{").unwrap();
    std::fs::write(
        root.join("bad-action.json"),
        r#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("good.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#,
    )
    .unwrap();
    let probe = build_probe(env.dir.path());
    let names = ["missing", "not-json", "bad-action", "good"];
    let containers: Vec<String> = names
        .iter()
        .map(|n| {
            container(
                n,
                Some(&format!("{{type: Localhost, localhostProfile: {n}.json}}")),
                "/probe/probe seccomp",
            )
        })
        .collect();
    let uid = create(&env, "broken", &pod_yaml("broken", &probe, &containers));
    wait_log(&env, "broken", &uid, "good", "done");
    let waiting = |name: &str| {
        let status = format!("{{.status.containerStatuses[?(@.name==\"{name}\")].state.waiting");
        wait_until(&env, "broken", "CreateContainerError", || {
            let reason = jsonpath(&env, "broken", &format!("{status}.reason}}"));
            (reason == "CreateContainerError")
                .then(|| jsonpath(&env, "broken", &format!("{status}.message}}")))
        })
    };
    let shown = |n: &str| root.join(format!("{n}.json")).display().to_string();
    assert_eq!(
        waiting("missing"),
        format!(
            "failed to create containerd container: cannot load seccomp profile {:?}: open {}: no such file or directory",
            shown("missing"),
            shown("missing")
        )
    );
    let not_json = waiting("not-json");
    assert!(
        not_json.starts_with(&format!(
            "failed to create containerd container: decoding seccomp profile failed {:?}: ",
            shown("not-json")
        )),
        "{not_json}"
    );
    assert_eq!(
        waiting("bad-action"),
        format!(
            "failed to create containerd container: decoding seccomp profile failed {:?}: unknown seccomp action \"SCMP_ACT_SOMETIMES\"",
            shown("bad-action")
        )
    );
    for n in ["missing", "not-json", "bad-action"] {
        assert_eq!(common::pods::log(&env, "broken", &uid, n), "", "{n}");
    }
    let table = env.ok(&["get", "pod", "broken"]);
    assert!(table.contains("CreateContainerError"), "{table}");
    let events = env.ok(&["describe", "pod", "broken"]);
    assert!(
        events
            .contains("Error: failed to create containerd container: cannot load seccomp profile"),
        "{events}"
    );
}

/// The host's value of a sysctl.
fn host_sysctl(name: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys").join(name.replace('.', "/"))).unwrap()
}

fn sysctl_pod(name: &str, sysctl: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  securityContext:\n    sysctls: [{{name: {sysctl}, value: '{value}'}}]\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'cat /proc/sys/{}; echo done; sleep 3600']\n",
        sysctl.replace('.', "/")
    )
}

fn wait_rejected(env: &Env, name: &str) -> (String, String) {
    wait_until(env, name, "the pod's rejection", || {
        let phase = jsonpath(env, name, "{.status.phase}");
        (phase == "Failed").then(|| {
            (
                jsonpath(env, name, "{.status.reason}"),
                jsonpath(env, name, "{.status.message}"),
            )
        })
    })
}

#[test]
fn core_pattern_cannot_be_set_from_a_pod() {
    let env = env();
    let before = host_sysctl("kernel.core_pattern");
    let file = env.manifest(
        "core.yaml",
        &sysctl_pod("core", "kernel.core_pattern", "|/tmp/pwn"),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let (reason, message) = wait_rejected(&env, "core");
    assert_eq!(reason, "SysctlForbidden");
    assert_eq!(
        message,
        "Pod was rejected: forbidden sysctl: \"kernel.core_pattern\" not allowlisted"
    );
    let table = env.ok(&["get", "pod", "core"]);
    assert!(table.contains("SysctlForbidden"), "{table}");
    let events = env.ok(&["describe", "pod", "core"]);
    assert!(events.contains("forbidden sysctl"), "{events}");
    assert_eq!(host_sysctl("kernel.core_pattern"), before);

    // Not even the node's configuration can allow a node-global sysctl.
    write_config(&env, "allowedUnsafeSysctls: [kernel.core_pattern]\n");
    let file = env.manifest(
        "core2.yaml",
        &sysctl_pod("core2", "kernel.core_pattern", "|/tmp/pwn"),
    );
    let err = env.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains("allowedUnsafeSysctls[0]: the sysctl \"kernel.core_pattern\" are not known to be namespaced"),
        "{err}"
    );
    assert!(env.run(&["get", "pod", "core2"]).stdout.is_empty());
    assert_eq!(host_sysctl("kernel.core_pattern"), before);
}

#[test]
fn unsafe_sysctls_need_the_nodes_allowlist() {
    let env = env();
    let before = host_sysctl("net.core.somaxconn");
    let wanted = if before.trim() == "1234" {
        "1235"
    } else {
        "1234"
    };
    let file = env.manifest(
        "unsafe.yaml",
        &sysctl_pod("unsafe", "net.core.somaxconn", wanted),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let (reason, message) = wait_rejected(&env, "unsafe");
    assert_eq!(reason, "SysctlForbidden");
    assert_eq!(
        message,
        "Pod was rejected: forbidden sysctl: \"net.core.somaxconn\" not allowlisted"
    );

    // The node allows it: the pod gets it, in its own network namespace.
    write_config(&env, "allowedUnsafeSysctls: ['net.core.*']\n");
    let file = env.manifest(
        "allowed.yaml",
        &sysctl_pod("allowed", "net.core.somaxconn", wanted),
    );
    let uid = {
        env.ok(&["create", "-f", file.to_str().unwrap()]);
        env.ok(&["get", "pod", "allowed", "-o", "jsonpath={.metadata.uid}"])
    };
    let log = wait_log(&env, "allowed", &uid, "c", "done");
    assert_eq!(log.lines().next(), Some(wanted), "{log}");
    assert_eq!(host_sysctl("net.core.somaxconn"), before);

    // A safe one needs nothing.
    let file = env.manifest(
        "safe.yaml",
        &sysctl_pod("safe", "net.ipv4.ip_unprivileged_port_start", "80"),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let uid = env.ok(&["get", "pod", "safe", "-o", "jsonpath={.metadata.uid}"]);
    let log = wait_log(&env, "safe", &uid, "c", "done");
    assert_eq!(log.lines().next(), Some("80"), "{log}");
}

#[test]
fn an_unmasked_proc_is_refused_without_hostusers_false() {
    let env = env();
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: unmasked\nspec:\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    securityContext: {procMount: Unmasked}\n    command: [sleep, '3600']\n";
    let file = env.manifest("unmasked.yaml", yaml);
    let err = env.fails(&["create", "-f", file.to_str().unwrap()]);
    assert!(
        err.contains("spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`"),
        "{err}"
    );
    assert!(env.run(&["get", "pod", "unmasked"]).stdout.is_empty());

    // With hostUsers: false it is valid and applied (/proc/sys is not
    // mounted read-only), and the attack through the unmasked /proc,
    // writing the host's core_pattern, fails all the same: root in the
    // pod's user namespace is not root on the host.
    let before = host_sysctl("kernel.core_pattern");
    let yaml = yaml
        .replace("spec:\n", "spec:\n  hostUsers: false\n  terminationGracePeriodSeconds: 1\n")
        .replace(
            "[sleep, '3600']",
            "[sh, -c, 'grep -c \" /proc/sys \" /proc/self/mountinfo; echo \"|/tmp/pwn\" > /proc/sys/kernel/core_pattern && echo write=ok || echo write=denied; echo done; sleep 3600']",
        );
    let file = env.manifest("unmasked2.yaml", &yaml);
    let out = env.run(&["create", "-f", file.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("procMount"), "{stderr}");
    let uid = env.ok(&["get", "pod", "unmasked", "-o", "jsonpath={.metadata.uid}"]);
    let log = wait_log(&env, "unmasked", &uid, "c", "done");
    let after = host_sysctl("kernel.core_pattern");
    if after != before {
        std::fs::write("/proc/sys/kernel/core_pattern", before.trim_end()).unwrap();
    }
    assert_eq!(after, before, "the host's core_pattern changed:\n{log}");
    assert_eq!(
        log.lines().next(),
        Some("0"),
        "/proc/sys is not masked:\n{log}"
    );
    assert!(log.contains("Permission denied"), "{log}");
    assert_eq!(line(&log, "write"), "denied", "{log}");
}

#[test]
fn apparmor_is_refused_on_a_host_without_it() {
    let enabled =
        std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.starts_with(b"Y"));
    if enabled {
        eprintln!("this host enforces AppArmor: the refusal does not apply");
        return;
    }
    let env = env();
    let cases = [
        (
            "field",
            "spec:\n  securityContext:\n    appArmorProfile: {type: RuntimeDefault}\n",
        ),
        (
            "annotation",
            "  annotations:\n    container.apparmor.security.beta.kubernetes.io/c: localhost/k8s-deny-write\nspec:\n",
        ),
    ];
    for (name, part) in cases {
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{part}  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sleep, '3600']\n"
        );
        let file = env.manifest(&format!("{name}.yaml"), &yaml);
        env.ok(&["create", "-f", file.to_str().unwrap()]);
        let (reason, message) = wait_rejected(&env, name);
        assert_eq!(reason, "AppArmor");
        assert_eq!(
            message,
            "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host"
        );
        // Nothing of the pod ran.
        assert_eq!(jsonpath(&env, name, "{.status.containerStatuses}"), "");
    }
    // Unconfined runs.
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: open\nspec:\n  terminationGracePeriodSeconds: 1\n  securityContext:\n    appArmorProfile: {type: Unconfined}\n  containers:\n  - name: c\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo done; sleep 3600']\n";
    let uid = create(&env, "open", yaml);
    wait_log(&env, "open", &uid, "c", "done");
}
