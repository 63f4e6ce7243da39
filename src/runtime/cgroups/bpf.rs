//! The cgroup v2 device filter: a `BPF_PROG_TYPE_CGROUP_DEVICE` program,
//! assembled here from the allow rules, loaded with bpf(2) and attached to
//! the container's cgroup. The kernel runs it on every mknod and on every
//! open of a device node by a process of the cgroup (or of its
//! descendants); 0 refuses with EPERM, 1 allows.
//!
//! The program is a straight list of tests, one block per rule (as runc's
//! devicefilter emits): the device's type, the requested access, major and
//! minor are loaded once from the context, each block jumps to the next
//! block on a mismatch and returns 1 when everything matched; falling off
//! the last block returns 0. No maps, no helpers: a few instructions the
//! verifier accepts on any kernel with cgroup device programs (4.15+).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::devices::{Kind, MKNOD, READ, Rule, WRITE};

/// One eBPF instruction (`struct bpf_insn`): opcode, destination register
/// in the low nibble and source register in the high one, offset,
/// immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

// Opcodes (class | operation | source), from linux/bpf.h and bpf_common.h.
/// `dst = *(u32 *)(src + off)`.
const LDX_MEM_W: u8 = 0x61;
/// `(u32) dst &= imm`.
const ALU32_AND_K: u8 = 0x54;
/// `(u32) dst >>= imm`.
const ALU32_RSH_K: u8 = 0x74;
/// `(u32) dst = src`.
const ALU32_MOV_X: u8 = 0xbc;
/// `dst = imm`.
const ALU64_MOV_K: u8 = 0xb7;
/// `if dst != imm goto pc + off`.
const JMP_JNE_K: u8 = 0x55;
/// `if dst != src goto pc + off`.
const JMP_JNE_X: u8 = 0x5d;
const JMP_EXIT: u8 = 0x95;

// `struct bpf_cgroup_dev_ctx`: access_type (type in the low 16 bits,
// access in the high 16), major, minor.
const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

/// Registers the program keeps its inputs in (r1 holds the context on
/// entry and is scratch afterwards).
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

/// The program allowing exactly `rules`.
fn assemble(rules: &[Rule]) -> Vec<Insn> {
    let mut program = vec![
        insn(LDX_MEM_W, TYPE, 1, 0, 0),
        insn(ALU32_AND_K, TYPE, 0, 0, 0xffff),
        insn(LDX_MEM_W, ACCESS, 1, 0, 0),
        insn(ALU32_RSH_K, ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, MAJOR, 1, 4, 0),
        insn(LDX_MEM_W, MINOR, 1, 8, 0),
    ];
    for rule in rules {
        // Each test jumps past the end of its own block; the offsets are
        // filled in once the block's length is known.
        let mut block: Vec<Insn> = Vec::new();
        let kind = match rule.kind {
            Kind::Char => BPF_DEVCG_DEV_CHAR,
            Kind::Block => BPF_DEVCG_DEV_BLOCK,
        };
        block.push(insn(JMP_JNE_K, TYPE, 0, 0, kind));
        if rule.access & (MKNOD | READ | WRITE) != MKNOD | READ | WRITE {
            // The requested access must be a subset of the rule's.
            block.push(insn(ALU32_MOV_X, 1, ACCESS, 0, 0));
            block.push(insn(ALU32_AND_K, 1, 0, 0, i32::from(rule.access)));
            block.push(insn(JMP_JNE_X, 1, ACCESS, 0, 0));
        }
        if let Some(major) = rule.major {
            block.push(insn(JMP_JNE_K, MAJOR, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JMP_JNE_K, MINOR, 0, 0, minor as i32));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if matches!(ins.code, JMP_JNE_K | JMP_JNE_X) {
                // Relative to the next instruction.
                ins.off = (len - i - 1) as i16;
            }
        }
        program.extend(block);
    }
    program.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    program.push(insn(JMP_EXIT, 0, 0, 0, 0));
    program
}

// bpf(2) commands, program and attach types, flags.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Lets programs attached below (a privileged container's own nested
/// containers) run as well as ours instead of being refused.
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The prefix of `union bpf_attr` that BPF_PROG_LOAD reads (the kernel
/// takes a shorter attr as zeros beyond its size).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH part of `union bpf_attr`.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, initialised bpf_attr prefix of the given
    // size, and every pointer in it outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Loads the program; on a refusal, loads it again with a log to say why.
fn load(program: &[Insn]) -> Result<OwnedFd> {
    let license = c"MIT";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"pod_device");
    let attr = |log: &mut Vec<u8>| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoadAttr::default()
    };
    let mut no_log = Vec::new();
    match bpf(BPF_PROG_LOAD, &mut attr(&mut no_log)) {
        // SAFETY: a new descriptor that nothing else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(err) => {
            let mut log = vec![0u8; 64 * 1024];
            let _ = bpf(BPF_PROG_LOAD, &mut attr(&mut log));
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            bail!(
                "loading the device cgroup program: {err}{}{}",
                if text.trim().is_empty() { "" } else { ": " },
                text.trim()
            )
        }
    }
}

