//! Seccomp profiles in the OCI runtime-spec form (`linux.seccomp`, the
//! JSON of the kubelet's Localhost profiles) and their compilation to BPF
//! with seccompiler.
//!
//! seccompiler builds one filter with one action for every match and one
//! for the rest, where a profile gives each rule its own action. A profile
//! becomes a stack of filters instead, which the kernel runs together,
//! taking the most restrictive answer: first "is this call named by any
//! rule? then no opinion (allow), else the default action", then one
//! filter per other action, "matches a rule of this action? then it,
//! else no opinion". A call a rule allows is allowed; a call an ERRNO or
//! KILL rule matches gets that rule's action; anything else, the default.
//!
//! On x86_64 the kernel also takes i386 calls (`int 0x80`, 32-bit
//! programs; their own AUDIT_ARCH and numbers) and x32 calls (x86_64's
//! AUDIT_ARCH, numbers with bit 30). A profile covers those it lists in
//! `architectures` (containerd's RuntimeDefault lists both, its archMap),
//! with the same names translated to their numbers ([`super::compat`]);
//! seccompiler builds for one architecture and kills any other, so each
//! group of rules becomes one program per calling convention (together
//! they would pass the kernel's 4096 instructions per program), each
//! silent on the others' calls, and a guard program kills the calls of an
//! architecture the profile does not cover, as libseccomp does.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

use super::syscalls;

/// `linux.seccomp` of the OCI runtime spec. Unknown fields are ignored,
/// as containerd's loader does (Docker-format profiles carry more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub listener_path: Option<String>,
    #[serde(default)]
    pub syscalls: Vec<Syscall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    pub names: Vec<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// The BPF programs of a profile, in the order they are installed.
pub type Programs = Vec<BpfProgram>;

/// Calls a set of rules matches: `None` for every call of that number,
/// else the rules (any one of which matches).
type Matches = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn target() -> TargetArch {
    if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        TargetArch::x86_64
    }
}

fn action(name: &str, errno_ret: Option<u32>) -> Result<SeccompAction, String> {
    let errno = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(errno),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_TRACE" => SeccompAction::Trace(errno),
        "SCMP_ACT_LOG" => SeccompAction::Log,
        "SCMP_ACT_NOTIFY" => return Err("SCMP_ACT_NOTIFY is not supported by pod".into()),
        other => return Err(format!("unknown seccomp action {other:?}")),
    })
}

fn condition(arg: &Arg) -> Result<SeccompCondition, String> {
    let op = match arg.op.as_str() {
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        // OCI: (arg & value) == valueTwo.
        "SCMP_CMP_MASKED_EQ" => SeccompCmpOp::MaskedEq(arg.value),
        other => return Err(format!("unknown seccomp operator {other:?}")),
    };
    let value = if arg.op == "SCMP_CMP_MASKED_EQ" {
        arg.value_two
    } else {
        arg.value
    };
    let index = u8::try_from(arg.index)
        .map_err(|_| format!("argument index {} out of range", arg.index))?;
    // Whole 64-bit arguments, as libseccomp compares them.
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| format!("argument {}: {e}", arg.index))
}

/// The rules of one profile entry: all its conditions together, except
/// that conditions on a repeated argument are separate rules (runc splits
/// them so, which makes them alternatives).
fn rules(args: &[Arg]) -> Result<Option<Vec<SeccompRule>>, String> {
    if args.is_empty() {
        return Ok(None);
    }
    let conditions = args.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
    let mut indices: Vec<u32> = args.iter().map(|a| a.index).collect();
    indices.sort_unstable();
    let repeated = indices.windows(2).any(|w| w[0] == w[1]);
    let rules = if repeated {
        conditions
            .into_iter()
            .map(|c| SeccompRule::new(vec![c]))
            .collect::<Result<Vec<_>, _>>()
    } else {
        SeccompRule::new(conditions).map(|r| vec![r])
    };
    rules.map(Some).map_err(|e| e.to_string())
}

