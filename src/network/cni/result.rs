//! A plugin's result: kept whole (it is the next plugin's `prevResult`
//! and what DEL is given), read only for the pod's addresses.

use std::net::IpAddr;

use serde_json::Value;

/// The addresses a result gives the interface `ifname` in the pod's
/// namespace, as containerd chooses them: the `ips` (spec 0.3 to 1.x)
/// whose `interface` is that interface; with no interface information,
/// every address. Spec 0.1/0.2 results (`ip4`, `ip6`) are read too.
pub fn pod_addresses(result: &Value, ifname: &str) -> Result<Vec<IpAddr>, String> {
    let interfaces = result
        .get("interfaces")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_pods = |index: Option<u64>| -> bool {
        let Some(iface) = index.and_then(|i| interfaces.get(i as usize)) else {
            // No (or a dangling) index: nothing says it is not the pod's.
            return true;
        };
        let sandbox = iface
            .get("sandbox")
            .and_then(Value::as_str)
            .unwrap_or_default();
        iface.get("name").and_then(Value::as_str) == Some(ifname) && !sandbox.is_empty()
    };
    let mut found = Vec::new();
    if let Some(ips) = result.get("ips").and_then(Value::as_array) {
        for (i, ip) in ips.iter().enumerate() {
            let address = ip
                .get("address")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("result ips[{i}] has no address"))?;
            if is_pods(ip.get("interface").and_then(Value::as_u64)) {
                found.push(
                    parse_cidr_address(address).map_err(|e| format!("result ips[{i}]: {e}"))?,
                );
            }
        }
    }
    for key in ["ip4", "ip6"] {
        if let Some(address) = result
            .get(key)
            .and_then(|v| v.get("ip"))
            .and_then(Value::as_str)
        {
            found.push(parse_cidr_address(address).map_err(|e| format!("result {key}: {e}"))?);
        }
    }
    Ok(found)
}

/// The address of `10.244.0.5/16`.
fn parse_cidr_address(text: &str) -> Result<IpAddr, String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not an address/prefix length"))?;
    prefix
        .parse::<u8>()
        .map_err(|_| format!("{text:?} has an invalid prefix length"))?;
    address
        .parse()
        .map_err(|_| format!("{text:?} has an invalid address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pods_interface_addresses_are_chosen() {
        // What bridge 1.1.1 returns.
        let bridge = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "pod0", "mac": "56:91:96:50:d3:2f"},
                {"name": "veth0dc45c41", "mac": "aa:17:84:ef:2e:a9"},
                {"name": "eth0", "mac": "a6:bc:05:d7:82:51", "sandbox": "/run/pod/pods/u/netns"}
            ],
            "ips": [
                {"interface": 2, "address": "10.244.0.2/16", "gateway": "10.244.0.1"},
                {"interface": 0, "address": "10.244.0.1/16"},
                {"interface": 2, "address": "fd00::2/64"}
            ]
        });
        assert_eq!(
            pod_addresses(&bridge, "eth0").unwrap(),
            [
                "10.244.0.2".parse::<IpAddr>().unwrap(),
                "fd00::2".parse().unwrap()
            ]
        );
        let bare =
            json!({"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.1.0.9/24"}]});
        assert_eq!(
            pod_addresses(&bare, "eth0").unwrap(),
            ["10.1.0.9".parse::<IpAddr>().unwrap()]
        );
        let old = json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.2.0.3/16"}});
        assert_eq!(
            pod_addresses(&old, "eth0").unwrap(),
            ["10.2.0.3".parse::<IpAddr>().unwrap()]
        );
        assert!(
            pod_addresses(&json!({"cniVersion": "1.0.0"}), "eth0")
                .unwrap()
                .is_empty()
        );
        let bad = json!({"ips": [{"address": "10.0.0.1"}]});
        assert_eq!(
            pod_addresses(&bad, "eth0").unwrap_err(),
            "result ips[0]: \"10.0.0.1\" is not an address/prefix length"
        );
    }
}
