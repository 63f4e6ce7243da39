//! 100 pods on one network: 100 distinct addresses, and after deleting
//! them (half of them after their supervisor was killed with SIGKILL)
//! nothing is left: no veth, address lease, cached attachment, iptables
//! rule or pinned namespace.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Env;
use common::net::{self, Bridge};

const PODS: usize = 100;
const BRIDGE: &str = "podt-many";

/// A pod that needs no image (its pull is refused, ErrImageNeverPull):
/// its sandbox, and so its network, is made all the same.
fn pod(name: &str) -> String {
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
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lines(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_hundred_pods_get_distinct_addresses_and_leave_nothing() {
    let env = Env::new();
    let _bridge = Bridge(BRIDGE);
    let ipam = env.dir.path().join("ipam");
    std::fs::write(
        env.cni_conf_dir().join("10-many.conflist"),
        serde_json::json!({
            "cniVersion": "1.0.0", "name": "many",
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": true, "ipMasq": true,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.246.100.0/24"}]],
                          "dataDir": ipam}},
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let docs: Vec<String> = (0..PODS).map(|i| pod(&format!("m{i:03}"))).collect();
    let file = env.manifest("many.yaml", &docs.join("---\n"));
    env.ok(&["create", "-f", file.to_str().unwrap()]);

    let list = |path: &str| -> Vec<String> {
        let out = env.ok(&[
            "get",
            "pods",
            "-o",
            &format!("jsonpath={{range .items[*]}}{path}{{\"\\n\"}}{{end}}"),
        ]);
        out.lines().map(str::to_string).collect()
    };
    let ips = wait_for("100 pod IPs", Duration::from_secs(240), || {
        let ips: Vec<String> = list("{.status.podIP}")
            .into_iter()
            .filter(|ip| !ip.is_empty())
            .collect();
        (ips.len() == PODS).then_some(ips)
    });
    let distinct: BTreeSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), PODS, "{ips:?}");
    assert!(
        ips.iter().all(|ip| ip.starts_with("10.246.100.")),
        "{ips:?}"
    );
    let uids = list("{.metadata.uid}");
    assert_eq!(uids.len(), PODS);

    // What the network holds for them, counted.
    let veths = || lines(Command::new("ip").args(["-o", "link", "show", "master", BRIDGE])).len();
    let leases = || net::leases(&ipam.join("many")).len();
    let cached = || {
        std::fs::read_dir(env.root().join("cni/results"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let dir = env.dir.path().to_string_lossy().into_owned();
    let pinned = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&dir) && l.contains(" nsfs "))
            .count()
    };
    let rules = || {
        let saved = lines(&mut Command::new("iptables-save"));
        saved
            .iter()
            .filter(|l| uids.iter().any(|u| l.contains(u.as_str())))
            .count()
    };
    assert_eq!(veths(), PODS);
    assert_eq!(leases(), PODS);
    assert_eq!(cached(), PODS);
    assert_eq!(pinned(), PODS);
    assert!(rules() >= PODS, "masquerade rules for every pod");

    // Half the supervisors die first: delete does their work.
    for uid in uids.iter().step_by(2) {
        // With its keeper: delete is to do the supervisor's work.
        common::pods::kill_supervisor_for_good(&env, uid);
    }
    env.ok(&["delete", "pods", "--all", "--grace-period=0", "--force"]);
    wait_for("the network to be empty", Duration::from_secs(60), || {
        (veths() == 0 && leases() == 0 && cached() == 0 && pinned() == 0 && rules() == 0)
            .then_some(())
    });
    assert_eq!(
        (veths(), leases(), cached(), pinned(), rules()),
        (0, 0, 0, 0, 0)
    );
}
