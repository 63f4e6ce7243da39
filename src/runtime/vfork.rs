//! Starting a child that shares the caller's memory until it executes its
//! program (`clone(CLONE_VM | CLONE_VFORK)`, as glibc's `posix_spawn`
//! does): no copy of the caller's page tables at the fork, and no
//! copy-on-write faults afterwards in either process. A plain fork of the
//! supervisor (tokio's threads, the pod's records, the binary's mappings)
//! took about 0.3 ms of kernel time (`clone` was 217 samples of 16 creates
//! in a perf profile of the release build), for each of a pod's pause
//! process and container inits, each on the path of the pod's start; the
//! faults after it came on top.
//!
//! The child runs on a stack of its own in the caller's memory, while the
//! calling thread waits: the kernel holds it until the child has executed
//! its program or exited. The caller's other threads run on. So the child
//! only reads what was prepared before the clone, allocates nothing and
//! takes no lock (the rules of a `pre_exec` hook); every signal is blocked
//! around the clone, and the child resets each handler to its default
//! before it unblocks any, so no handler of the caller's ever runs on the
//! child's stack (its signal actions are its own: no `CLONE_SIGHAND`).
//!
//! A child that has a pipe to report on (a container's init, an exec:
//! `spawn::ERROR_FD`) is forked by [`fork_reporting`] instead: a copy of
//! the caller's memory, and the caller is not held until the child has
//! executed (the kernel's exec of this 19 MB binary, a millisecond and
//! more, tens under load), so a supervisor starting a pod's containers
//! forks the next while the one before still executes. Such a child
//! writes why it failed on that pipe.

use std::ffi::c_void;
use std::io;

/// The child's stack. It runs the caller's hooks and the few calls that
/// place its descriptors; glibc's `posix_spawn` makes do with less.
const STACK_SIZE: usize = 256 * 1024;

/// What the child and the caller share: the child's work, and the error
/// it failed with (0 while it has not).
struct Shared<'a> {
    run: &'a mut dyn FnMut() -> io::Error,
    errno: i32,
    /// A forked child's (see [`fork_reporting`]): where it writes why it
    /// failed, after this text.
    report: Option<(i32, &'a [u8])>,
}

/// Forks a child that calls `run`, which must end by executing a program
/// (on success it does not return) or return the error that stopped it.
/// `run` follows the rules of a `pre_exec` hook: async-signal-safe calls
/// only, no allocation. It starts with every signal's action at its
/// default and no signal blocked, as a child of `std::process::Command`.
///
/// Returns the child's pid once it has executed its program. A child that
/// failed has been reaped, and its error is returned.
pub fn spawn(run: &mut dyn FnMut() -> io::Error) -> io::Result<i32> {
    clone(run, None)
}

/// As [`spawn`], but the child is a fork (a copy of the caller's memory)
/// and its pid is returned at once: a child that fails writes `prefix`
/// and `os error N` on the descriptor `report` (open in the caller until
/// this returns), exits 127, and is the caller's to reap.
pub fn fork_reporting(
    run: &mut dyn FnMut() -> io::Error,
    report: i32,
    prefix: &[u8],
) -> io::Result<i32> {
    clone(run, Some((report, prefix)))
}

fn clone(run: &mut dyn FnMut() -> io::Error, report: Option<(i32, &[u8])>) -> io::Result<i32> {
    let mut stack = vec![0u8; STACK_SIZE];
    // The stack grows down from its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + STACK_SIZE) & !15;
    let flags = match report {
        None => libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
        Some(_) => libc::SIGCHLD,
    };
    let mut shared = Shared {
        run,
        errno: 0,
        report,
    };
    // SAFETY: a full set, and the calling thread's mask saved and put back
    // below.
    let saved = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut saved: libc::sigset_t = std::mem::zeroed();
        let rc = libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut saved);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        saved
    };
    // SAFETY: `child` runs on `stack`, which outlives it (the kernel holds
    // this thread until the child has executed or exited; a forked child
    // has a copy of it), and reaches `shared` only; see the module
    // documentation for what it may do.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut c_void,
            flags,
            (&mut shared as *mut Shared<'_>).cast::<c_void>(),
        )
    };
    let cloned = io::Error::last_os_error();
    // SAFETY: the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut()) };
    drop(stack);
    if pid < 0 {
        return Err(cloned);
    }
    if shared.errno != 0 {
        // It exited without executing anything: reap it here, as
        // `Command::spawn` reaps a child whose exec failed.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(io::Error::from_raw_os_error(shared.errno));
    }
    Ok(pid)
}

