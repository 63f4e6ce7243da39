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
    command: [sleep, '3600']
  - name: shell
    image: busybox
    command: [sleep, '3600']
";

fn shell_terminal(env: &Env) -> Terminal {
    let root = env.root();
    let run_root = env.run_root();
    let home = env.dir.path().to_path_buf();
    Terminal::start(
        env.dir.path(),
        &[
            ("POD_ROOT", &root),
            ("POD_RUN_ROOT", &run_root),
            ("HOME", &home),
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
    term.type_text("exec ng");
    term.press(&["Tab"]);
    term.expect("pod> exec nginx");
    term.type_text("-c ");
    // The first <TAB> finds no common prefix, the second lists.
    term.press(&["Tab"]);
    term.press(&["Tab"]);
    term.wait_for(
        "both containers listed",
        std::time::Duration::from_secs(10),
        |s| s.contains("shell") && s.contains("web"),
    );
    // Ctrl-C drops the line, not the shell.
    term.press(&["C-c"]);
    term.type_text("get pods -o name");
    term.press(&["Enter"]);
    term.expect("pod/nginx");
    term.type_text("exit");
    term.press(&["Enter"]);
    term.wait_for(
        "the shell to exit",
        std::time::Duration::from_secs(10),
        |_| term.exit_status().is_some(),
    );
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
    assert!(
        stderr.contains("unrecognized subcommand 'frobnicate'"),
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
