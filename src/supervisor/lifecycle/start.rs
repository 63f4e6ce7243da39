//! Starting a container: its image (present or pulled, with the pull
//! back-off), its process set up by the runtime, its logs and attach
//! streams, the postStart hook, and the startup probe before it counts as
//! started.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::oneshot;

use crate::duration::go_string;
use crate::image::{Image, PullError, PullPolicy};
use crate::runtime::{Creating, PodRuntime, StartError};
use crate::store::crilog::LogFile;
use crate::store::events::Type;
use crate::store::record::Process;
use crate::supervisor::attach;
use crate::supervisor::handler::{self, Target};
use crate::supervisor::offload;
use crate::supervisor::reaper::Exit;
use crate::supervisor::stdio;

use super::probes;
use super::slot::{Creation, CreationIo, Live, Phase};
use super::{Msg, Supervisor};

pub(super) fn pull_policy(c: &Container) -> PullPolicy {
    match c.image_pull_policy.as_deref() {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        Some("IfNotPresent") => PullPolicy::IfNotPresent,
        // Not defaulted: the API server's rule (latest or no tag: Always).
        _ => match crate::api::defaults::pull_policy_for(c.image.as_deref().unwrap_or("")) {
            "Always" => PullPolicy::Always,
            _ => PullPolicy::IfNotPresent,
        },
    }
}

/// The kubelet's Pulled event after a pull: Go durations truncated to
/// milliseconds. Pulls are not queued behind each other here, so the
/// time including waiting is the pull's own.
fn pulled_message(reference: &str, took: Duration, size: u64) -> String {
    let took = go_string(Duration::from_millis(took.as_millis() as u64));
    format!(
        "Successfully pulled image {reference:?} in {took} ({took} including waiting). Image size: {size} bytes."
    )
}

/// A container's status once its program is executed: its id and image.
pub(super) fn show_created(status: &mut ContainerStatus, container_id: String, image: &Image) {
    status.container_id = Some(container_id);
    status.image = image.name.clone();
    status.image_id = image_id(image);
}

/// The state of a container running since `started_at`.
pub(super) fn running_since(started_at: Timestamp) -> ContainerState {
    ContainerState {
        running: Some(ContainerStateRunning {
            started_at: Some(Time(started_at)),
        }),
        ..Default::default()
    }
}

/// imageID as the kubelet shows it: `<repository>@<manifest digest>`.
fn image_id(image: &Image) -> String {
    let name = image.name.split('@').next().unwrap_or(&image.name);
    let repo = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    };
    if image.digest.is_empty() {
        image.id.clone()
    } else {
        format!("{repo}@{}", image.digest)
    }
}

impl Supervisor {
    // ----- starting a container -----

