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
    let mut stack = vec![0u8; STACK_SIZE];
    // The stack grows down from its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + STACK_SIZE) & !15;
    let mut shared = Shared { run, errno: 0 };
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
    // this thread until the child has executed or exited), and reaches
    // `shared` only; see the module documentation for what it may do.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
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
    let error = match default_actions() {
        Ok(()) => (shared.run)(),
        Err(e) => e,
    };
    shared.errno = error.raw_os_error().unwrap_or(libc::EINVAL).max(1);
    // An error made from a message would free memory when dropped: the
    // child leaves it to the caller's allocator untouched.
    std::mem::forget(error);
    // SAFETY: ends this child (its own thread group) only.
    unsafe { libc::_exit(127) }
}

/// Every caught signal back to its default action, then no signal
/// blocked. Ignored ones stay ignored (as across a fork and `execve`).
/// Raw system calls: glibc refuses its two internal signals (32, 33), whose
/// handlers are the caller's too.
fn default_actions() -> io::Result<()> {
    // The kernel's `struct sigaction` on x86_64 and arm64.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        let mut current = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: rt_sigaction reading into a valid struct.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                std::ptr::null::<KernelSigaction>(),
                &mut current as *mut KernelSigaction,
                std::mem::size_of::<u64>(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if current.handler == libc::SIG_DFL || current.handler == libc::SIG_IGN {
            continue;
        }
        // SAFETY: rt_sigaction with a valid struct and no old action.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
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

    /// A child that cannot go on says why, and is reaped already.
    #[test]
    fn a_child_that_fails_gives_its_error_and_is_reaped() {
        let mut run = || io::Error::from_raw_os_error(libc::ENOEXEC);
        let err = spawn(&mut run).expect_err("the child failed");
        assert_eq!(err.raw_os_error(), Some(libc::ENOEXEC));
    }
}
