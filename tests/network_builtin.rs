//! The default network built into `pod` (no CNI configuration: bridge
//! `pod0`, netlink, node-wide addresses): state roots side by side never
//! get one address twice, a crash and a delete leave nothing, host ports
//! are published (portmap, for those pods alone) and pods reach each
//! other by address.
//!
//! Traffic goes only to loopback and to the pods the tests made.

mod common;

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
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
    // With its keeper: delete is to do the supervisor's work.
    common::pods::kill_supervisor_for_good(env, uid)
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
    let pause = processes["(pause)"]["pid"].as_i64().unwrap() as i32;
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

/// The default network's masquerade rule for 10.244.0.0/16, as `pod`
/// writes it.
const MASQUERADE: [&str; 11] = [
    "-s",
    "10.244.0.0/16",
    "!",
    "-d",
    "10.244.0.0/16",
    "-m",
    "comment",
    "--comment",
    "pod network pod0 10.244.0.0/16",
    "-j",
    "MASQUERADE",
];

fn masquerade(op: &str) -> bool {
    Command::new("iptables")
        .args(["-w", "-t", "nat", op, "POSTROUTING"])
        .args(MASQUERADE)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn pod_ip(env: &Env, name: &str) -> String {
    wait_for(&format!("{name}'s IP"), Duration::from_secs(120), || {
        let ip = jsonpath(env, name, "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    })
}

#[test]
fn a_removed_masquerade_rule_is_put_back_by_the_next_pods_set_up() {
    let env = Env::new();
    create(&env, "m1", &imageless("m1"));
    pod_ip(&env, "m1");
    assert!(masquerade("-C"));
    // Removed behind pod's back (a flush, a firewall reload): the bridge
    // is there, so only a check at each set-up can see it.
    while masquerade("-D") {}
    assert!(!masquerade("-C"));
    create(&env, "m2", &imageless("m2"));
    pod_ip(&env, "m2");
    assert!(masquerade("-C"), "the masquerade rule was not put back");
    // Put back at the first try: the supervisor's reaper, which collects
    // every child, must not take iptables' exit from under it (ECHILD).
    let described = env.ok(&["describe", "pod", "m2"]);
    assert!(!described.contains("FailedCreatePodSandBox"), "{described}");
    env.ok(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
}

/// The pod `uid`'s lease in `env` (file name = address, and its text),
/// if any.
fn lease_of(env: &Env, uid: &str) -> Option<(String, String)> {
    std::fs::read_dir(lease_dir(env))
        .ok()?
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .find(|(_, text)| text.starts_with(&format!("{uid}\r\n")))
}

/// What the default network holds for the pod `uid` of `env`: its lease,
/// its node-wide index entry, its record, its pinned namespace, whether
/// its veth is on pod0, iptables rules naming it.
fn network_of(env: &Env, uid: &str, veth: &str) -> (bool, bool, bool, bool, bool, usize) {
    let lease = lease_of(env, uid);
    let indexed = lease.as_ref().is_some_and(|(ip, _)| {
        std::fs::read_link(Path::new(INDEX).join(ip)).is_ok_and(|t| t == lease_dir(env).join(ip))
    });
    let record = env
        .root()
        .join(format!("cni/results/pod-{uid}-eth0"))
        .exists();
    let pin = env.run_root().join("pods").join(uid).join("netns");
    let pinned = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(&format!(" {} ", pin.display())));
    (
        lease.is_some(),
        indexed,
        record,
        pinned,
        master_of(veth).as_deref() == Some("pod0"),
        rules_of(uid).len(),
    )
}

fn supervisor_gone(env: &Env, uid: &str) -> bool {
    let path = env.run_root().join("pods").join(uid).join("supervisor.pid");
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let pid: i32 = text.split_whitespace().next().unwrap().parse().unwrap();
    // Reaped by its parent (the create that started it has exited: init).
    !Path::new(&format!("/proc/{pid}")).exists()
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn gc_removes_what_pods_that_are_gone_left_on_the_default_network() {
    let env = Env::new();
    let kept = create(&env, "kept", &imageless("kept"));
    let gone = create(
        &env,
        "gone",
        &format!(
            "{}    ports:\n    - {{containerPort: 80, hostPort: 38493}}\n",
            imageless("gone")
        ),
    );
    pod_ip(&env, "kept");
    pod_ip(&env, "gone");
    // A supervisor killed (kill -9) in the middle of its pod's network
    // set-up: the address is taken and the veth made, no record written.
    let file = env.manifest("crashed.yaml", &imageless("crashed"));
    let out = env
        .pod()
        .env("POD_SUPERVISOR_FAULT", "network-add-linked")
        .args(["create", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let crashed = jsonpath(&env, "crashed", "{.metadata.uid}");
    wait_for("the crash mid-ADD", Duration::from_secs(120), || {
        (lease_of(&env, &crashed).is_some() && supervisor_gone(&env, &crashed)).then_some(())
    });
    let veth_of = |uid: &str| -> String {
        let (_, text) = lease_of(&env, uid).unwrap();
        text.lines().nth(2).unwrap().to_string()
    };
    let veths = [veth_of(&kept), veth_of(&gone), veth_of(&crashed)];
    assert_eq!(
        network_of(&env, &crashed, &veths[2]),
        (true, true, false, true, true, 0)
    );
    let (lease, indexed, record, pinned, on_bridge, rules) = network_of(&env, &gone, &veths[1]);
    assert_eq!(
        (lease, indexed, record, pinned, on_bridge),
        (true, true, true, true, true)
    );
    assert!(rules > 0, "no host port rules for gone");
    kill_supervisor(&env, &gone);

    // A third pod's state root loses its leases (the root wiped) while
    // its pod's namespace lives on: its veth is on pod0, no lease names it.
    let other = Env::new();
    let orphan = create(&other, "orphan", &imageless("orphan"));
    pod_ip(&other, "orphan");
    let orphan_veth = host_veths(&other).pop().unwrap();
    kill_supervisor(&other, &orphan);
    std::fs::remove_dir_all(lease_dir(&other)).unwrap();

    // The records of gone and crashed go (kept aside, to be put back for
    // the deletes that stop their processes): GC, asked for by `pod up`,
    // finds what the network holds for pods that no longer exist.
    let aside = env.dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    for name in ["gone", "crashed"] {
        std::fs::rename(env.root().join("pods/default").join(name), aside.join(name)).unwrap();
    }
    env.ok(&["up"]);
    for (uid, veth) in [(&gone, &veths[1]), (&crashed, &veths[2])] {
        assert_eq!(
            network_of(&env, uid, veth),
            (false, false, false, false, false, 0),
            "{uid}"
        );
        assert!(!link_exists(veth), "{veth}");
    }
    assert!(retry_notes(&env).is_empty(), "{:?}", retry_notes(&env));
    // The live pod keeps everything.
    assert_eq!(
        network_of(&env, &kept, &veths[0]),
        (true, true, true, true, true, 0)
    );
    // The orphan's veth went, and with it its dangling index entry.
    assert!(!link_exists(&orphan_veth), "{orphan_veth}");
    assert_eq!(index_entries(&other), 0);

    for name in ["gone", "crashed"] {
        std::fs::rename(aside.join(name), env.root().join("pods/default").join(name)).unwrap();
    }
    env.ok(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
    other.ok(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
    for uid in [&kept, &gone, &crashed] {
        wait_for("nothing left of the pods", Duration::from_secs(30), || {
            leftovers(&env, uid).is_empty().then_some(())
        });
    }
    assert_eq!(
        (leases(&env), index_entries(&env), records(&env)),
        (0, 0, 0)
    );
}

/// The notes of failed DELs in `env` (file name, note).
fn retry_notes(env: &Env) -> Vec<(String, serde_json::Value)> {
    let Ok(entries) = env.root().join("cni/retry").read_dir() else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            let note = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), note)
        })
        .collect()
}

/// A file made immutable (`chattr +i`: even root cannot remove it), made
/// mutable again when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: PathBuf) -> Immutable {
        let status = Command::new("chattr")
            .arg("+i")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "chattr +i {}", path.display());
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn a_failed_del_on_the_default_network_is_retried_until_the_address_is_freed() {
    let env = Env::new();
    let stuck = create(&env, "stuck", &imageless("stuck"));
    let other = create(&env, "other", &imageless("other"));
    let ip = pod_ip(&env, "stuck");
    pod_ip(&env, "other");
    // The lease cannot be removed: the DEL fails where it frees the
    // address.
    let lease = lease_dir(&env).join(&ip);
    let immutable = Immutable::new(lease.clone());
    env.ok(&["delete", "pod", "stuck", "--grace-period=0", "--force"]);
    assert!(env.fails(&["get", "pod", "stuck"]).contains("NotFound"));
    let note_name = format!("pod-{stuck}-eth0");
    let notes = wait_for("the failed DEL's note", Duration::from_secs(60), || {
        let notes = retry_notes(&env);
        (!notes.is_empty()).then_some(notes)
    });
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, note_name);
    assert_eq!(notes[0].1["failures"], 1);
    assert_eq!(notes[0].1["uid"], stuck.as_str());
    let error = notes[0].1["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("removing {}", lease.display())),
        "{error}"
    );
    assert!(lease.exists());
    assert!(Path::new(INDEX).join(&ip).exists());

    // The cause goes; past the first back-off (1 s), the next
    // supervisor's end retries the DEL, which frees the address.
    drop(immutable);
    std::thread::sleep(Duration::from_millis(1200));
    env.ok(&["delete", "pod", "other", "--grace-period=0", "--force"]);
    wait_for("the retried DEL", Duration::from_secs(60), || {
        (!lease.exists()).then_some(())
    });
    wait_for("the note to go", Duration::from_secs(30), || {
        retry_notes(&env).is_empty().then_some(())
    });
    assert!(
        std::fs::read_link(Path::new(INDEX).join(&ip)).map_or(true, |t| t != lease),
        "index entry left"
    );
    assert_eq!((leases(&env), records(&env)), (0, 0));
    for uid in [&stuck, &other] {
        wait_for("nothing left of the pods", Duration::from_secs(30), || {
            leftovers(&env, uid).is_empty().then_some(())
        });
    }
}

/// A network namespace of the test's own, joined to the host by a veth
/// pair the test made: the host's end holds `HOST_SIDE`, the namespace's
/// end `OUTSIDE` (a /30 of the benchmarking range 198.18.0.0/15, which
/// no host route here uses). Both ends and the namespace go when dropped.
struct Outside {
    netns: String,
    link: String,
}

const HOST_SIDE: &str = "198.18.77.1";
const OUTSIDE: &str = "198.18.77.2";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

impl Outside {
    fn new() -> Outside {
        let id = std::process::id();
        let outside = Outside {
            netns: format!("podt-hostport-{id}"),
            link: format!("podt-hp{}", id % 100_000),
        };
        let peer = format!("{}x", outside.link);
        ip(&["netns", "add", &outside.netns]);
        ip(&[
            "link",
            "add",
            &outside.link,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &outside.netns,
        ]);
        ip(&[
            "addr",
            "add",
            &format!("{HOST_SIDE}/30"),
            "dev",
            &outside.link,
        ]);
        ip(&["link", "set", &outside.link, "up"]);
        let inside = ["-n", outside.netns.as_str()];
        ip(&[
            &inside[..],
            &["addr", "add", &format!("{OUTSIDE}/30"), "dev", &peer],
        ]
        .concat());
        ip(&[&inside[..], &["link", "set", &peer, "up"]].concat());
        ip(&[&inside[..], &["link", "set", "lo", "up"]].concat());
        outside
    }

    /// An HTTP GET of `address` from inside the namespace (a thread of
    /// this test joins it: setns moves that thread alone).
    fn http_get(&self, address: &str) -> Option<String> {
        let ns = std::fs::File::open(format!("/run/netns/{}", self.netns)).unwrap();
        let address = address.to_string();
        std::thread::spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            http_get(&address)
        })
        .join()
        .unwrap()
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn a_host_port_is_reached_from_the_hosts_other_addresses() {
    let env = Env::new();
    import_busybox(&env.root());
    let outside = Outside::new();
    let uid = create(
        &env,
        "hp-any",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hp-any}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && echo reached-from-afar > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
    - {containerPort: 80, hostPort: 38501}
    - {containerPort: 80, hostPort: 38502, hostIP: 127.0.0.1}
"#,
    );
    pod_ip(&env, "hp-any");
    let served = |text: &Option<String>| {
        text.as_ref()
            .is_some_and(|t| t.contains("reached-from-afar"))
    };
    // Through loopback first: the pod serves.
    wait_for(
        "an answer on 127.0.0.1:38501",
        Duration::from_secs(60),
        || served(&http_get("127.0.0.1:38501")).then_some(()),
    );
    // From another host: a packet that comes in on the veth from the
    // test's namespace, to the host's address there (PREROUTING's DNAT,
    // then forwarded over pod0, its answer back through conntrack).
    let from_afar = wait_for("an answer from outside", Duration::from_secs(60), || {
        Some(outside.http_get(&format!("{HOST_SIDE}:38501"))).filter(served)
    });
    assert!(from_afar.unwrap().starts_with("HTTP/1.1 200 OK"));
    // From the host itself, to that other address of its own (OUTPUT's
    // DNAT, not loopback).
    let local = http_get(&format!("{HOST_SIDE}:38501"));
    assert!(served(&local), "{local:?}");
    // A port published on 127.0.0.1 alone is reached there and from no
    // other address: what reaches 38501 is its rule for every address,
    // not a route that would let anything through.
    let on_loopback = http_get("127.0.0.1:38502");
    assert!(served(&on_loopback), "{on_loopback:?}");
    let refused = outside.http_get(&format!("{HOST_SIDE}:38502"));
    assert!(!served(&refused), "{refused:?}");
    let refused = http_get(&format!("{HOST_SIDE}:38502"));
    assert!(!served(&refused), "{refused:?}");
    env.ok(&["delete", "pod", "--grace-period=0", "--force", "hp-any"]);
    wait_for("nothing left of the pod", Duration::from_secs(60), || {
        leftovers(&env, &uid).is_empty().then_some(())
    });
    // Gone with the pod: nothing answers from outside any more.
    let gone = outside.http_get(&format!("{HOST_SIDE}:38501"));
    assert!(!served(&gone), "{gone:?}");
}

/// A pod's DEL frees its address while the node's masquerade rules are
/// being checked or changed (their lock held, as an ADD holds it across
/// its iptables execs after any change of the ruleset): it waits only for
/// the address index. The test holds the rules' lock itself, for the whole
/// delete; were the DEL behind it, the delete would never end.
#[test]
fn a_delete_frees_the_address_while_the_masquerade_rules_are_locked() {
    let env = Env::new();
    let uid = create(&env, "locked", &imageless("locked"));
    let ip = wait_until(&env, "locked", "a pod IP", || {
        let ip = jsonpath(&env, "locked", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    assert!(lease_dir(&env).join(&ip).exists());
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/run/pod-network/pod0/masquerade.lock")
        .unwrap();
    // SAFETY: flock(2) on a file this test opened.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut delete = env
        .pod()
        .args(["delete", "pod", "locked"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_for("the delete to end", common::pods::PATIENCE, || {
        delete.try_wait().unwrap()
    });
    assert!(status.success());
    assert!(!lease_dir(&env).join(&ip).exists());
    assert_eq!(index_entries(&env), 0);
    drop(lock);
    common::pods::assert_nothing_left(&env, &uid, "the pod");
}

/// The `numtxqueues N numrxqueues N` of `ip -d link show NAME`, run in
/// the network namespace pinned at `netns` (None: the host's).
fn queues(netns: Option<&Path>, name: &str) -> String {
    let mut command = match netns {
        Some(path) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", path.display())).arg("ip");
            c
        }
        None => Command::new("ip"),
    };
    let out = command.args(["-d", "link", "show", name]).output().unwrap();
    assert!(out.status.success(), "ip -d link show {name}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = |key: &str| {
        let i = words.iter().position(|w| *w == key).unwrap_or_else(|| {
            panic!("no {key} in {text}");
        });
        words[i + 1].to_string()
    };
    format!("tx {} rx {}", at("numtxqueues"), at("numrxqueues"))
}

/// Each end of a pod's veth pair is made with the one queue it ends up
/// with, on the bridge with hairpin on. (Made with the kernel's default,
/// a queue per possible CPU, each end was cut down to one after it was
/// registered, each cut waiting for an RCU grace period, 1-5 ms of the
/// ADD; and so was the lookup of the new host end.)
#[test]
fn a_pods_veth_pair_is_made_with_one_queue_per_end_and_hairpin_on() {
    let env = Env::new();
    let uid = create(&env, "queues", &imageless("queues"));
    wait_until(&env, "queues", "a pod IP", || {
        let ip = jsonpath(&env, "queues", "{.status.podIP}");
        (!ip.is_empty()).then_some(ip)
    });
    let veth = host_veths(&env).pop().unwrap();
    assert_eq!(master_of(&veth).as_deref(), Some("pod0"));
    let hairpin = Path::new("/sys/class/net")
        .join(&veth)
        .join("brport/hairpin_mode");
    assert_eq!(std::fs::read_to_string(hairpin).unwrap().trim(), "1");
    assert_eq!(queues(None, &veth), "tx 1 rx 1");
    let netns = env.run_root().join("pods").join(&uid).join("netns");
    assert_eq!(queues(Some(&netns), "eth0"), "tx 1 rx 1");
    env.ok(&["delete", "pod", "queues", "--grace-period=0", "--force"]);
}
