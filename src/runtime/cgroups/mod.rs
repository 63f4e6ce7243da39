//! Control groups: one per pod (`pod/<uid>`) with a child per container,
//! on cgroup v1 (legacy or hybrid, one hierarchy per controller) or v2
//! (unified). The layout is detected, never assumed: statfs on
//! /sys/fs/cgroup tells cgroup2 from a tmpfs of v1 mounts, and the v1
//! controllers' mount points come from /proc/self/mountinfo.

mod bpf;
pub mod devices;
mod v1;
mod v2;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where cgroup filesystems are mounted on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One mount per v1 controller we use: (controller, mount point).
    V1(Vec<(String, PathBuf)>),
    /// The unified hierarchy's mount point.
    V2(PathBuf),
}

/// The v1 controllers the runtime uses.
const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "pids", "devices"];

impl Layout {
    /// Detects the host's layout.
    pub fn detect() -> Result<Layout> {
        let root = Path::new("/sys/fs/cgroup");
        let stat = nix::sys::statfs::statfs(root).context("statfs /sys/fs/cgroup")?;
        if stat.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            return Ok(Layout::V2(root.to_path_buf()));
        }
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
        let layout = Layout::from_mountinfo(&mountinfo);
        match &layout {
            Layout::V1(found) if found.is_empty() => {
                bail!(
                    "no cgroup v1 controller (memory, cpu, pids, devices) is mounted and /sys/fs/cgroup is not cgroup2"
                )
            }
            _ => Ok(layout),
        }
    }

    /// The v1 controllers' mount points from a mountinfo text (a hybrid
    /// host's cgroup2 mount at /sys/fs/cgroup/unified has no controllers
    /// to offer and is ignored).
    pub fn from_mountinfo(text: &str) -> Layout {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut right = right.split_whitespace();
            if right.next() != Some("cgroup") {
                continue;
            }
            let options = right.nth(1).unwrap_or("");
            let Some(mount_point) = left.split_whitespace().nth(4) else {
                continue;
            };
            for controller in V1_CONTROLLERS {
                if options.split(',').any(|o| o == *controller)
                    && !found.iter().any(|(c, _)| c == controller)
                {
                    found.push((controller.to_string(), PathBuf::from(mount_point)));
                }
            }
        }
        Layout::V1(found)
    }

    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        match self {
            Layout::V1(roots) => roots
                .iter()
                .find(|(c, _)| c == controller)
                .map(|(_, p)| p.as_path()),
            Layout::V2(_) => None,
        }
    }

    /// Every directory of the cgroup `relative` (one per v1 hierarchy).
    fn dirs(&self, relative: &Path) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = match self {
            Layout::V1(roots) => roots.iter().map(|(_, root)| root.join(relative)).collect(),
            Layout::V2(root) => vec![root.join(relative)],
        };
        // cpu and cpuacct may share one mount point.
        dirs.dedup();
        dirs
    }
}

/// What a container's /sys/fs/cgroup is made of on this host: read once
/// by the supervisor (the host's cgroup mounts do not change while it
/// runs) and handed to each container's init, which would otherwise read
/// mountinfo, /proc/cgroups and the links of /sys/fs/cgroup again at
/// every start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HostView {
    /// One cgroup2 mount.
    V2,
    /// A tmpfs with a mount per hierarchy, and the host's links to them
    /// (name, target: `cpu` -> `cpu,cpuacct`).
    V1 {
        hierarchies: Vec<Hierarchy>,
        links: Vec<(String, String)>,
    },
}

impl HostView {
    /// This host's, read once per process.
    pub fn of_host() -> Result<HostView> {
        static VIEW: std::sync::OnceLock<HostView> = std::sync::OnceLock::new();
        if let Some(view) = VIEW.get() {
            return Ok(view.clone());
        }
        let view = HostView::read()?;
        Ok(VIEW.get_or_init(|| view).clone())
    }

    fn read() -> Result<HostView> {
        let host = Path::new("/sys/fs/cgroup");
        let unified = nix::sys::statfs::statfs(host).context("statfs /sys/fs/cgroup")?;
        if unified.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            return Ok(HostView::V2);
        }
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
        let controllers =
            std::fs::read_to_string("/proc/cgroups").context("reading /proc/cgroups")?;
        let hierarchies = v1_hierarchies(&mountinfo, &controllers);
        let mut links = Vec::new();
        for entry in std::fs::read_dir(host)
            .context("reading /sys/fs/cgroup")?
            .flatten()
        {
            let Ok(link) = std::fs::read_link(entry.path()) else {
                continue;
            };
            if hierarchies.iter().any(|h| link == Path::new(&h.dir)) {
                links.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    link.to_string_lossy().into_owned(),
                ));
            }
        }
        Ok(HostView::V1 { hierarchies, links })
    }
}

