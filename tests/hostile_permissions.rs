//! Permissions, run for real (root): a pod's secret (an env var and a
//! volume) never shows in the state directory outside the secret's own
//! store, nor in events, `describe`, `get -o yaml` or the pod's logs; its
//! volume is a tmpfs; the supervisor's socket is root's alone; and a
//! non-root user (`nobody`, through setpriv) is refused in one line before
//! anything is read or created.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::host::{sockets, walk};
use common::pods::{create, delete_and_check_clean, wait_log};
use common::{Env, import_busybox};

/// A value that appears nowhere unless the secret leaked.
const SECRET: &str = "s3cr3t-QzX81vTT";
/// The same in base64, as a Secret's `data` holds it.
const SECRET_B64: &str = "czNjcjN0LVF6WDgxdlRU";

/// Every file under `dir` (not following links), skipping `skip`.
fn files(dir: &Path, skip: &[PathBuf]) -> Vec<PathBuf> {
    walk(dir, skip)
        .into_iter()
        .filter(|(_, meta)| meta.is_file())
        .map(|(path, _)| path)
        .collect()
}

/// Whether `text` holds the secret, plain or in base64.
fn leaks(text: &[u8]) -> bool {
    [SECRET, SECRET_B64]
        .iter()
        .any(|s| text.windows(s.len()).any(|w| w == s.as_bytes()))
}

fn holds_secret(path: &Path) -> bool {
    fs::read(path).is_ok_and(|bytes| leaks(&bytes))
}

#[test]
fn a_secret_shows_only_in_its_store_and_its_tmpfs_volume() {
    let env = Env::new();
    import_busybox(&env.root());
    let uid = create(
        &env,
        "holder",
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: {SECRET}
---
apiVersion: v1
kind: Pod
metadata:
  name: holder
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: ["sh", "-c", "test \"$PASSWORD\" = \"$(cat /secret/password)\" && echo same; sleep 3600"]
    env:
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {{name: db, key: password}}
    volumeMounts:
    - name: db
      mountPath: /secret
  volumes:
  - name: db
    secret:
      secretName: db
"#
        ),
    );
    // The container has both (it says so without printing them).
    wait_log(&env, "holder", &uid, "app", "same");
    let run_dir = env.run_root().join("pods").join(&uid);
    let volume = run_dir.join("volumes/secret/db");
    let fs_type = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&volume)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&fs_type.stdout).trim(), "tmpfs");
    assert!(holds_secret(&volume.join("password")));

    // The secret's own store holds it (the test would be blind otherwise).
    let store = env.root().join("secrets");
    assert!(files(&store, &[]).iter().any(|f| holds_secret(f)));
    let mut found: Vec<PathBuf> = files(&env.root(), &[store])
        .into_iter()
        .chain(files(&env.run_root(), std::slice::from_ref(&volume)))
        .filter(|f| holds_secret(f))
        .collect();
    found.sort();
    // Besides, only the container's run-time record (in memory, for exec
    // to give the same env, as runc's config.json in containerd's run
    // directory): 0600, so that it stays root's even under run
    // directories opened up (as by older versions).
    let record = run_dir.join("containers/app/state.json");
    assert_eq!(found, vec![record.clone()], "the secret is elsewhere");
    assert_eq!(fs::metadata(&record).unwrap().mode() & 0o777, 0o600);
    let mut opened = Vec::new();
    for dir in record.ancestors().skip(1) {
        opened.push((dir.to_path_buf(), fs::metadata(dir).unwrap().mode()));
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        if dir == env.dir.path() {
            break;
        }
    }
    let read = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg("cat")
        .arg(&record)
        .output()
        .unwrap();
    for (dir, mode) in opened {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
    }
    assert!(!read.status.success() && !leaks(&read.stdout), "{read:?}");
    for args in [
        &["get", "pod", "holder", "-o", "yaml"][..],
        &["get", "pod", "holder", "-o", "json"],
        &["describe", "pod", "holder"],
        &["get", "events"],
        &["logs", "holder"],
    ] {
        let out = env.ok(args);
        assert!(
            !leaks(out.as_bytes()),
            "pod {args:?} shows the secret:\n{out}"
        );
    }
    // The env var is shown as kubectl shows it: by reference.
    let describe = env.ok(&["describe", "pod", "holder"]);
    assert!(
        describe.contains("<set to the key 'password' in secret 'db'>"),
        "{describe}"
    );

    // The supervisor's socket: root's, and no other user may open it.
    let sockets: Vec<PathBuf> = sockets(&env.run_root());
    assert!(
        !sockets.is_empty(),
        "no supervisor socket under the run root"
    );
    for socket in &sockets {
        let meta = fs::metadata(socket).unwrap();
        assert_eq!(meta.uid(), 0, "{}", socket.display());
        let reachable = socket
            .ancestors()
            .skip(1)
            .all(|dir| fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
        assert!(
            meta.permissions().mode() & 0o077 == 0 || !reachable,
            "{} is open to other users",
            socket.display()
        );
    }
    delete_and_check_clean(&env, "holder", &uid);
}

