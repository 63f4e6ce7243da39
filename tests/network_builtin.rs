//! The default network built into `pod` (no CNI configuration: bridge
//! `pod0`, netlink, node-wide addresses): state roots side by side never
//! get one address twice, a crash and a delete leave nothing, host ports
//! are published (portmap, for those pods alone) and pods reach each
//! other by address.
//!
//! Traffic goes only to loopback and to the pods the tests made.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pods::{create, jsonpath, leftovers, wait_log, wait_until};
use common::{Env, import_busybox};

/// The node-wide index of the default network's addresses.
const INDEX: &str = "/run/pod-network/pod0/leases";

/// A pod that needs no image (its pull is refused, ErrImageNeverPull):
/// its sandbox, and so its network, is made all the same.
fn imageless(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: example.invalid/absent:1\n    imagePullPolicy: Never\n"
    )
}

fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn column(env: &Env, path: &str) -> Vec<String> {
    let out = env.ok(&[
        "get",
        "pods",
        "-o",
        &format!("jsonpath={{range .items[*]}}{path}{{\"\\n\"}}{{end}}"),
    ]);
    out.lines().map(str::to_string).collect()
}

fn lease_dir(env: &Env) -> PathBuf {
    env.root().join("cni/networks/pod")
}

fn leases(env: &Env) -> usize {
    std::fs::read_dir(lease_dir(env)).map_or(0, |d| d.count())
}

/// Entries of the node's index that point into `env`'s root.
fn index_entries(env: &Env) -> usize {
    let dir = lease_dir(env);
    std::fs::read_dir(INDEX).map_or(0, |d| {
        d.flatten()
            .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.starts_with(&dir)))
            .count()
    })
}

/// The attachment records of `env`, with the host veth each names.
fn host_veths(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.root().join("cni/results")).map_or(Vec::new(), |d| {
        d.flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter_map(|r| r["hostVeth"].as_str().map(str::to_string))
            .collect()
    })
}

