//! Interactive use in a real terminal (tmux): the shell (REPL) and its
//! completion, exec and attach. Runs as root, each test in its own state
//! directories.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{Env, Terminal};

const TWO_CONTAINERS: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: web
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, '3600']
  - name: shell
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, '3600']
";

/// Lets a program that just printed its prompt get to reading its input
/// (a loaded machine may take a moment), so that keys are not typed into
/// the previous line's terminal modes.
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// Waits until a process of pod `uid` (by its cgroup) runs `argv`.
fn wait_for_process(uid: &str, argv: &[&str]) {
    let cmdline: String = argv.iter().map(|a| format!("{a}\0")).collect();
    let start = std::time::Instant::now();
    loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == cmdline.as_bytes())
                && std::fs::read_to_string(e.path().join("cgroup")).is_ok_and(|c| c.contains(uid))
        });
        if found {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no process {argv:?} in pod {uid}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Presses `key` until the program in `term` exits. A key pressed while
/// rustyline starts a line can be taken for part of the terminal's answer
/// to its cursor query; a user presses again, and so does the test.
fn press_until_exit(term: &Terminal, key: &str) {
    for _ in 0..5 {
        term.press(&[key]);
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(3) {
            if term.exit_status().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    panic!("the shell did not exit; the screen:\n{}", term.screen());
}

fn shell_terminal(env: &Env) -> Terminal {
    let root = env.root();
    let run_root = env.run_root();
    let home = env.dir.path().to_path_buf();
    let registries = env.offline_registries_conf();
    Terminal::start(
        env.dir.path(),
        &[
            ("POD_ROOT", &root),
            ("POD_RUN_ROOT", &run_root),
            ("HOME", &home),
            ("POD_REGISTRIES_CONF", &registries),
        ],
        &[env!("CARGO_BIN_EXE_pod")],
        100,
        30,
    )
}

#[test]
fn the_shell_completes_pod_and_container_names_and_keeps_history() {
    let env = Env::new();
    let manifest = env.manifest("nginx.yaml", TWO_CONTAINERS);
    env.ok(&["create", "-f", manifest.to_str().unwrap()]);

    let term = shell_terminal(&env);
    term.expect("pod>");
    settle();
    term.type_text("exec ng");
    term.press(&["Tab"]);
    term.expect("pod> exec nginx");
    term.type_text("-c ");
    // The first <TAB> finds no common prefix, the second lists.
    term.press(&["Tab"]);
    settle();
    term.press(&["Tab"]);
    term.wait_for(
        "both containers listed",
        std::time::Duration::from_secs(60),
        |s| s.contains("shell") && s.contains("web"),
    );
    // Ctrl-C drops the line, not the shell.
    term.press(&["C-c"]);
    // Keys typed before rustyline starts the next line are lost.
    term.wait_for("a fresh prompt", std::time::Duration::from_secs(60), |s| {
        s.lines().filter(|l| l.starts_with("pod>")).count() == 3
    });
    settle();
    term.type_text("get pods -o name");
    term.press(&["Enter"]);
    term.expect("pod/nginx");
    // rustyline reads the terminal's answers when it starts a line, and
    // keys typed before are lost: type only at a settled prompt.
    term.wait_for(
        "the prompt after get",
        std::time::Duration::from_secs(60),
        |s| s.lines().filter(|l| l.starts_with("pod>")).count() == 4,
    );
    settle();
    term.type_text("exit");
    press_until_exit(&term, "Enter");
    assert_eq!(term.exit_status(), Some(0));
    let history = std::fs::read_to_string(env.dir.path().join(".pod_history")).unwrap();
    assert!(history.contains("get pods -o name"), "history: {history}");
    assert!(
        !history.contains("exec nginx -c"),
        "a cancelled line is not history"
    );
}

#[test]
fn the_shell_reads_commands_from_stdin_and_goes_on_after_errors() {
    let env = Env::new();
    let manifest = env.manifest("nginx.yaml", TWO_CONTAINERS);
    let mut child = env
        .pod()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "# a comment\ncreate -f {}\nfrobnicate\nget pods nosuch\npod get pods -o name\n",
        manifest.display()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "pod/nginx created\npod/nginx\n", "stderr: {stderr}");
    // A usage error is one line, as outside the shell.
    assert!(
        stderr
            .lines()
            .any(|l| l == "error: unrecognized subcommand 'frobnicate'; see 'pod --help'"),
        "{stderr}"
    );
    assert!(stderr.contains(r#"pods "nosuch" not found"#), "{stderr}");
    // The status of the last command, as a shell script's.
    assert!(out.status.success());
}

#[test]
fn shells_get_pod_names_from_the_state_directory() {
    let env = Env::new();
    let manifest = env.manifest("nginx.yaml", TWO_CONTAINERS);
    env.ok(&["create", "-f", manifest.to_str().unwrap()]);
    let complete = |shell: &str, index: &str, words: &[&str]| {
        let out = env
            .pod()
            .env("POD_COMPLETE", shell)
            .env("_CLAP_COMPLETE_INDEX", index)
            .env("_CLAP_IFS", "\n")
            .arg("--")
            .args(words)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("bash", "2", &["pod", "attach", "n"]), "nginx");
    assert_eq!(
        complete("bash", "3", &["pod", "get", "pods", ""])
            .lines()
            .next(),
        Some("nginx")
    );
    assert_eq!(
        complete("bash", "4", &["pod", "logs", "nginx", "-c", ""]),
        "shell\nweb"
    );
    // Another namespace has no pods.
    assert!(!complete("bash", "4", &["pod", "-n", "other", "exec", ""]).contains("nginx"));
    let script = env.ok(&["completion", "bash"]);
    assert!(script.contains("POD_COMPLETE=\"bash\""), "{script}");
}

/// Creates the pod in `manifest` from the busybox image and waits until
/// every one of its containers runs.
fn run_pod(env: &Env, manifest: &std::path::Path) -> String {
    common::import_busybox(&env.root());
    let created = env.ok(&["create", "-f", manifest.to_str().unwrap()]);
    let name = created
        .trim()
        .strip_prefix("pod/")
        .and_then(|s| s.strip_suffix(" created"))
        .expect("pod/NAME created")
        .to_string();
    let start = std::time::Instant::now();
    loop {
        let json: serde_json::Value =
            serde_json::from_str(&env.ok(&["get", "pod", &name, "-o", "json"])).unwrap();
        let statuses = json["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let wanted = json["spec"]["containers"].as_array().map_or(0, Vec::len);
        let running = statuses
            .iter()
            .filter(|s| s["state"]["running"].is_object())
            .count();
        if wanted > 0 && running == wanted {
            return name;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "pod {name} did not start: {json:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

const SLEEPER: &str = "\
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
";

#[test]
fn exec_passes_the_exit_code_and_kubectls_message() {
    let env = Env::new();
    let pod = run_pod(&env, &env.manifest("p.yaml", SLEEPER));
    let out = env.run(&[
        "exec",
        &pod,
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "err\ncommand terminated with exit code 3\n"
    );
    let ok = env.run(&["exec", &pod, "--", "true"]);
    assert!(ok.status.success());
    assert!(ok.stderr.is_empty());
}

#[test]
fn exec_passes_stdin_and_its_end() {
    let env = Env::new();
    let pod = run_pod(&env, &env.manifest("p.yaml", SLEEPER));
    let mut child = env
        .pod()
        .args(["exec", "-i", &pod, "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // More than a pipe holds, so that both directions must flow at once.
    let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let mut input = child.stdin.take().unwrap();
    let writer = {
        let text = text.clone();
        std::thread::spawn(move || input.write_all(text.as_bytes()).unwrap())
    };
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
    // Without -i the command's stdin is empty.
    let out = env.run(&["exec", &pod, "--", "cat"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn exec_of_a_missing_command_fails_like_kubectl() {
    let env = Env::new();
    let pod = run_pod(&env, &env.manifest("p.yaml", SLEEPER));
    let out = env.run(&["exec", &pod, "--", "nosuch"]);
    assert_eq!(out.status.code(), Some(126));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuch": executable file not found in $PATH"#),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("command terminated with exit code 126\n"),
        "{stderr}"
    );
    let out = env.run(&["exec", &pod, "-c", "other", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: container other not found in pod p\n"
    );
    let out = env.run(&["exec", "-t", &pod, "--", "true"]);
    assert!(out.status.success(), "-t without -i quietly has no tty");
    let out = env.run(&["exec", "-it", &pod, "--", "true"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Unable to use a TTY - input is not a terminal or the right kind of file\n"
    );
}

#[test]
fn exec_it_in_the_shared_pid_namespace_sees_pause_as_pid_1() {
    let env = Env::new();
    let pod = run_pod(&env, &common::samples().join("nginx-shell.yaml"));
    let root = env.root();
    let run_root = env.run_root();
    let term = Terminal::start(
        env.dir.path(),
        &[("POD_ROOT", &root), ("POD_RUN_ROOT", &run_root)],
        &[env!("CARGO_BIN_EXE_pod"), "exec", "-it", &pod, "--", "sh"],
        90,
        25,
    );
    term.expect("#");
    term.type_text("ps -o pid,args; stty size\r");
    let screen = term.expect("25 90");
    let pid1 = screen
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("no PID 1 in:\n{screen}"));
    assert_eq!(pid1.split_whitespace().nth(1), Some("/pause"), "{screen}");
    assert!(screen.contains("httpd -f -p 80"), "{screen}");
    // Window changes reach the process's terminal.
    term.resize(70, 20);
    term.type_text("clear; stty size\r");
    term.expect("20 70");
    term.type_text("exit 4\r");
    term.wait_for("exec to end", std::time::Duration::from_secs(60), |_| {
        term.exit_status().is_some()
    });
    assert_eq!(term.exit_status(), Some(4));
}

#[test]
fn exec_without_c_says_which_container_it_chose() {
    let env = Env::new();
    let pod = run_pod(&env, &env.manifest("nginx.yaml", TWO_CONTAINERS));
    let out = env.run(&["exec", &pod, "--", "true"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Defaulted container \"web\" out of: web, shell\n"
    );
}

const SHELL: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: box
spec:
  containers:
  - name: shell
    image: busybox
    imagePullPolicy: IfNotPresent
    stdin: true
    tty: true
";

fn attach_terminal(env: &Env, pod: &str, cols: u16, rows: u16) -> Terminal {
    let root = env.root();
    let run_root = env.run_root();
    let dir = env.dir.path().join(format!("term-{cols}x{rows}"));
    std::fs::create_dir_all(&dir).unwrap();
    Terminal::start(
        &dir,
        &[("POD_ROOT", &root), ("POD_RUN_ROOT", &run_root)],
        &[
            env!("CARGO_BIN_EXE_pod"),
            "attach",
            "-it",
            pod,
            "-c",
            "shell",
        ],
        cols,
        rows,
    )
}

#[test]
fn attach_to_a_shell_types_resizes_shares_and_detaches() {
    let env = Env::new();
    let pod = run_pod(&env, &env.manifest("box.yaml", SHELL));
    let first = attach_terminal(&env, &pod, 100, 30);
    first.expect("If you don't see a command prompt, try pressing enter.");
    first.press(&["Enter"]);
    first.expect("#");
    first.type_text("echo h''i\r");
    first.wait_for(
        "hi on a line of its own",
        std::time::Duration::from_secs(60),
        |s| s.lines().any(|l| l.trim_end() == "hi"),
    );
    // The window size reaches the container's pty, now and on change.
    first.type_text("stty size\r");
    first.expect("30 100");
    first.resize(80, 24);
    first.type_text("stty size\r");
    first.expect("24 80");

    // A second client sees what the first one makes the shell print.
    let second = attach_terminal(&env, &pod, 90, 20);
    second.expect("If you don't see a command prompt");
    first.type_text("echo sha''red\r");
    second.wait_for(
        "the shared output",
        std::time::Duration::from_secs(60),
        |s| s.lines().any(|l| l.trim_end() == "shared"),
    );
    // Detaching (the client goes away) leaves the container running.
    drop(second);
    first.type_text("echo sti''ll here\r");
    first.expect("still here");
    let out = env.run(&["exec", &pod, "--", "true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Ctrl-D ends the shell, and with it the session.
    first.press(&["C-d"]);
    first.expect(&format!(
        "Session ended, resume using 'pod attach {pod} -c shell -i -t' command when the pod is running"
    ));
    first.wait_for("attach to end", std::time::Duration::from_secs(60), |_| {
        first.exit_status().is_some()
    });
    assert_eq!(first.exit_status(), Some(0));
}

#[test]
fn attach_without_a_tty_relays_stdin_and_output() {
    let env = Env::new();
    let manifest = env.manifest(
        "echo.yaml",
        "\
apiVersion: v1
kind: Pod
metadata:
  name: echo
spec:
  restartPolicy: Never
  containers:
  - name: echo
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'while read l; do echo got $l; echo err $l >&2; done']
    stdin: true
    stdinOnce: true
",
    );
    let pod = run_pod(&env, &manifest);
    let mut child = env
        .pod()
        .args(["attach", "-i", "-t", &pod])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a\nb\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got a\ngot b\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: Unable to use a TTY - container echo did not allocate one\n"),
        "{stderr}"
    );
    assert!(stderr.contains("err a\nerr b\n"), "{stderr}");
}

#[test]
fn exec_it_works_from_the_shell_and_ctrl_c_ends_only_the_command() {
    let env = Env::new();
    let pod = run_pod(&env, &env.manifest("p.yaml", SLEEPER));
    let term = shell_terminal(&env);
    term.expect("pod>");
    settle();
    term.type_text(&format!("exec -it {pod} -- sh\r"));
    term.expect("#");
    term.type_text("echo in''side\r");
    term.wait_for(
        "the command's output",
        std::time::Duration::from_secs(60),
        |s| s.lines().any(|l| l.trim_end() == "inside"),
    );
    term.type_text("exit 5\r");
    term.wait_for(
        "the prompt again",
        std::time::Duration::from_secs(60),
        |s| s.lines().filter(|l| l.starts_with("pod>")).count() == 2,
    );
    // A command that would run for long ends with Ctrl-C; the shell stays.
    term.type_text(&format!("exec {pod} -- sleep 600\r"));
    // Ctrl-C once the command runs in the pod (a loaded machine may take
    // long to start it).
    let uid = env.ok(&["get", "pod", &pod, "-o", "jsonpath={.metadata.uid}"]);
    wait_for_process(&uid, &["sleep", "600"]);
    term.press(&["C-c"]);
    term.wait_for(
        "the prompt after Ctrl-C",
        std::time::Duration::from_secs(60),
        |s| s.lines().filter(|l| l.starts_with("pod>")).count() == 3,
    );
    term.type_text("version\r");
    term.expect("Client Version");
    term.wait_for(
        "the prompt after version",
        std::time::Duration::from_secs(60),
        |s| s.lines().filter(|l| l.starts_with("pod>")).count() == 4,
    );
    settle();
    press_until_exit(&term, "C-d");
    // The status of the last command.
    assert_eq!(term.exit_status(), Some(0));
}

#[test]
fn exec_and_attach_refuse_a_completed_pod() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let manifest = env.manifest(
        "done.yaml",
        "\
apiVersion: v1
kind: Pod
metadata:
  name: done
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['true']
",
    );
    env.ok(&["create", "-f", manifest.to_str().unwrap()]);
    let start = std::time::Instant::now();
    while env.ok(&["get", "pod", "done", "-o", "jsonpath={.status.phase}"]) != "Succeeded" {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the pod did not complete"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        env.fails(&["exec", "done", "--", "true"]),
        "error: cannot exec into a container in a completed pod; current phase is Succeeded\n"
    );
    assert_eq!(
        env.fails(&["attach", "done"]),
        "error: cannot attach a container in a completed pod; current phase is Succeeded\n"
    );
    assert_eq!(
        env.fails(&["exec", "nosuch", "--", "true"]),
        "Error from server (NotFound): pods \"nosuch\" not found\n"
    );
}

#[test]
fn logs_f_follows_a_container_across_restarts_until_the_pod_is_deleted() {
    use std::io::BufRead;
    let env = Env::new();
    common::import_busybox(&env.root());
    let manifest = env.manifest(
        "crash.yaml",
        "\
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo run; sleep 1; exit 1']
",
    );
    let out = env
        .pod()
        .args(["create", "-f", manifest.to_str().unwrap()])
        .env("POD_BACKOFF_INITIAL", "1s")
        .env("POD_BACKOFF_MAX", "1s")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = std::time::Instant::now();
    while env.run(&["logs", "crash"]).stdout.is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no log"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut follow = env
        .pod()
        .args(["logs", "-f", "crash"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // The first instance's line, then one per restart.
    for n in 0..3 {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("logs -f stopped after {n} instances"));
        assert_eq!(line, "run");
    }
    env.ok(&["delete", "pod", "crash", "--grace-period=1"]);
    let start = std::time::Instant::now();
    while follow.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = follow.kill();
            panic!("logs -f went on after the pod was deleted");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The checked-in completion scripts, loaded into real bash, zsh and fish
/// in a terminal: <TAB> completes a subcommand, a pod name and a container
/// name (the last two read from the state directory).
#[test]
fn completion_scripts_work_in_bash_zsh_and_fish() {
    let env = Env::new();
    let manifest = env.manifest("nginx.yaml", TWO_CONTAINERS);
    env.ok(&["create", "-f", manifest.to_str().unwrap()]);
    // The scripts call `pod` from PATH, as an installed copy would.
    let bin = env.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pod"), bin.join("pod")).unwrap();
    // Through env(1): tmux gives a new session the server's PATH whatever
    // `-e` says.
    let path = format!("PATH={}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let completions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let setups = [
        (
            "bash",
            vec!["env", &path, "bash", "--norc", "--noprofile", "-i"],
            format!("source {}/pod.bash; PS1='ready> '", completions.display()),
        ),
        (
            "zsh",
            vec!["env", &path, "zsh", "-f", "-i"],
            format!(
                "fpath=({} $fpath); autoload -U compinit; compinit -u; PS1='ready> '",
                completions.display()
            ),
        ),
        (
            "fish",
            vec!["env", &path, "fish", "--no-config", "-i"],
            format!(
                "source {}/pod.fish; function fish_prompt; echo 'ready> '; end",
                completions.display()
            ),
        ),
    ];
    for (shell, argv, setup) in setups {
        let home = env.dir.path().join(format!("home-{shell}"));
        std::fs::create_dir(&home).unwrap();
        let (root, run_root, registries) =
            (env.root(), env.run_root(), env.offline_registries_conf());
        let term = Terminal::start(
            env.dir.path(),
            &[
                ("POD_ROOT", &root),
                ("POD_RUN_ROOT", &run_root),
                ("POD_REGISTRIES_CONF", &registries),
                ("HOME", &home),
            ],
            &argv,
            100,
            30,
        );
        settle();
        term.type_text(&setup);
        term.press(&["Enter"]);
        term.wait_for(
            &format!("{shell}'s prompt"),
            std::time::Duration::from_secs(60),
            |screen| screen.lines().any(|l| l.starts_with("ready> ")),
        );
        settle();
        let completes = |typed: &str, wanted: &str| {
            term.press(&["C-u"]);
            term.type_text(typed);
            term.press(&["Tab"]);
            term.wait_for(
                &format!("{shell} to complete {typed:?} to {wanted:?}"),
                std::time::Duration::from_secs(60),
                |screen| screen.lines().any(|l| l.contains(wanted)),
            );
        };
        completes("pod ge", "ready> pod get");
        completes("pod attach n", "ready> pod attach nginx");
        completes("pod logs nginx -c s", "ready> pod logs nginx -c shell");
        drop(term);
    }
}
