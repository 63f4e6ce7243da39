//! The terminal of `pod exec -it` and of a `tty: true` container is a pty
//! of the container's own devpts instance, as runc makes it: `tty` names
//! it (/dev/pts/N inside the container), ttyname works for any user, and
//! the host's devpts holds nothing of the session. A pty taken from the
//! host's devpts fails every check here (its device is the host's
//! /dev/pts, and `tty` prints "not a tty"). Real terminals (tmux), as
//! root.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::{Env, Terminal, pods};

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, '3600']
  - name: user
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, '3600']
    securityContext:
      runAsUser: 1000
      runAsGroup: 1000
  - name: shell
    image: busybox
    imagePullPolicy: IfNotPresent
    stdin: true
    tty: true
";

/// Starts the pod and waits until its three containers run.
fn start_pod(env: &Env) {
    common::import_busybox(&env.root());
    pods::create(env, "p", POD);
    pods::wait_until(env, "p", "three running containers", || {
        let running = pods::jsonpath(env, "p", "{.status.containerStatuses[*].state.running}");
        (running.matches("startedAt").count() == 3).then_some(())
    });
}

fn terminal(env: &Env, name: &str, argv: &[&str], cols: u16, rows: u16) -> Terminal {
    let dir = env.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut full = vec![env!("CARGO_BIN_EXE_pod")];
    full.extend(argv);
    Terminal::start(
        &dir,
        &[("POD_ROOT", &env.root()), ("POD_RUN_ROOT", &env.run_root())],
        &full,
        cols,
        rows,
    )
}

/// What the shell in `term` says about its stdin.
#[derive(Debug)]
struct Seen {
    /// `tty`'s answer (ttyname of stdin).
    tty: String,
    /// Where /proc/self/fd/0 points.
    link: String,
    /// st_dev of stdin, and of the container's /dev/pts.
    device: u64,
    devpts: u64,
    /// uid:gid:mode of the slave.
    owner: String,
    /// `stty size`.
    size: String,
}

/// Asks the shell; its answer starts with `SEEN<n>`.
fn look(term: &Terminal, n: u32) -> Seen {
    // `SE''EN` so that the typed command line does not match.
    term.type_text(&format!(
        "echo SE''EN{n} \"$(tty) $(readlink /proc/self/fd/0) $(stat -L -c %d /proc/self/fd/0) \
         $(stat -c %d /dev/pts) $(stat -L -c %u:%g:%a /proc/self/fd/0) $(stty size)\"\r"
    ));
    let marker = format!("SEEN{n} ");
    let screen = term.wait_for("the shell's answer", Duration::from_secs(60), |s| {
        s.lines().any(|l| l.starts_with(&marker))
    });
    let line = screen.lines().find(|l| l.starts_with(&marker)).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 8, "unexpected answer: {line}");
    Seen {
        tty: words[1].to_string(),
        link: words[2].to_string(),
        device: words[3].parse().unwrap(),
        devpts: words[4].parse().unwrap(),
        owner: words[5].to_string(),
        size: format!("{} {}", words[6], words[7]),
    }
}

/// The checks every session's terminal passes.
fn assert_the_containers_own(seen: &Seen, owner: &str, size: &str) {
    let host_devpts = std::fs::metadata("/dev/pts").unwrap().dev();
    let number = seen.tty.strip_prefix("/dev/pts/");
    assert!(
        number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        "tty: {seen:?}"
    );
    assert_eq!(seen.link, seen.tty, "{seen:?}");
    assert_eq!(
        seen.device, seen.devpts,
        "stdin is not on the container's devpts: {seen:?}"
    );
    assert_ne!(
        seen.device, host_devpts,
        "stdin is a pty of the host: {seen:?}"
    );
    // The container's user owns it, group tty, rw--w---- (devpts mounted
    // with gid=5,mode=0620, the slave given to the user as runc does).
    assert_eq!(seen.owner, owner, "{seen:?}");
    assert_eq!(seen.size, size, "{seen:?}");
}

#[test]
fn exec_it_gets_a_pty_of_the_containers_devpts() {
    let env = Env::new();
    start_pod(&env);
    let term = terminal(
        &env,
        "exec",
        &["exec", "-it", "p", "-c", "main", "--", "sh"],
        100,
        30,
    );
    term.expect("#");
    let seen = look(&term, 1);
    assert_the_containers_own(&seen, "0:5:620", "30 100");
    assert_eq!(
        seen.tty, "/dev/pts/0",
        "the first pty of the container: {seen:?}"
    );
    // The window size follows the caller's terminal.
    term.resize(80, 24);
    let seen = look(&term, 2);
    assert_eq!(seen.size, "24 80");
    term.press(&["C-d"]);
    term.wait_for("exec to end", Duration::from_secs(60), |_| {
        term.exit_status().is_some()
    });
    assert_eq!(term.exit_status(), Some(0));
}

#[test]
fn exec_it_as_a_user_gives_the_user_its_pty() {
    let env = Env::new();
    start_pod(&env);
    let term = terminal(
        &env,
        "user",
        &["exec", "-it", "p", "-c", "user", "--", "sh"],
        90,
        20,
    );
    term.expect("$");
    let seen = look(&term, 1);
    assert_the_containers_own(&seen, "1000:5:620", "20 90");
    // The user can open its terminal by name (what su, script, gpg do).
    term.type_text("echo by-na''me > $(tty) && echo open''ed\r");
    term.expect("opened");
    assert!(term.screen().contains("by-name"));
}

#[test]
fn attach_it_to_a_tty_container_gets_a_pty_of_its_devpts() {
    let env = Env::new();
    start_pod(&env);
    let term = terminal(
        &env,
        "attach",
        &["attach", "-it", "p", "-c", "shell"],
        100,
        30,
    );
    term.expect("If you don't see a command prompt");
    term.press(&["Enter"]);
    term.expect("#");
    let seen = look(&term, 1);
    assert_the_containers_own(&seen, "0:5:620", "30 100");
    // An exec's pty is a new one of the same instance.
    let out = env.ok(&["exec", "p", "-c", "shell", "--", "ls", "/dev/pts"]);
    assert!(
        out.lines().any(|l| format!("/dev/pts/{l}") == seen.tty),
        "{out}"
    );
    // What the shell prints through the pty reaches the container's log.
    let uid = pods::jsonpath(&env, "p", "{.metadata.uid}");
    pods::wait_log(&env, "p", &uid, "shell", &format!("SEEN1 {}", seen.tty));
}

#[test]
fn exec_it_refuses_a_ptmx_the_container_replaced() {
    let env = Env::new();
    start_pod(&env);
    // Root in the container may replace the name the exec opens.
    env.ok(&[
        "exec",
        "p",
        "-c",
        "main",
        "--",
        "sh",
        "-c",
        "rm /dev/ptmx && mkfifo /dev/ptmx",
    ]);
    let term = terminal(
        &env,
        "fifo",
        &["exec", "-it", "p", "-c", "main", "--", "true"],
        200,
        20,
    );
    term.wait_for("exec to fail", Duration::from_secs(60), |_| {
        term.exit_status().is_some()
    });
    assert_eq!(term.exit_status(), Some(126), "{}", term.screen());
    assert!(
        term.screen().contains(
            "OCI runtime exec failed: exec failed: unable to start container process: \
             /dev/ptmx in the container is not a pty multiplexer: unknown"
        ),
        "{}",
        term.screen()
    );
    // Nothing is left in the way of the next exec.
    assert_eq!(
        env.ok(&["exec", "p", "-c", "main", "--", "echo", "ok"]),
        "ok\n"
    );
}
