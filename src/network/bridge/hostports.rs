//! Host ports of pods on the built-in network, published by the CNI
//! portmap plugin: its DNAT chains, hairpin SNAT and localhost routing
//! are not rewritten here. It runs only for pods that have host ports,
//! as a network list of its own (`pod-hostports`, portmap alone) given
//! the built-in attachment's result as its `prevResult`, and is cached
//! as any CNI attachment is, so that the CNI client's DEL (from the
//! cache, with that result) takes the rules down.

use std::path::Path;

use serde_json::{Value, json};

use crate::network::cni::{self, Attachment, Cancel, Error, ExecError, NetworkList, exec};

/// The list's name (its attachment is cached as
/// `pod-hostports-<uid>-<ifname>`).
pub const NETWORK: &str = "pod-hostports";

fn list() -> NetworkList {
    NetworkList::from_list(json!({
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [{"type": "portmap", "capabilities": {"portMappings": true}}]
    }))
    .expect("the host port list is valid")
}

/// ADD of portmap for the attachment whose result is `result`.
pub fn add(
    cache_dir: &Path,
    runtime: &cni::Runtime,
    result: &Value,
    cancel: Option<&Cancel>,
) -> Result<(), Error> {
    let list = list();
    let mut attachment = Attachment::new(&list, runtime);
    attachment.result = Some(result.clone());
    // Cached first: a crash while portmap runs still gets its DEL.
    attachment.save(cache_dir).map_err(Error::Other)?;
    let failed = |cause: ExecError| Error::Plugin {
        kind: "portmap".into(),
        network: NETWORK.into(),
        op: "add",
        cause,
    };
    let plugin =
        exec::find("portmap", &runtime.bin_dirs).map_err(|e| failed(ExecError::Start(e)))?;
    let args = runtime
        .args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    let netns = runtime.netns.display().to_string();
    let invocation = exec::Invocation {
        command: "ADD",
        container_id: &runtime.container_id,
        netns: &netns,
        ifname: &runtime.ifname,
        args: &args,
        path: &runtime.bin_dirs,
        timeout: runtime.timeout,
    };
    let stdin = list.plugin_stdin(0, Some(result), &runtime.capability_args, None);
    exec::run(&plugin, &invocation, stdin, cancel).map_err(failed)?;
    Ok(())
}
