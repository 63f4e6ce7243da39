//! `port-forward`'s arguments as kubectl reads them: `[LOCAL:]REMOTE`
//! with REMOTE a number or a container port's name, `--address` a list of
//! IPs or `localhost`. Two passes, as in kubectl: the command resolves
//! named ports against the pod (`resolve`), then client-go's forwarder
//! parses what is left (`parse_ports`, `parse_addresses`); each pass has
//! its own messages, and which one a bad argument hits is part of them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::Pod;

use crate::api::field::go_quote;

/// A local port and the pod's port it forwards to. `local` 0 until a
/// listener picked one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardedPort {
    pub local: u16,
    pub remote: u16,
}

/// Go's `%v` of client-go's `[]ForwardedPort`: `[{8080 80} {0 90}]`.
pub fn go_list(ports: &[ForwardedPort]) -> String {
    let items: Vec<String> = ports
        .iter()
        .map(|p| format!("{{{} {}}}", p.local, p.remote))
        .collect();
    format!("[{}]", items.join(" "))
}

/// kubectl's `splitPort`: `L:R` is split, anything else (even `a:b:c`)
/// is both sides at once; client-go's parser rejects the odd forms later.
fn split_port(port: &str) -> (&str, &str) {
    let parts: Vec<&str> = port.split(':').collect();
    match parts.as_slice() {
        [local, remote] => (local, remote),
        _ => (parts[0], parts[0]),
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits that fit 64
/// bits. What fails it is taken for a port name.
fn atoi(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}

/// kubectl's `LookupContainerPortNumberByName`: app containers first,
/// then init containers (sidecars serve ports too).
fn named_port(pod: &Pod, name: &str) -> Result<i32, String> {
    let spec = pod.spec.as_ref();
    let containers = spec.map(|s| s.containers.iter()).into_iter().flatten();
    let init = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten();
    containers
        .chain(init)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref().unwrap_or_default() == name)
        .map(|p| p.container_port)
        .ok_or_else(|| {
            format!(
                "Pod '{}' does not have a named port '{name}'",
                pod.metadata.name.as_deref().unwrap_or_default()
            )
        })
}

/// kubectl's `checkUDPPortInPod`: a port the app containers publish
/// only over UDP cannot be forwarded (forwarding is TCP).
fn refuse_udp_only(pod: &Pod, ports: &[String]) -> Result<(), String> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for port in pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
    {
        match port.protocol.as_deref() {
            Some("UDP") => udp.push(i64::from(port.container_port)),
            Some("TCP") => tcp.push(i64::from(port.container_port)),
            _ => {}
        }
    }
    for port in ports {
        let (_, remote) = split_port(port);
        let number = match atoi(remote) {
            Some(n) => n,
            None => i64::from(named_port(pod, remote)?),
        };
        if udp.contains(&number) && !tcp.contains(&number) {
            return Err(format!("UDP protocol is not supported for {remote}"));
        }
    }
    Ok(())
}

/// kubectl's `Complete` for a pod: refuses UDP-only ports, then replaces
/// port names by the container's numbers (`8080:http` → `8080:80`,
/// `http` → `80`).
pub fn resolve(pod: &Pod, ports: &[String]) -> Result<Vec<String>, String> {
    refuse_udp_only(pod, ports)?;
    let mut out = Vec::new();
    for port in ports {
        let (local, remote) = split_port(port);
        if remote.is_empty() {
            return Err("remote port cannot be empty".into());
        }
        let number = match atoi(remote) {
            Some(_) => remote.to_string(),
            None => named_port(pod, remote)?.to_string(),
        };
        out.push(if local != remote {
            format!("{local}:{number}")
        } else {
            number
        });
    }
    Ok(out)
}

/// Go's `strconv.ParseUint(s, 10, 16)`, with its error text. Errors come
/// at the first character that makes one, as Go finds them.
fn parse_u16(s: &str) -> Result<u16, String> {
    let fail = |why: &str| format!("strconv.ParseUint: parsing {}: {why}", go_quote(s));
    if s.is_empty() {
        return Err(fail("invalid syntax"));
    }
    let mut n: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(fail("invalid syntax"));
        }
        n = n * 10 + u32::from(b - b'0');
        if n > u32::from(u16::MAX) {
            return Err(fail("value out of range"));
        }
    }
    Ok(n as u16)
}

