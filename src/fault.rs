//! Fault points for the tests: `POD_FAULT=<name>` makes this process
//! SIGKILL itself when it reaches the point of that name, as a `kill -9`
//! landing exactly there would (tests/faults.rs runs `create` and
//! `delete` into each). Compiled into debug builds only: in a release
//! build `point` is empty and the variable means nothing.
//!
//! A supervisor does not inherit `POD_FAULT`; `POD_SUPERVISOR_FAULT`
//! names the point its supervisors die at (the network's ADD runs there).

/// Dies here, by SIGKILL, if `POD_FAULT` names this point; stops here,
/// by SIGSTOP, if it is `stop:` and the point's name, so that a test can
/// look at what the process has done by then and let it go on with
/// SIGCONT (debug builds).
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    if let Some(v) = std::env::var_os(VAR) {
        let signal = if v == name {
            libc::SIGKILL
        } else if v.to_str().and_then(|v| v.strip_prefix("stop:")) == Some(name) {
            libc::SIGSTOP
        } else {
            return;
        };
        let _ = crate::process::kill(std::process::id() as i32, signal);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// The variable; processes this one starts for the long run (the
/// supervisor) do not inherit it.
pub const VAR: &str = "POD_FAULT";

/// The variable whose point the supervisors a process starts die at.
pub const SUPERVISOR_VAR: &str = "POD_SUPERVISOR_FAULT";

/// The fault point of a supervisor about to be started by `command`
/// (debug builds): `POD_SUPERVISOR_FAULT`'s, and never this process's.
pub fn pass_to_supervisor(command: &mut std::process::Command) {
    command.env_remove(VAR);
    #[cfg(debug_assertions)]
    if let Some(point) = std::env::var_os(SUPERVISOR_VAR) {
        command.env(VAR, point).env_remove(SUPERVISOR_VAR);
    }
    #[cfg(not(debug_assertions))]
    let _ = SUPERVISOR_VAR;
}
