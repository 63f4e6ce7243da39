//! `pod port-forward`: relay local ports to ports of a pod.

use anyhow::{Result, bail};
use clap_complete::engine::ArgValueCompleter;

use super::{GlobalArgs, candidates};
use crate::api::{Kind, Object};
use crate::pods::portforward::{self, ports};
use crate::pods::session::target::pod_name;

#[derive(Debug, clap::Args)]
#[command(
    override_usage = "pod port-forward (POD | TYPE/NAME) [--address ADDR,...] [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
    after_help = "Examples:
  # Listen on ports 5000 and 6000 locally, forwarding to ports 5000 and 6000 in the pod
  pod port-forward pod/mypod 5000 6000

  # Listen on port 8888 locally, forwarding to 5000 in the pod
  pod port-forward pod/mypod 8888:5000

  # Listen on a random local port, forwarding to the container port named http
  pod port-forward mypod :http

  # Listen on port 8888 on all addresses, forwarding to 5000 in the pod
  pod port-forward --address 0.0.0.0 pod/mypod 8888:5000"
)]
pub struct Args {
    /// The pod (POD or pod/POD)
    #[arg(add = ArgValueCompleter::new(candidates::pods))]
    pub pod: Option<String>,

    /// A port of the pod (a number or a container port's name), after the
    /// local port to listen on (empty or 0: a random one)
    #[arg(
        value_name = "[LOCAL_PORT:]REMOTE_PORT",
        add = ArgValueCompleter::new(candidates::ports)
    )]
    pub ports: Vec<String>,

    /// Addresses to listen on (comma separated): IP addresses, or localhost
    /// for both 127.0.0.1 and ::1 (it fails only if neither can be bound)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "localhost",
        value_name = "ADDR"
    )]
    pub address: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: Args) -> Result<()> {
    let Some(pod) = args.pod.filter(|_| !args.ports.is_empty()) else {
        bail!(
            "TYPE/NAME and list of ports are required for port-forward; see 'pod port-forward --help'"
        );
    };
    let store = global.store()?;
    let name = pod_name(&pod)?;
    let Object::Pod(pod) =
        crate::objects::get_required(&store, Kind::Pod, &global.namespace, name)?
    else {
        unreachable!("the store returns the kind it is asked for")
    };
    let ports = ports::resolve(&pod, &args.ports).map_err(anyhow::Error::msg)?;
    portforward::run(&store, &pod, &ports, &args.address)
}