/// Runs `pod ARGS` as the host's `nobody` (see isolation_state.rs for why
/// through a shell), with `env`'s roots, stdin from `stdin`.
fn as_nobody(env: &Env, args: &[&str], stdin: Stdio) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["/bin/sh", "-c", "exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_pod"))
        .args(args)
        .env("POD_ROOT", env.root())
        .env("POD_RUN_ROOT", env.run_root())
        .env("RUST_BACKTRACE", "1")
        .stdin(stdin)
        .output()
        .expect("running setpriv (util-linux)")
}

/// Every path under `dir` with its mode and size.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u64)> {
    walk(dir, &[])
        .into_iter()
        .map(|(path, meta)| (path, meta.mode(), meta.len()))
        .collect()
}

#[test]
fn a_non_root_user_is_refused_before_anything_is_touched() {
    let env = Env::new();
    // nobody could create the roots here: only pod's check stops it.
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let manifest = env.manifest(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: busybox}]\n",
    );
    fs::set_permissions(&manifest, fs::Permissions::from_mode(0o644)).unwrap();
    let manifest = manifest.to_str().unwrap();
    let wanted = "error: pod must run as root (it creates namespaces, mounts and cgroups); try: sudo pod ...\n";
    let cases: &[&[&str]] = &[
        &["create", "-f", manifest],
        &["create", "-f", "-"],
        &["create", "-f", "/dev/null"],
        &["apply", "-f", manifest],
        &["get", "pods"],
        &["get", "pod", "x"],
        &["delete", "pod", "x"],
        &["logs", "x"],
        &["image", "ls"],
        &["up"],
    ];
    let mut failures = Vec::new();
    let check = |failures: &mut Vec<String>, args: &[&str], stdin: Stdio| {
        let out = as_nobody(&env, args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || stderr != wanted || !out.stdout.is_empty() {
            failures.push(format!("pod {args:?}: {:?} {stderr:?}", out.status));
        }
    };
    // Fresh: no state yet (only the test's node configuration), and none
    // is made.
    let fresh = snapshot(env.dir.path());
    for args in cases {
        check(&mut failures, args, Stdio::null());
    }
    // stdin that would be a manifest is not even read.
    let pipe = fs::File::open(manifest).unwrap();
    check(&mut failures, &["create", "-f", "-"], Stdio::from(pipe));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(snapshot(env.dir.path()), fresh, "nobody touched the state");
    assert!(!env.run_root().exists(), "nobody made the run root");

    // An existing state, opened to everyone (as by hand): still untouched.
    env.ok(&["get", "pods"]);
    for dir in [env.root(), env.run_root()] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let before = (snapshot(&env.root()), snapshot(&env.run_root()));
    for args in cases {
        check(&mut failures, args, Stdio::null());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!((snapshot(&env.root()), snapshot(&env.run_root())), before);
    // The version and completion scripts need no privilege.
    assert!(
        as_nobody(&env, &["version"], Stdio::null())
            .status
            .success()
    );
    assert!(
        as_nobody(&env, &["completion", "bash"], Stdio::null())
            .status
            .success()
    );
}
