//! The profile builder checked by running its BPF: a small classic-BPF
//! interpreter over `struct seccomp_data`, with the kernel's rule for
//! stacked filters (the most restrictive action wins; among equals, the
//! filter installed last).

use super::profile::{self, Profile};
use super::*;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const ERRNO: u32 = libc::SECCOMP_RET_ERRNO;

fn audit_arch() -> u32 {
    if cfg!(target_arch = "aarch64") {
        0xC000_00B7
    } else {
        0xC000_003E
    }
}

/// Runs one program on (arch, nr, args).
fn run(program: &[u64], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let mut data = Vec::new();
    data.extend((nr as u32).to_le_bytes());
    data.extend(arch.to_le_bytes());
    data.extend(0u64.to_le_bytes());
    for a in args {
        data.extend(a.to_le_bytes());
    }
    let word =
        |off: u32| u32::from_le_bytes(data[off as usize..off as usize + 4].try_into().unwrap());
    let (mut acc, mut pc) = (0u32, 0usize);
    loop {
        let ins = program[pc];
        let (code, jt, jf, k) = (
            (ins >> 48) as u16,
            (ins >> 40) as u8,
            (ins >> 32) as u8,
            ins as u32,
        );
        pc += 1;
        match code {
            0x20 => acc = word(k),    // LD W ABS
            0x54 => acc &= k,         // ALU AND K
            0x06 => return k,         // RET K
            0x05 => pc += k as usize, // JA
            0x15 | 0x25 | 0x35 | 0x45 => {
                let taken = match code {
                    0x15 => acc == k,
                    0x25 => acc > k,
                    0x35 => acc >= k,
                    _ => acc & k != 0,
                };
                pc += if taken { jt } else { jf } as usize;
            }
            other => panic!("unexpected BPF instruction {other:#x}"),
        }
    }
}

/// The kernel's verdict over a stack of programs.
fn verdict(programs: &[Vec<u64>], nr: i64, args: [u64; 6]) -> u32 {
    verdict_on(programs, audit_arch(), nr, args)
}

fn verdict_on(programs: &[Vec<u64>], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let mut best = ALLOW;
    for program in programs.iter().rev() {
        let ret = run(program, arch, nr, args);
        if ((ret & 0xffff_0000) as i32) < ((best & 0xffff_0000) as i32) {
            best = ret;
        }
    }
    best
}

