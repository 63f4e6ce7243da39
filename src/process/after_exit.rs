//! A descriptor closed after the process has exited, by a child made for
//! it: for a file whose last close waits on the kernel.
//!
//! A process's exit closes its descriptors before its parent hears of it,
//! so whoever waits for a command (a shell's `create && wait`, a script,
//! the bench) also waits for each last close. Most are quick; an inotify
//! instance's is not: its release frees its watches and then waits for
//! the kernel's reaper of watches to pass an SRCU grace period
//! (`fsnotify_destroy_group` flushes it), 0.4 ms on a quiet machine and
//! above 10 ms under load, after the command has printed its answer.
//!
//! So the command ends with its other descriptors closed and leaves that
//! one to a child that holds nothing else: the command's exit drops a
//! reference that is not the last, and the child's exit pays the wait.
//! The child is cloned sharing the command's memory (`CLONE_VM`): no copy
//! of its page tables, and the unmapping of that memory, which the last
//! of the two to exit does, leaves the command's exit too. It must not
//! end before the command (its close would not be the last, and the
//! command's would wait): it asks the kernel for a signal at its parent's
//! death and waits for it, with every signal blocked and a few system
//! calls of its own, then ends within the grace period; orphaned, it is
//! reaped as the command's supervisors are (by init or the nearest
//! subreaper).

use std::ffi::c_void;
use std::os::fd::{AsRawFd as _, OwnedFd};

/// The child's stack: glibc's clone trampoline and a function of four
/// system calls need a few hundred bytes.
const STACK_SIZE: usize = 16 * 1024;

/// Leaves `fd` to a child that closes it once this process has exited,
/// and closes every other descriptor of this process now, as its exit
/// would (a pipe's reader sees its end here, a lock on an inherited file
/// is released here). The working directory becomes `/`, so that the
/// child holds no directory of the caller's either.
///
/// The process's last act before it returns from `main`: its output
/// written and flushed, and nothing left owning a descriptor (an
/// `OwnedFd` dropped after this would close a number that is no longer
/// its own). Standard output and error are closed: a later write to them
/// is lost. If no child can be made, `fd` is closed here, as before.
pub fn close_after_exit(fd: OwnedFd) {
    let keep = fd.as_raw_fd() as u32;
    // SAFETY: close_range(2) and chdir(2) on this process's own table and
    // working directory, which nothing uses after this (the contract).
    unsafe {
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, keep - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32);
        libc::chdir(c"/".as_ptr());
    }
    // The child's stack lives as long as the memory both share: it is
    // never given back, as the process is about to end.
    let stack = Box::leak(vec![0u8; STACK_SIZE].into_boxed_slice());
    // The stack grows down from its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + STACK_SIZE) & !15;
    // SAFETY: a full set; the calling thread's mask is saved and put back
    // below. The child starts with every signal blocked, so no handler of
    // the command's ever runs on its stack.
    let saved = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut saved: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut saved);
        saved
    };
    let parent = std::process::id() as usize;
    // SAFETY: `outlive` runs on `stack`, leaked above, and reads no
    // memory of the command's (its argument is the pid itself); the
    // child's copy of the descriptor table holds `fd` alone. Should the
    // clone fail (no process left to make), the drop below is the last
    // close, paid here as before.
    unsafe {
        libc::clone(
            outlive,
            top as *mut c_void,
            libc::CLONE_VM | libc::SIGCHLD,
            parent as *mut c_void,
        )
    };
    // SAFETY: the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut()) };
    drop(fd);
}

/// How long the child waits for its parent's death at most: a safety
/// net, it comes within milliseconds.
const PATIENCE: libc::time_t = 60;

/// The child's whole work: it waits until its parent, whose pid is
/// `parent`, has died (so that the parent's close of the instance is
/// not the last), and returns; its exit closes the one descriptor it has.
/// The signal it asks for is blocked, as every signal is, and taken by
/// `sigtimedwait`: no handler runs.
extern "C" fn outlive(parent: *mut c_void) -> libc::c_int {
    // SAFETY: system calls on this child's own state and a signal set on
    // its stack. glibc would write a failure's errno into the command's
    // memory (the thread pointer is the command's), which nothing reads
    // after `close_after_exit`.
    unsafe {
        let mut death: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut death);
        libc::sigaddset(&mut death, libc::SIGHUP);
        // Asked first, then checked: a parent dead before the ask is no
        // longer this child's parent.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP) == 0
            && libc::getppid() as usize == parent as usize
        {
            let patience = libc::timespec {
                tv_sec: PATIENCE,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&death, std::ptr::null_mut(), &patience);
        }
    }
    0
}