/// The child's entry point (on its own stack, in the caller's memory).
extern "C" fn child(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `spawn` passed its `Shared`, alive until this child has
    // executed or exited.
    let shared = unsafe { &mut *arg.cast::<Shared<'_>>() };
    let error = match default_signals(Ignored::Kept) {
        Ok(()) => (shared.run)(),
        Err(e) => e,
    };
    shared.errno = error.raw_os_error().unwrap_or(libc::EINVAL).max(1);
    if let Some((fd, prefix)) = shared.report {
        report(fd, prefix, shared.errno);
    }
    // An error made from a message would free memory when dropped: the
    // child leaves it to the caller's allocator untouched.
    std::mem::forget(error);
    // SAFETY: ends this child (its own thread group) only.
    unsafe { libc::_exit(127) }
}

/// Writes `prefix` and `os error N` on `fd`, without allocating.
fn report(fd: i32, prefix: &[u8], errno: i32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = errno.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let parts: [&[u8]; 3] = [prefix, b"os error ", &digits[at..]];
    let iov = parts.map(|part| libc::iovec {
        iov_base: part.as_ptr() as *mut c_void,
        iov_len: part.len(),
    });
    // SAFETY: writev(2) of buffers that outlive the call; nothing to do
    // if it fails.
    unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as i32) };
}

/// Which signals [`default_signals`] leaves as they are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// Ignored ones stay ignored, as across a fork and `execve`.
    Kept,
    /// Ignored ones go back to their default action too.
    Reset,
}

/// Every caught signal (and, with [`Ignored::Reset`], every ignored one)
/// back to its default action, then no signal blocked. Raw system calls,
/// nothing allocated (a child sharing its caller's memory runs it): glibc
/// refuses its two internal real-time signals (32, 33), whose actions are
/// the caller's too.
pub fn default_signals(ignored: Ignored) -> io::Result<()> {
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        if ignored == Ignored::Kept {
            let mut current = KernelSigaction::DEFAULT;
            rt_sigaction(signal, None, Some(&mut current))?;
            if current.handler == libc::SIG_DFL || current.handler == libc::SIG_IGN {
                continue;
            }
        }
        rt_sigaction(signal, Some(&KernelSigaction::DEFAULT), None)?;
    }
    // SAFETY: an empty set on the stack.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The kernel's `struct sigaction` on x86_64 and arm64.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

impl KernelSigaction {
    const DEFAULT: KernelSigaction = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
}

