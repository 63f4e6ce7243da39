//! Hidden re-executions of the `pod` binary (the pause process, the
//! supervisor, the container init), recognised before clap parses argv.

use std::process::ExitCode;

/// Runs a hidden entry point if argv asks for one.
pub fn dispatch() -> Option<ExitCode> {
    None
}