fn add(matches: &mut Matches, number: i64, rules: Option<Vec<SeccompRule>>) {
    match (matches.get_mut(&number), rules) {
        (None, rules) => {
            matches.insert(number, rules);
        }
        (Some(existing), None) => *existing = None,
        (Some(None), Some(_)) => {}
        (Some(Some(existing)), Some(more)) => existing.extend(more),
    }
}

fn to_map(matches: Matches) -> BTreeMap<i64, Vec<SeccompRule>> {
    matches
        .into_iter()
        .map(|(n, rules)| (n, rules.unwrap_or_default()))
        .collect()
}

/// The calls a group of rules matches, by the calling convention that
/// makes them.
#[derive(Default, Clone)]
struct Calls {
    native: Matches,
    /// x32's: the native AUDIT_ARCH, numbers with __X32_SYSCALL_BIT.
    x32: Matches,
    /// i386's (int 0x80 and 32-bit processes).
    i386: Matches,
}

/// The 32-bit calling conventions a profile covers (OCI `architectures`,
/// libseccomp's names) besides the native one, which it always covers,
/// as runc's filter does; the calls of one it does not cover meet
/// libseccomp's bad-architecture action, killing the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arches {
    i386: bool,
    x32: bool,
}

impl Arches {
    fn of(profile: &Profile) -> Arches {
        let listed = |name: &str| profile.architectures.iter().any(|a| a == name);
        let x86_64 = cfg!(target_arch = "x86_64");
        Arches {
            i386: x86_64 && listed("SCMP_ARCH_X86"),
            x32: x86_64 && listed("SCMP_ARCH_X32"),
        }
    }
}

/// Adds the calls `name` means in each convention covered.
fn add_name(calls: &mut Calls, arches: Arches, name: &str, rules: &Option<Vec<SeccompRule>>) {
    if let Some(number) = syscalls::number(name) {
        add(&mut calls.native, number, rules.clone());
    }
    if arches.x32
        && let Some(number) = syscalls::compat_number(syscalls::Compat::X32, name)
    {
        add(&mut calls.x32, number, rules.clone());
    }
    if arches.i386
        && let Some(number) = syscalls::compat_number(syscalls::Compat::I386, name)
    {
        add(&mut calls.i386, number, rules.clone());
    }
}

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
/// `offsetof(struct seccomp_data, arch)` and `nr`.
const ARCH_OFFSET: u32 = 4;
const NR_OFFSET: u32 = 0;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

fn native_arch() -> u32 {
    if cfg!(target_arch = "aarch64") {
        AUDIT_ARCH_AARCH64
    } else {
        AUDIT_ARCH_X86_64
    }
}

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> seccompiler::sock_filter {
    seccompiler::sock_filter { code, jt, jf, k }
}

/// The program for one convention's calls: `prelude` (its architecture
/// check), then the calls matched whatever their arguments, as ranges of
/// numbers ([`ranges`]), then seccompiler's program for the calls matched
/// by their arguments only, its own architecture check (which kills on
/// any other) dropped.
///
/// seccompiler tests each call number in turn, two or three instructions
/// a call: containerd's RuntimeDefault came to about 1900 instructions
/// for x86_64 alone and 5200 for its seven programs, which the kernel
/// checks, converts and JIT-compiles for every container and `pod exec`
/// (2 to 3 ms of the container's start). As ranges it is about 550.
fn part(
    prelude: Vec<seccompiler::sock_filter>,
    matches: Matches,
    mismatch: &SeccompAction,
    on_match: &SeccompAction,
    dispatch: Dispatch,
) -> Result<BpfProgram, String> {
    let (whole, by_arguments): (Matches, Matches) = match dispatch {
        Dispatch::Ranges => matches.into_iter().partition(|(_, rules)| rules.is_none()),
        #[cfg(test)]
        Dispatch::EachCall => (Matches::new(), matches),
    };
    let mut program = prelude;
    program.extend(ranges(whole.keys().copied(), u32::from(on_match.clone())));
    if by_arguments.is_empty() {
        program.push(ins(BPF_RET_K, 0, 0, u32::from(mismatch.clone())));
        return Ok(program);
    }
    let filter = SeccompFilter::new(
        to_map(by_arguments),
        mismatch.clone(),
        on_match.clone(),
        target(),
    )
    .map_err(|e| e.to_string())?;
    let compiled = BpfProgram::try_from(filter).map_err(|e| e.to_string())?;
    // seccompiler's check: load arch, jeq, ret KILL_PROCESS.
    if compiled.len() < 3 || compiled[0].code != BPF_LD_W_ABS || compiled[0].k != ARCH_OFFSET {
        return Err("unexpected filter layout from seccompiler".into());
    }
    program.extend_from_slice(&compiled[3..]);
    Ok(program)
}