/// A v1 hierarchy as a container's /sys/fs/cgroup shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hierarchy {
    /// Its directory under /sys/fs/cgroup (`cpu,cpuacct`, `systemd`).
    pub dir: String,
    /// The mount options that name it: its controllers, or `none` and
    /// its `name=` (a hierarchy is mounted again by naming exactly those).
    pub options: String,
}

/// The v1 hierarchies mounted under /sys/fs/cgroup, from a mountinfo
/// text and the kernel's controller names (the first column of
/// /proc/cgroups). Options like `release_agent=` are left out: they
/// cannot be given in a cgroup namespace, and the kernel takes a
/// hierarchy's own.
pub fn v1_hierarchies(mountinfo: &str, proc_cgroups: &str) -> Vec<Hierarchy> {
    let controllers: Vec<&str> = proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut right = right.split_whitespace();
        if right.next() != Some("cgroup") {
            continue;
        }
        let super_options = right.nth(1).unwrap_or("");
        let Some(dir) = left
            .split_whitespace()
            .nth(4)
            .and_then(|p| p.strip_prefix("/sys/fs/cgroup/"))
            .filter(|d| !d.is_empty() && !d.contains('/'))
        else {
            continue;
        };
        let mut options: Vec<&str> = super_options
            .split(',')
            .filter(|o| controllers.contains(o) || o.starts_with("name="))
            .collect();
        if !options.iter().any(|o| controllers.contains(o)) {
            options.insert(0, "none");
        }
        if !found.iter().any(|h: &Hierarchy| h.dir == dir) {
            found.push(Hierarchy {
                dir: dir.to_string(),
                options: options.join(","),
            });
        }
    }
    found
}

/// Resource settings of one cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes.
    pub memory: Option<i64>,
    /// CFS quota and period in microseconds.
    pub cpu_quota: Option<(i64, u64)>,
    /// v1 cpu.shares (v2 weight is derived from it).
    pub cpu_shares: Option<u64>,
    pub pids: Option<i64>,
    /// The devices the cgroup's processes may use, every other one denied;
    /// None leaves the parent's (the pod cgroup allows all, so that a
    /// privileged container can reach the host's devices).
    pub devices: Option<&'static [devices::Rule]>,
}

/// The CFS period the kubelet uses (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

/// kubelet's MilliCPUToShares: 1024 per CPU, at least 2.
pub fn shares_from_millis(millis: i64) -> u64 {
    ((millis.max(0) as u64) * 1024 / 1000).max(2)
}

/// kubelet's MilliCPUToQuota: at least 1 ms per period.
pub fn quota_from_millis(millis: i64, period: u64) -> i64 {
    ((millis * period as i64) / 1000).max(1000)
}

/// How a new process gets into a cgroup (see [`Cgroup::entry`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// v1 `tasks` files the forking thread writes "0" into just before it
    /// forks, so that the child is born in the cgroup.
    pub thread_files: Vec<PathBuf>,
    /// `cgroup.procs` files the process is written into once it exists
    /// (v2).
    pub procs_files: Vec<PathBuf>,
}

/// A cgroup: a path relative to each hierarchy's root.
#[derive(Debug, Clone)]
pub struct Cgroup {
    layout: Layout,
    relative: PathBuf,
}

impl Cgroup {
    pub fn new(layout: Layout, relative: impl Into<PathBuf>) -> Cgroup {
        Cgroup {
            layout,
            relative: relative.into(),
        }
    }

    pub fn child(&self, name: &str) -> Cgroup {
        Cgroup::new(self.layout.clone(), self.relative.join(name))
    }

    /// Creates the cgroup (and its parents) and applies `limits`.
    pub fn create(&self, limits: &Limits) -> Result<()> {
        match &self.layout {
            Layout::V1(_) => {
                for dir in self.layout.dirs(&self.relative) {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating cgroup {}", dir.display()))?;
                }
                v1::apply(&self.layout, &self.relative, limits)
            }
            Layout::V2(root) => {
                v2::create(root, &self.relative)?;
                let dir = root.join(&self.relative);
                v2::apply(&dir, limits)?;
                match limits.devices {
                    Some(rules) => bpf::attach(&dir, rules),
                    None => Ok(()),
                }
            }
        }
    }

    /// Creates the child `name` for a process that needs nothing of a
    /// cgroup but a device list of its own (the pause process), and says
    /// how a process enters it. On v1 only the devices hierarchy gets the
    /// child; in the others (memory, cpu, pids) the process is born in
    /// this cgroup itself, since a child there would limit nothing and
    /// cost kernel memory all the same (a memory cgroup is 25 to 40 KiB of
    /// slab and per-CPU statistics, measured here). On v2 a cgroup with
    /// children holds no process: the child is a whole one there.
    pub fn create_device_child(
        &self,
        name: &str,
        rules: &'static [devices::Rule],
    ) -> Result<Entry> {
        let child = self.child(name);
        let limits = Limits {
            devices: Some(rules),
            ..Limits::default()
        };
        let Layout::V1(roots) = &self.layout else {
            child.create(&limits)?;
            return Ok(child.entry());
        };
        let Some(devices_root) = self.layout.v1_dir("devices") else {
            // v1::apply's refusal, worded once.
            return child.create(&limits).map(|()| child.entry());
        };
        let own = devices_root.join(&child.relative);
        std::fs::create_dir_all(&own)
            .with_context(|| format!("creating cgroup {}", own.display()))?;
        devices::apply_v1(&own, rules)?;
        let mut thread_files: Vec<PathBuf> = Vec::new();
        for (_, root) in roots {
            let dir = if root == devices_root {
                own.clone()
            } else {
                root.join(&self.relative)
            };
            let tasks = dir.join("tasks");
            if !thread_files.contains(&tasks) {
                thread_files.push(tasks);
            }
        }
        Ok(Entry {
            thread_files,
            procs_files: Vec::new(),
        })
    }

