//! Watches of `pod serve` are woken by the store's changes, not by
//! polling it: while nothing changes, the server does not read the
//! watched objects at all (seen with inotify on their directory: no file
//! there is opened); a change written by the CLI (another process)
//! reaches the watch.

mod common;

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use common::Env;
use common::pods::PATIENCE;
use common::served;
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

fn configmap(env: &Env, name: &str) {
    let file = env.manifest(
        &format!("{name}.yaml"),
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"),
    );
    env.ok(&["create", "-f", file.to_str().unwrap()]);
}

/// Waits until the watch's output has an ADDED event of `name`.
fn wait_added(path: &std::path::Path, name: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let added = text.lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|e| e["type"] == "ADDED" && e["object"]["metadata"]["name"] == name)
        });
        if added {
            return;
        }
        assert!(Instant::now() < deadline, "no ADDED {name} in:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_watch_sleeps_until_the_store_changes() {
    let served = served::serve(Env::new());
    let list: serde_json::Value = serde_json::from_str(&served.kubectl_ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps",
    ]))
    .unwrap();
    let version = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let out = served.env.dir.path().join("watch.out");
    let mut watch = served
        .kubectl_cmd()
        .args([
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={version}"),
        ])
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    // The first change, written by the CLI, reaches the watch.
    configmap(&served.env, "first");
    wait_added(&out, "first");

    // Quiet: nobody writes; the server reads nothing of the configmaps.
    // (Polling every 200 ms, it opened their directory and files about
    // 15 times in these 3 s, however loaded the machine.)
    let dir = served.env.root().join("configmaps").join("default");
    let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).unwrap();
    inotify::add_watch(&fd, &dir, WatchFlags::OPEN).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut reader = inotify::Reader::new(&fd, &mut buf);
    let mut opened = Vec::new();
    loop {
        match reader.next() {
            Ok(event) => opened.push(format!("{:?}", event.file_name())),
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("reading inotify: {e}"),
        }
    }
    assert!(opened.is_empty(), "read while nothing changed: {opened:?}");

    // And the next change reaches it too.
    configmap(&served.env, "second");
    wait_added(&out, "second");
    assert!(watch.try_wait().unwrap().is_none(), "the watch ended");
    // Ours, by its pid.
    let _ = watch.kill();
    let _ = watch.wait();
}
