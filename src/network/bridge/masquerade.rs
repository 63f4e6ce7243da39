//! Masquerade for traffic leaving the node from the built-in network:
//! one iptables rule per pod subnet for the whole node, where the CNI
//! bridge plugin's `ipMasq` adds a chain and rules per pod (and removes
//! them at DEL: most of its time). Pod-to-pod traffic (inside the
//! subnet) is left alone.
//!
//! The rule is checked once per node and subnet: a marker in the node's
//! directory under /run says it is in place (both go at a reboot); a
//! bridge made anew is checked again.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::ipam::Subnet;

/// The rule's words after the chain (the `-C`/`-A` argument).
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
        format!("pod network {bridge} {cidr}"),
        "-j".into(),
        "MASQUERADE".into(),
    ]
}

/// Makes sure the node masquerades `subnet`'s traffic leaving it.
pub fn ensure(node: &Path, bridge: &str, subnet: &Subnet, recheck: bool) -> Result<()> {
    let marker = node.join(format!("masquerade.{}_{}", subnet.network, subnet.prefix));
    if !recheck && marker.exists() {
        return Ok(());
    }
    let _lock = super::ipam::lock(node)?;
    if !recheck && marker.exists() {
        return Ok(());
    }
    let rule = rule(bridge, subnet);
    if !iptables("-C", &rule)? && !iptables("-A", &rule)? {
        bail!("iptables refused the masquerade rule for {subnet}");
    }
    // Forwarding is what makes the bridge a gateway (the bridge plugin's
    // isGateway turns it on too).
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").context("enabling IPv4 forwarding")?;
    std::fs::write(&marker, "").with_context(|| format!("writing {}", marker.display()))
}

/// Runs `iptables -w -t nat <op> POSTROUTING <rule>`: true if it succeeded.
fn iptables(op: &str, rule: &[String]) -> Result<bool> {
    let out = Command::new("iptables")
        .args(["-w", "-t", "nat", op, "POSTROUTING"])
        .args(rule)
        .output()
        .context("running iptables")?;
    if !out.status.success() && op != "-C" {
        bail!(
            "iptables {op} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.status.success())
}
