use super::*;

#[test]
fn hybrid_mountinfo_gives_v1_controllers() {
    let text = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
38 35 0:33 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
39 35 0:34 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory
40 35 0:35 / /sys/fs/cgroup/pids rw shared:15 - cgroup cgroup rw,pids
42 35 0:37 / /sys/fs/cgroup/devices rw shared:17 - cgroup cgroup rw,devices
41 35 0:36 / /sys/fs/cgroup/systemd rw shared:16 - cgroup cgroup rw,xattr,name=systemd
";
    assert_eq!(
        Layout::from_mountinfo(text),
        Layout::V1(vec![
            ("cpu".into(), "/sys/fs/cgroup/cpu,cpuacct".into()),
            ("memory".into(), "/sys/fs/cgroup/memory".into()),
            ("pids".into(), "/sys/fs/cgroup/pids".into()),
            ("devices".into(), "/sys/fs/cgroup/devices".into()),
        ])
    );
}

#[test]
fn hierarchies_are_named_by_their_controllers() {
    let text = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
38 35 0:33 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
39 35 0:34 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory,release_agent=/x
41 35 0:36 / /sys/fs/cgroup/systemd rw shared:16 - cgroup cgroup rw,xattr,name=systemd
50 20 0:36 / /elsewhere/systemd rw shared:16 - cgroup cgroup rw,xattr,name=systemd
";
    let proc_cgroups = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nmemory\t3\t1\t1\n";
    let found = v1_hierarchies(text, proc_cgroups);
    let pairs: Vec<(&str, &str)> = found
        .iter()
        .map(|h| (h.dir.as_str(), h.options.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("cpu,cpuacct", "cpu,cpuacct"),
            ("memory", "memory"),
            ("systemd", "none,name=systemd"),
        ]
    );
}

#[test]
fn kubelet_cpu_conversions() {
    assert_eq!(shares_from_millis(0), 2);
    assert_eq!(shares_from_millis(250), 256);
    assert_eq!(shares_from_millis(1000), 1024);
    assert_eq!(quota_from_millis(500, CPU_PERIOD_US), 50_000);
    assert_eq!(quota_from_millis(1, CPU_PERIOD_US), 1000);
}

fn v1_fixture(root: &Path) -> Layout {
    let layout = Layout::V1(
        V1_CONTROLLERS
            .iter()
            .map(|c| (c.to_string(), root.join(c)))
            .collect(),
    );
    for (_, dir) in match &layout {
        Layout::V1(r) => r.clone(),
        _ => unreachable!(),
    } {
        std::fs::create_dir_all(dir).unwrap();
    }
    layout
}

#[test]
fn v1_limits_are_written_per_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_fixture(tmp.path());
    let cgroup = Cgroup::new(layout, "pod/uid-1").child("app");
    cgroup
        .create(&Limits {
            memory: Some(64 << 20),
            cpu_quota: Some((50_000, CPU_PERIOD_US)),
            cpu_shares: Some(256),
            pids: Some(100),
            devices: Some(devices::DEFAULT_RULES),
        })
        .unwrap();
    let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
    assert_eq!(
        read("memory/pod/uid-1/app/memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(read("cpu/pod/uid-1/app/cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu/pod/uid-1/app/cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpu/pod/uid-1/app/cpu.shares"), "256");
    assert_eq!(read("pids/pod/uid-1/app/pids.max"), "100");
    // Control files in a plain directory keep only the last write.
    assert_eq!(read("devices/pod/uid-1/app/devices.deny"), "a");
    assert_eq!(read("devices/pod/uid-1/app/devices.allow"), "c 10:200 rwm");
    assert_eq!(cgroup.procs_files().len(), 4);
    std::fs::write(
        tmp.path().join("memory/pod/uid-1/app/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    )
    .unwrap();
    assert!(cgroup.oom_killed());
}

#[test]
fn v1_device_child_exists_only_in_the_devices_hierarchy() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = v1_fixture(tmp.path());
    let pod = Cgroup::new(layout, "pod/uid-1");
    pod.create(&Limits::default()).unwrap();
    let entry = pod
        .create_device_child(".sandbox", devices::DEFAULT_RULES)
        .unwrap();
    let at = |p: &str| tmp.path().join(p);
    assert!(at("devices/pod/uid-1/.sandbox").is_dir());
    for controller in ["memory", "cpu", "pids"] {
        assert!(!at(&format!("{controller}/pod/uid-1/.sandbox")).exists());
    }
    assert_eq!(
        std::fs::read_to_string(at("devices/pod/uid-1/.sandbox/devices.allow")).unwrap(),
        "c 10:200 rwm"
    );
    let mut files = entry.thread_files.clone();
    files.sort();
    assert_eq!(
        files,
        vec![
            at("cpu/pod/uid-1/tasks"),
            at("devices/pod/uid-1/.sandbox/tasks"),
            at("memory/pod/uid-1/tasks"),
            at("pids/pod/uid-1/tasks"),
        ]
    );
    assert!(entry.procs_files.is_empty());
}

#[test]
fn v2_limits_and_controllers() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cgroup.controllers"), "cpu memory pids io").unwrap();
    let cgroup = Cgroup::new(Layout::V2(tmp.path().to_path_buf()), "pod/uid-1").child("app");
    // A plain directory does not grow control files: make them.
    for dir in ["pod", "pod/uid-1", "pod/uid-1/app"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        std::fs::write(
            tmp.path().join(dir).join("cgroup.controllers"),
            "cpu memory pids",
        )
        .unwrap();
    }
    cgroup
        .create(&Limits {
            memory: Some(1 << 20),
            cpu_quota: Some((50_000, CPU_PERIOD_US)),
            cpu_shares: Some(1024),
            pids: None,
            devices: None,
        })
        .unwrap();
    let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
    assert_eq!(read("cgroup.subtree_control"), "+cpu +memory +pids");
    assert_eq!(
        read("pod/uid-1/cgroup.subtree_control"),
        "+cpu +memory +pids"
    );
    assert_eq!(read("pod/uid-1/app/memory.max"), "1048576");
    assert_eq!(read("pod/uid-1/app/cpu.max"), "50000 100000");
    assert_eq!(read("pod/uid-1/app/cpu.weight"), "39");
    std::fs::write(
        tmp.path().join("pod/uid-1/app/memory.events"),
        "low 0\noom 1\noom_kill 2\n",
    )
    .unwrap();
    assert!(cgroup.oom_killed());
}

/// A hybrid host's cgroup2 hierarchy offers none of memory, cpu and
/// pids (the v1 hierarchies hold them): the limits are skipped, as on
/// v1 without those mounts, instead of failing on files that do not
/// exist.
#[test]
fn v2_without_controllers_skips_their_limits() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in ["", "pod", "pod/uid-1"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        std::fs::write(tmp.path().join(dir).join("cgroup.controllers"), "hugetlb\n").unwrap();
    }
    let cgroup = Cgroup::new(Layout::V2(tmp.path().to_path_buf()), "pod/uid-1");
    cgroup
        .create(&Limits {
            memory: Some(1 << 20),
            cpu_quota: Some((50_000, CPU_PERIOD_US)),
            cpu_shares: Some(1024),
            pids: Some(16384),
            devices: None,
        })
        .unwrap();
    for file in ["memory.max", "cpu.max", "cpu.weight", "pids.max"] {
        assert!(!tmp.path().join("pod/uid-1").join(file).exists(), "{file}");
    }
    assert!(!tmp.path().join("cgroup.subtree_control").exists());
}
