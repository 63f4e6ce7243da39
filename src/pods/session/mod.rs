//! Interactive sessions with a container of a running pod: `pod exec` (a
//! new process in the container) and `pod attach` (the container's main
//! process, through its supervisor). The caller's side of the terminal is
//! `terminal`; the container's side is `runtime` (exec) and `supervisor`
//! (attach).

pub mod attach;
pub mod exec;
pub mod target;

use std::io::{IsTerminal, stdin};

/// Whether the session runs with a terminal, settled the way kubectl
/// settles it (`StreamOptions.SetupTTY`): `-t` without `-i` quietly drops
/// the terminal; `-t` with a stdin that is not a terminal drops it with a
/// warning.
pub fn use_tty(want_stdin: bool, want_tty: bool) -> bool {
    if !want_stdin || !want_tty {
        return false;
    }
    if !stdin().is_terminal() {
        eprintln!("Unable to use a TTY - input is not a terminal or the right kind of file");
        return false;
    }
    true
}