/// client-go's `parsePorts`: `5000`, `8888:5000`, `:5000` and `0:5000`
/// (a random local port).
pub fn parse_ports(ports: &[String]) -> Result<Vec<ForwardedPort>, String> {
    if ports.is_empty() {
        return Err("you must specify at least 1 port".into());
    }
    let mut out = Vec::new();
    for port in ports {
        let parts: Vec<&str> = port.split(':').collect();
        let (local, remote) = match parts.as_slice() {
            [both] => (*both, *both),
            [local, remote] => (if local.is_empty() { "0" } else { local }, *remote),
            _ => return Err(format!("invalid port format '{port}'")),
        };
        let local =
            parse_u16(local).map_err(|e| format!("error parsing local port '{local}': {e}"))?;
        let remote =
            parse_u16(remote).map_err(|e| format!("error parsing remote port '{remote}': {e}"))?;
        if remote == 0 {
            return Err("remote port must be > 0".into());
        }
        out.push(ForwardedPort { local, remote });
    }
    Ok(out)
}

/// How a failed listener counts (client-go's failure modes): the two of
/// `localhost` fail the port only together; an address given by IP fails
/// it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    All,
    Any,
}

/// One address to listen on, as the user wrote it (what the messages
/// show) and as the socket binds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    pub text: String,
    pub ip: IpAddr,
    pub mode: FailureMode,
}

