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
    command: [sh, -c, 'sleep 2; i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done']
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
        "--timeout=30s",
    ]);
    let follower = env
        .pod()
        .args(["logs", "-f", "chatty"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
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
