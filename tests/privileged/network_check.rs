//! A sandbox whose network is already set up (a supervisor finding the
//! pod's pause process running): CHECK decides between keeping it and
//! setting it up again; against a script plugin that logs what it is
//! asked, and against Debian's bridge and host-local.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use pod::privileged::{Attachment, Cancel, Network, Store, attach, cache_dir, detach};

use crate::common::net::{Bridge, leases};

/// A process in a network namespace of its own, killed when dropped: the
/// pause process's stand-in.
struct Holder(Child);

impl Holder {
    fn start() -> Holder {
        // Held from here on: dropped (killed, reaped) on every path.
        let holder = Holder(
            Command::new("unshare")
                .args(["-n", "sleep", "120"])
                .spawn()
                .unwrap(),
        );
        let own = std::fs::read_link("/proc/self/ns/net").unwrap();
        let path = format!("/proc/{}/ns/net", holder.pid());
        for _ in 0..200 {
            if std::fs::read_link(&path).is_ok_and(|ns| ns != own) {
                return holder;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("unshare -n did not enter a namespace of its own");
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// `ip` inside its namespace.
    fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .arg("ip")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // The child this test started, by its pid.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    store: Store,
    config: Network,
    pod: Pod,
}

fn setup(conflist: serde_json::Value) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
    let conf_dir = dir.path().join("net.d");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(conf_dir.join("10-test.conflist"), conflist.to_string()).unwrap();
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    let config = Network {
        conf_dir,
        bin_dirs: vec![dir.path().join("bin"), "/usr/lib/cni".into()],
        // The real plugins run here: a loaded machine has taken the
        // bridge plugin past 20 s.
        plugin_timeout: Duration::from_secs(120),
        pod_cidr: Network::DEFAULT_POD_CIDR.into(),
    };
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "uid-check"}
    }))
    .unwrap();
    Setup {
        dir,
        store,
        config,
        pod,
    }
}

fn attach_now(s: &Setup, holder: &Holder) -> Vec<IpAddr> {
    attach(
        &s.store,
        &s.config,
        &s.pod,
        holder.pid(),
        &Cancel::default(),
    )
    .unwrap()
}

#[test]
fn a_set_up_network_that_passes_check_is_kept_and_one_that_fails_is_redone() {
    let s = setup(json!({
        "cniVersion": "1.0.0", "name": "checknet", "plugins": [{"type": "rec"}]
    }));
    let log = s.dir.path().join("log");
    let fail = s.dir.path().join("fail-check");
    let plugin = s.dir.path().join("bin/rec");
    std::fs::write(
        &plugin,
        format!(
            r#"#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND" >> {log}
if [ "$CNI_COMMAND" = CHECK ] && [ -e {fail} ]; then
  echo '{{"cniVersion":"1.0.0","code":999,"msg":"eth0 is gone"}}'; exit 1
fi
if [ "$CNI_COMMAND" = ADD ]; then
  printf '%s' '{{"cniVersion":"1.0.0","interfaces":[{{"name":"eth0","sandbox":"/x"}}],"ips":[{{"interface":0,"address":"10.9.0.2/24"}}]}}'
fi
"#,
            log = log.display(),
            fail = fail.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let calls = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let holder = Holder::start();
    let ip: IpAddr = "10.9.0.2".parse().unwrap();
    assert_eq!(attach_now(&s, &holder), [ip]);
    assert_eq!(calls(), ["ADD"]);
    // Found set up: checked and kept.
    assert_eq!(attach_now(&s, &holder), [ip]);
    assert_eq!(calls(), ["ADD", "CHECK"]);
    // The check fails: torn down and set up again.
    std::fs::write(&fail, "").unwrap();
    assert_eq!(attach_now(&s, &holder), [ip]);
    assert_eq!(calls(), ["ADD", "CHECK", "CHECK", "DEL", "ADD"]);
    // Another pause process (a new namespace): no check, set up again.
    std::fs::remove_file(&fail).unwrap();
    let other = Holder::start();
    assert_eq!(attach_now(&s, &other), [ip]);
    assert_eq!(calls()[5..], ["DEL", "ADD"]);
    detach(&s.store, "uid-check").unwrap();
    assert!(Attachment::find(&cache_dir(s.store.root()), "uid-check").is_empty());

    // A list whose version has no CHECK (0.3.1): kept unchecked.
    std::fs::write(
        s.config.conf_dir.join("10-test.conflist"),
        json!({"cniVersion": "0.3.1", "name": "checknet", "plugins": [{"type": "rec"}]})
            .to_string(),
    )
    .unwrap();
    std::fs::write(&log, "").unwrap();
    std::fs::write(&fail, "").unwrap();
    attach_now(&s, &other);
    attach_now(&s, &other);
    assert_eq!(calls(), ["ADD"]);
    detach(&s.store, "uid-check").unwrap();
}

#[test]
fn debians_bridge_check_keeps_a_whole_network_and_catches_a_missing_interface() {
    let ipam = tempfile::tempdir().unwrap();
    let _bridge = Bridge("podt-chk");
    let s = setup(json!({
        "cniVersion": "1.0.0", "name": "checkbr", "plugins": [{
            "type": "bridge", "bridge": "podt-chk",
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.246.9.0/24"}]],
                     "dataDir": ipam.path()}
        }]
    }));
    let leased = ipam.path().join("checkbr");
    let holder = Holder::start();
    let first = attach_now(&s, &holder);
    assert_eq!(leases(&leased), [first[0].to_string()]);
    assert!(
        holder
            .ip(&["-o", "addr", "show", "eth0"])
            .contains(&format!("{}/24", first[0]))
    );
    // The plugins' CHECK passes: nothing is redone.
    assert_eq!(attach_now(&s, &holder), first);
    assert_eq!(leases(&leased), [first[0].to_string()]);
    // The pod's interface is removed behind the plugins' back: bridge's
    // CHECK fails, the network is torn down and set up again.
    holder.ip(&["link", "del", "eth0"]);
    let second = attach_now(&s, &holder);
    assert_ne!(second, first, "host-local hands out the next address");
    assert_eq!(leases(&leased), [second[0].to_string()]);
    assert!(
        holder
            .ip(&["-o", "addr", "show", "eth0"])
            .contains(&format!("{}/24", second[0]))
    );
    detach(&s.store, "uid-check").unwrap();
    assert_eq!(leases(&leased), Vec::<String>::new());
}