    /// The `cgroup.procs` files a process writes itself into to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.layout
            .dirs(&self.relative)
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// How a process about to be started enters this cgroup.
    ///
    /// Moving a whole process (a write to `cgroup.procs`) makes the kernel
    /// take the threadgroup lock for writing, which first waits for an RCU
    /// grace period: 10 to 15 ms measured here, on the path of every pod
    /// start and every exec. Moving only the calling thread (v1 `tasks`,
    /// "0") skips that lock. So on v1 the short-lived thread that forks
    /// the child moves itself and the child is born in the cgroup. v2 has
    /// no per-thread membership outside threaded cgroups; there the process
    /// joins through `cgroup.procs`.
    pub fn entry(&self) -> Entry {
        match &self.layout {
            Layout::V1(_) => Entry {
                thread_files: self
                    .layout
                    .dirs(&self.relative)
                    .into_iter()
                    .map(|d| d.join("tasks"))
                    .collect(),
                procs_files: Vec::new(),
            },
            Layout::V2(_) => Entry {
                thread_files: Vec::new(),
                procs_files: self.procs_files(),
            },
        }
    }

    /// Pids in the cgroup and its children.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for dir in self.layout.dirs(&self.relative).into_iter().take(1) {
            collect_pids(&dir, &mut pids);
        }
        pids
    }

    /// The memory working set of the cgroup tree, as the kubelet's stats
    /// count it: usage less the inactive file cache the kernel can drop
    /// (0 when the memory controller cannot be read).
    pub fn working_set(&self) -> u64 {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        let stat_field = |text: &str, name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0)
        };
        let (usage, inactive): (u64, u64) = match &self.layout {
            Layout::V1(_) => {
                let Some(root) = self.layout.v1_dir("memory") else {
                    return 0;
                };
                let dir = root.join(&self.relative);
                let usage = read(&dir.join("memory.usage_in_bytes"))
                    .trim()
                    .parse()
                    .unwrap_or(0);
                (
                    usage,
                    stat_field(&read(&dir.join("memory.stat")), "total_inactive_file"),
                )
            }
            Layout::V2(root) => {
                let dir = root.join(&self.relative);
                let usage = read(&dir.join("memory.current"))
                    .trim()
                    .parse()
                    .unwrap_or(0);
                (
                    usage,
                    stat_field(&read(&dir.join("memory.stat")), "inactive_file"),
                )
            }
        };
        usage.saturating_sub(inactive)
    }

    /// Whether the OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        match &self.layout {
            Layout::V1(_) => self
                .layout
                .v1_dir("memory")
                .is_some_and(|root| v1::oom_kills(&root.join(&self.relative)) > 0),
            Layout::V2(root) => v2::oom_kills(&root.join(&self.relative)) > 0,
        }
    }

    /// SIGKILLs every process left in the cgroup tree and removes it,
    /// children first. Missing cgroups are fine.
    pub fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            // cgroup.procs lists a process outside the reader's pid
            // namespace as 0, which kill(2) would take as our own process
            // group: the wrapper refuses it.
            for pid in pids {
                let _ = crate::process::kill(pid, libc::SIGKILL);
            }
            if Instant::now() > deadline {
                bail!(
                    "processes of cgroup {} survive SIGKILL",
                    self.relative.display()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for dir in self.layout.dirs(&self.relative) {
            remove_tree(&dir)?;
        }
        Ok(())
    }
}

fn collect_pids(dir: &Path, pids: &mut Vec<i32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&entry.path(), pids);
            }
        }
    }
}

/// rmdir a cgroup tree bottom-up (cgroup directories hold only control
/// files, which rmdir takes with them).
fn remove_tree(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading cgroup {}", dir.display())),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    // A cgroup whose last task just exited can be busy for a moment.
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if tries < 50 && e.raw_os_error() == Some(libc::EBUSY) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).with_context(|| format!("removing cgroup {}", dir.display())),
        }
    }
}

/// Writes a control file, naming it in the error as youki does.
fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value)
        .with_context(|| format!("failed to write {value} to {}", path.display()))
}

#[cfg(test)]
mod tests;