fn records(env: &Env) -> usize {
    std::fs::read_dir(env.root().join("cni/results")).map_or(0, |d| d.count())
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn master_of(name: &str) -> Option<String> {
    let link = std::fs::read_link(Path::new("/sys/class/net").join(name).join("master")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

fn pinned(env: &Env) -> usize {
    let dir = env.dir.path().to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&dir) && l.contains(" nsfs "))
        .count()
}

fn kill_supervisor(env: &Env, uid: &str) -> i32 {
    let run_dir = env.run_root().join("pods").join(uid);
    let text = std::fs::read_to_string(run_dir.join("supervisor.pid")).unwrap();
    let pid: i32 = text.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: kill(2) of a supervisor this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    pid
}

#[test]
fn state_roots_side_by_side_never_share_an_address_and_leave_nothing() {
    const PODS: usize = 15;
    let envs = [Env::new(), Env::new()];
    // Both roots create their pods at the same moment.
    let creates: Vec<std::process::Child> = envs
        .iter()
        .enumerate()
        .map(|(n, env)| {
            let docs: Vec<String> = (0..PODS)
                .map(|i| imageless(&format!("s{n}-{i:02}")))
                .collect();
            let file = env.manifest("many.yaml", &docs.join("---\n"));
            env.pod()
                .args(["create", "-f", file.to_str().unwrap()])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in creates {
        assert!(child.wait().unwrap().success());
    }
    let mut all = Vec::new();
    for env in &envs {
        let ips = wait_for("every pod IP", Duration::from_secs(120), || {
            let ips: Vec<String> = column(env, "{.status.podIP}")
                .into_iter()
                .filter(|ip| !ip.is_empty())
                .collect();
            (ips.len() == PODS).then_some(ips)
        });
        assert!(ips.iter().all(|ip| ip.starts_with("10.244.")), "{ips:?}");
        all.extend(ips);
    }
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 2 * PODS, "an address given twice: {all:?}");

    let veths: Vec<Vec<String>> = envs.iter().map(host_veths).collect();
    for (env, names) in envs.iter().zip(&veths) {
        assert_eq!(names.len(), PODS);
        for name in names {
            assert_eq!(master_of(name).as_deref(), Some("pod0"), "{name}");
        }
        assert_eq!(leases(env), PODS);
        assert_eq!(index_entries(env), PODS);
        assert_eq!(pinned(env), PODS);
    }

    // Half the supervisors die first: delete does their work.
    for env in &envs {
        for uid in column(env, "{.metadata.uid}").iter().step_by(2) {
            kill_supervisor(env, uid);
        }
    }
    for env in &envs {
        env.ok(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
    }
    for (env, names) in envs.iter().zip(&veths) {
        let left = || {
            (
                names.iter().filter(|n| link_exists(n)).count(),
                leases(env),
                index_entries(env),
                records(env),
                pinned(env),
            )
        };
        wait_for("the network to be empty", Duration::from_secs(30), || {
            (left() == (0, 0, 0, 0, 0)).then_some(())
        });
    }
}

#[test]
fn a_delete_after_a_crash_frees_the_address_and_the_veth() {
    let env = Env::new();
    let uid = create(&env, "crashed", &imageless("crashed"));
    let ip = wait_until(&env, "crashed", "a pod IP", || {
        let ip = jsonpath(&env, "crashed", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    let veth = host_veths(&env).pop().unwrap();
    assert!(link_exists(&veth));
    assert!(lease_dir(&env).join(&ip).exists());
    // The supervisor and the pause die, and the namespace goes with the
    // unmounted pin: the veth pair goes with it, the lease stays.
    let run_dir = env.run_root().join("pods").join(&uid);
    kill_supervisor(&env, &uid);
    let processes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("processes.json")).unwrap()).unwrap();
    let pause = processes["pause"]["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the pod's pause process.
    unsafe { libc::kill(pause, libc::SIGKILL) };
    nix::mount::umount2(&run_dir.join("netns"), nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert_eq!(index_entries(&env), 1);
    env.ok(&["delete", "pod", "crashed", "--grace-period=0", "--force"]);
    assert_eq!(
        (leases(&env), index_entries(&env), records(&env)),
        (0, 0, 0)
    );
    wait_for("the veth to go", Duration::from_secs(60), || {
        (!link_exists(&veth)).then_some(())
    });
}

/// iptables rules (every table) that name `id`, and the rules of the
/// CNI chains they jump to.
fn rules_of(id: &str) -> Vec<String> {
    let out = Command::new("iptables-save").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let naming: Vec<&str> = text.lines().filter(|l| l.contains(id)).collect();
    let chains: Vec<String> = naming
        .iter()
        .filter_map(|l| l.split(" -j ").nth(1))
        .map(|c| c.split_whitespace().next().unwrap_or_default().to_string())
        .filter(|c| c.starts_with("CNI-"))
        .collect();
    naming
        .iter()
        .map(|l| l.to_string())
        .chain(
            text.lines()
                .filter(|l| chains.iter().any(|c| l.starts_with(&format!("-A {c} "))))
                .map(str::to_string),
        )
        .collect()
}

fn http_get(address: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect_timeout(&address.parse().ok()?, Duration::from_secs(1))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

#[test]
fn pods_reach_each_other_and_host_ports_are_published() {
    let env = Env::new();
    import_busybox(&env.root());
    let server = create(
        &env,
        "web",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && echo served-by-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
    - {containerPort: 80, hostPort: 38481}
"#,
    );
    let server_ip = wait_until(&env, "web", "a pod IP", || {
        let ip = jsonpath(&env, "web", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    // Only this pod has host ports: portmap ran for it alone, cached
    // beside the built-in attachment.
    let mut cached: Vec<String> = std::fs::read_dir(env.root().join("cni/results"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cached.sort();
    assert_eq!(
        cached,
        [
            format!("pod-{server}-eth0"),
            format!("pod-hostports-{server}-eth0")
        ]
    );
    let body = wait_until(&env, "web", "an answer on 127.0.0.1:38481", || {
        http_get("127.0.0.1:38481").filter(|t| t.contains("served-by-web"))
    });
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    // From the host to the pod's address, through the bridge.
    let direct = http_get(&format!("{server_ip}:80")).unwrap_or_default();
    assert!(direct.contains("served-by-web"), "{direct}");
    let rules = rules_of(&server);
    assert!(
        rules
            .iter()
            .any(|r| r.contains("--dport 38481") && r.contains(&format!("{server_ip}:80"))),
        "{rules:#?}"
    );

    let client = create(
        &env,
        "client",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: wget
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "until wget -qO- http://{server_ip}/; do sleep 0.2; done; echo client-done; exec sleep 3600"]
"#
        ),
    );
    let log = wait_log(&env, "client", &client, "wget", "client-done");
    assert!(log.contains("served-by-web"), "{log}");
    let hosts = env.ok(&["exec", "web", "--", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("\n{server_ip}\tweb\n")), "{hosts}");

    // Both at once.
    env.ok(&["delete", "pod", "--grace-period=2", "web", "client"]);
    wait_for("nothing left of the pods", Duration::from_secs(60), || {
        [&server, &client]
            .iter()
            .all(|uid| leftovers(&env, uid).is_empty())
            .then_some(())
    });
    assert_eq!(rules_of(&server), Vec::<String>::new());
    assert_eq!(
        (leases(&env), index_entries(&env), records(&env)),
        (0, 0, 0)
    );
    assert!(http_get("127.0.0.1:38481").is_none());
}
