//! The command's standard output. `print!` panics when the write fails, and
//! the everyday failure is a reader that has gone: `pod get pods | head -1`.
//! kubectl, like every Go program, dies of SIGPIPE when a write to its
//! standard output finds the pipe closed, silently, so the shell sees 141
//! and a pipeline under `set -o pipefail` fails the same way with either
//! tool. [`out!`] and [`outln!`] write as `print!` and `println!` do and end
//! the process that way instead of panicking; any other write error (a full
//! disk under `> file`) is one line on stderr and exit 1. Code that writes
//! through `io::Write` (a table, a watch's rows, a completion script) is
//! handed [`stdout`], which ends the process the same way.

use std::fmt;
use std::io::{self, Write};

/// Writes to standard output as `print!` does (see the module).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// Writes a line to standard output as `println!` does (see the module).
macro_rules! outln {
    () => {
        $crate::cli::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes `text` to standard output, and ends the process if it cannot.
pub fn write(text: fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    if let Err(err) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        failed(&err);
    }
}

/// Standard output as an `io::Write` whose failed writes end the process
/// as [`out!`]'s do: the caller's `?` never sees a closed pipe, so it is
/// never reported as an error.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// See [`stdout`].
pub struct Stdout(io::StdoutLock<'static>);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write(buf) {
            // `write_all` tries again.
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Err(err),
            Err(err) => failed(&err),
            written => written,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Err(err) = self.0.flush() {
            failed(&err);
        }
        Ok(())
    }
}

fn failed(err: &io::Error) -> ! {
    if err.kind() == io::ErrorKind::BrokenPipe {
        die_of_sigpipe();
    }
    eprintln!("error: write /dev/stdout: {err}");
    std::process::exit(1);
}

/// Ends the process by SIGPIPE, as kubectl ends: Rust's runtime ignores the
/// signal at start-up, so its default action is put back first.
pub fn die_of_sigpipe() -> ! {
    // SAFETY: signal(2) and raise(3) take plain integers; SIG_DFL installs
    // no handler of ours, and the process ends in raise.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    // Not reached: SIGPIPE's default action ends the process.
    std::process::exit(141);
}
