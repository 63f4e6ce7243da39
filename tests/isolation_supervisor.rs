//! The pod's supervisor is the host's `pod` binary, run as root and
//! dumpable, outside the pod's namespaces (root). A container reaches it
//! only where it reaches any host process: with `hostPID: true` and
//! CAP_SYS_PTRACE. Without hostPID it is not in the container's /proc at
//! all (even with shareProcessNamespace); with hostPID but the default
//! capabilities, `/proc/<pid>/exe`, `environ` and `mem` are refused by
//! the kernel's ptrace check (a tracer needs every capability the target
//! holds, or CAP_SYS_PTRACE), which `PR_SET_DUMPABLE 0` would not change.

mod common;

use common::pods::{create, delete_and_check_clean, wait_log};
use common::{Env, import_busybox};

/// The host pid of pod `uid`'s supervisor.
fn supervisor_pid(uid: &str) -> i32 {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("--supervise") && cmdline.contains(uid) {
            return pid;
        }
    }
    panic!("no supervisor for pod {uid}");
}

fn pod(name: &str, host_pid: bool, share: bool, caps: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  hostPID: {host_pid}\n  shareProcessNamespace: {share}\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n    imagePullPolicy: Never\n    securityContext: {{capabilities: {{add: {caps}}}}}\n    command: [sh, -c, 'echo up; sleep 3600']\n"
    )
}

/// What `sh -c script` prints in the container, stdout and stderr.
fn exec(env: &Env, name: &str, script: &str) -> String {
    let out = env.run(&["exec", name, "--", "sh", "-c", script]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_container_reaches_its_supervisor_only_with_host_pid_and_sys_ptrace() {
    let env = Env::new();
    import_busybox(&env.root());
    let probe = |pid: i32| {
        format!(
            "readlink /proc/{pid}/exe || echo exe-denied; head -c 1 /proc/{pid}/environ >/dev/null && echo environ-read || echo environ-denied; ls -d /proc/{pid} 2>/dev/null || echo not-visible"
        )
    };

    // Its own PID namespace, shared by the pod or not: not there.
    for (name, share) in [("own", false), ("shared", true)] {
        let uid = create(&env, name, &pod(name, false, share, "[]"));
        wait_log(&env, name, &uid, "main", "up");
        let pid = supervisor_pid(&uid);
        let seen = exec(&env, name, &probe(pid));
        assert!(seen.contains("not-visible"), "{name}: {seen}");
        assert!(!seen.contains("environ-read"), "{name}: {seen}");
        delete_and_check_clean(&env, name, &uid);
    }

    // hostPID, default capabilities: visible, and refused.
    let uid = create(&env, "hostpid", &pod("hostpid", true, false, "[]"));
    wait_log(&env, "hostpid", &uid, "main", "up");
    let pid = supervisor_pid(&uid);
    let seen = exec(&env, "hostpid", &probe(pid));
    assert!(!seen.contains("not-visible"), "{seen}");
    assert!(seen.contains("exe-denied"), "{seen}");
    assert!(seen.contains("environ-denied"), "{seen}");
    delete_and_check_clean(&env, "hostpid", &uid);

    // hostPID with CAP_SYS_PTRACE is host-level access by construction
    // (as to containerd's shims): the same reads work.
    let uid = create(&env, "ptrace", &pod("ptrace", true, false, "[SYS_PTRACE]"));
    wait_log(&env, "ptrace", &uid, "main", "up");
    let pid = supervisor_pid(&uid);
    let seen = exec(&env, "ptrace", &probe(pid));
    assert!(seen.contains("environ-read"), "{seen}");
    delete_and_check_clean(&env, "ptrace", &uid);
}
