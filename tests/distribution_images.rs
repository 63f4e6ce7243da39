//! Not only busybox: the seeds' own pod (nginx serving the page a debian
//! container writes into a shared volume) from real distribution images,
//! made by scripts/make-debian-images.sh from this machine's Debian mirror
//! (debootstrap, then nginx installed in a second layer through an
//! overlay). Exercises the image's users and groups, whiteouts and opaque
//! directories across layers, and a real daemon with worker processes.
//!
//! The images are made once and cached (see the script); the tests skip
//! only when the mirror is unreachable, and not even then when
//! POD_REQUIRE_DEBIAN_IMAGES is set (CI sets it).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use common::Env;
use common::pods::{create, delete_and_check_clean, jsonpath, wait_log, wait_until};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/make-debian-images.sh");
/// The script's exit status when the mirror cannot be reached.
const MIRROR_UNREACHABLE: i32 = 77;

/// The oci-archive of localhost/debian:12 and localhost/nginx:debian-12,
/// made (or found in the cache) once per test binary; None when the
/// mirror is unreachable and that is allowed.
fn archive() -> Option<PathBuf> {
    static ARCHIVE: OnceLock<Option<PathBuf>> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let start = Instant::now();
            let out = Command::new(SCRIPT).output().expect("running the script");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim_end();
            if out.status.code() == Some(MIRROR_UNREACHABLE) {
                assert!(
                    std::env::var_os("POD_REQUIRE_DEBIAN_IMAGES").is_none(),
                    "POD_REQUIRE_DEBIAN_IMAGES is set but {SCRIPT} could not reach the mirror: {stderr}"
                );
                eprintln!("SKIPPED: the Debian images cannot be made here: {stderr}");
                return None;
            }
            assert!(
                out.status.success(),
                "{SCRIPT} failed ({:?}): {stderr}",
                out.status
            );
            let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
            eprintln!(
                "debian images: {path} ready in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            Some(PathBuf::from(path))
        })
        .clone()
}

