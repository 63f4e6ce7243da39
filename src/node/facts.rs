//! Facts about this node, the one machine `pod` runs pods on: its name,
//! its address and its capacity. The supervisor binds pods to the node and
//! reports its address in their status; the runtime resolves fieldRef and
//! resourceFieldRef (`spec.nodeName`, unset limits) from the same facts.

/// The machine's hostname as the kubelet takes it for the node's name
/// when `--hostname-override` is unset (`nodeutil.GetHostname`): trimmed
/// and lower-cased.
pub fn name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The node's name: the configuration's `hostnameOverride`, else the
/// hostname.
pub fn name_in(config: &super::config::NodeConfig) -> String {
    config.hostname_override.clone().unwrap_or_else(name)
}

/// The name of the node whose state is `store`: what pods are bound to.
/// A configuration that cannot be read is reported by whatever reads it
/// for its other fields; the hostname stands in here.
pub fn name_of(store: &crate::store::Store) -> String {
    crate::node::config::NodeConfig::of(store)
        .map(|config| name_in(&config))
        .unwrap_or_else(|_| name())
}

/// A hostname (override) as the kubelet takes it, trimmed and lower-cased,
/// checked to be a name a Node can have.
pub fn check_name(hostname: &str) -> Result<String, String> {
    let name = hostname.trim().to_lowercase();
    if name.is_empty() {
        return Err("empty hostname is invalid".into());
    }
    let errs = crate::api::validation::names::dns1123_subdomain(&name);
    if !errs.is_empty() {
        return Err(format!("node name {name:?}: {}", errs.join("; ")));
    }
    Ok(name)
}

/// The host's primary address as the kernel would pick it for an outgoing
/// packet (a UDP connect sends nothing), or loopback.
pub fn host_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

/// The node's CPU capacity: the CPUs this process may run on.
pub fn cpus() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
}

/// The node's memory capacity in bytes (MemTotal), or 0 when unknown.
pub fn memory_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_has_a_name_an_address_and_capacity() {
        assert!(!super::name().is_empty());
        assert!(super::host_ip().parse::<std::net::IpAddr>().is_ok());
        assert!(super::cpus() >= 1);
        assert!(super::memory_bytes() > 0);
    }
}
