//! Which pod and container a session is for, with kubectl's messages:
//! the completed-pod refusal, `Defaulted container "x" out of: …`, the
//! default-container annotation.

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};

use crate::api::ApiError;
use crate::api::Kind;
use crate::api::Object;
use crate::store::Store;

/// kubectl's annotation naming the container that `exec`, `attach` and
/// `logs` use when `-c` is not given.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// How long a session waits for a container being created to be reported
/// running (see [`Target::resolve`]).
const STARTING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// What the session is about to do, for kubectl's completed-pod message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Exec,
    Attach,
}

/// A pod and one of its containers.
#[derive(Debug)]
pub struct Target {
    pub pod: Pod,
    pub container: Container,
}

impl Target {
    /// Reads the pod named `pod` (`NAME` or `pod/NAME`), refuses a
    /// completed one, and picks the container: `-c`, else the annotation,
    /// else the first (saying so on stderr when there was a choice).
    pub fn resolve(
        store: &Store,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        verb: Verb,
    ) -> Result<Target> {
        let name = pod_name(pod)?;
        let Object::Pod(mut pod) = store.get_required(Kind::Pod, namespace, name)? else {
            unreachable!("the store returns the kind it is asked for")
        };
        // Its supervisor and keeper died: a new one adopts it, and attach
        // has a supervisor to ask again.
        if crate::pods::revive(store, &[&pod]) == [true]
            && let Object::Pod(again) = store.get_required(Kind::Pod, namespace, name)?
        {
            pod = again;
        }
        let pod = *pod;
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if let Some(phase @ ("Succeeded" | "Failed")) = phase {
            match verb {
                Verb::Exec => bail!(
                    "cannot exec into a container in a completed pod; current phase is {phase}"
                ),
                Verb::Attach => {
                    bail!("cannot attach a container in a completed pod; current phase is {phase}")
                }
            }
        }
        let container = pick_container(&pod, container, &mut std::io::stderr())?;
        let mut target = Target { pod, container };
        // A container whose start is under way may already run (and have
        // written its first lines) before the supervisor's status says so:
        // its next status is waited for, briefly, rather than refused.
        let deadline = std::time::Instant::now() + STARTING_PATIENCE;
        while target.starting() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            if let Object::Pod(again) = store.get_required(Kind::Pod, namespace, name)? {
                target.pod = *again;
            }
        }
        Ok(target)
    }

    /// Whether the chosen container's status says it is being created.
    fn starting(&self) -> bool {
        self.status()
            .and_then(|s| s.state.as_ref())
            .and_then(|s| s.waiting.as_ref())
            .is_some_and(|w| w.reason.as_deref() == Some("ContainerCreating"))
    }

    pub fn pod_name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    /// The status of the chosen container, if the supervisor reported one.
    pub fn status(&self) -> Option<&ContainerStatus> {
        let status = self.pod.status.as_ref()?;
        status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
            .chain(status.ephemeral_container_statuses.iter().flatten())
            .find(|s| s.name == self.container.name)
    }

    /// Refuses a container that is not running, in the kubelet's words.
    pub fn require_running(&self) -> Result<()> {
        let running = self
            .status()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| s.running.is_some());
        if !running {
            bail!(
                "unable to upgrade connection: container not found ({:?})",
                self.container.name
            );
        }
        Ok(())
    }
}

/// `NAME`, `pod/NAME`, `pods/NAME`, `po/NAME`.
pub fn pod_name(arg: &str) -> Result<&str> {
    match arg.split_once('/') {
        None => Ok(arg),
        Some((kind, name)) if Kind::parse(kind).ok() == Some(Kind::Pod) && !name.is_empty() => {
            Ok(name)
        }
        Some(_) => Err(ApiError::Refused {
            reason: "BadRequest".into(),
            message: format!("{arg:?} is not a pod (use POD or pod/POD)"),
        }
        .into()),
    }
}