/// Attaches a program allowing exactly `rules` to the cgroup v2 directory
/// `dir`. The cgroup keeps the program for its lifetime; the descriptor is
/// not needed afterwards.
pub fn attach(dir: &Path, rules: &[Rule]) -> Result<()> {
    let program = load(&assemble(rules))?;
    let cgroup =
        std::fs::File::open(dir).with_context(|| format!("opening cgroup {}", dir.display()))?;
    let mut attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .with_context(|| format!("attaching the device program to {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::devices::DEFAULT_RULES;
    use super::*;
    use std::process::Command;

    #[test]
    fn blocks_jump_to_the_next_block() {
        let rules = [
            Rule {
                kind: Kind::Char,
                major: Some(1),
                minor: Some(3),
                access: MKNOD | READ | WRITE,
            },
            Rule {
                kind: Kind::Block,
                major: None,
                minor: None,
                access: MKNOD,
            },
        ];
        let program = assemble(&rules);
        // 6 loads, 5 + 6 block instructions, 2 to deny.
        assert_eq!(program.len(), 6 + 5 + 6 + 2);
        // The first block: type, major, minor, then allow.
        assert_eq!(program[6], insn(JMP_JNE_K, TYPE, 0, 4, BPF_DEVCG_DEV_CHAR));
        assert_eq!(program[7], insn(JMP_JNE_K, MAJOR, 0, 3, 1));
        assert_eq!(program[8], insn(JMP_JNE_K, MINOR, 0, 2, 3));
        // The second: type, then the access subset test.
        assert_eq!(
            program[11],
            insn(JMP_JNE_K, TYPE, 0, 5, BPF_DEVCG_DEV_BLOCK)
        );
        assert_eq!(program[14], insn(JMP_JNE_X, 1, ACCESS, 2, 0));
        assert_eq!(program[17], insn(ALU64_MOV_K, 0, 0, 0, 0));
    }

    /// A cgroup2 mount on this host: /sys/fs/cgroup (unified) or
    /// /sys/fs/cgroup/unified (hybrid).
    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mountinfo.lines().find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next() == Some("cgroup2"))
                .then(|| left.split_whitespace().nth(4).map(Into::into))
                .flatten()
        })
    }

    /// Runs `script` with sh in the cgroup `dir`; returns its stderr on
    /// failure.
    fn run_in(dir: &Path, script: &str) -> Result<(), String> {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && {script}",
                dir.display()
            ))
            .output()
            .unwrap();
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The real attack against a real cgroup: a process in a cgroup with
    /// the default program cannot open /dev/kmsg or a block device, while
    /// the same process in a cgroup without it can. Needs root and a
    /// cgroup2 mount.
    #[test]
    fn the_default_program_denies_kmsg_and_block_devices() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let Some(mount) = cgroup2_mount() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        // A block device this (unconfined) process can open.
        let block = std::fs::read_dir("/sys/class/block")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
            .find(|p| std::fs::File::open(p).is_ok());
        let scratch = tempfile::tempdir().unwrap();
        let made = scratch.path().join("kmsg");
        let attack = format!(
            "head -c 0 < /dev/kmsg{} && mknod {} c 1 11 && : < /dev/null",
            block
                .as_ref()
                .map(|b| format!(" && : < {b}"))
                .unwrap_or_default(),
            made.display()
        );
        let cgroups = |name: &str| mount.join(format!("pod-test-{name}-{}", std::process::id()));
        let open = cgroups("open");
        let confined = cgroups("confined");
        std::fs::create_dir(&open).unwrap();
        std::fs::create_dir(&confined).unwrap();
        let result = std::panic::catch_unwind(|| {
            // Without the program, the attack works.
            run_in(&open, &attack).expect("the attack works without the program");
            std::fs::remove_file(&made).unwrap();
            attach(&confined, DEFAULT_RULES).unwrap();
            let err = run_in(&confined, "head -c 0 < /dev/kmsg").unwrap_err();
            assert!(err.contains("Operation not permitted"), "{err}");
            if let Some(block) = &block {
                let err = run_in(&confined, &format!(": < {block}")).unwrap_err();
                assert!(err.contains("Operation not permitted"), "{err}");
            }
            // What the allow list keeps: mknod of anything, /dev/null.
            run_in(
                &confined,
                &format!(
                    "mknod {} c 1 11 && : < /dev/null && : > /dev/null",
                    made.display()
                ),
            )
            .unwrap();
            let err = run_in(&confined, &format!("head -c 0 < {}", made.display())).unwrap_err();
            assert!(err.contains("Operation not permitted"), "{err}");
        });
        // The shells have exited: the cgroups are empty.
        let _ = std::fs::remove_dir(&open);
        let _ = std::fs::remove_dir(&confined);
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}
