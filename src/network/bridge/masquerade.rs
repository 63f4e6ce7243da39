//! Masquerade for traffic leaving the node from the built-in network:
//! one iptables rule per pod subnet for the whole node, where the CNI
//! bridge plugin's `ipMasq` adds a chain and rules per pod (and removes
//! them at DEL: most of its time). Pod-to-pod traffic (inside the
//! subnet) is left alone.
//!
//! Every ADD makes sure the rule is there, as someone may have flushed
//! it (`iptables -t nat -F POSTROUTING`, a firewall reload). Asking
//! iptables (`-C`, an exec reading the whole table) on every ADD would
//! cost milliseconds, so the check is keyed to the nf_tables ruleset's
//! generation, which the kernel bumps on every change of any table and
//! gives in one netlink message (`NFT_MSG_GETGEN`, microseconds): a
//! marker in the node's directory under /run holds the generation at
//! which the rule was last seen in place, and while the generation is
//! the same nothing can have removed it. Any change (another pod's
//! portmap rules, a flush) makes the next ADD ask iptables again. With
//! iptables' legacy back end, whose tables have no generation, every ADD
//! asks.
//!
//! GC ([`collect`]) removes the rule of a subnet in which no pod of the
//! node has an address (one `podCIDR` used before, or another state
//! root's), the node's own podCIDR's excepted.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::ipam::Subnet;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// The comment that marks the rules of `bridge`'s subnets.
fn comment_prefix(bridge: &str) -> String {
    format!("pod network {bridge} ")
}

/// The rule's words after the chain (the `-C`/`-A`/`-D` argument).
pub fn rule(bridge: &str, subnet: &Subnet) -> Vec<String> {
    let cidr = subnet.to_string();
    vec![
        "-s".into(),
        cidr.clone(),
        "!".into(),
        "-d".into(),
        cidr.clone(),
        "-m".into(),
        "comment".into(),
        "--comment".into(),
        format!("{}{cidr}", comment_prefix(bridge)),
        "-j".into(),
        "MASQUERADE".into(),
    ]
}

fn marker(node: &Path, subnet: &Subnet) -> PathBuf {
    node.join(format!("masquerade.{}_{}", subnet.network, subnet.prefix))
}

/// Whether the marker says the rule was in place at the ruleset's
/// current generation, with forwarding on.
fn still_in_place(marker: &Path) -> bool {
    let Some(seen) = std::fs::read_to_string(marker)
        .ok()
        .and_then(|t| t.trim().strip_prefix("nft ")?.parse::<u32>().ok())
    else {
        return false;
    };
    ruleset_generation() == Some(seen)
        && std::fs::read(IP_FORWARD).is_ok_and(|v| v.first() == Some(&b'1'))
}

/// Makes sure the node masquerades `subnet`'s traffic leaving it (see
/// the module); `recheck`: ask iptables whatever the marker says (a
/// bridge made anew).
pub fn ensure(node: &Path, bridge: &str, subnet: &Subnet, recheck: bool) -> Result<()> {
    let marker = marker(node, subnet);
    if !recheck && still_in_place(&marker) {
        return Ok(());
    }
    let _rules = rules_lock(node)?;
    if !recheck && still_in_place(&marker) {
        return Ok(());
    }
    let before = ruleset_generation();
    let rule = rule(bridge, subnet);
    let added = if iptables("-C", &rule)? {
        false
    } else if iptables("-A", &rule)? {
        true
    } else {
        bail!("iptables refused the masquerade rule for {subnet}");
    };
    // Forwarding is what makes the bridge a gateway (the bridge plugin's
    // isGateway turns it on too).
    std::fs::write(IP_FORWARD, "1").context("enabling IPv4 forwarding")?;
    // The generation is trusted only if nothing but this append changed
    // the ruleset between the two reads, and iptables' tables are the
    // nf_tables ones (not the legacy back end's).
    let after = ruleset_generation();
    let seen = match (before, after) {
        (Some(b), Some(a)) if a == b.wrapping_add(u32::from(added)) && nft_backend() => {
            format!("nft {a}")
        }
        _ => String::new(),
    };
    std::fs::write(&marker, seen).with_context(|| format!("writing {}", marker.display()))
}