/// kubectl's `podcmd.FindOrDefaultContainerByName`.
fn pick_container(
    pod: &Pod,
    name: Option<&str>,
    warn: &mut dyn std::io::Write,
) -> Result<Container> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let Some(spec) = &pod.spec else {
        bail!("pod {pod_name} has no containers");
    };
    let find = |wanted: &str| -> Option<Container> {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == wanted)
            .cloned()
            .or_else(|| {
                // An ephemeral container has the fields exec needs.
                spec.ephemeral_containers
                    .iter()
                    .flatten()
                    .find(|c| c.name == wanted)
                    .map(|e| Container {
                        name: e.name.clone(),
                        image: e.image.clone(),
                        stdin: e.stdin,
                        stdin_once: e.stdin_once,
                        tty: e.tty,
                        ..Default::default()
                    })
            })
    };
    if let Some(name) = name {
        return find(name)
            .ok_or_else(|| anyhow::anyhow!("container {name} not found in pod {pod_name}"));
    }
    let annotation = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CONTAINER_ANNOTATION));
    if let Some(wanted) = annotation.filter(|a| !a.is_empty()) {
        if let Some(container) = find(wanted) {
            return Ok(container);
        }
        let _ = writeln!(
            warn,
            "Warning: default container name {wanted:?} not found in pod {pod_name}"
        );
    }
    let Some(first) = spec.containers.first() else {
        bail!("pod {pod_name} does not have a default container");
    };
    let others = spec.containers.len() > 1
        || spec.init_containers.as_ref().is_some_and(|i| !i.is_empty())
        || spec
            .ephemeral_containers
            .as_ref()
            .is_some_and(|e| !e.is_empty());
    if others {
        let _ = writeln!(
            warn,
            "Defaulted container {:?} out of: {}",
            first.name,
            all_container_names(pod)
        );
    }
    Ok(first.clone())
}

/// kubectl's `podcmd.AllContainerNames`: `a, b, debug (ephem), setup (init)`.
fn all_container_names(pod: &Pod) -> String {
    let Some(spec) = &pod.spec else {
        return String::new();
    };
    let names: Vec<String> = spec
        .containers
        .iter()
        .map(|c| c.name.clone())
        .chain(
            spec.ephemeral_containers
                .iter()
                .flatten()
                .map(|c| format!("{} (ephem)", c.name)),
        )
        .chain(
            spec.init_containers
                .iter()
                .flatten()
                .map(|c| format!("{} (init)", c.name)),
        )
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(annotation: Option<&str>) -> Pod {
        let mut value = serde_json::json!({
            "metadata": {"name": "nginx"},
            "spec": {
                "initContainers": [{"name": "setup"}],
                "containers": [{"name": "web"}, {"name": "shell", "tty": true}]
            }
        });
        if let Some(a) = annotation {
            value["metadata"]["annotations"] = serde_json::json!({DEFAULT_CONTAINER_ANNOTATION: a});
        }
        serde_json::from_value(value).unwrap()
    }

    fn pick(pod: &Pod, name: Option<&str>) -> (String, String) {
        let mut warn = Vec::new();
        let c = pick_container(pod, name, &mut warn).unwrap();
        (c.name, String::from_utf8(warn).unwrap())
    }

    #[test]
    fn the_first_container_is_the_default_and_kubectl_says_so() {
        assert_eq!(
            pick(&pod(None), None),
            (
                "web".to_string(),
                "Defaulted container \"web\" out of: web, shell, setup (init)\n".to_string()
            )
        );
    }

    #[test]
    fn the_annotation_chooses_quietly() {
        assert_eq!(
            pick(&pod(Some("shell")), None),
            ("shell".to_string(), String::new())
        );
        let (name, warn) = pick(&pod(Some("gone")), None);
        assert_eq!(name, "web");
        assert!(
            warn.starts_with("Warning: default container name \"gone\" not found in pod nginx\n")
        );
    }

    #[test]
    fn a_named_container_must_exist() {
        assert_eq!(pick(&pod(None), Some("setup")).0, "setup");
        let err = pick_container(&pod(None), Some("nosuch"), &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "container nosuch not found in pod nginx");
    }

    #[test]
    fn pod_arguments_may_carry_their_type() {
        assert_eq!(pod_name("pod/nginx").unwrap(), "nginx");
        assert_eq!(pod_name("nginx").unwrap(), "nginx");
        assert!(pod_name("secret/nginx").is_err());
    }
}
