//! The device cgroup: which device nodes a container may create, read and
//! write. A container gets runc's default allow list (libcontainer's
//! specconv `AllowedDevices`, which containerd and so the kubelet leave in
//! place) on top of "deny everything"; privileged containers inherit the
//! pod cgroup's allow-all and so reach every host device.
//!
//! v1 writes the list to `devices.deny` / `devices.allow`; v2 has no
//! control files for devices and attaches a BPF program instead (see
//! [`super::bpf`]).

use std::path::Path;

use anyhow::Result;

use super::write;

/// A device node's kind as the device cgroup names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Char,
    Block,
}

/// mknod, read and write, as bits (the kernel's `BPF_DEVCG_ACC_*` values).
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;
const RWM: u8 = MKNOD | READ | WRITE;

/// One allow rule; None in a number is the wildcard `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

const fn rule(kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
    Rule {
        kind,
        major,
        minor,
        access,
    }
}

/// runc's default allow list. mknod of any node is allowed (images and
/// init systems make nodes they never open); opening is allowed only for
/// null, zero, full, random, urandom, tty, the ptys (136:*), ptmx and
/// /dev/net/tun.
pub const DEFAULT_RULES: &[Rule] = &[
    rule(Kind::Char, None, None, MKNOD),
    rule(Kind::Block, None, None, MKNOD),
    rule(Kind::Char, Some(1), Some(3), RWM),
    rule(Kind::Char, Some(1), Some(8), RWM),
    rule(Kind::Char, Some(1), Some(7), RWM),
    rule(Kind::Char, Some(5), Some(0), RWM),
    rule(Kind::Char, Some(1), Some(5), RWM),
    rule(Kind::Char, Some(1), Some(9), RWM),
    rule(Kind::Char, Some(136), None, RWM),
    rule(Kind::Char, Some(5), Some(2), RWM),
    rule(Kind::Char, Some(10), Some(200), RWM),
];

impl Rule {
    /// The v1 `devices.allow` line: `c 1:3 rwm`, `b *:* m`.
    pub fn v1_line(self) -> String {
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let mut access = String::new();
        for (bit, letter) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(letter);
            }
        }
        let kind = match self.kind {
            Kind::Char => 'c',
            Kind::Block => 'b',
        };
        format!(
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }
}

/// Denies every device in the v1 cgroup `dir`, then allows `rules`. The
/// cgroup must have no children yet (the kernel refuses to change the
/// default of a cgroup with children).
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    write(&dir.join("devices.deny"), "a")?;
    for rule in rules {
        write(&dir.join("devices.allow"), &rule.v1_line())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines_are_the_kernels_syntax() {
        let lines: Vec<String> = DEFAULT_RULES.iter().map(|r| r.v1_line()).collect();
        assert_eq!(
            lines,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:8 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 1:5 rwm",
                "c 1:9 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
            ]
        );
    }
}