/// An environment with both images loaded, or None (skipped).
fn env() -> Option<Env> {
    let archive = archive()?;
    let env = Env::new();
    let start = Instant::now();
    env.ok(&["image", "load", "-i", archive.to_str().unwrap()]);
    eprintln!(
        "debian images loaded in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Some(env)
}

/// Runs `sh -c SCRIPT` in the container; returns its stdout.
fn exec(env: &Env, pod: &str, container: &str, script: &str) -> String {
    env.ok(&["exec", pod, "-c", container, "--", "sh", "-c", script])
}

/// A process of the pod as the host sees it.
#[derive(Debug)]
struct HostProcess {
    pid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    cmdline: String,
}

/// The processes in the pod's cgroups.
fn pod_processes(uid: &str) -> Vec<HostProcess> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
        if !cgroup.contains(uid) {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        // "Uid:\treal\teffective\tsaved\tfs": the effective one.
        let field = |name: &str| -> u32 {
            let line = status.lines().find(|l| l.starts_with(name));
            let values: Vec<u32> = line
                .map(|l| l.split_whitespace().skip(1).flat_map(str::parse).collect())
                .unwrap_or_default();
            *values.get(1).or(values.first()).unwrap_or(&u32::MAX)
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        found.push(HostProcess {
            pid,
            ppid: field("PPid:"),
            uid: field("Uid:"),
            gid: field("Gid:"),
            cmdline: String::from_utf8_lossy(&cmdline)
                .trim_end_matches('\0')
                .replace('\0', " "),
        });
    }
    found
}

#[test]
fn the_seed_pod_runs_nginx_serving_what_debian_wrote() {
    let Some(env) = env() else { return };
    let yaml = std::fs::read_to_string(common::samples().join("nginx-debian.yaml")).unwrap();
    let name = "two-containers";
    let started = Instant::now();
    let uid = create(&env, name, &yaml);

    // The debian container writes the page and exits (restartPolicy
    // Never); nginx keeps serving.
    wait_until(&env, name, "debian-container Completed", || {
        let state = jsonpath(
            &env,
            name,
            "{.status.containerStatuses[?(@.name==\"debian-container\")].state.terminated.reason}",
        );
        (state == "Completed").then_some(())
    });
    // A real daemon: nginx's master as root, its workers as the image's
    // www-data (nginx reads /etc/passwd and /etc/group of the image).
    let www_data: u32 = exec(&env, name, "nginx-container", "id -u www-data")
        .trim()
        .parse()
        .unwrap();
    let (master, workers) = wait_until(&env, name, "nginx master and workers", || {
        let mut processes = pod_processes(&uid);
        let at = processes
            .iter()
            .position(|p| p.cmdline.starts_with("nginx: master process"))?;
        let master = processes.swap_remove(at);
        let workers: Vec<HostProcess> = processes
            .into_iter()
            .filter(|p| p.cmdline == "nginx: worker process" && p.ppid == master.pid)
            .collect();
        (!workers.is_empty()).then_some((master, workers))
    });
    eprintln!(
        "nginx up {:.2} s after create: master {}, {} workers",
        started.elapsed().as_secs_f64(),
        master.pid,
        workers.len()
    );
    assert_eq!((master.uid, master.gid), (0, 0), "{master:?}");
    for worker in &workers {
        assert_eq!((worker.uid, worker.gid), (www_data, www_data), "{worker:?}");
    }

    // The page, fetched over the pod's loopback from inside the nginx
    // container (minbase has no HTTP client; bash's /dev/tcp is one).
    let response = env.ok(&[
        "exec",
        name,
        "-c",
        "nginx-container",
        "--",
        "bash",
        "-c",
        r#"exec 3<>/dev/tcp/127.0.0.1/80; printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3; cat <&3"#,
    ]);
    assert!(
        response.starts_with("HTTP/1.1 200 OK\r\n"),
        "response: {response}"
    );
    assert!(
        response.contains("\r\nServer: nginx/"),
        "response: {response}"
    );
    assert!(
        response.ends_with("\r\n\r\nHello from the debian container\n"),
        "response: {response}"
    );
    // nginx's access log is the container's stdout, as in the official
    // image.
    wait_log(
        &env,
        name,
        &uid,
        "nginx-container",
        "\"GET / HTTP/1.0\" 200 32",
    );

    // The postStart hook ran in the container; the PID namespace is shared
    // with /pause as PID 1.
    assert_eq!(
        exec(
            &env,
            name,
            "nginx-container",
            "cat /usr/share/message; tr '\\0' ' ' </proc/1/cmdline"
        ),
        "hello\n/pause "
    );

    // preStop `nginx -s quit` stops nginx gracefully within the grace
    // period; nothing of the pod is left.
    let stopping = Instant::now();
    delete_and_check_clean(&env, name, &uid);
    eprintln!(
        "deleted and clean in {:.2} s",
        stopping.elapsed().as_secs_f64()
    );
}

#[test]
fn users_groups_and_layers_of_the_debian_images() {
    let Some(env) = env() else { return };
    let name = "accounts";
    let uid = create(
        &env,
        name,
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: accounts
spec:
  restartPolicy: Never
  securityContext:
    supplementalGroups: [4]
  containers:
  - name: www
    image: localhost/debian:12
    securityContext:
      runAsUser: 33
    command: ["sh", "-c", "id; echo HOME=$HOME; echo end"]
  - name: base
    image: localhost/debian:12
    command: ["sh", "-c", "ls /etc/update-motd.d; ls /etc/issue*; echo end"]
  - name: nginx-layer
    image: localhost/nginx:debian-12
    command: ["sh", "-c", "ls /etc/update-motd.d; ls /etc/issue*; echo end"]
"#,
    );
    // runAsUser 33 is www-data in the image's /etc/passwd: its name, its
    // group, its home; supplementalGroups named through /etc/group.
    let www = wait_log(&env, name, &uid, "www", "end");
    assert_eq!(
        www,
        "uid=33(www-data) gid=33(www-data) groups=33(www-data),4(adm)\nHOME=/var/www\nend\n"
    );
    // The nginx layer deleted /etc/issue.net (a whiteout) and replaced
    // /etc/update-motd.d (an opaque directory); the base layer, shared by
    // both images, still has them.
    let base = wait_log(&env, name, &uid, "base", "end");
    assert_eq!(
        base, "10-uname\n/etc/issue\n/etc/issue.net\nend\n",
        "debian:12"
    );
    let nginx = wait_log(&env, name, &uid, "nginx-layer", "end");
    assert_eq!(nginx, "README\n/etc/issue\nend\n", "nginx:debian-12");
    delete_and_check_clean(&env, name, &uid);
}
