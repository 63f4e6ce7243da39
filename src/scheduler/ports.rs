//! Host ports (the NodePorts filter and `HostPortInfo`): a pod's host
//! ports and whether one of them is taken on the node.

use k8s_openapi::api::core::v1::PodSpec;

/// A host port: address (0.0.0.0 when left out), protocol (TCP when left
/// out) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

/// The host ports of a pod's long-running containers: its containers and
/// sidecars (`GetHostPorts`); a hostPort of 0 is none.
pub fn host_ports(spec: &PodSpec) -> Vec<HostPort> {
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    sidecars
        .chain(&spec.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|&h| h > 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p
                    .protocol
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "TCP".into()),
                port,
            })
        })
        .collect()
}

/// Whether `want` collides with a port in `used` (`CheckConflict`): the
/// same protocol and port on the same address, or with either address
/// being 0.0.0.0.
pub fn conflicts(want: &HostPort, used: &[HostPort]) -> bool {
    used.iter().any(|u| {
        u.protocol == want.protocol
            && u.port == want.port
            && (want.ip == "0.0.0.0" || u.ip == "0.0.0.0" || u.ip == want.ip)
    })
}