/// How a program finds the calls matched whatever their arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dispatch {
    /// Ranges of numbers ([`ranges`]).
    Ranges,
    /// seccompiler's test of each number in turn: what the ranges are
    /// checked against.
    #[cfg(test)]
    EachCall,
}

/// Instructions that answer `on_match` for a call whose number is one of
/// `numbers` (ascending) and go on past their end for any other: one
/// pair per run of consecutive numbers, lowest first ("above this run?
/// try the next; else, at or above its start? matched; else no run holds
/// it"). A conditional jump reaches at most 255 instructions ahead, so
/// runs are taken in batches of [`RUNS_PER_BATCH`], each ending in its
/// own answer.
fn ranges(numbers: impl Iterator<Item = i64>, on_match: u32) -> Vec<seccompiler::sock_filter> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for n in numbers {
        // Call numbers are 32-bit (x32's carry bit 30); seccomp_data.nr
        // is an int.
        let n = n as u32;
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(n) => *end = n,
            _ => runs.push((n, n)),
        }
    }
    let mut out = Vec::new();
    for batch in runs.chunks(RUNS_PER_BATCH) {
        out.push(ins(BPF_LD_W_ABS, 0, 0, NR_OFFSET));
        let len = batch.len();
        for (i, &(start, end)) in batch.iter().enumerate() {
            // From this pair's JGE, the pairs left and the JA below lie
            // before the batch's answer; whatever follows the batch is
            // one further.
            let to_answer = u8::try_from(2 * (len - i) - 1).expect("batch within a jump's reach");
            out.push(ins(BPF_JGT_K, 1, 0, end));
            out.push(ins(BPF_JGE_K, to_answer, to_answer + 1, start));
        }
        // Above every run of the batch: past its answer.
        out.push(ins(BPF_JA, 0, 0, 1));
        out.push(ins(BPF_RET_K, 0, 0, on_match));
    }
    out
}

/// Runs per batch of [`ranges`]: two instructions each, and the last
/// pair's jump past the batch's answer must stay within 255.
const RUNS_PER_BATCH: usize = 120;