/// The capabilities a container has unless its securityContext says
/// otherwise.
fn default_caps() -> Vec<String> {
    crate::runtime::identity::DEFAULT_CAPABILITIES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn sys(name: &str) -> i64 {
    syscalls::number(name).unwrap_or_else(|| panic!("{name} unknown"))
}

fn compiled(profile: &Profile) -> Vec<Vec<u64>> {
    profile::compile(profile)
        .unwrap()
        .iter()
        .map(profile::pack)
        .collect()
}

const EPERM: u32 = ERRNO | libc::EPERM as u32;

#[test]
fn runtime_default_denies_what_containerd_denies() {
    let caps = default_caps();
    let p = compiled(&default::profile(&caps));
    let none = [0; 6];
    for allowed in [
        "read",
        "write",
        "execve",
        "openat",
        "futex",
        "exit_group",
        "setresuid",
    ] {
        assert_eq!(verdict(&p, sys(allowed), none), ALLOW, "{allowed}");
    }
    for denied in [
        "keyctl",
        "add_key",
        "unshare",
        "mount",
        "setns",
        "ptrace_nope_placeholder",
    ] {
        if let Some(nr) = syscalls::number(denied) {
            assert_eq!(verdict(&p, nr, none), EPERM, "{denied}");
        }
    }
    // ptrace is allowed on kernels from 4.8 on; kexec and bpf are not.
    assert_eq!(verdict(&p, sys("ptrace"), none), ALLOW);
    assert_eq!(verdict(&p, sys("kexec_load"), none), EPERM);
    assert_eq!(verdict(&p, sys("bpf"), none), EPERM);
    // clone: threads and forks yes, new namespaces no.
    let clone = sys("clone");
    let thread = (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_THREAD) as u64;
    assert_eq!(
        verdict(&p, clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(verdict(&p, clone, [thread, 0, 0, 0, 0, 0]), ALLOW);
    let newuser = libc::CLONE_NEWUSER as u64 | libc::SIGCHLD as u64;
    assert_eq!(verdict(&p, clone, [newuser, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(
        verdict(&p, clone, [libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]),
        EPERM
    );
    // clone3 hides its flags in memory: ENOSYS, so libc falls back.
    assert_eq!(
        verdict(&p, sys("clone3"), none),
        ERRNO | libc::ENOSYS as u32
    );
    // socket: every family but AF_ALG (38) and AF_VSOCK (40).
    let socket = sys("socket");
    for (family, want) in [
        (2u64, ALLOW),
        (1, ALLOW),
        (37, ALLOW),
        (38, EPERM),
        (39, ALLOW),
        (40, EPERM),
        (41, ALLOW),
    ] {
        assert_eq!(
            verdict(&p, socket, [family, 1, 0, 0, 0, 0]),
            want,
            "socket family {family}"
        );
    }
    // The upper half of an argument counts, as in libseccomp.
    assert_eq!(verdict(&p, socket, [(1 << 32) | 40, 1, 0, 0, 0, 0]), ALLOW);
    let personality = sys("personality");
    assert_eq!(verdict(&p, personality, [0x0008, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        verdict(&p, personality, [0xffff_ffff, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        verdict(&p, personality, [0x0040_0000, 0, 0, 0, 0, 0]),
        EPERM
    );
    // An architecture the kernel does not run here is killed.
    let other = if cfg!(target_arch = "aarch64") {
        0xC000_003E
    } else {
        0xC000_00B7
    };
    assert_eq!(
        verdict_on(&p, other, sys("read"), none),
        libc::SECCOMP_RET_KILL_PROCESS
    );
}

const I386: u32 = 0x4000_0003;

fn compat(c: syscalls::Compat, name: &str) -> i64 {
    syscalls::compat_number(c, name).unwrap_or_else(|| panic!("{name} unknown"))
}

/// containerd's archMap: on x86_64 the i386 (int 0x80) and x32 calling
/// conventions follow the same list and argument rules.
#[cfg(target_arch = "x86_64")]
#[test]
fn runtime_default_covers_i386_and_x32_calls() {
    use syscalls::Compat::{I386 as I, X32 as X};
    let caps = default_caps();
    let p = compiled(&default::profile(&caps));
    let none = [0; 6];
    for allowed in ["read", "write", "execve", "exit_group", "rt_sigaction"] {
        assert_eq!(
            verdict_on(&p, I386, compat(I, allowed), none),
            ALLOW,
            "i386 {allowed}"
        );
        assert_eq!(
            verdict(&p, compat(X, allowed), none),
            ALLOW,
            "x32 {allowed}"
        );
    }
    // Names only i386 has, in containerd's list.
    for allowed in ["socketcall", "_llseek", "mmap2", "fstat64", "sigreturn"] {
        assert_eq!(
            verdict_on(&p, I386, compat(I, allowed), none),
            ALLOW,
            "{allowed}"
        );
    }
    for denied in ["keyctl", "add_key", "unshare", "mount", "setns", "reboot"] {
        assert_eq!(
            verdict_on(&p, I386, compat(I, denied), none),
            EPERM,
            "i386 {denied}"
        );
        assert_eq!(verdict(&p, compat(X, denied), none), EPERM, "x32 {denied}");
    }
    // The argument rules hold for 32-bit calls too.
    let newuser = libc::CLONE_NEWUSER as u64;
    for (arch, clone) in [
        (I386, compat(I, "clone")),
        (audit_arch(), compat(X, "clone")),
    ] {
        assert_eq!(verdict_on(&p, arch, clone, [newuser, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(verdict_on(&p, arch, clone, [0x11, 0, 0, 0, 0, 0]), ALLOW);
    }
    let personality = compat(I, "personality");
    assert_eq!(
        verdict_on(&p, I386, personality, [0x0008, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        verdict_on(&p, I386, personality, [0x0040_0000, 0, 0, 0, 0, 0]),
        EPERM
    );
    assert_eq!(
        verdict_on(&p, I386, compat(I, "clone3"), none),
        ERRNO | libc::ENOSYS as u32
    );
    // An i386 number read as an x86_64 one, and the reverse, are not
    // confused: i386's 288 is keyctl, x86_64's 288 accept4.
    assert_eq!(compat(I, "keyctl"), 288);
    assert_eq!(verdict(&p, 288, none), ALLOW);
    assert_eq!(verdict_on(&p, I386, 288, none), EPERM);
}

/// A Localhost profile covers the architectures it lists: the others'
/// calls are killed, as libseccomp's bad-architecture action does.
#[cfg(target_arch = "x86_64")]
#[test]
fn localhost_profiles_cover_the_architectures_they_list() {
    use syscalls::Compat::{I386 as I, X32 as X};
    let profile = |arches: &[&str]| {
        localhost(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": arches,
            "syscalls": [
                {"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["keyctl"], "action": "SCMP_ACT_KILL_PROCESS"},
            ],
        }))
        .unwrap()
    };
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    let none = [0; 6];
    let native = profile(&["SCMP_ARCH_X86_64"]);
    assert_eq!(verdict(&native, sys("read"), none), ALLOW);
    assert_eq!(verdict_on(&native, I386, compat(I, "read"), none), kill);
    assert_eq!(verdict(&native, compat(X, "read"), none), kill);
    let all = profile(&["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    for (arch, c) in [(I386, I), (audit_arch(), X)] {
        assert_eq!(verdict_on(&all, arch, compat(c, "write"), none), ALLOW);
        assert_eq!(verdict_on(&all, arch, compat(c, "getpid"), none), EPERM);
        assert_eq!(verdict_on(&all, arch, compat(c, "keyctl"), none), kill);
    }
    let i386_only = profile(&["SCMP_ARCH_X86"]);
    assert_eq!(verdict(&i386_only, sys("read"), none), ALLOW);
    assert_eq!(verdict_on(&i386_only, I386, compat(I, "read"), none), ALLOW);
    assert_eq!(verdict(&i386_only, compat(X, "read"), none), kill);
}

#[test]
fn capabilities_widen_runtime_default() {
    let caps = vec!["CAP_SYS_ADMIN".to_string(), "CAP_SYS_TIME".to_string()];
    let p = compiled(&default::profile(&caps));
    let none = [0; 6];
    for name in ["mount", "unshare", "setns", "clone3", "settimeofday", "bpf"] {
        assert_eq!(verdict(&p, sys(name), none), ALLOW, "{name}");
    }
    let newuser = libc::CLONE_NEWUSER as u64;
    assert_eq!(verdict(&p, sys("clone"), [newuser, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(verdict(&p, sys("keyctl"), none), EPERM);
    assert_eq!(verdict(&p, sys("reboot"), none), EPERM);
}

fn localhost(json: serde_json::Value) -> Result<Vec<Vec<u64>>, String> {
    let profile: Profile = serde_json::from_value(json).unwrap();
    profile::compile(&profile).map(|ps| ps.iter().map(profile::pack).collect())
}

#[test]
fn oci_profiles_keep_each_rules_action() {
    let p = localhost(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["no_such_call"], "action": "SCMP_ACT_KILL"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
        ],
    }))
    .unwrap();
    assert_eq!(verdict(&p, sys("mkdirat"), [0; 6]), ERRNO | 13);
    assert_eq!(verdict(&p, sys("keyctl"), [0; 6]), EPERM);
    assert_eq!(verdict(&p, sys("read"), [0; 6]), ALLOW);
    assert_eq!(verdict(&p, sys("kill"), [1, 9, 0, 0, 0, 0]), EPERM);
    assert_eq!(verdict(&p, sys("kill"), [1, 15, 0, 0, 0, 0]), ALLOW);

    // An allow list with a default errno of its own.
    let p = localhost(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            // Two conditions on one argument are alternatives (as runc).
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
            ]},
            // Conditions on different arguments must all hold.
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_GT"},
                {"index": 1, "value": 255, "valueTwo": 15, "op": "SCMP_CMP_MASKED_EQ"},
            ]},
        ],
    }))
    .unwrap();
    let enosys = ERRNO | 38;
    assert_eq!(verdict(&p, sys("read"), [0; 6]), ALLOW);
    assert_eq!(verdict(&p, sys("write"), [0; 6]), enosys);
    assert_eq!(verdict(&p, sys("personality"), [2, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(verdict(&p, sys("personality"), [3, 0, 0, 0, 0, 0]), enosys);
    assert_eq!(verdict(&p, sys("kill"), [5, 0x10f, 0, 0, 0, 0]), ALLOW);
    assert_eq!(verdict(&p, sys("kill"), [5, 9, 0, 0, 0, 0]), enosys);
    assert_eq!(verdict(&p, sys("kill"), [0, 15, 0, 0, 0, 0]), enosys);
}

#[test]
fn what_cannot_be_honoured_is_refused() {
    let err = localhost(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})).unwrap_err();
    assert!(err.contains("not supported"), "{err}");
    let err = localhost(serde_json::json!({"defaultAction": "SCMP_ACT_SOMETIMES"})).unwrap_err();
    assert_eq!(err, "unknown seccomp action \"SCMP_ACT_SOMETIMES\"");
    let err = localhost(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 0, "op": "SCMP_CMP_EQ"}]},
    ]}))
    .unwrap_err();
    assert!(err.contains("argument 7"), "{err}");
    let err = localhost(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_ABOUT"}]},
    ]}))
    .unwrap_err();
    assert_eq!(err, "unknown seccomp operator \"SCMP_CMP_ABOUT\"");
}

