//! Who can reach what runs the pods, attacked for real (root).
//!
//! A container cannot reach its pod's keeper (`pod-keeper`, which forks
//! the supervisor and outlives it) or its supervisor, whatever uid it
//! runs as (root in the container too) and with the pod's PID namespace
//! shared or not: neither is in the container's PID namespace, so a
//! signal, a ptrace attach or a pidfd by their host pids finds nothing;
//! none of their descriptors (control socket, exit pipe, listener) is
//! open in any process the container sees, so none is reachable through
//! `/proc/*/fd`; and the supervisor's socket is in no mount the
//! container has, nor behind `/proc/*/root` of a process it sees.
//!
//! Each attack first runs against a weakened pod (`hostPID: true` with
//! CAP_SYS_PTRACE, and the run root's pod directories mounted in), where
//! it works: so a probe that stopped probing would fail this test.
//!
//! A host user (`nobody`, through setpriv) can read none of the API
//! server's secrets in `<root>/serve` (the CA's, the server's and the
//! client's keys, the token), nor a kubeconfig `pod kubeconfig` wrote, nor
//! connect to a supervisor's socket: refused (EACCES) by the directories
//! pod makes 0700, and again by the files' own modes (0600) with those
//! directories opened, as an older version or a hand-made root leaves
//! them. Opened up too, the same reads and connects work.
//!
//! The attacker's tool is a tiny static C program compiled here with the
//! host's C compiler (the one Rust links with) and handed to the pods
//! through a hostPath volume (and run as `nobody` on the host): busybox
//! can neither ptrace, open a pidfd, nor connect to a unix socket.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;
use common::host::{chmod, compile, open_env, sockets};
use common::pods::{create, delete_and_check_clean, recorded_pid, wait_log};

/// `reach SIG PID...`: for each PID, kill(PID, SIG), ptrace(PTRACE_SEIZE),
/// pidfd_open and opening /proc/PID/fd, each printed as `ok` or the
/// errno's name. `reach connect PATH`: connects to the unix socket PATH;
/// `reach read PATH`: opens PATH for reading.
/// A seized tracee is let go when the tool exits (the kernel detaches
/// it), so against the weakened pod nothing is left stopped.
const REACH: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static const char *said(long rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "connect") == 0) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        strncpy(addr.sun_path, argv[2], sizeof addr.sun_path - 1);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        printf("connect=%s\n", said(connect(fd, (struct sockaddr *)&addr, sizeof addr)));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "read") == 0) {
        printf("read=%s\n", said(open(argv[2], O_RDONLY)));
        return 0;
    }
    int sig = atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        pid_t pid = atoi(argv[i]);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", pid);
        printf("%d kill=%s", pid, said(kill(pid, sig)));
        printf(" ptrace=%s", said(ptrace(PTRACE_SEIZE, pid, 0, 0)));
        printf(" pidfd=%s", said(syscall(SYS_pidfd_open, pid, 0)));
        printf(" fds=%s\n", said(open(path, O_RDONLY | O_DIRECTORY)));
    }
    return 0;
}
"#;

/// What the container sees: every socket or pipe open in a process of
/// its PID namespace (`/proc/*/fd/*`), then every socket file of its
/// mounts, and the supervisor's socket path behind each `/proc/*/root`
/// and `/proc/*/cwd`, as `dev:inode` (the same numbers the host sees).
fn scan(socket: &Path) -> String {
    format!(
        "for f in /proc/[0-9]*/fd/*; do readlink $f; done 2>/dev/null | grep -E '^(socket|pipe):' | sort -u
find / \\( -path /proc -o -path /sys \\) -prune -o -type s -exec stat -c 'found %d:%i %n' {{}} + 2>/dev/null
for p in /proc/[0-9]*; do stat -c 'found %d:%i %n' $p/root{s} $p/cwd{s} 2>/dev/null; done
true",
        s = socket.display()
    )
}

/// The `socket:[N]` and `pipe:[N]` open in host process `pid`, each with
/// its descriptor.
fn host_fds(pid: i32) -> Vec<(i32, String)> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            let target = target.to_str()?.to_string();
            (target.starts_with("socket:") || target.starts_with("pipe:")).then_some((fd, target))
        })
        .collect()
}

/// The keeper keeps the containers' streams (pipes the containers write
/// into by design) at this descriptor and above (`keeper::SLOT_BASE`).
const SLOT_BASE: i32 = 100;

/// Compiles `reach` into `<env>/tools` (0755, as the environment's
/// directory is opened to other users).
fn tools(env: &Env) -> PathBuf {
    let dir = env.dir.path().join("tools");
    std::fs::create_dir_all(&dir).unwrap();
    compile(&dir, "reach", REACH, &["-static", "-O1"]);
    dir
}

