//! A supervisor under a day-equivalent of probe traffic (issue 18,
//! Leaks): a pod with 16 probes of the three kinds, every second, and the
//! supervisor's memory, fds and threads sampled after a warm-up and as
//! the probe runs add up. Its own test binary: the soak's check that no
//! process of the pod binary is left would see this pod's.
//!
//! 800 probe runs here; `scripts/soak.sh` runs a day-equivalent
//! (`POD_SOAK_PROBE_RUNS`, 17,280) and prints the samples.

mod common;

use std::time::{Duration, Instant};

use common::pods::{jsonpath, recorded_pid, wait_until};
use common::{Env, import_busybox};

/// A pod probed as hard as a pod can be: `PAIRS` containers serving
/// HTTP, each with an httpGet readiness and a tcpSocket liveness probe,
/// and `PAIRS` idle ones, each with an exec readiness and an exec liveness
/// probe, all every second (the kubelet's shortest period).
const PAIRS: usize = 4;

fn probed_manifest() -> String {
    let mut containers = String::new();
    for n in 0..PAIRS {
        let port = 8080 + n;
        containers.push_str(&format!(
            r#"  - name: web-{n}
    image: busybox
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p {port} -h /www']
    readinessProbe: {{httpGet: {{path: /index.html, port: {port}}}, periodSeconds: 1}}
    livenessProbe: {{tcpSocket: {{port: {port}}}, periodSeconds: 1}}
  - name: exec-{n}
    image: busybox
    imagePullPolicy: Never
    command: [sleep, '86400']
    volumeMounts: [{{name: count, mountPath: /count}}]
    readinessProbe: {{exec: {{command: [sh, -c, 'echo >> /count/{n}']}}, periodSeconds: 1}}
    livenessProbe: {{exec: {{command: ['true']}}, periodSeconds: 1}}
"#
        ));
    }
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: probed}}\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes:\n  - {{name: count, emptyDir: {{}}}}\n  containers:\n{containers}"
    )
}

/// What a process holds: resident, proportional and anonymous memory
/// (KiB, from smaps_rollup), its peak resident size, fds (the fewest over
/// a second) and threads.
#[derive(Clone, Copy)]
struct Held {
    rss: u64,
    pss: u64,
    anonymous: u64,
    peak: u64,
    fds: usize,
    threads: usize,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "RSS {} KiB, PSS {} KiB, anonymous {} KiB, peak RSS {} KiB, {} fds, {} threads",
            self.rss, self.pss, self.anonymous, self.peak, self.fds, self.threads
        )
    }
}

fn held(pid: i32) -> Held {
    let field = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} of process {pid}"))
    };
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let count = |dir: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{dir}"))
            .unwrap()
            .count()
    };
    // A probe in flight holds fds (its socket, the exec's pidfd and
    // pipes), and some probe is in flight most of the time: the fewest
    // seen over a second are the supervisor's own.
    let fds = (0..20)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            count("fd")
        })
        .min()
        .unwrap();
    Held {
        rss: field(&rollup, "Rss:"),
        pss: field(&rollup, "Pss:"),
        anonymous: field(&rollup, "Anonymous:"),
        peak: field(&status, "VmHWM:"),
        fds,
        threads: count("task"),
    }
}

/// The exec readiness probes' runs so far: each appends a line to a file
/// of the shared emptyDir.
fn exec_probe_runs(env: &Env) -> usize {
    let out = env.ok(&[
        "exec",
        "probed",
        "-c",
        "exec-0",
        "--",
        "sh",
        "-c",
        "cat /count/*",
    ]);
    out.lines().count()
}

/// The supervisor of a pod probed for a day-equivalent holds what it held
/// once warmed up: `POD_SOAK_PROBE_RUNS` probe runs (a day of a pod whose
/// container has a liveness and a readiness probe at the default 10 s
/// period is 17,280; `scripts/soak.sh` runs that), the suite's 800 here.
#[test]
fn a_supervisor_probed_for_a_day_holds_what_it_held() {
    let runs: usize = std::env::var("POD_SOAK_PROBE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(800);
    let probes = 4 * PAIRS;
    let env = Env::new();
    import_busybox(&env.root());
    let file = env.manifest("probed.yaml", &probed_manifest());
    env.ok(&["create", "-f", file.to_str().unwrap()]);
    let uid = env.ok(&["get", "pod", "probed", "-o", "jsonpath={.metadata.uid}"]);
    let all_ready = ["true"; 2 * PAIRS].join(" ");
    wait_until(&env, "probed", "every container ready", || {
        (jsonpath(&env, "probed", "{.status.containerStatuses[*].ready}") == all_ready)
            .then_some(())
    });
    let supervisor = recorded_pid(&env, &uid, "supervisor.pid").unwrap();
    // Warm-up: every kind of probe has run a few times, the supervisor's
    // allocator and its thread pool have their working size.
    let warm_runs = 30 * probes;
    // Every probe has the same period: the exec readiness probes are a
    // quarter of them.
    let runs_so_far = |env: &Env| exec_probe_runs(env) * 4;
    let mut counted = 0;
    while counted < warm_runs {
        std::thread::sleep(Duration::from_secs(5));
        counted = runs_so_far(&env);
    }
    let warm = held(supervisor);
    eprintln!("soak: probes warmed up ({counted} runs): {warm}");
    let start = Instant::now();
    let mut next_report = counted + runs / 4;
    while counted < warm_runs + runs {
        std::thread::sleep(Duration::from_secs(5));
        counted = runs_so_far(&env);
        if counted >= next_report {
            eprintln!(
                "soak: {} probe runs in {:.0?}: {}",
                counted - warm_runs,
                start.elapsed(),
                held(supervisor)
            );
            next_report += runs / 4;
        }
    }
    let end = held(supervisor);
    let restarts = jsonpath(
        &env,
        "probed",
        "{.status.containerStatuses[*].restartCount}",
    );
    assert_eq!(
        restarts,
        ["0"; 2 * PAIRS].join(" "),
        "a liveness probe failed"
    );
    assert_eq!(
        recorded_pid(&env, &uid, "supervisor.pid"),
        Some(supervisor),
        "the supervisor was replaced"
    );
    // A leak of one fd in a thousand runs would be tens more; the probes
    // still in flight at the fewest sampled are a few.
    assert!(
        end.fds <= warm.fds + probes,
        "the supervisor's fds grew: {warm} then {end}"
    );
    assert!(
        end.anonymous <= warm.anonymous + 1024,
        "the supervisor's anonymous memory grew by more than 1 MiB: {warm} then {end}"
    );
    eprintln!(
        "soak: {} probe runs ({probes} probes, every second, {:.0?}); supervisor {warm} then {end}",
        counted - warm_runs,
        start.elapsed()
    );
    env.ok(&["delete", "pod", "probed", "--grace-period=1"]);
}
