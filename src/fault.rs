//! Fault points for the tests: `POD_FAULT=<name>` makes this process
//! SIGKILL itself when it reaches the point of that name, as a `kill -9`
//! landing exactly there would (tests/faults.rs runs `create` and
//! `delete` into each). Compiled into debug builds only: in a release
//! build `point` is empty and the variable means nothing.

/// Dies here, by SIGKILL, if `POD_FAULT` names this point (debug builds).
#[inline]
pub fn point(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(VAR).is_some_and(|v| v == name) {
        let _ = crate::process::kill(std::process::id() as i32, libc::SIGKILL);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// The variable; processes this one starts for the long run (the
/// supervisor) do not inherit it.
pub const VAR: &str = "POD_FAULT";