fn node(root: &Path, seccomp_default: bool) -> NodeConfig {
    NodeConfig {
        seccomp_default,
        ..NodeConfig::defaults(root)
    }
}

#[test]
fn the_kubelets_choice_of_profile() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "a.json"}},
            "containers": [
                {"name": "inherits"},
                {"name": "own", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
                {"name": "privileged", "securityContext": {"privileged": true}},
            ],
        },
    }))
    .unwrap();
    let spec = pod.spec.as_ref().unwrap();
    let on = node(Path::new("/r"), true);
    assert_eq!(
        choose(&pod, &spec.containers[0], &on),
        Choice::Localhost("a.json".into())
    );
    assert_eq!(choose(&pod, &spec.containers[1], &on), Choice::Unconfined);
    assert_eq!(choose(&pod, &spec.containers[2], &on), Choice::Unconfined);
    let bare: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]},
    }))
    .unwrap();
    let c = &bare.spec.as_ref().unwrap().containers[0];
    assert_eq!(choose(&bare, c, &on), Choice::RuntimeDefault);
    assert_eq!(
        choose(&bare, c, &node(Path::new("/r"), false)),
        Choice::Unconfined
    );
}

#[test]
fn localhost_profiles_stay_in_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("seccomp");
    std::fs::create_dir_all(root.join("profiles")).unwrap();
    std::fs::write(
        root.join("profiles/deny-mkdir.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("outside.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink("../../outside.json", root.join("profiles/link.json")).unwrap();
    let node = node(dir.path(), true);
    let ok = programs(
        &Choice::Localhost("profiles/deny-mkdir.json".into()),
        &[],
        &node,
    )
    .unwrap();
    assert_eq!(verdict(&ok, sys("mkdirat"), [0; 6]), EPERM);
    for climbing in ["../outside.json", "profiles/link.json", "/etc/passwd"] {
        let err = programs(&Choice::Localhost(climbing.into()), &[], &node)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("leaves the seccomp profile directory"),
            "{climbing}: {err}"
        );
    }
    let err = programs(&Choice::Localhost("missing.json".into()), &[], &node).unwrap_err();
    assert!(matches!(err, StartError::Create(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "failed to create containerd container: cannot load seccomp profile {:?}: open {}: no such file or directory",
            root.join("missing.json").display().to_string(),
            root.join("missing.json").display()
        )
    );
    std::fs::write(root.join("bad.json"), "{").unwrap();
    let err = programs(&Choice::Localhost("bad.json".into()), &[], &node).unwrap_err();
    assert!(matches!(err, StartError::Create(_)), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "failed to create containerd container: decoding seccomp profile failed {:?}: ",
            root.join("bad.json").display().to_string()
        )),
        "{err}"
    );
    let err = programs(&Choice::Localhost(String::new()), &[], &node).unwrap_err();
    assert!(matches!(err, StartError::Config(_)), "{err:?}");
    assert_eq!(
        programs(&Choice::Unconfined, &[], &node).unwrap(),
        Vec::<Vec<u64>>::new()
    );
}