/// rt_sigaction(2): sets `new` if given, reads the action into `old` if
/// given.
fn rt_sigaction(
    signal: i32,
    new: Option<&KernelSigaction>,
    old: Option<&mut KernelSigaction>,
) -> io::Result<()> {
    let new = new.map_or(std::ptr::null(), |n| n as *const KernelSigaction);
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut KernelSigaction);
    // SAFETY: valid structs or null pointers, and the kernel's sigset size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            new,
            old,
            std::mem::size_of::<u64>(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the child writes before it executes is the caller's memory
    /// (a fork would have written to a copy): nothing was copied.
    #[test]
    fn the_child_shares_the_callers_memory_until_it_executes() {
        let mut written = 0u32;
        let at = std::ptr::addr_of_mut!(written);
        let argv = [c"true".as_ptr(), std::ptr::null()];
        let env = [std::ptr::null::<libc::c_char>()];
        let mut run = || {
            // SAFETY: the caller's variable, which outlives the child's
            // setup; NUL-terminated arguments.
            unsafe {
                at.write_volatile(1);
                libc::execve(c"/bin/true".as_ptr(), argv.as_ptr(), env.as_ptr());
            }
            io::Error::last_os_error()
        };
        let pid = spawn(&mut run).expect("spawning /bin/true");
        // SAFETY: the variable above, read after the child executed.
        assert_eq!(unsafe { at.read_volatile() }, 1);
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Exited(status.pid().unwrap(), 0)
        );
    }

    /// A forked child's pid comes back while its set-up still waits for
    /// the caller (a child holding the caller until it executes would
    /// hold it for ever); it then runs on and executes.
    #[test]
    fn a_forked_child_is_returned_before_it_executes() {
        let (go_read, mut go_write) = std::io::pipe().unwrap();
        let (_report_read, report_write) = std::io::pipe().unwrap();
        let go = std::os::fd::AsRawFd::as_raw_fd(&go_read);
        let argv = [c"true".as_ptr(), std::ptr::null()];
        let env = [std::ptr::null::<libc::c_char>()];
        let mut run = || {
            let mut byte = 0u8;
            // SAFETY: read(2) into a stack byte; NUL-terminated arguments.
            unsafe {
                if libc::read(go, (&raw mut byte).cast(), 1) == 1 {
                    libc::execve(c"/bin/true".as_ptr(), argv.as_ptr(), env.as_ptr());
                }
            }
            io::Error::last_os_error()
        };
        let report = std::os::fd::AsRawFd::as_raw_fd(&report_write);
        let pid = fork_reporting(&mut run, report, b"starting true: ").unwrap();
        std::io::Write::write_all(&mut go_write, b"x").unwrap();
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Exited(status.pid().unwrap(), 0)
        );
    }

    /// A forked child that cannot go on writes why on its pipe.
    #[test]
    fn a_forked_child_that_fails_reports_on_its_pipe() {
        use std::io::Read;
        let (mut report_read, report_write) = std::io::pipe().unwrap();
        let mut run = || io::Error::from_raw_os_error(libc::ENOEXEC);
        let report = std::os::fd::AsRawFd::as_raw_fd(&report_write);
        let pid = fork_reporting(&mut run, report, b"starting x: ").unwrap();
        drop(report_write);
        let mut message = String::new();
        report_read.read_to_string(&mut message).unwrap();
        assert_eq!(message, format!("starting x: os error {}", libc::ENOEXEC));
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Exited(status.pid().unwrap(), 127)
        );
    }

    static HANDLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    extern "C" fn note(_: libc::c_int) {
        HANDLED.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// A handler of the caller's never runs in the child (it would run on
    /// the child's stack, in the caller's memory): a signal the caller
    /// catches takes its default action there. (SIGUSR1 is caught by no
    /// other test of this binary.)
    #[test]
    fn the_callers_signal_handlers_do_not_run_in_the_child() {
        // SAFETY: a handler that only stores to an atomic; the previous
        // action is put back below.
        let previous =
            unsafe { libc::signal(libc::SIGUSR1, note as *const () as libc::sighandler_t) };
        let mut run = || {
            // SAFETY: raise(3) in the child, which then stops if the
            // signal took its default action.
            unsafe { libc::raise(libc::SIGUSR1) };
            io::Error::from_raw_os_error(libc::ENOEXEC)
        };
        let outcome = spawn(&mut run);
        // SAFETY: the action saved above.
        unsafe { libc::signal(libc::SIGUSR1, previous) };
        assert!(
            !HANDLED.load(std::sync::atomic::Ordering::SeqCst),
            "the caller's handler ran in the child"
        );
        // Killed by the signal before it could report: it reads as a
        // child that executed, as a `Command` child killed before its
        // exec does; the caller reaps it as any child.
        let pid = outcome.expect("a child killed before it reported");
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
        assert!(
            matches!(
                status,
                nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGUSR1, _)
            ),
            "{status:?}"
        );
    }

    /// A child that cannot go on says why, and is reaped already.
    #[test]
    fn a_child_that_fails_gives_its_error_and_is_reaped() {
        let mut run = || io::Error::from_raw_os_error(libc::ENOEXEC);
        let err = spawn(&mut run).expect_err("the child failed");
        assert_eq!(err.raw_os_error(), Some(libc::ENOEXEC));
    }
}
