//! `pod logs -f` across log rotation: a follower that started before the
//! first rotation sees every line, in order, through several rotations.

mod common;

use std::process::Stdio;

use common::Env;

#[test]
fn follow_reads_every_line_across_rotations() {
    let env = Env::new();
    common::import_busybox(&env.root());
    let file = env.manifest(
        "chatty.yaml",
        "apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'until [ -e /tmp/go ]; do sleep 0.1; done; i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done']
",
    );
    // 4 KiB files: 3000 lines (about 120 KiB of CRI lines) rotate about
    // thirty times, several times between two looks of the follower.
    let out = env
        .pod()
        .env("POD_LOG_MAX_SIZE", "4096")
        .env("POD_LOG_MAX_FILES", "100")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/chatty",
        "--timeout=60s",
    ]);
    let follower = env
        .pod()
        .args(["logs", "-f", "chatty"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The container writes once the follower has the log open, however
    // long a loaded machine takes to get it there.
    let fds = format!("/proc/{}/fd", follower.id());
    let logs = env.root().join("logs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_dir(&fds)
        .unwrap()
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target.starts_with(&logs)))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the follower never opened the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.ok(&["exec", "chatty", "--", "touch", "/tmp/go"]);
    let out = follower.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let want: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    assert!(
        text == want,
        "{} lines, last: {:?}",
        text.lines().count(),
        text.lines().last()
    );
    let files = std::fs::read_dir(env.root().join("logs"))
        .unwrap()
        .flat_map(|pod| std::fs::read_dir(pod.unwrap().path().join("c")).unwrap())
        .count();
    assert!(files > 10, "the log rotated: {files} files");
}
