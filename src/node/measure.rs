//! What the kubelet measures of the machine for its node status: memory,
//! the filesystem of the state root, process ids, huge pages and the
//! system's identity. Each reads the kernel's own files, at once (no
//! cache: a `get nodes` sees the machine as it is now).

use std::io;
use std::path::Path;

/// Memory as the kubelet's eviction manager sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// MemTotal: the node's memory capacity.
    pub total: u64,
    /// `memory.available`: the capacity less the working set (what is in
    /// use less the inactive file cache the kernel can drop), as the
    /// kubelet computes it from the root cgroup.
    pub available: u64,
}

/// Reads /proc/meminfo.
pub fn memory() -> io::Result<Memory> {
    Ok(memory_from(&std::fs::read_to_string("/proc/meminfo")?))
}

/// The working-set arithmetic on the text of /proc/meminfo.
pub fn memory_from(meminfo: &str) -> Memory {
    let field = |name: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    let total = field("MemTotal");
    let usage = total.saturating_sub(field("MemFree"));
    let working_set = usage.saturating_sub(field("Inactive(file)"));
    Memory {
        total,
        available: total.saturating_sub(working_set),
    }
}

/// A filesystem's size and what is left of it (`statvfs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filesystem {
    pub capacity: u64,
    /// Bytes an unprivileged writer may still use (f_bavail).
    pub available: u64,
    pub inodes: u64,
    pub inodes_free: u64,
}

/// The filesystem holding `path`.
pub fn filesystem(path: &Path) -> io::Result<Filesystem> {
    let st = rustix::fs::statvfs(path)?;
    Ok(Filesystem {
        capacity: st.f_blocks.saturating_mul(st.f_frsize),
        available: st.f_bavail.saturating_mul(st.f_frsize),
        inodes: st.f_files,
        inodes_free: st.f_ffree,
    })
}

/// Process ids: the most the kernel hands out and how many are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pids {
    /// min(kernel.pid_max, kernel.threads-max), as the kubelet's rlimit
    /// stats take it.
    pub max: u64,
    /// Tasks (threads) that exist now.
    pub running: u64,
}

impl Pids {
    /// `pid.available`.
    pub fn available(&self) -> u64 {
        self.max.saturating_sub(self.running)
    }
}

pub fn pids() -> io::Result<Pids> {
    let read = |path: &str| -> io::Result<u64> {
        std::fs::read_to_string(path)?.trim().parse().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{path}: not a number"))
        })
    };
    let max = read("/proc/sys/kernel/pid_max")?.min(read("/proc/sys/kernel/threads-max")?);
    // The fourth field of loadavg, `runnable/total`: total is every task
    // (thread) that exists, what sysinfo's `procs` counts.
    let loadavg = std::fs::read_to_string("/proc/loadavg")?;
    let running = loadavg
        .split_whitespace()
        .nth(3)
        .and_then(|f| f.split_once('/')?.1.parse().ok())
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "/proc/loadavg: no task count")
        })?;
    Ok(Pids { max, running })
}

/// One huge page size the kernel supports, and the bytes of pages of that
/// size reserved (`nr_hugepages` × size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HugePages {
    pub page_size: u64,
    pub total: u64,
}

/// Every size under /sys/kernel/mm/hugepages (none without the directory).
pub fn huge_pages() -> Vec<HugePages> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut out: Vec<HugePages> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let kib: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            let count: u64 = std::fs::read_to_string(entry.path().join("nr_hugepages"))
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some(HugePages {
                page_size: kib * 1024,
                total: count * kib * 1024,
            })
        })
        .collect();
    out.sort_by_key(|h| h.page_size);
    out
}

/// The `hugepages-<size>` resource name of a page size, with the
/// quantity suffix the kubelet uses (`hugepages-2Mi`, `hugepages-1Gi`).
pub fn huge_page_resource(page_size: u64) -> String {
    format!(
        "hugepages-{}",
        crate::api::quantity::Quantity::binary(page_size as i64).canonical()
    )
}

/// What `nodeInfo` says of the system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct System {
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
}

pub fn system() -> System {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    System {
        machine_id: read("/etc/machine-id"),
        system_uuid: read("/sys/class/dmi/id/product_uuid"),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
        // uname's release.
        kernel_version: read("/proc/sys/kernel/osrelease"),
        os_image: os_image(&read("/etc/os-release")),
    }
}

/// PRETTY_NAME of os-release (quotes removed), or `Linux` as cadvisor
/// says without one.
pub fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "Linux".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_memory_counts_the_inactive_file_cache_as_free() {
        let m = memory_from(
            "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    500 kB\nInactive(file):  300 kB\n",
        );
        assert_eq!(m.total, 1000 * 1024);
        // usage 900, working set 600, available 400
        assert_eq!(m.available, 400 * 1024);
    }

    #[test]
    fn this_machine_is_measured() {
        let m = memory().unwrap();
        assert!(m.total > 0 && m.available <= m.total);
        let fs = filesystem(Path::new("/")).unwrap();
        assert!(fs.capacity > 0 && fs.available <= fs.capacity);
        let p = pids().unwrap();
        assert!(p.max > p.running && p.running > 0);
        let s = system();
        assert!(!s.kernel_version.is_empty() && !s.boot_id.is_empty());
        for h in huge_pages() {
            assert!(huge_page_resource(h.page_size).starts_with("hugepages-"));
        }
    }

    #[test]
    fn os_image_is_the_pretty_name() {
        assert_eq!(
            os_image("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(os_image(""), "Linux");
        assert_eq!(huge_page_resource(2 << 20), "hugepages-2Mi");
        assert_eq!(huge_page_resource(1 << 30), "hugepages-1Gi");
    }
}