/// The programs of one group of rules, one per calling convention (each
/// alone is within the kernel's 4096 instructions, which all three
/// together are not): each gives no opinion (allow) on the others' calls,
/// which the kernel's rule for stacked filters makes a pass.
fn programs(
    calls: Calls,
    arches: Arches,
    mismatch: SeccompAction,
    on_match: SeccompAction,
    dispatch: Dispatch,
) -> Result<Programs, String> {
    let not_arch = |arch: u32| {
        vec![
            ins(BPF_LD_W_ABS, 0, 0, ARCH_OFFSET),
            ins(BPF_JEQ_K, 1, 0, arch),
            ins(BPF_RET_K, 0, 0, RET_ALLOW),
        ]
    };
    let mut native = not_arch(native_arch());
    if cfg!(target_arch = "x86_64") {
        // x32 numbers are x32's part (or killed, when not covered).
        native.extend([
            ins(BPF_LD_W_ABS, 0, 0, NR_OFFSET),
            ins(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
            ins(
                BPF_RET_K,
                0,
                0,
                if arches.x32 { RET_ALLOW } else { RET_KILL },
            ),
        ]);
    }
    let mut out = vec![part(native, calls.native, &mismatch, &on_match, dispatch)?];
    if arches.x32 {
        let mut x32 = not_arch(AUDIT_ARCH_X86_64);
        x32.extend([
            ins(BPF_LD_W_ABS, 0, 0, NR_OFFSET),
            ins(BPF_JGE_K, 1, 0, X32_SYSCALL_BIT),
            ins(BPF_RET_K, 0, 0, RET_ALLOW),
        ]);
        out.push(part(x32, calls.x32, &mismatch, &on_match, dispatch)?);
    }
    if arches.i386 {
        out.push(part(
            not_arch(AUDIT_ARCH_I386),
            calls.i386,
            &mismatch,
            &on_match,
            dispatch,
        )?);
    }
    Ok(out)
}

/// Kills a call of an architecture the profile does not cover (the other
/// programs let those through).
fn architecture_guard(arches: Arches) -> BpfProgram {
    let mut guard = vec![ins(BPF_LD_W_ABS, 0, 0, ARCH_OFFSET)];
    if arches.i386 {
        guard.push(ins(BPF_JEQ_K, 2, 0, AUDIT_ARCH_I386));
    }
    guard.push(ins(BPF_JEQ_K, 1, 0, native_arch()));
    guard.push(ins(BPF_RET_K, 0, 0, RET_KILL));
    guard.push(ins(BPF_RET_K, 0, 0, RET_ALLOW));
    guard
}

/// Compiles a profile for this architecture (and, on x86_64, the i386
/// and x32 calls when the profile lists those architectures). System
/// call names an architecture does not have are skipped, as runc skips
/// them.
pub fn compile(profile: &Profile) -> Result<Programs, String> {
    compile_as(profile, Dispatch::Ranges)
}

pub(super) fn compile_as(profile: &Profile, dispatch: Dispatch) -> Result<Programs, String> {
    if profile
        .listener_path
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err("seccomp notify (listenerPath) is not supported by pod".into());
    }
    let arches = Arches::of(profile);
    let default = action(&profile.default_action, profile.default_errno_ret)?;
    let mut every = Calls::default();
    let mut by_action: Vec<(SeccompAction, Calls)> = Vec::new();
    for entry in &profile.syscalls {
        let act = action(&entry.action, entry.errno_ret)?;
        let rules = rules(&entry.args)?;
        for name in &entry.names {
            add_name(&mut every, arches, name, &rules);
            if act == default {
                continue;
            }
            let group = match by_action.iter().position(|(a, _)| *a == act) {
                Some(i) => &mut by_action[i].1,
                None => {
                    by_action.push((act.clone(), Calls::default()));
                    &mut by_action.last_mut().expect("just pushed").1
                }
            };
            add_name(group, arches, name, &rules);
        }
    }
    let mut out = vec![architecture_guard(arches)];
    if default != SeccompAction::Allow {
        out.extend(programs(
            every,
            arches,
            default.clone(),
            SeccompAction::Allow,
            dispatch,
        )?);
    }
    for (act, calls) in by_action {
        if act != SeccompAction::Allow {
            out.extend(programs(
                calls,
                arches,
                SeccompAction::Allow,
                act,
                dispatch,
            )?);
        }
    }
    Ok(out)
}

/// A program as plain numbers (code, jt, jf, k in one u64), to hand to
/// the container's init.
pub fn pack(program: &BpfProgram) -> Vec<u64> {
    program
        .iter()
        .map(|i| (i.code as u64) << 48 | (i.jt as u64) << 40 | (i.jf as u64) << 32 | i.k as u64)
        .collect()
}

/// Installs packed programs on the calling thread, in order. Without
/// no_new_privs the caller needs CAP_SYS_ADMIN (runc installs the filter
/// before giving up its capabilities then).
pub fn install(programs: &[Vec<u64>]) -> std::io::Result<()> {
    for packed in programs {
        let mut filter: Vec<libc::sock_filter> = packed
            .iter()
            .map(|w| libc::sock_filter {
                code: (w >> 48) as u16,
                jt: (w >> 40) as u8,
                jf: (w >> 32) as u8,
                k: *w as u32,
            })
            .collect();
        let len = u16::try_from(filter.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let prog = libc::sock_fprog {
            len,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: the kernel copies the program; `filter` outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
