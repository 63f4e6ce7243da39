//! Stopping: a container (preStop, the stop signal, SIGKILL at the
//! grace), its exit and termination message, and the pod's deletion and
//! teardown.

use std::time::{Duration, Instant};

use anyhow::Result;
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tokio::net::UnixStream;

use crate::image::Image;
use crate::runtime::PodRuntime;
use crate::store::events::Type;
use crate::supervisor::handler;
use crate::supervisor::reaper::Exit;
use crate::supervisor::socket::Reply;

use super::stage::{Delete, Stopping};
use super::{Msg, Supervisor, send_reply};

/// The kubelet's minimum time between the stop signal and SIGKILL.
const MIN_GRACE: Duration = Duration::from_secs(2);

/// How long after the stop signal SIGKILL follows: what is left of the
/// grace period once `spent` has gone (on preStop), never less than 2 s.
fn kill_after(grace: Duration, spent: Duration) -> Duration {
    grace.saturating_sub(spent).max(MIN_GRACE)
}

fn stop_signal(image: Option<&Image>) -> i32 {
    image.map_or(libc::SIGTERM, |i| PodRuntime::stop_signal(i) as i32)
}

impl Supervisor {
    // ----- stopping a container -----

    /// The container is stopping from now on: the Killing event, its
    /// probes ended. Its pid, or None if it has no process or is
    /// already stopping.
    fn begin_stop(&mut self, i: usize, message: &str) -> Option<i32> {
        let live = self.slots[i].live_mut()?;
        if live.stopping {
            return None;
        }
        live.stopping = true;
        for p in live.probes.drain(..) {
            p.abort();
        }
        let pid = live.pid;
        self.event(Some(i), Type::Normal, "Killing", message);
        Some(pid)
    }

    /// SIGKILL now (a deletion at once, `decide::Action::Kill`): no
    /// hook, no stop signal, no event; also a container already stopping.
    pub(super) fn kill_now(&mut self, i: usize) {
        let Some(live) = self.slots[i].live_mut() else {
            return;
        };
        live.stopping = true;
        live.killed = true;
        for p in live.probes.drain(..) {
            p.abort();
        }
        live.kill(libc::SIGKILL);
    }