fn compiled_as(profile: &Profile, dispatch: profile::Dispatch) -> Vec<Vec<u64>> {
    profile::compile_as(profile, dispatch)
        .unwrap()
        .iter()
        .map(profile::pack)
        .collect()
}

/// Every call number of every calling convention, with arguments that
/// meet and miss the profiles' argument rules, gets the same answer from
/// the ranges as from seccompiler's test of each number in turn.
#[test]
fn ranges_answer_as_each_call_tested_in_turn() {
    let caps = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let defaults = default_caps();
    let mut profiles = vec![
        default::profile(&defaults),
        default::profile(&caps(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_BPF"])),
        default::profile(&[]),
    ];
    let oci = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["keyctl", "add_key", "request_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
        ],
    });
    profiles.push(serde_json::from_value(oci).unwrap());
    let args: [[u64; 6]; 4] = [
        [0; 6],
        [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0],
        [0x0008, 0, 0, 0, 0, 0],
        [u64::MAX, 1, 2, 3, 4, 5],
    ];
    let x32 = 0x4000_0000i64;
    let numbers: Vec<i64> = (0..1100).chain((0..1100).map(|n| n + x32)).collect();
    for profile in &profiles {
        let ranged = compiled_as(profile, profile::Dispatch::Ranges);
        let each = compiled_as(profile, profile::Dispatch::EachCall);
        for arch in [audit_arch(), I386] {
            for &nr in &numbers {
                for a in args {
                    assert_eq!(
                        verdict_on(&ranged, arch, nr, a),
                        verdict_on(&each, arch, nr, a),
                        "arch {arch:#x} nr {nr:#x} args {a:?}"
                    );
                }
            }
        }
    }
}

