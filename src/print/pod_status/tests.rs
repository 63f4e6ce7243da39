use super::*;

/// The STATUS column alone.
fn status(pod: &Pod) -> String {
    compute(pod).status
}
use serde_json::json;

const NOW: &str = "2026-01-01T00:10:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

/// A pod from its spec containers (`name` or `name:Always` for a
/// sidecar init container) and a status record in the API's JSON.
fn pod(init: &[&str], containers: &[&str], status: serde_json::Value) -> Pod {
    let c = |spec: &&str| {
        let (name, policy) = spec.split_once(':').unwrap_or((spec, ""));
        let mut c = json!({"name": name, "image": "busybox"});
        if !policy.is_empty() {
            c["restartPolicy"] = json!(policy);
        }
        c
    };
    serde_json::from_value(json!({
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "initContainers": init.iter().map(c).collect::<Vec<_>>(),
            "containers": containers.iter().map(c).collect::<Vec<_>>(),
        },
        "status": status,
    }))
    .unwrap()
}

fn waiting(name: &str, reason: &str) -> serde_json::Value {
    json!({"name": name, "image": "", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"waiting": {"reason": reason}}})
}

fn running(name: &str, ready: bool) -> serde_json::Value {
    json!({"name": name, "image": "", "imageID": "", "ready": ready, "restartCount": 0,
               "started": true,
               "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}})
}

fn terminated(
    name: &str,
    code: i32,
    reason: Option<&str>,
    signal: Option<i32>,
) -> serde_json::Value {
    let mut t = json!({"exitCode": code});
    if let Some(r) = reason {
        t["reason"] = json!(r);
    }
    if let Some(s) = signal {
        t["signal"] = json!(s);
    }
    json!({"name": name, "image": "", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"terminated": t}})
}

fn row_of(p: &Pod) -> (String, String, String) {
    let r = row(p, now());
    (r.ready, r.status, r.restarts)
}

#[test]
fn pending_without_statuses_shows_the_phase() {
    let p = pod(&[], &["a"], json!({"phase": "Pending"}));
    assert_eq!(row_of(&p), ("0/1".into(), "Pending".into(), "0".into()));
    assert_eq!(row(&p, now()).age, "10m");
}

#[test]
fn container_creating() {
    let p = pod(
        &[],
        &["a"],
        json!({"phase": "Pending",
            "containerStatuses": [waiting("a", "ContainerCreating")]}),
    );
    assert_eq!(status(&p), "ContainerCreating");
}

#[test]
fn init_zero_of_two() {
    let p = pod(
        &["i1", "i2"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [waiting("i1", "PodInitializing"), waiting("i2", "PodInitializing")],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
    );
    assert_eq!(status(&p), "Init:0/2");
    let p = pod(
        &["i1", "i2"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 0, Some("Completed"), None), running("i2", false)],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
    );
    assert_eq!(status(&p), "Init:1/2");
}

#[test]
fn init_error_and_crash_loop() {
    let p = pod(
        &["i1"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 1, Some("Error"), None)],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
    );
    assert_eq!(status(&p), "Init:Error");
    let p = pod(
        &["i1"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [waiting("i1", "CrashLoopBackOff")],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
    );
    assert_eq!(status(&p), "Init:CrashLoopBackOff");
    let p = pod(
        &["i1"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 137, None, Some(9))]}),
    );
    assert_eq!(status(&p), "Init:Signal:9");
    let p = pod(
        &["i1"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 3, None, None)]}),
    );
    assert_eq!(status(&p), "Init:ExitCode:3");
}

#[test]
fn pod_initializing_after_init() {
    let p = pod(
        &["i1"],
        &["a"],
        json!({"phase": "Pending",
            "initContainerStatuses": [terminated("i1", 0, Some("Completed"), None)],
            "containerStatuses": [waiting("a", "PodInitializing")]}),
    );
    assert_eq!(status(&p), "PodInitializing");
}

#[test]
fn running_ready_and_not_ready() {
    let p = pod(
        &[],
        &["a", "b"],
        json!({"phase": "Running",
            "containerStatuses": [running("a", true), running("b", false)]}),
    );
    assert_eq!(row_of(&p), ("1/2".into(), "Running".into(), "0".into()));
}

#[test]
fn crash_loop_back_off_with_restarts_ago() {
    let mut c = waiting("a", "CrashLoopBackOff");
    c["restartCount"] = json!(4);
    c["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error",
            "finishedAt": "2026-01-01T00:09:55Z"}});
    let p = pod(
        &[],
        &["a"],
        json!({"phase": "Running", "containerStatuses": [c]}),
    );
    assert_eq!(
        row_of(&p),
        ("0/1".into(), "CrashLoopBackOff".into(), "4 (5s ago)".into())
    );
}

#[test]
fn completed_error_oomkilled() {
    for (code, reason) in [(0, "Completed"), (1, "Error"), (137, "OOMKilled")] {
        let p = pod(
            &[],
            &["a"],
            json!({"phase": if code == 0 {"Succeeded"} else {"Failed"},
                "containerStatuses": [terminated("a", code, Some(reason), None)]}),
        );
        assert_eq!(status(&p), reason);
    }
}