/// A pod of two attackers, root (with the default capabilities plus
/// `caps`) and uid 1000, with the tool at /tools; `volumes` adds to the
/// pod's volumes and `mounts` to each container's volumeMounts.
fn pod(name: &str, spec: &str, caps: &str, tools: &Path, volumes: &str, mounts: &str) -> String {
    let container = |cname: &str, security: &str| {
        format!(
            "  - name: {cname}
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'echo up; sleep 3600']
    securityContext: {security}
    volumeMounts: [{{name: tools, mountPath: /tools}}{mounts}]
"
        )
    };
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  {spec}
  terminationGracePeriodSeconds: 1
  volumes:
  - name: tools
    hostPath: {{path: {tools}, type: Directory}}
{volumes}  containers:
{root}{user}",
        tools = tools.display(),
        root = container("root", &format!("{{capabilities: {{add: {caps}}}}}")),
        user = container("user", "{runAsUser: 1000, runAsGroup: 1000}"),
    )
}

/// `sh -c script` in container `container`, stdout and stderr.
fn exec(env: &Env, name: &str, container: &str, script: &str) -> String {
    let out = env.run(&["exec", name, "-c", container, "--", "sh", "-c", script]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The pod's keeper and supervisor, by their records (pid and start
/// time checked, so a reused pid is never named).
fn keeper_and_supervisor(env: &Env, uid: &str) -> (i32, i32) {
    let keeper = recorded_pid(env, uid, "keeper.pid").expect("a running keeper");
    let supervisor = recorded_pid(env, uid, "supervisor.pid").expect("a running supervisor");
    (keeper, supervisor)
}

/// What one attack run saw.
struct Seen {
    /// `reach`'s lines for the keeper and the supervisor.
    reach: String,
    /// The keeper's and supervisor's sockets and pipes the container sees
    /// open, beyond the containers' own streams.
    leaked: BTreeSet<String>,
    /// The containers' own streams it sees (the scan works).
    own_streams: usize,
    /// The supervisor's socket, found in its mounts or behind /proc.
    socket_found: Vec<String>,
}

fn attack(env: &Env, name: &str, uid: &str, container: &str, sig: i32) -> Seen {
    let (keeper, supervisor) = keeper_and_supervisor(env, uid);
    let socket = env
        .run_root()
        .join("pods")
        .join(uid)
        .join("supervisor.sock");
    let meta = std::fs::metadata(&socket).unwrap();
    let socket_id = format!("{}:{}", meta.dev(), meta.ino());
    let reach = exec(
        env,
        name,
        container,
        &format!("/tools/reach {sig} {keeper} {supervisor}"),
    );
    let scanned = exec(env, name, container, &scan(&socket));
    let seen: BTreeSet<&str> = scanned.lines().collect();
    let keeper_fds = host_fds(keeper);
    let streams: BTreeSet<&str> = keeper_fds
        .iter()
        .filter(|(fd, _)| *fd >= SLOT_BASE)
        .map(|(_, t)| t.as_str())
        .collect();
    let theirs: BTreeSet<String> = keeper_fds
        .iter()
        .chain(host_fds(supervisor).iter())
        .map(|(_, t)| t.clone())
        .collect();
    let leaked = theirs
        .iter()
        .filter(|t| seen.contains(t.as_str()) && !streams.contains(t.as_str()))
        .cloned()
        .collect();
    let own_streams = streams.iter().filter(|t| seen.contains(*t)).count();
    let socket_found = scanned
        .lines()
        .filter(|l| l.starts_with(&format!("found {socket_id} ")))
        .map(str::to_string)
        .collect();
    Seen {
        reach,
        leaked,
        own_streams,
        socket_found,
    }
}

#[test]
fn a_container_cannot_signal_trace_or_reach_its_keeper_or_supervisor() {
    let env = open_env();
    let tools = tools(&env);
    let pods_dir: PathBuf = env.run_root().join("pods");

    // The weakened pod: the host's PID namespace, CAP_SYS_PTRACE, and the
    // run root's pod directories mounted in. Every probe reaches: signal
    // 0 (nothing is sent), a seize let go at the tool's exit.
    let uid = create(
        &env,
        "weak",
        &pod(
            "weak",
            "hostPID: true",
            "[SYS_PTRACE]",
            &tools,
            &format!(
                "  - name: run\n    hostPath: {{path: {}, type: Directory}}\n",
                pods_dir.display()
            ),
            ", {name: run, mountPath: /run-pods}",
        ),
    );
    wait_log(&env, "weak", &uid, "root", "up");
    let seen = attack(&env, "weak", &uid, "root", 0);
    for line in seen.reach.lines() {
        assert!(
            line.ends_with("kill=ok ptrace=ok pidfd=ok fds=ok"),
            "{}",
            seen.reach
        );
    }
    assert_eq!(seen.reach.lines().count(), 2, "{}", seen.reach);
    assert!(!seen.leaked.is_empty(), "the keeper's fds are seen");
    assert!(
        seen.socket_found
            .iter()
            .any(|l| l.ends_with(&format!("/run-pods/{uid}/supervisor.sock"))),
        "{:?}",
        seen.socket_found
    );
    let connect = exec(
        &env,
        "weak",
        "root",
        &format!("/tools/reach connect /run-pods/{uid}/supervisor.sock"),
    );
    assert_eq!(connect, "connect=ok\n");
    delete_and_check_clean(&env, "weak", &uid);

    // The pod as it is made: its own PID namespace, shared by its
    // containers or not. The real attack: SIGKILL.
    for (name, spec) in [
        ("own", "shareProcessNamespace: false"),
        ("shared", "shareProcessNamespace: true"),
    ] {
        let uid = create(&env, name, &pod(name, spec, "[]", &tools, "", ""));
        for container in ["root", "user"] {
            wait_log(&env, name, &uid, container, "up");
        }
        let before = keeper_and_supervisor(&env, &uid);
        for container in ["root", "user"] {
            let seen = attack(&env, name, &uid, container, libc::SIGKILL);
            let (keeper, supervisor) = before;
            assert_eq!(
                seen.reach,
                format!(
                    "{keeper} kill=ESRCH ptrace=ESRCH pidfd=ESRCH fds=ENOENT\n\
                     {supervisor} kill=ESRCH ptrace=ESRCH pidfd=ESRCH fds=ENOENT\n"
                ),
                "{name}/{container}"
            );
            assert!(
                seen.leaked.is_empty(),
                "{name}/{container}: {:?}",
                seen.leaked
            );
            assert!(
                seen.own_streams > 0,
                "{name}/{container}: the scan saw none of the pod's own streams"
            );
            assert!(
                seen.socket_found.is_empty(),
                "{name}/{container}: {:?}",
                seen.socket_found
            );
            // Both still run, the same processes.
            assert_eq!(keeper_and_supervisor(&env, &uid), before);
        }
        delete_and_check_clean(&env, name, &uid);
    }
}

/// `reach ARGS` as the host's `nobody`, with no supplementary groups and
/// no capabilities (setpriv execs the tool by its full path, and the
/// tool's execve as a non-root uid drops root's capabilities): what it
/// printed.
fn as_nobody(tools: &Path, args: &[&str]) -> String {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(tools.join("reach"))
        .args(args)
        .output()
        .expect("running setpriv (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `nobody` gets for each secret (`read=`) and socket (`connect=`).
fn nobody_reaches(tools: &Path, secrets: &[PathBuf], sockets: &[PathBuf]) -> Vec<String> {
    let mut seen = Vec::new();
    for path in secrets {
        let path = path.to_str().unwrap();
        seen.push(format!(
            "{path} {}",
            as_nobody(tools, &["read", path]).trim()
        ));
    }
    for path in sockets {
        let path = path.to_str().unwrap();
        seen.push(format!(
            "{path} {}",
            as_nobody(tools, &["connect", path]).trim()
        ));
    }
    seen
}

#[test]
fn a_host_user_can_read_no_serving_key_nor_kubeconfig_nor_reach_a_supervisor() {
    let env = open_env();
    let tools = tools(&env);
    let (root, run_root) = (env.root(), env.run_root());
    let serve = root.join("serve");
    // Both kinds of kubeconfig, in a directory every user may enter.
    let kubeconfig = env.dir.path().join("kubeconfig");
    let token_kubeconfig = env.dir.path().join("kubeconfig-token");
    env.ok(&["kubeconfig", kubeconfig.to_str().unwrap()]);
    env.ok(&["kubeconfig", "--token", token_kubeconfig.to_str().unwrap()]);
    let uid = create(
        &env,
        "sleeper",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sleeper\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n    imagePullPolicy: Never\n    command: [sh, -c, 'echo up; sleep 3600']\n",
    );
    wait_log(&env, "sleeper", &uid, "main", "up");
    let mut secrets: Vec<PathBuf> = ["ca.key", "server.key", "client.key", "token"]
        .iter()
        .map(|f| serve.join(f))
        .collect();
    secrets.extend([kubeconfig, token_kubeconfig]);
    let mut found = sockets(&run_root);
    found.extend(sockets(&root));
    let supervisor = run_root.join("pods").join(&uid).join("supervisor.sock");
    assert!(found.contains(&supervisor), "{found:?}");

    // As pod leaves them: refused.
    for seen in nobody_reaches(&tools, &secrets, &found) {
        assert!(seen.ends_with("=EACCES"), "{seen}");
    }
    // Every directory above them opened: refused by their own modes.
    let uid_dir = run_root.join("pods").join(&uid);
    for dir in [&root, &serve, &run_root, &run_root.join("pods"), &uid_dir] {
        chmod(dir, 0o755);
    }
    for seen in nobody_reaches(&tools, &secrets, &found) {
        assert!(seen.ends_with("=EACCES"), "{seen}");
    }
    // The weakened set-up, the files opened too: the same attacks work,
    // so the ones above were real.
    for path in &secrets {
        chmod(path, 0o644);
    }
    for path in &found {
        chmod(path, 0o666);
    }
    for seen in nobody_reaches(&tools, &secrets, &found) {
        assert!(seen.ends_with("=ok"), "{seen}");
    }
    for path in &secrets {
        chmod(path, 0o600);
    }
    for path in &found {
        chmod(path, 0o600);
    }
    delete_and_check_clean(&env, "sleeper", &uid);
}
