use super::*;

fn status(value: serde_json::Value) -> ContainerStatus {
    let mut base = serde_json::json!({
        "name": "app", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0
    });
    base.as_object_mut()
        .unwrap()
        .extend(value.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

/// The id the supervisor gives instance `i` of the test's container.
fn id(i: u32) -> String {
    crate::store::container_id("u-1", "app", i)
}

fn logs(dir: &std::path::Path, instances: &[i32]) {
    for i in instances {
        std::fs::write(dir.join(format!("{i}.log")), "").unwrap();
    }
}

#[test]
fn a_container_waiting_after_a_run_shows_its_last_instance() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs(dir, &[0, 1]);
    let back_off = |restarts: i32| {
        status(serde_json::json!({
            "restartCount": restarts,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1}},
        }))
    };
    // Backing off after instance 1 ended.
    assert_eq!(current_instance(Some(&back_off(1)), dir), Ok(1));
    // Instance 2 counted, not started yet (or failing to start): the
    // last that ran.
    assert_eq!(current_instance(Some(&back_off(2)), dir), Ok(1));
    let failing = status(serde_json::json!({
        "restartCount": 3,
        "state": {"waiting": {"reason": "RunContainerError"}},
        "lastState": {"terminated": {"exitCode": 1}},
    }));
    assert_eq!(current_instance(Some(&failing), dir), Ok(1));
    let running = status(serde_json::json!({
        "restartCount": 1, "state": {"running": {}},
    }));
    assert_eq!(current_instance(Some(&running), dir), Ok(1));
    assert_eq!(current_instance(None, dir), Ok(1));
}

#[test]
fn the_previous_instance_is_the_one_in_last_state() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs(dir, &[0, 1]);
    let crashed = serde_json::json!({"terminated": {"exitCode": 1}});
    let back_off = |restarts: i32| {
        status(serde_json::json!({
            "restartCount": restarts,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": crashed,
        }))
    };
    // Backing off after instance 1 crashed: instance 1 is lastState.
    assert_eq!(previous_instance(Some(&back_off(1)), dir, id), Some(1));
    // Instance 2 counted, not started yet: still instance 1.
    assert_eq!(previous_instance(Some(&back_off(2)), dir, id), Some(1));
    // Instance 1 runs (or has ended): the one before it.
    for state in [
        serde_json::json!({"running": {}}),
        serde_json::json!({"terminated": {"exitCode": 0}}),
    ] {
        let s = status(serde_json::json!({
            "restartCount": 1, "state": state, "lastState": crashed,
        }));
        assert_eq!(previous_instance(Some(&s), dir, id), Some(0));
    }
    // Without a status: the one before the newest file.
    assert_eq!(previous_instance(None, dir, id), Some(0));
}

/// While the next instance starts, the status counts it and its log is
/// there, but it does not run yet (its start under way, or its postStart
/// hook running): lastState's id still names the one that crashed.
#[test]
fn the_previous_instance_is_the_one_last_states_id_names_while_the_next_starts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs(dir, &[0, 1, 2]);
    let status_of = |restarts: i32, state: serde_json::Value, crashed: String| {
        status(serde_json::json!({
            "restartCount": restarts,
            "state": state,
            "lastState": {"terminated": {"exitCode": 1, "containerID": crashed}},
        }))
    };
    let back_off = serde_json::json!({"waiting": {"reason": "CrashLoopBackOff"}});
    // Backing off after instance 1 crashed.
    let s = status_of(1, back_off.clone(), id(1));
    assert_eq!(previous_instance(Some(&s), dir, id), Some(1));
    // Instance 2 counted, its log made, not running yet.
    let s = status_of(2, back_off.clone(), id(1));
    assert_eq!(previous_instance(Some(&s), dir, id), Some(1));
    // Instance 2 runs.
    let s = status_of(2, serde_json::json!({"running": {}}), id(1));
    assert_eq!(previous_instance(Some(&s), dir, id), Some(1));
    // An id of another form (an older binary's): by the count.
    let s = status_of(2, back_off.clone(), "pod://older".into());
    assert_eq!(previous_instance(Some(&s), dir, id), Some(2));
    // The named instance's log is gone.
    std::fs::remove_file(dir.join("1.log")).unwrap();
    let s = status_of(2, back_off, id(1));
    assert_eq!(previous_instance(Some(&s), dir, id), None);
}

#[test]
fn without_an_ended_instance_there_is_no_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    logs(dir, &[0]);
    // Ran once, never restarted: no lastState.
    let once = status(serde_json::json!({
        "state": {"terminated": {"exitCode": 0}},
    }));
    assert_eq!(previous_instance(Some(&once), dir, id), None);
    let running = status(serde_json::json!({"state": {"running": {}}}));
    assert_eq!(previous_instance(Some(&running), dir, id), None);
    assert_eq!(previous_instance(None, dir, id), None);
    // A lastState whose log is gone.
    let empty = tempfile::tempdir().unwrap();
    let restarted = status(serde_json::json!({
        "restartCount": 1,
        "state": {"running": {}},
        "lastState": {"terminated": {"exitCode": 1}},
    }));
    assert_eq!(previous_instance(Some(&restarted), empty.path(), id), None);
}

#[test]
fn only_a_container_that_never_ran_is_waiting_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let waiting =
        |reason: &str| status(serde_json::json!({"state": {"waiting": {"reason": reason}}}));
    for (reason, said) in [
        ("ContainerCreating", "ContainerCreating"),
        ("CreateContainerConfigError", "CreateContainerConfigError"),
        ("ErrImagePull", "image can't be pulled"),
        ("ImagePullBackOff", "trying and failing to pull image"),
    ] {
        assert_eq!(
            current_instance(Some(&waiting(reason)), dir),
            Err(said.to_string())
        );
    }
    assert_eq!(
        current_instance(Some(&status(serde_json::json!({}))), dir),
        Err("ContainerCreating".to_string())
    );
}