    /// Runs the preStop hook inside `grace`; its end is a message, after
    /// which the decision kills the container.
    pub(super) fn pre_stop(&mut self, i: usize, grace: Duration, message: &str) {
        let Some(pid) = self.begin_stop(i, message) else {
            return;
        };
        let since = Instant::now();
        let spec = &self.slots[i].spec;
        let hook = spec.lifecycle.as_ref().and_then(|l| l.pre_stop.clone());
        let (Some(hook), Some(_)) = (hook, &self.netns) else {
            // Not reachable (the decision checked both); the container
            // is not left stopping without a signal if it were.
            return self.signal(i, pid, grace, since);
        };
        let target = self.target(i);
        let pod = self.pod_label();
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            let result =
                match tokio::time::timeout(grace, handler::hook(&target, &hook, &pod)).await {
                    Ok(r) => r,
                    Err(_) => Ok(()),
                };
            let _ = tx.send(Msg::PreStopDone {
                slot: i,
                pid,
                grace,
                since,
                result,
            });
        });
    }

    /// The stop signal, then SIGKILL once `grace` is spent (never sooner
    /// than 2 s after the signal); after preStop, `grace` is what the
    /// hook left.
    pub(super) fn kill_container(&mut self, i: usize, grace: Duration, message: &str) {
        let after_hook = self.slots[i]
            .live_mut()
            .and_then(|l| l.pre_stop_done.take().map(|_| l.pid));
        let pid = match after_hook {
            Some(pid) => pid,
            None => match self.begin_stop(i, message) {
                Some(pid) => pid,
                None => return,
            },
        };
        self.signal(i, pid, grace, Instant::now());
    }

    pub(super) fn signal(&mut self, i: usize, pid: i32, grace: Duration, since: Instant) {
        if self.slots[i].live_pid(pid).is_none() {
            return;
        }
        let sig = stop_signal(self.slots[i].image.as_ref());
        if let Some(live) = self.slots[i].live_pid(pid) {
            live.kill(sig);
        }
        let remaining = kill_after(grace, since.elapsed());
        let tx = self.tx.clone();
        tokio::task::spawn_local(async move {
            tokio::time::sleep(remaining).await;
            let _ = tx.send(Msg::Kill { slot: i, pid });
        });
    }

    pub(super) fn exited(&mut self, i: usize, pid: i32, exit: Exit) {
        let slot = &mut self.slots[i];
        if slot.live_pid(pid).is_none() {
            return;
        }
        let live = match slot.exited(Instant::now()) {
            Ok(Some(live)) => live,
            Ok(None) => unreachable!("checked: it has a live process"),
            Err(e) => {
                eprintln!("pod-supervisor: {e}");
                return;
            }
        };
        for p in &live.probes {
            p.abort();
        }
        self.release_streams(i);
        let slot = &mut self.slots[i];
        let name = slot.spec.name.clone();
        let oom = self
            .runtime
            .as_ref()
            .is_some_and(|rt| rt.borrow().container_oom_killed(&name));
        let code = if oom { 137 } else { exit.code() };
        let reason = match code {
            _ if oom => "OOMKilled",
            _ if exit == Exit::Unknown => "ContainerStatusUnknown",
            0 => "Completed",
            _ => "Error",
        };
        let message = match exit {
            // The cgroup still tells an OOM kill; nothing else is known.
            Exit::Unknown if !oom => Some(crate::store::restarted::TERMINATED.to_string()),
            _ => self.termination_message(i, live.instance, code),
        };
        let slot = &mut self.slots[i];
        slot.status.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                signal: match exit {
                    Exit::Signal(s) => Some(s),
                    Exit::Code(_) | Exit::Unknown => None,
                },
                reason: Some(reason.into()),
                message,
                started_at: Some(Time(live.started_at)),
                finished_at: Some(Time(crate::duration::now())),
                container_id: Some(live.container_id.clone()),
            }),
            ..Default::default()
        });
        slot.status.ready = false;
        slot.status.started = Some(false);
        // Killed with the pod's PID namespace: the sandbox died.
        if self.pause_exiting() {
            self.pause_gone();
        }
        self.processes.remove(&name);
        self.write_processes();
        if let Some(rt) = &self.runtime
            && let Err(e) = rt.borrow_mut().cleanup_container(&name, live.instance)
        {
            eprintln!("pod-supervisor: cleaning up {name}: {e:#}");
        }
    }

    /// terminated.message: the termination message file's content (at
    /// most 4096 bytes), or with FallbackToLogsOnError and a failure, the
    /// end of the log (80 lines, 2048 bytes).
    pub(super) fn termination_message(&self, i: usize, instance: u32, code: i32) -> Option<String> {
        let spec = &self.slots[i].spec;
        if let Some(rt) = &self.runtime {
            let path = rt.borrow().termination_message_path(&spec.name, instance);
            // Only what is shown is read: a container may have written
            // gigabytes there.
            if let Ok(bytes) = crate::store::read_prefix(&path, 4096)
                && !bytes.is_empty()
            {
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        let fallback = spec.termination_message_policy.as_deref() == Some("FallbackToLogsOnError");
        if !fallback || code == 0 {
            return None;
        }
        let path = self.store.container_log(
            (&self.namespace, &self.name, &self.uid),
            &spec.name,
            instance,
        );
        // 80 entries of at most 16 KiB each are in the file's last 2 MiB;
        // a first line cut by the window is dropped.
        let (mut text, whole) = crate::store::read_suffix(&path, 2 << 20).ok()?;
        if !whole {
            let cut = text
                .iter()
                .position(|b| *b == b'\n')
                .map_or(text.len(), |i| i + 1);
            text.drain(..cut);
        }
        let lines = crate::store::crilog::lines(&text);
        let start = lines.len().saturating_sub(80);
        let mut out: Vec<u8> = lines[start..]
            .iter()
            .flat_map(|l| l.content.clone())
            .collect();
        if out.len() > 2048 {
            out.drain(..out.len() - 2048);
        }
        (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    // ----- deletion -----

    /// A deletion: `now` kills at once without preStop; `detached`
    /// writes nothing more for the pod (its record is gone). The
    /// decision stops (or kills) the containers.
    pub(super) fn begin_stopping(
        &mut self,
        grace: Duration,
        now: bool,
        detached: bool,
        client: Option<UnixStream>,
    ) {
        let stopping = Stopping {
            grace,
            since: Instant::now(),
            now,
            detached,
            clients: client.into_iter().collect(),
        };
        // What the pod leaves on the state disk goes into graves, emptied
        // once the deletion is answered (`finish`): removing it costs a
        // synchronous discard per block on some disks (`store::graves`).
        if let Some(rt) = &self.runtime {
            rt.borrow_mut().bury_removals();
        }
        match self.stage.delete(stopping) {
            // A harsher request (at once) is the decision's too.
            Ok(Delete::Began | Delete::AtOnce) => self.sync(),
            Ok(Delete::Sooner) => {
                self.hasten_kills();
                self.sync();
            }
            Ok(Delete::Joined) => {}
            Err(e) => eprintln!("pod-supervisor: {e}"),
        }
    }

    /// A deletion's grace period was shortened (a second `delete` with a
    /// shorter `--grace-period`): each container already stopping, in its
    /// preStop hook or after its stop signal, is SIGKILLed once what is
    /// left of the new period is spent (never sooner than 2 s from now),
    /// as the kubelet kills a pod again with the shorter period it is
    /// given. Its earlier SIGKILL timer stays: whichever comes first.
    fn hasten_kills(&mut self) {
        let Some(left) = self
            .stage
            .stopping()
            .map(|s| s.grace.saturating_sub(s.since.elapsed()))
        else {
            return;
        };
        let after = kill_after(left, Duration::ZERO);
        for (slot, s) in self.slots.iter().enumerate() {
            let Some(live) = s.live().filter(|l| l.stopping && !l.killed) else {
                continue;
            };
            let (tx, pid) = (self.tx.clone(), live.pid);
            tokio::task::spawn_local(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(Msg::Kill { slot, pid });
            });
        }
    }

    /// The pod is over (`decide::Action::TearDown`): the sandbox goes,
    /// and with it what the pod holds of the node. A completed pod's
    /// record and logs stay for get and logs; its final status is written
    /// after this (`WriteStatus`).
    pub(super) fn tear_down(&mut self) {
        // The final phase, handed to the writer just before, is on disk
        // before anything of the pod goes.
        self.status_writer.settle();
        self.cancel_network();
        if let Some(rt) = &self.runtime
            && let Err(e) = rt.borrow_mut().teardown()
        {
            eprintln!("pod-supervisor: tearing down: {e:#}");
        }
        self.processes.clear();
        self.write_processes();
        self.ready_to_start_containers(false);
        let _ = std::fs::remove_file(self.records.socket());
        self.torn_down = true;
    }

    /// A deletion is over (`decide::Action::RemovePod`): the pod's record,
    /// logs and runtime directory go.
    pub(super) fn remove_pod(&mut self) {
        // An eviction stops the pod as a deletion does but keeps it,
        // Failed with reason Evicted, unless a deletion joined it.
        let evicted_only = self.evicted.is_some()
            && self
                .stage
                .stopping()
                .is_some_and(|s| !s.detached && s.clients.is_empty());
        if evicted_only {
            self.write_status();
            return;
        }
        // No status write of this pod is under way while its record goes.
        self.status_writer.settle();
        if !self.stage.detached()
            && let Err(e) = self.remove_record()
        {
            eprintln!("pod-supervisor: removing the pod: {e:#}");
        }
        let _ = self.store.bury(
            &self
                .store
                .pod_log_dir(&self.namespace, &self.name, &self.uid),
        );
        let _ = std::fs::remove_dir_all(self.records.dir());
        // Nothing is written for it any more, should an earlier round of
        // this batch have asked for it.
        self.status_due = false;
    }

    /// The loop ends (`decide::finished`): the deletion's clients are
    /// told, and a pod waiting for what this one held of the node retried.
    pub(super) async fn finish(&mut self) {
        // The pod is over: its keeper goes before anyone is told.
        self.keeper.quit();
        for mut client in self.stage.take_clients() {
            let _ = send_reply(&mut client, &Reply::Deleted).await;
        }
        // What the pod buried (its writable layers, logs, record), off the
        // deletion's path; and what a supervisor killed before it emptied
        // its own left.
        self.store.empty_graves();
        (self.scheduling.retry)(&self.store);
        // Answered first: `delete` never waits for another pod's DEL.
        crate::network::retry_failed_dels(&self.store);
    }

    pub(super) fn remove_record(&self) -> Result<()> {
        use crate::api::{Kind, Object};
        use crate::store::Detail;
        let _lock = self.store.lock(Kind::Pod, &self.namespace, &self.name)?;
        // The name may already hold a new pod (after a force deletion).
        if let Some(Object::Pod(p)) =
            self.store
                .get_as(Kind::Pod, &self.namespace, &self.name, Detail::Manifest)?
            && p.metadata.uid.as_deref() == Some(&self.uid)
        {
            self.store.bury_pod(&self.namespace, &self.name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigkill_follows_at_the_end_of_the_grace_period_never_sooner_than_2s() {
        let s = Duration::from_secs;
        let table = [
            // (grace, spent on preStop, SIGKILL after the stop signal)
            (s(30), s(0), s(30)),
            (s(30), s(10), s(20)),
            (s(30), s(29), s(2)),
            (s(30), s(45), s(2)),
            (s(0), s(0), s(2)),
            (
                s(5),
                Duration::from_millis(500),
                Duration::from_millis(4500),
            ),
        ];
        for (grace, spent, want) in table {
            assert_eq!(kill_after(grace, spent), want, "{grace:?} {spent:?}");
        }
    }
}