/// containerd's RuntimeDefault, as the kernel gets it for every container
/// and `pod exec`: far below what testing each call in turn takes (5200
/// instructions over seven programs), since checking and JIT-compiling
/// them is paid at every start.
#[test]
fn runtime_default_is_a_few_hundred_instructions() {
    let caps = default_caps();
    let profile = default::profile(&caps);
    let count = |d| compiled_as(&profile, d).iter().map(Vec::len).sum::<usize>();
    let ranged = count(profile::Dispatch::Ranges);
    let each = count(profile::Dispatch::EachCall);
    assert!(
        ranged * 5 < each,
        "{ranged} instructions, {each} one call at a time"
    );
    assert!(ranged < 1200, "{ranged} instructions");
}

/// RuntimeDefault is compiled once per capability set a process asks
/// for: what it hands out is what compiling afresh gives, for each set.
#[test]
fn runtime_default_compiled_once_is_what_each_set_compiles_to() {
    let root = tempfile::tempdir().unwrap();
    let node = node(root.path(), true);
    let sets = [
        vec!["CAP_CHOWN".to_string()],
        vec!["CAP_SYS_ADMIN".to_string()],
        vec!["CAP_CHOWN".to_string()],
    ];
    for caps in &sets {
        let handed = programs(&Choice::RuntimeDefault, caps, &node).unwrap();
        assert_eq!(handed, compiled(&default::profile(caps)), "{caps:?}");
    }
    assert_ne!(
        programs(&Choice::RuntimeDefault, &sets[0], &node).unwrap(),
        programs(&Choice::RuntimeDefault, &sets[1], &node).unwrap()
    );
}