#[test]
fn signal_and_exit_code_without_reason() {
    let p = pod(
        &[],
        &["a"],
        json!({"phase": "Failed",
            "containerStatuses": [terminated("a", 143, None, Some(15))]}),
    );
    assert_eq!(status(&p), "Signal:15");
    let p = pod(
        &[],
        &["a"],
        json!({"phase": "Failed",
            "containerStatuses": [terminated("a", 2, None, None)]}),
    );
    assert_eq!(status(&p), "ExitCode:2");
}

#[test]
fn completed_with_a_running_container() {
    // The walk goes last to first, so `a`'s Completed is the reason;
    // with `b` still running it becomes Running or NotReady.
    let status_json = |ready: &str| {
        json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [terminated("a", 0, Some("Completed"), None), running("b", true)]})
    };
    let p = pod(&[], &["a", "b"], status_json("True"));
    assert_eq!(row_of(&p), ("1/2".into(), "Running".into(), "0".into()));
    let p = pod(&[], &["a", "b"], status_json("False"));
    assert_eq!(status(&p), "NotReady");
}

#[test]
fn an_error_is_not_hidden_by_completed() {
    let p = pod(
        &[],
        &["a", "b"],
        json!({"phase": "Failed",
            "containerStatuses": [terminated("a", 0, Some("Completed"), None),
                                  terminated("b", 1, Some("Error"), None)]}),
    );
    assert_eq!(status(&p), "Error");
}

#[test]
fn terminating_and_node_lost() {
    let mut p = pod(
        &[],
        &["a"],
        json!({"phase": "Running",
            "containerStatuses": [running("a", true)]}),
    );
    p.metadata.deletion_timestamp = p.metadata.creation_timestamp.clone();
    assert_eq!(status(&p), "Terminating");
    p.status.as_mut().unwrap().reason = Some("NodeLost".into());
    assert_eq!(status(&p), "Unknown");
    let mut done = pod(
        &[],
        &["a"],
        json!({"phase": "Succeeded",
            "containerStatuses": [terminated("a", 0, Some("Completed"), None)]}),
    );
    done.metadata.deletion_timestamp = done.metadata.creation_timestamp.clone();
    assert_eq!(status(&done), "Completed");
}

#[test]
fn unknown_phase() {
    let p = pod(&[], &["a"], json!({"phase": "Unknown"}));
    assert_eq!(status(&p), "Unknown");
}

#[test]
fn scheduling_gated() {
    let p = pod(
        &[],
        &["a"],
        json!({"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(status(&p), "SchedulingGated");
}

#[test]
fn sidecars_count_in_ready_and_restarts() {
    let mut side = running("side", true);
    side["restartCount"] = json!(2);
    side["lastState"] =
        json!({"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:08:00Z"}});
    let p = pod(
        &["side:Always"],
        &["a"],
        json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [side],
            "containerStatuses": [running("a", true)]}),
    );
    assert_eq!(
        row_of(&p),
        ("2/2".into(), "Running".into(), "2 (2m ago)".into())
    );
}

#[test]
fn wide_columns() {
    let p = pod(
        &[],
        &["a"],
        json!({"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}),
    );
    let w = wide(&p);
    assert_eq!(w.ip, "10.0.0.5");
    assert_eq!(w.node, "<none>");
    assert_eq!(w.nominated_node, "<none>");
    assert_eq!(w.readiness_gates, "<none>");
    let mut p = pod(
        &[],
        &["a"],
        json!({"phase": "Running",
            "conditions": [{"type": "example.com/gate", "status": "True"}]}),
    );
    p.spec.as_mut().unwrap().readiness_gates = Some(vec![
        serde_json::from_value(json!({"conditionType": "example.com/gate"})).unwrap(),
        serde_json::from_value(json!({"conditionType": "example.com/other"})).unwrap(),
    ]);
    assert_eq!(wide(&p).readiness_gates, "1/2");
}

#[test]
fn wide_ip_is_the_first_of_pod_ips_with_pod_ip_authoritative() {
    #[rustfmt::skip]
        let rows = [
            (json!({"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]}), "10.244.0.5"),
            (json!({"podIPs": [{"ip": "fd00::5"}, {"ip": "10.244.0.5"}]}), "fd00::5"),
            // An older writer's record: podIP alone.
            (json!({"podIP": "10.244.0.6"}), "10.244.0.6"),
            // The two disagree: podIP wins, for older clients.
            (json!({"podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.8"}]}), "10.244.0.7"),
            (json!({"podIP": "", "podIPs": []}), "<none>"),
            (json!({}), "<none>"),
        ];
    for (status, ip) in rows {
        let mut status = status;
        status["phase"] = json!("Running");
        assert_eq!(wide(&pod(&[], &["a"], status.clone())).ip, ip, "{status}");
    }
}