impl ListenAddress {
    /// Go's network name: `tcp4` or `tcp6`.
    pub fn network(&self) -> &'static str {
        match self.ip {
            IpAddr::V4(_) => "tcp4",
            IpAddr::V6(_) => "tcp6",
        }
    }

    /// Go's `net.JoinHostPort`: brackets around an IPv6 host.
    pub fn with_port(&self, port: u16) -> String {
        if self.text.contains(':') {
            format!("[{}]:{port}", self.text)
        } else {
            format!("{}:{port}", self.text)
        }
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An IPv4 address as Kubernetes' `ParseIPSloppy` reads it: leading zeros
/// allowed, and decimal (`010.0.0.1` is 10.0.0.1).
fn sloppy_ipv4(s: &str) -> Option<Ipv4Addr> {
    let fields: Vec<&str> = s.split('.').collect();
    if fields.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (octet, field) in octets.iter_mut().zip(fields) {
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value = field
            .bytes()
            .fold(0u32, |n, b| (n * 10 + u32::from(b - b'0')).min(256));
        *octet = u8::try_from(value).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// client-go's `parseAddresses`: `localhost` is 127.0.0.1 and ::1, any
/// other value an IP; sorted by their text, one entry per text.
pub fn parse_addresses(addresses: &[String]) -> Result<Vec<ListenAddress>, String> {
    // pflag reads `--address=` as an empty list.
    let addresses: Vec<&String> = match addresses {
        [only] if only.is_empty() => Vec::new(),
        all => all.iter().collect(),
    };
    if addresses.is_empty() {
        return Err("you must specify at least 1 address".into());
    }
    let mut parsed: BTreeMap<String, ListenAddress> = BTreeMap::new();
    let entry = |text: &str, ip: IpAddr, mode| {
        let text = text.to_string();
        (text.clone(), ListenAddress { text, ip, mode })
    };
    for address in addresses {
        if address == "localhost" {
            for (text, ip) in [
                ("127.0.0.1", IpAddr::V4(Ipv4Addr::LOCALHOST)),
                ("::1", IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ] {
                if !parsed.contains_key(text) {
                    let (k, v) = entry(text, ip, FailureMode::All);
                    parsed.insert(k, v);
                }
            }
            continue;
        }
        let ip = if let Some(v4) = sloppy_ipv4(address) {
            IpAddr::V4(v4)
        } else if let Ok(v6) = address.parse::<Ipv6Addr>() {
            // Go's `To4` takes an IPv4-mapped address for IPv4 (tcp4).
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        } else {
            return Err(format!("{address} is not a valid IP"));
        };
        let (k, v) = entry(address, ip, FailureMode::Any);
        parsed.insert(k, v);
    }
    Ok(parsed.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {
                "initContainers": [{"name": "proxy", "restartPolicy": "Always",
                    "ports": [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]}],
                "containers": [{"name": "httpd", "ports": [
                    {"name": "http", "containerPort": 80, "protocol": "TCP"},
                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                    {"name": "both", "containerPort": 5353, "protocol": "UDP"},
                    {"containerPort": 5353, "protocol": "TCP"}
                ]}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn names_become_the_container_ports() {
        let got = resolve(
            &pod(),
            &strings(&["8080:http", "http", ":http", "metrics", "81"]),
        );
        assert_eq!(
            got.unwrap(),
            strings(&["8080:80", "80", ":80", "9090", "81"])
        );
    }

    #[test]
    fn kubectl_refuses_unknown_names_empty_remotes_and_udp() {
        let err = |ports: &[&str]| resolve(&pod(), &strings(ports)).unwrap_err();
        assert_eq!(
            err(&["8080:https"]),
            "Pod 'web' does not have a named port 'https'"
        );
        // An empty remote matches an unnamed port in the UDP check (as in
        // kubectl), then is refused.
        assert_eq!(err(&["8080:"]), "remote port cannot be empty");
        assert_eq!(err(&["dns"]), "UDP protocol is not supported for dns");
        assert_eq!(err(&["9000:53"]), "UDP protocol is not supported for 53");
        // A port published over both protocols is forwarded.
        assert_eq!(resolve(&pod(), &strings(&["both"])).unwrap(), ["5353"]);
    }

    #[test]
    fn client_go_parses_the_forms_it_knows() {
        let p = |local, remote| ForwardedPort { local, remote };
        assert_eq!(
            parse_ports(&strings(&["5000", "8888:5000", ":5000", "0:5000"])).unwrap(),
            [p(5000, 5000), p(8888, 5000), p(0, 5000), p(0, 5000)]
        );
        let err = |port: &str| parse_ports(&strings(&[port])).unwrap_err();
        assert_eq!(err("1:2:3"), "invalid port format '1:2:3'");
        assert_eq!(err("0"), "remote port must be > 0");
        assert_eq!(
            err("70000"),
            "error parsing local port '70000': strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(
            err("x:80"),
            "error parsing local port 'x': strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            err("80:+81"),
            "error parsing remote port '+81': strconv.ParseUint: parsing \"+81\": invalid syntax"
        );
        // Go finds the overflow before the stray character after it.
        assert!(err("99999x").ends_with("value out of range"));
        assert_eq!(go_list(&[p(8080, 80), p(0, 90)]), "[{8080 80} {0 90}]");
    }

    #[test]
    fn localhost_is_both_loopbacks_and_addresses_sort_by_text() {
        let got = parse_addresses(&strings(&["localhost"])).unwrap();
        let texts: Vec<_> = got.iter().map(|a| (a.to_string(), a.network())).collect();
        assert_eq!(
            texts,
            [("127.0.0.1".into(), "tcp4"), ("::1".into(), "tcp6")]
        );
        assert!(got.iter().all(|a| a.mode == FailureMode::All));
        assert_eq!(got[1].with_port(8080), "[::1]:8080");

        let got = parse_addresses(&strings(&["localhost", "127.0.0.1", "010.0.0.1"])).unwrap();
        let texts: Vec<_> = got.iter().map(|a| (a.to_string(), a.mode)).collect();
        assert_eq!(
            texts,
            [
                ("010.0.0.1".into(), FailureMode::Any),
                ("127.0.0.1".into(), FailureMode::Any),
                ("::1".into(), FailureMode::All)
            ]
        );
        assert_eq!(got[0].ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));

        let mapped = parse_addresses(&strings(&["::ffff:127.0.0.1"])).unwrap();
        assert_eq!(mapped[0].network(), "tcp4");
        assert_eq!(mapped[0].with_port(1), "[::ffff:127.0.0.1]:1");
    }

    #[test]
    fn bad_addresses_are_named() {
        let err = |a: &[&str]| parse_addresses(&strings(a)).unwrap_err();
        assert_eq!(err(&["example.com"]), "example.com is not a valid IP");
        assert_eq!(err(&["256.0.0.1"]), "256.0.0.1 is not a valid IP");
        assert_eq!(err(&["fe80::1%eth0"]), "fe80::1%eth0 is not a valid IP");
        assert_eq!(err(&[""]), "you must specify at least 1 address");
    }
}