    pub(super) fn begin_start(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        slot.pull_back_off_at = None;
        if !slot.started_once {
            slot.waiting("ContainerCreating", None);
        }
        let reference = slot.spec.image.clone().unwrap_or_default();
        let policy = pull_policy(&slot.spec);
        if policy != PullPolicy::Always {
            let known = match slot.image.clone() {
                Some(image) => Some(image),
                None => self.images.resolve(&reference).ok().flatten(),
            };
            if let Some(image) = known {
                let message = format!("Container image {reference:?} already present on machine");
                self.event(Some(i), Type::Normal, "Pulled", &message);
                self.create(i, image);
                return;
            }
        }
        if policy != PullPolicy::Never {
            self.event(
                Some(i),
                Type::Normal,
                "Pulling",
                &format!("Pulling image {reference:?}"),
            );
        }
        if let Err(e) = self.slots[i].pulling() {
            eprintln!("pod-supervisor: {e}");
            return;
        }
        let images = self.images.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let begun = Instant::now();
            let result = offload::run("pod-pull", move || images.ensure(&reference, policy))
                .await
                .unwrap_or_else(|e| Err(PullError::Pull(format!("pull task failed: {e}"))));
            let _ = tx.send(Msg::Pulled {
                slot: i,
                result: Box::new(result),
                took: begun.elapsed(),
            });
        });
    }

    pub(super) fn pulled(&mut self, i: usize, result: Result<Image, PullError>, took: Duration) {
        if !matches!(self.slots[i].phase(), Phase::Pulling) || self.stage.stopping().is_some() {
            return;
        }
        let reference = self.slots[i].spec.image.clone().unwrap_or_default();
        match result {
            Ok(image) => {
                if pull_policy(&self.slots[i].spec) != PullPolicy::Never {
                    let message = pulled_message(&reference, took, image.size);
                    self.event(Some(i), Type::Normal, "Pulled", &message);
                }
                self.slots[i].image = Some(image.clone());
                self.create(i, image);
            }
            Err(err) => {
                let (reason, message) = match &err {
                    PullError::NeverPull(_) => {
                        self.event(
                            Some(i),
                            Type::Warning,
                            "ErrImageNeverPull",
                            &err.to_string(),
                        );
                        ("ErrImageNeverPull", err.to_string())
                    }
                    PullError::InvalidName(..) => {
                        self.event(Some(i), Type::Warning, "InspectFailed", &err.to_string());
                        ("InvalidImageName", err.to_string())
                    }
                    PullError::Pull(msg) => {
                        let text = format!("Failed to pull image {reference:?}: {msg}");
                        self.event(Some(i), Type::Warning, "Failed", &text);
                        ("ErrImagePull", text)
                    }
                };
                self.event(
                    Some(i),
                    Type::Warning,
                    "Failed",
                    &format!("Error: {reason}"),
                );
                // A failed pull is counted in the image back-off as the
                // kubelet's puller does; the decision retries it once the
                // back-off ends (the others at the pod worker's requeue).
                let now = Instant::now();
                let pull = reason == "ErrImagePull";
                let slot = &mut self.slots[i];
                slot.waiting(reason, Some(message));
                if pull {
                    slot.pull_backoff.restarted(now);
                }
                if let Err(e) = slot.start_failed(now, pull) {
                    eprintln!("pod-supervisor: {e}");
                }
            }
        }
    }

    /// ErrImagePull turns into ImagePullBackOff while the pull waits
    /// (`decide::Action::ShowPullBackOff`).
    pub(super) fn show_pull_back_off(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        slot.pull_back_off_at = None;
        let reference = slot.spec.image.clone().unwrap_or_default();
        let message = format!("Back-off pulling image {reference:?}");
        slot.waiting("ImagePullBackOff", Some(message.clone()));
        self.event(Some(i), Type::Normal, "BackOff", &message);
        self.event(Some(i), Type::Warning, "Failed", "Error: ImagePullBackOff");
    }

    pub(super) fn create(&mut self, i: usize, image: Image) {
        let now = Instant::now();
        let rt = self.runtime.clone().expect("sandbox started first");
        let slot = &mut self.slots[i];
        slot.image = Some(image.clone());
        slot.changed = false;
        if slot.started_once {
            slot.status.restart_count += 1;
            slot.backoff.restarted(now);
        }
        slot.started_once = true;
        let instance = slot.status.restart_count.max(0) as u32;
        let spec = slot.spec.clone();
        let log_path = self.store.container_log(
            (&self.namespace, &self.name, &self.uid),
            &spec.name,
            instance,
        );
        // Its init held since the ADD (see `prepare`): the word, and it
        // runs the program.
        let (creating, ends, exited) = match self.take_held(i, &spec, instance, &image) {
            Some(held) => {
                let mut creating = held.creating;
                creating.go();
                (creating, held.ends, held.exited)
            }
            None => match self.fork_init(i, &rt, &spec, instance, &image, now) {
                Some(begun) => begun,
                None => return,
            },
        };
        let pid = creating.pid();
        let creation = Creation {
            pid,
            instance,
            io: Some(Box::new(CreationIo {
                image,
                ends,
                log_path,
                exited,
            })),
        };
        if let Err(e) = self.slots[i].creating(creation) {
            // Not reachable (starts are only begun from Idle, Waiting or
            // Pulling); the process is not left behind if it were.
            eprintln!("pod-supervisor: {e}");
            // kill(2) on our own child, not reaped yet.
            let _ = crate::process::kill(pid, libc::SIGKILL);
        }
        // The container's set-up (overlay, mounts, pivot_root) runs in its
        // own process: the loop goes on, so the next container's set-up
        // overlaps it.
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let result = offload::run("pod-start", move || creating.finish())
                .await
                .unwrap_or_else(|e| Err(StartError::Runtime(format!("start task failed: {e}"))));
            let _ = tx.send(Msg::Created {
                slot: i,
                pid,
                result,
            });
        });
    }

    /// Forks container `i`'s init for this instance; None when it could
    /// not be (reported).
    fn fork_init(
        &mut self,
        i: usize,
        rt: &Rc<RefCell<PodRuntime>>,
        spec: &Container,
        instance: u32,
        image: &Image,
        now: Instant,
    ) -> Option<(Creating, stdio::Ends, oneshot::Receiver<Exit>)> {
        let (stdio, ends) = match stdio::open(spec) {
            Ok(s) => s,
            Err(e) => {
                self.start_failed(
                    i,
                    instance,
                    format!("creating the container's streams: {e}"),
                );
                return None;
            }
        };
        let begun = rt.borrow().begin_container(spec, instance, image, stdio);
        let creating = match begun {
            Ok(c) => c,
            Err(e @ (StartError::Config(_) | StartError::Create(_))) => {
                let reason = match e {
                    StartError::Config(_) => "CreateContainerConfigError",
                    _ => "CreateContainerError",
                };
                let msg = e.to_string();
                self.event(Some(i), Type::Warning, "Failed", &format!("Error: {msg}"));
                let slot = &mut self.slots[i];
                slot.waiting(reason, Some(msg));
                // Not a restart: the container never ran.
                slot.status.restart_count = (slot.status.restart_count - 1).max(0);
                slot.started_once =
                    slot.status.restart_count > 0 || slot.status.last_state.is_some();
                if let Err(e) = slot.start_failed(now, false) {
                    eprintln!("pod-supervisor: {e}");
                }
                return None;
            }
            Err(StartError::Runtime(msg)) => {
                self.start_failed(i, instance, msg);
                return None;
            }
        };
        // Waited for in the same synchronous stretch as the fork, so the
        // reaper cannot collect its exit unseen.
        let exited = self.reaper.wait(creating.pid());
        Some((creating, ends, exited))
    }

    /// The end of a container's start (see `create`).
    pub(super) fn created(
        &mut self,
        i: usize,
        pid: i32,
        result: Result<crate::runtime::Started, StartError>,
    ) {
        let slot = &mut self.slots[i];
        let Some((instance, io)) = slot.take_creation(pid) else {
            return;
        };
        let CreationIo {
            image,
            ends,
            log_path,
            exited,
        } = io;
        let spec = slot.spec.clone();
        // A tty container's pty ends come with its start (`Started::console`).
        let running = result.and_then(|started| {
            let ends = ends.running(started.console);
            let ends =
                ends.map_err(|e| StartError::Runtime(format!("the container's streams: {e}")))?;
            Ok((started.pid, ends))
        });
        let (pid, (kept, output)) = match running {
            Ok(running) => running,
            Err(e) => {
                if let Some(rt) = &self.runtime
                    && let Err(e) = rt.borrow_mut().cleanup_container(&spec.name, instance)
                {
                    eprintln!("pod-supervisor: cleaning up {}: {e:#}", spec.name);
                }
                self.start_failed(i, instance, e.to_string());
                return;
            }
        };
        self.keep_streams(i, &kept, &output);
        let container_id = crate::store::container_id(&self.uid, &spec.name, instance);
        let tap = attach::tap();
        let logs = LogFile::create(&log_path, self.settings.rotation)
            .and_then(|log| stdio::pump(output, log, tap.clone()));
        let logs = match logs {
            Ok(handle) => Some(handle),
            Err(e) => {
                eprintln!("pod-supervisor: logging {}: {e}", log_path.display());
                None
            }
        };
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let exit = exited.await.unwrap_or(Exit::Signal(libc::SIGKILL));
            // Let the pumps drain what the container wrote last, for the
            // termination message and `logs`; a daemonised grandchild that
            // keeps the pipe open must not hold the exit back.
            if let Some(logs) = logs {
                let _ = tokio::time::timeout(Duration::from_millis(500), logs).await;
            }
            let _ = tx.send(Msg::Exited { slot: i, pid, exit });
        });
        if let Some(p) = Process::of(pid) {
            self.processes.insert(spec.name.clone(), p);
            self.write_processes();
        }
        let name = spec.name.clone();
        self.event(
            Some(i),
            Type::Normal,
            "Created",
            &format!("Created container: {name}"),
        );
        self.event(
            Some(i),
            Type::Normal,
            "Started",
            &format!("Started container {name}"),
        );
        let closed = self.stdin_closed(i);
        let slot = &mut self.slots[i];
        show_created(&mut slot.status, container_id.clone(), &image);
        let live = Live {
            pid,
            instance,
            started_at: crate::duration::now(),
            container_id,
            probes: Vec::new(),
            attach: attach::Streams::new(kept, tap, spec.stdin_once == Some(true), Some(closed))
                .inspect_err(|e| eprintln!("pod-supervisor: streams for attach: {e}"))
                .ok(),
            stopping: false,
            hook_begun: false,
            hook_failed: false,
            killed: false,
            unhealthy: None,
            pre_stop_done: None,
            pidfd: None,
        };
        let hooked = slot.has_post_start();
        if let Err(e) = slot.launched(live, hooked) {
            eprintln!("pod-supervisor: {e}");
            return;
        }
        // A hooked container waits in Starting for the decision's PostStart.
        if !hooked {
            self.became_running(i);
        }
    }

    /// Runs the started container's postStart hook; its end is a message.
    pub(super) fn post_start(&mut self, i: usize) {
        let pid = match self.slots[i].post_start_begun() {
            Ok(pid) => pid,
            Err(e) => return eprintln!("pod-supervisor: {e}"),
        };
        let spec = &self.slots[i].spec;
        let Some(hook) = spec.lifecycle.as_ref().and_then(|l| l.post_start.clone()) else {
            return;
        };
        let target = self.target(i);
        let pod = self.pod_label();
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let result = handler::hook(&target, &hook, &pod).await;
            let _ = tx.send(Msg::PostStart {
                slot: i,
                pid,
                result,
            });
        });
    }

    /// The runtime could not start the process: StartError, exit code 128.
    pub(super) fn start_failed(&mut self, i: usize, _instance: u32, msg: String) {
        self.event(Some(i), Type::Warning, "Failed", &format!("Error: {msg}"));
        let now = crate::duration::now();
        let slot = &mut self.slots[i];
        slot.status.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 128,
                reason: Some("StartError".into()),
                message: Some(msg),
                started_at: Some(Time(now)),
                finished_at: Some(Time(now)),
                ..Default::default()
            }),
            ..Default::default()
        });
        slot.status.ready = false;
        slot.status.started = Some(false);
        if let Err(e) = slot.exited(Instant::now()) {
            eprintln!("pod-supervisor: {e}");
        }
    }

    pub(super) fn target(&self, i: usize) -> Target {
        Target::new(
            self.runtime.clone().expect("sandbox started"),
            self.reaper.clone(),
            self.netns.clone().expect("sandbox started"),
            self.slots[i].spec.clone(),
        )
    }

    pub(super) fn became_running(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Err(e) = slot.post_started() {
            eprintln!("pod-supervisor: {e}");
            return;
        }
        let Some(live) = slot.live() else { return };
        slot.status.state = Some(running_since(live.started_at));
        let gate = probes::on_running(probes::Probes::of(&slot.spec));
        self.gate(i, gate);
    }

    /// The startup probe passed.
    pub(super) fn started(&mut self, i: usize) {
        let gate = probes::on_started(probes::Probes::of(&self.slots[i].spec));
        self.gate(i, gate);
    }

    fn gate(&mut self, i: usize, gate: probes::Gate) {
        let slot = &mut self.slots[i];
        slot.status.started = Some(gate.started);
        slot.status.ready = gate.ready;
        for kind in gate.start {
            self.spawn_probe(i, kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulled_messages_are_the_kubelets() {
        assert_eq!(
            pulled_message("nginx", Duration::from_micros(1_387_900), 59774010),
            "Successfully pulled image \"nginx\" in 1.387s (1.387s including waiting). Image size: 59774010 bytes."
        );
        assert_eq!(
            pulled_message("busybox", Duration::from_micros(313_999), 2222260),
            "Successfully pulled image \"busybox\" in 313ms (313ms including waiting). Image size: 2222260 bytes."
        );
    }

    #[test]
    fn pull_policy_defaults_by_tag() {
        let c = |image: &str| Container {
            name: "c".into(),
            image: Some(image.into()),
            ..Default::default()
        };
        assert_eq!(pull_policy(&c("busybox")), PullPolicy::Always);
        assert_eq!(pull_policy(&c("busybox:latest")), PullPolicy::Always);
        assert_eq!(pull_policy(&c("busybox:1.36")), PullPolicy::IfNotPresent);
        assert_eq!(
            pull_policy(&c("localhost:5000/busybox")),
            PullPolicy::Always
        );
        assert_eq!(
            pull_policy(&c("busybox@sha256:abc")),
            PullPolicy::IfNotPresent
        );
    }
}
