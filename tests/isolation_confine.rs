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

/// A static i386 ELF (no toolchain needed: its few instructions are
/// written out here) that prints a line through `int 0x80` write, then
/// makes the call its first argument names through `int 0x80`: `k` keyctl
/// (KEYCTL_GET_KEYRING_ID of the session keyring, create), `u`
/// unshare(CLONE_NEWUSER), anything else none. It exits with the errno
/// the call returned, or 100 when the call succeeded.
fn i386_elf() -> Vec<u8> {
    const BASE: u32 = 0x0804_8000;
    const CODE: u32 = 52 + 32; // ELF header, one program header.
    let imm = |op: u8, v: u32| {
        let mut b = vec![op];
        b.extend(v.to_le_bytes());
        b
    };
    let int80 = [0xCD, 0x80];
    let keyctl: Vec<u8> = [
        imm(0xB8, 288),            // mov eax, __NR_keyctl (i386)
        vec![0x31, 0xDB],          // xor ebx, ebx (KEYCTL_GET_KEYRING_ID)
        imm(0xB9, (-3i32) as u32), // mov ecx, KEY_SPEC_SESSION_KEYRING
        imm(0xBA, 1),              // mov edx, 1 (create)
        int80.to_vec(),
    ]
    .concat();
    let unshare: Vec<u8> = [
        imm(0xB8, 310),         // mov eax, __NR_unshare (i386)
        imm(0xBB, 0x1000_0000), // mov ebx, CLONE_NEWUSER
        int80.to_vec(),
    ]
    .concat();
    let done: Vec<u8> = [
        imm(0x3D, 0xFFFF_F001),      // cmp eax, -4095
        vec![0x73, 0x05],            // jae err (an errno)
        imm(0xB8, (-100i32) as u32), // mov eax, -100
        vec![0xF7, 0xD8],            // err: neg eax
        vec![0x89, 0xC3],            // mov ebx, eax
        imm(0xB8, 1),                // mov eax, __NR_exit
        int80.to_vec(),
    ]
    .concat();
    let message = b"hello from i386\n";
    // head: the dispatch, ending in jumps to the blocks after it.
    let head_len = 4 + 3 + 5 * 4 + 2 + 3 + 2 + 3 + 2 + 2 + 2;
    let keyctl_at = head_len;
    let unshare_at = keyctl_at + keyctl.len() + 2;
    let done_at = unshare_at + unshare.len();
    let msg_at = done_at + done.len();
    let rel = |from_end: usize, to: usize| (to - from_end) as u8;
    let mut code: Vec<u8> = [
        vec![0x8B, 0x44, 0x24, 0x08], // mov eax, [esp+8] (argv[1])
        vec![0x0F, 0xB6, 0x38],       // movzx edi, byte [eax]
        imm(0xB8, 4),                 // mov eax, __NR_write
        imm(0xBB, 1),                 // mov ebx, 1
        imm(0xB9, BASE + CODE + msg_at as u32),
        imm(0xBA, message.len() as u32),
        int80.to_vec(),
        vec![0x83, 0xFF, b'k'], // cmp edi, 'k'
    ]
    .concat();
    code.extend([0x74, rel(code.len() + 2, keyctl_at)]); // je keyctl
    code.extend([0x83, 0xFF, b'u']); // cmp edi, 'u'
    code.extend([0x74, rel(code.len() + 2, unshare_at)]); // je unshare
    code.extend([0x31, 0xC0]); // xor eax, eax
    code.extend([0xEB, rel(code.len() + 2, done_at)]); // jmp done
    assert_eq!(code.len(), head_len);
    code.extend(&keyctl);
    code.extend([0xEB, rel(code.len() + 2, done_at)]);
    code.extend(&unshare);
    code.extend(&done);
    code.extend(message);

    let size = CODE + code.len() as u32;
    let mut elf = Vec::new();
    elf.extend(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0"); // ELF32, LSB, SysV
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(3u16.to_le_bytes()); // EM_386
    elf.extend(1u32.to_le_bytes()); // EV_CURRENT
    elf.extend((BASE + CODE).to_le_bytes()); // entry
    elf.extend(52u32.to_le_bytes()); // program headers
    elf.extend(0u32.to_le_bytes()); // section headers
    elf.extend(0u32.to_le_bytes()); // flags
    for half in [52u16, 32, 1, 40, 0, 0] {
        elf.extend(half.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    }
    for word in [1u32, 0, BASE, BASE, size, size, 5, 0x1000] {
        elf.extend(word.to_le_bytes()); // PT_LOAD of the whole file, R+X
    }
    assert_eq!(elf.len() as u32, CODE);
    elf.extend(code);
    elf
}

/// RuntimeDefault covers the 32-bit calling conventions as containerd's
/// profile does (its archMap): a 32-bit program runs, and a call the list
/// denies gets EPERM through `int 0x80` too, where a filter for x86_64
/// alone kills every 32-bit call.
#[test]
fn a_32_bit_program_runs_under_runtime_default_and_is_denied_what_it_denies() {
    let env = env();
    let probe = build_probe(env.dir.path());
    let elf = probe.join("i386");
    std::fs::write(&elf, i386_elf()).unwrap();
    std::fs::set_permissions(&elf, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let yaml = pod_yaml(
        "compat",
        &probe,
        &[
            container("unconfined", Some("{type: Unconfined}"), "/probe/i386 w"),
            container(
                "runtime-default",
                Some("{type: RuntimeDefault}"),
                "/probe/i386 w",
            ),
        ],
    );
    let uid = create(&env, "compat", &yaml);
    // The program ran in both, and printed its line.
    for name in ["unconfined", "runtime-default"] {
        let log = wait_log(&env, "compat", &uid, name, "done");
        assert!(log.starts_with("hello from i386\n"), "{name}: {log}");
    }
    let run = |container: &str, call: &str| {
        let out = env.run(&["exec", "compat", "-c", container, "--", "/probe/i386", call]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello from i386\n",
            "{container} {call}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.code()
    };
    // The weakened set-up: unconfined, both calls succeed.
    assert_eq!(run("unconfined", "k"), Some(100));
    assert_eq!(run("unconfined", "u"), Some(100));
    // RuntimeDefault: the program runs, the denied calls get EPERM.
    assert_eq!(run("runtime-default", "w"), Some(100));
    assert_eq!(run("runtime-default", "k"), Some(libc::EPERM));
    assert_eq!(run("runtime-default", "u"), Some(libc::EPERM));
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
