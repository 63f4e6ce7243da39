//! kubectl's words for the everyday outcomes and errors, snapshot-tested.

mod common;

use common::Env;

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    app: web
data:
  mode: demo
";

/// stdout, stderr and exit code of one run, as one snapshot-able text.
fn transcript(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let root = env.dir.path().display().to_string();
    format!(
        "$ pod {}\n{}{}[exit {}]",
        args.join(" ").replace(&root, "[TMP]"),
        String::from_utf8_lossy(&out.stdout).replace(&root, "[TMP]"),
        String::from_utf8_lossy(&out.stderr).replace(&root, "[TMP]"),
        out.status.code().unwrap_or(-1)
    )
}

#[test]
fn object_lifecycle_messages() {
    let env = Env::new();
    let file = env.manifest("cm.yaml", CONFIGMAP);
    let file = file.to_str().unwrap();
    let steps = [
        vec!["create", "-f", file],
        vec!["create", "-f", file],
        vec!["apply", "-f", file],
        vec!["label", "cm", "settings", "app=db"],
        vec!["label", "cm", "settings", "app=db", "--overwrite"],
        vec!["label", "cm/settings", "app-"],
        vec!["annotate", "configmap", "settings", "note=hi"],
        vec!["get", "cm", "-o", "name"],
        vec!["get", "pod", "missing"],
        vec!["get", "deployments"],
        vec!["delete", "configmap", "settings"],
        vec!["delete", "configmap", "settings"],
        vec!["delete", "configmap", "settings", "--ignore-not-found"],
        vec!["get", "configmaps"],
    ];
    let text: Vec<String> = steps.iter().map(|s| transcript(&env, s)).collect();
    insta::assert_snapshot!(text.join("\n\n"));
}

/// A reader that has gone (`pod get cm | head -1`) ends the command the way
/// it ends kubectl: by SIGPIPE, with nothing on stderr; `print!` panicked
/// there with a backtrace. Standard output is a pipe whose reading end is
/// closed before the command starts, so every write fails.
#[test]
fn a_closed_standard_output_ends_the_command_by_sigpipe_as_kubectl() {
    use std::os::unix::process::ExitStatusExt;

    let env = Env::new();
    let configmaps: String = (0..3)
        .map(|i| CONFIGMAP.replace("name: settings", &format!("name: settings-{i}")))
        .collect::<Vec<_>>()
        .join("---\n");
    let file = env.manifest("cms.yaml", &configmaps);
    let file = file.to_str().unwrap();
    let commands = [
        vec!["create", "-f", file],
        vec!["get", "configmaps"],
        vec!["get", "configmaps", "-o", "yaml"],
        vec!["describe", "configmaps"],
        vec!["label", "configmaps", "--all", "tier=web"],
        vec!["version"],
        vec!["image", "ls"],
        vec!["completion", "bash"],
        vec!["serve", "--port", "0"],
        vec!["delete", "configmaps", "--all"],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = env
            .pod()
            .args(&args)
            .stdout(writer)
            .output()
            .expect("running pod");
        assert_eq!(
            out.status.signal(),
            Some(13),
            "pod {args:?} did not end by SIGPIPE ({:?}); stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "pod {args:?}");
    }
    // Each command did its work before it found no reader.
    assert_eq!(env.ok(&["get", "configmaps", "-o", "name"]), "");
}

/// `get -w` whose reader has gone ends by SIGPIPE at the first change it
/// prints, as kubectl does, not with an error.
#[test]
fn a_watch_whose_reader_has_gone_ends_by_sigpipe_at_the_next_change() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;

    /// The watch, killed if the test fails before it ends.
    struct Watch(std::process::Child);
    impl Drop for Watch {
        fn drop(&mut self) {
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }

    let env = Env::new();
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut watch = Watch(
        env.pod()
            .args(["get", "configmaps", "-w"])
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running pod"),
    );
    // The empty listing is said on stderr before the watch begins, so the
    // change below is the watch's to print.
    let mut stderr = std::io::BufReader::new(watch.0.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert_eq!(first, "No resources found in default namespace.\n");
    let file = env.manifest("cm.yaml", CONFIGMAP);
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = watch.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "get -w still running 30 s after the change"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.signal(), Some(13), "{status:?}; stderr:\n{rest}");
    assert_eq!(rest, "");
}

/// A running child of the test, killed if the test fails before it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    /// Waits (at most a minute) for the command to end by SIGPIPE.
    fn ends_by_sigpipe(&mut self, what: &str) {
        use std::os::unix::process::ExitStatusExt;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} still running after a minute"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut err) = self.0.stderr.take() {
            std::io::Read::read_to_string(&mut err, &mut stderr).unwrap();
        }
        assert_eq!(status.signal(), Some(13), "{what}: {status:?}; {stderr}");
        assert_eq!(stderr, "", "{what}");
    }
}

/// `exec`, `attach` and `port-forward` whose reader has gone end by
/// SIGPIPE, as kubectl does: exec dropped the output and ended well,
/// attach went on until the container's process ended, and port-forward
/// ignored its `Forwarding from` and `Handling connection for` lines.
#[test]
fn sessions_whose_reader_has_gone_end_by_sigpipe() {
    use std::io::BufRead;
    use std::process::Stdio;

    let env = Env::new();
    common::import_busybox(&env.root());
    let file = env.manifest(
        "talk.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: talk
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'while true; do echo tick; sleep 0.2; done']
",
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/talk",
        "--timeout=120s",
    ]);
    let closed = || {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        writer
    };
    for args in [
        &["exec", "talk", "--", "echo", "hello"][..],
        &["attach", "talk"],
        &["port-forward", "talk", ":80"],
    ] {
        let mut command = env.pod();
        command.args(args).stdout(closed()).stderr(Stdio::piped());
        Running(command.spawn().unwrap()).ends_by_sigpipe(&args.join(" "));
    }
    // Go dies of SIGPIPE on its stderr (descriptor 2) too.
    let exec = ["exec", "talk", "--", "sh", "-c", "echo oops >&2"];
    Running(env.pod().args(exec).stderr(closed()).spawn().unwrap()).ends_by_sigpipe("exec >&2");

    // The reader of port-forward goes after `Forwarding from`: the next
    // connection's `Handling connection for` line finds it gone.
    let mut forward = Running(
        env.pod()
            .args(["port-forward", "talk", "--address", "127.0.0.1", ":80"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(forward.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{line:?}"));
    let _conn = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    forward.ends_by_sigpipe("port-forward, Handling connection for");
    env.ok(&["delete", "pod", "talk", "--grace-period=1"]);
}