/// GC: removes the masquerade rules of `bridge` for subnets in which
/// `in_use` (called with the node's lock held) finds no address. Returns
/// the subnets whose rule went.
pub fn collect(node: &Path, bridge: &str, in_use: impl Fn(&Subnet) -> bool) -> Result<Vec<Subnet>> {
    let out = run_iptables(&["-w", "-t", "nat", "-S", "POSTROUTING"], &[])?;
    if !out.status.success() {
        bail!(
            "iptables -S failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let prefix = comment_prefix(bridge);
    let subnets: Vec<Subnet> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("-j MASQUERADE"))
        .filter_map(|l| {
            // `--comment "pod network pod0 10.244.0.0/16"`
            let cidr = l.split(&prefix).nth(1)?.split('"').next()?;
            Subnet::parse(cidr).ok()
        })
        .collect();
    let mut removed = Vec::new();
    if subnets.is_empty() {
        return Ok(removed);
    }
    // Under the lock an ADD allocates its address with: one that takes an
    // address in a subnet after this looked finds the rule gone (the
    // generation changed) and puts it back.
    let _lock = super::ipam::lock(node)?;
    let _rules = rules_lock(node)?;
    for subnet in subnets {
        if in_use(&subnet) {
            continue;
        }
        let _ = std::fs::remove_file(marker(node, &subnet));
        iptables("-D", &rule(bridge, &subnet))?;
        removed.push(subnet);
    }
    Ok(removed)
}

/// The lock the node's masquerade rules are checked and changed under,
/// apart from the address index's: an iptables exec takes tens to
/// hundreds of milliseconds on a loaded machine, and every ADD after any
/// change of the ruleset (another pod's host ports) runs one; under the
/// index's lock, every DEL freeing an address and every ADD taking one
/// waited for them in turn, so a sandbox's teardown could wait more than
/// a minute while a hundred pods started at a load of 27. [`collect`]
/// takes both, the index's first: no address is taken in a subnet while
/// its rule goes.
fn rules_lock(node: &Path) -> Result<std::fs::File> {
    let path = node.join("masquerade.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

/// Runs `iptables ARGS` to its end. In a supervisor (a subreaper whose
/// reaper collects every child) `Command::output` could find its child
/// already reaped (ECHILD): the child is registered with the reaper.
fn run_iptables(args: &[&str], rule: &[String]) -> Result<std::process::Output> {
    use std::io::Read;
    let mut command = Command::new("iptables");
    command
        .args(args)
        .args(rule)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let (pid, mut child) = crate::process::exits::spawn(|| {
        let child = command.spawn()?;
        Ok((child.id() as i32, child))
    })
    .context("running iptables")?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    // Its error output is a line or two: read after the table it prints.
    let read = child
        .stdout
        .take()
        .map_or(Ok(0), |mut o| o.read_to_end(&mut stdout))
        .and_then(|_| {
            child
                .stderr
                .take()
                .map_or(Ok(0), |mut e| e.read_to_end(&mut stderr))
        });
    let status = crate::process::exits::wait(pid).context("waiting for iptables")?;
    read.context("reading iptables' output")?;
    Ok(std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout,
        stderr,
    })
}

/// Runs `iptables -w -t nat <op> POSTROUTING <rule>`: true if it succeeded.
fn iptables(op: &str, rule: &[String]) -> Result<bool> {
    let out = run_iptables(&["-w", "-t", "nat", op, "POSTROUTING"], rule)?;
    if !out.status.success() && op != "-C" {
        bail!(
            "iptables {op} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.status.success())
}

/// Whether `iptables` is the nf_tables back end (`iptables -V`:
/// `iptables v1.8.9 (nf_tables)`).
fn nft_backend() -> bool {
    run_iptables(&["-V"], &[])
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("nf_tables"))
}

/// The nf_tables ruleset's generation in this network namespace (one
/// `NFT_MSG_GETGEN` request on a netfilter netlink socket); None when
/// the kernel does not answer it (no nf_tables).
pub fn ruleset_generation() -> Option<u32> {
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_GETGEN: u16 = 16;
    const NFT_MSG_NEWGEN: u16 = 15;
    const NFTA_GEN_ID: u16 = 1;
    // SAFETY: socket(2); the descriptor is owned from here on.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a descriptor this function just made.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // nlmsghdr (len, type, flags, seq, pid) and nfgenmsg (family,
    // version, res_id), native endian but for res_id.
    let mut request = [0u8; 20];
    request[0..4].copy_from_slice(&20u32.to_ne_bytes());
    request[4..6].copy_from_slice(&(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN).to_ne_bytes());
    request[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    request[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: send(2) of a buffer of that length; the kernel is the
    // destination of an unbound netlink socket.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
        )
    };
    if sent != request.len() as isize {
        return None;
    }
    let mut answer = [0u8; 512];
    // SAFETY: recv(2) into a buffer of that length.
    let got = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            answer.as_mut_ptr().cast(),
            answer.len(),
            0,
        )
    };
    let answer = answer.get(..usize::try_from(got).ok()?)?;
    let u16_at = |at: usize| Some(u16::from_ne_bytes(answer.get(at..at + 2)?.try_into().ok()?));
    let length = u32::from_ne_bytes(answer.get(0..4)?.try_into().ok()?) as usize;
    if u16_at(4)? != NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN {
        return None;
    }
    // Attributes after the 16-byte header and the 4-byte nfgenmsg.
    let mut at = 20;
    while at + 4 <= length.min(answer.len()) {
        let size = usize::from(u16_at(at)?);
        if size < 4 {
            return None;
        }
        if u16_at(at + 2)? & 0x3fff == NFTA_GEN_ID {
            return Some(u32::from_be_bytes(
                answer.get(at + 4..at + 8)?.try_into().ok()?,
            ));
        }
        at += (size + 3) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_names_its_bridge_and_subnet_in_its_comment() {
        let subnet = Subnet::parse("10.244.0.0/16").unwrap();
        let rule = rule("pod0", &subnet);
        assert_eq!(rule[8], "pod network pod0 10.244.0.0/16");
        assert!(rule[8].starts_with(&comment_prefix("pod0")));
    }

    /// In a network namespace of the test's own (a thread's: the
    /// iptables it runs are in it too), never the host's tables.
    #[test]
    fn a_removed_rule_is_put_back_by_the_next_ensure_and_gc_removes_an_unused_one() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().to_path_buf();
        std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let subnet = Subnet::parse("10.251.0.0/24").unwrap();
            let present = || iptables("-C", &rule("podt0", &subnet)).unwrap();
            let marker = marker(&node, &subnet);
            assert!(!present());
            ensure(&node, "podt0", &subnet, false).unwrap();
            assert!(present());
            // Seen in place at the current generation: the next ADD asks
            // the kernel, not iptables.
            let generation = ruleset_generation().expect("nf_tables answers GETGEN");
            assert_eq!(
                std::fs::read_to_string(&marker).unwrap(),
                format!("nft {generation}")
            );
            assert!(still_in_place(&marker));
            ensure(&node, "podt0", &subnet, false).unwrap();
            assert_eq!(ruleset_generation(), Some(generation));

            // A flush, as a firewall reload does: the next ensure sees
            // the generation moved, asks iptables, puts the rule back.
            let flushed = Command::new("iptables")
                .args(["-w", "-t", "nat", "-F", "POSTROUTING"])
                .status()
                .unwrap();
            assert!(flushed.success());
            assert!(!present());
            assert!(!still_in_place(&marker));
            ensure(&node, "podt0", &subnet, false).unwrap();
            assert!(present());
            assert!(still_in_place(&marker));

            // GC keeps the rule of a subnet with an address in use, and
            // removes it (and its marker) once there is none.
            assert_eq!(collect(&node, "podt0", |_| true).unwrap(), []);
            assert!(present());
            assert_eq!(collect(&node, "podt0", |_| false).unwrap(), [subnet]);
            assert!(!present());
            assert!(!marker.exists());
            // Another bridge's rules are not its own.
            ensure(&node, "podt0", &subnet, false).unwrap();
            assert_eq!(collect(&node, "podt9", |_| false).unwrap(), []);
            assert!(present());
        })
        .join()
        .unwrap();
    }
}
