//! `pod shell` (and `pod` with no arguments): a prompt that takes pod's
//! commands without the `pod` prefix.
//!
//! On a terminal it is a rustyline editor with history in `~/.pod_history`
//! and completion of subcommands, flags, pod and container names (the
//! same engine as the shells' completion). Otherwise it reads commands from
//! stdin, one a line, so that it scripts.
//!
//! Each line is checked with the clap parser here (usage errors and help
//! print without leaving the prompt), then runs as a child `pod` process.
//! A child, not a call: Ctrl-C must end a `logs -f` or `wait`, not the
//! shell, and whatever a command does to the process (raw mode for
//! `exec -it`, signal handlers, its exit code) ends with it.

mod editor;
mod line;

use std::io::{self, BufRead, IsTerminal};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use crate::cli::GlobalArgs;
use crate::error;
use line::Line;

/// Runs the shell until `exit`, Ctrl-D or the end of stdin. The result is
/// the status of the last command, as a shell script's is.
pub fn run(global: &GlobalArgs) -> Result<()> {
    let last = if io::stdin().is_terminal() {
        ignore_interrupts_between_commands()?;
        editor::run(global)?
    } else {
        run_script(global)?
    };
    match last {
        0 => Ok(()),
        code => Err(error::ExitStatus {
            code,
            message: None,
        }
        .into()),
    }
}

/// Commands from stdin, one a line. The commands get /dev/null as stdin:
/// the script is stdin, and a command reading it would swallow the lines
/// after it.
fn run_script(global: &GlobalArgs) -> Result<u8> {
    let mut last = 0;
    for text in io::stdin().lock().lines() {
        let text = text.context("reading commands from stdin")?;
        match Line::parse(&text) {
            Line::Empty => {}
            Line::Exit => break,
            Line::Invalid(message) => {
                eprintln!("error: {message}");
                last = 1;
            }
            Line::Command(words) => last = execute(global, &words, Stdio::null()),
        }
    }
    Ok(last)
}

/// Runs one command line; returns its exit code. Usage errors and help are
/// printed by clap here, without a child.
fn execute(global: &GlobalArgs, words: &[String], stdin: Stdio) -> u8 {
    let argv = match line::argv(global, words) {
        Ok(argv) => argv,
        Err(clap_error) => {
            // A usage error in one line, as `pod` prints it; help as clap does.
            if clap_error.use_stderr() {
                eprintln!("{}", crate::cli::usage::one_line(&clap_error, words));
            } else {
                let _ = clap_error.print();
            }
            return u8::try_from(clap_error.exit_code()).unwrap_or(1);
        }
    };
    let status = Command::new("/proc/self/exe")
        .arg0("pod")
        .args(&argv)
        .env("POD_ROOT", &global.root)
        .env("POD_RUN_ROOT", &global.run_root)
        .stdin(stdin)
        .status();
    match status {
        Ok(status) => exit_code(status),
        Err(e) => {
            eprintln!("error: running {}: {e}", words.join(" "));
            1
        }
    }
}

/// A shell's `$?`: the exit code, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        _ => 1,
    }
}

/// Ctrl-C while a command runs must end the command only. The terminal
/// sends SIGINT to the whole foreground group, shell included; a handler
/// that does nothing keeps the shell alive, and unlike SIG_IGN it is not
/// inherited across exec, so the child still dies of it. At the prompt
/// rustyline reads Ctrl-C as a key and cancels the line.
fn ignore_interrupts_between_commands() -> Result<()> {
    extern "C" fn nothing(_: libc::c_int) {}
    let action = SigAction::new(
        SigHandler::Handler(nothing),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing.
    unsafe { sigaction(Signal::SIGINT, &action) }?;
    Ok(())
}
