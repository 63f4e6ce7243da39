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

fn program(
    matches: Matches,
    mismatch: SeccompAction,
    on_match: SeccompAction,
) -> Result<BpfProgram, String> {
    let filter = SeccompFilter::new(to_map(matches), mismatch, on_match, target())
        .map_err(|e| e.to_string())?;
    BpfProgram::try_from(filter).map_err(|e| e.to_string())
}

/// Compiles a profile for this architecture. System call names this
/// architecture does not have are skipped, as runc skips them.
pub fn compile(profile: &Profile) -> Result<Programs, String> {
    if profile
        .listener_path
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err("seccomp notify (listenerPath) is not supported by pod".into());
    }
    let default = action(&profile.default_action, profile.default_errno_ret)?;
    let mut every = Matches::new();
    let mut by_action: Vec<(SeccompAction, Matches)> = Vec::new();
    for entry in &profile.syscalls {
        let act = action(&entry.action, entry.errno_ret)?;
        let rules = rules(&entry.args)?;
        for number in entry.names.iter().filter_map(|n| syscalls::number(n)) {
            add(&mut every, number, rules.clone());
            if act == default {
                continue;
            }
            let group = match by_action.iter().position(|(a, _)| *a == act) {
                Some(i) => &mut by_action[i].1,
                None => {
                    by_action.push((act.clone(), Matches::new()));
                    &mut by_action.last_mut().expect("just pushed").1
                }
            };
            add(group, number, rules.clone());
        }
    }
    let mut programs = Vec::new();
    if default != SeccompAction::Allow {
        programs.push(program(every, default.clone(), SeccompAction::Allow)?);
    }
    for (act, matches) in by_action {
        if act != SeccompAction::Allow {
            programs.push(program(matches, SeccompAction::Allow, act)?);
        }
    }
    Ok(programs)
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
