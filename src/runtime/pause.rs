//! The pause process's program: a few dozen machine instructions in a
//! static ELF image of a few hundred bytes, executed from a sealed memfd.
//!
//! The pause process holds the pod's namespaces and, with
//! `shareProcessNamespace: true`, is PID 1 of the pod's PID namespace: as
//! PID 1 it reaps the zombies that orphaned container processes leave, and
//! it exits 0 on SIGTERM or SIGINT, like the kubelet's pause. It needs
//! nothing else, so it is not this binary re-executed: that would map 10 MB
//! of the host's `pod` into every pod (about 3 MiB resident, most of it
//! glibc and relocated data) and leave `/proc/1/exe` pointing at the host
//! binary. The image here is written in assembly (one listing per
//! architecture, assembled with this crate), wrapped in an ELF header at run
//! time, and copied once per process into a memfd that is sealed against
//! every change; [`super::sandbox`] sets the process up (namespaces, empty
//! root, identity, no capabilities) and executes the memfd. The image has
//! no interpreter and no libc, so its resident set is a page of code and a
//! page or two of stack.
//!
//! What the program does (the signal mask is also set before `execve`, so
//! no signal is lost in between; the mask survives `execve`):
//!
//! ```text
//! prctl(PR_SET_NAME, "pause")         ; execveat would name it after the fd
//! prctl(PR_SET_DUMPABLE, 0)           ; execve made it dumpable again
//! rt_sigprocmask(SIG_BLOCK, {INT, TERM, CHLD})
//! loop:
//!     sig = rt_sigtimedwait({INT, TERM, CHLD})   ; a blocked signal is queued
//!     if sig == SIGCHLD: while wait4(-1, NULL, WNOHANG) > 0 {}
//!     else if sig > 0: exit_group(0)             ; SIGINT or SIGTERM
//! ```
//!
//! Blocked signals are queued even for a PID 1 without handlers (which the
//! kernel would otherwise never deliver SIGTERM to), so `rt_sigtimedwait`
//! sees a SIGTERM sent from the host.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use rustix::fs::{MemfdFlags, SealFlags};

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .rodata.pod_pause_code,\"a\",@progbits",
    ".globl pod_pause_code_start",
    ".hidden pod_pause_code_start",
    ".globl pod_pause_code_end",
    ".hidden pod_pause_code_end",
    "pod_pause_code_start:",
    // prctl(PR_SET_NAME, "pause")
    "mov edi, 15",
    "lea rsi, [rip + .Lpod_pause_name]",
    "mov eax, 157",
    "syscall",
    // prctl(PR_SET_DUMPABLE, 0)
    "mov edi, 4",
    "xor esi, esi",
    "mov eax, 157",
    "syscall",
    // The set {SIGINT, SIGTERM, SIGCHLD} (bits 1, 14, 16) on the stack.
    "push 0x14002",
    // rt_sigprocmask(SIG_BLOCK, set, NULL, 8)
    "xor edi, edi",
    "mov rsi, rsp",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, 14",
    "syscall",
    ".Lpod_pause_wait:",
    // rt_sigtimedwait(set, NULL, NULL, 8)
    "mov rdi, rsp",
    "xor esi, esi",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, 128",
    "syscall",
    "cmp eax, 17",
    "je .Lpod_pause_reap",
    // Negative: interrupted (a stop and continue); wait again.
    "test eax, eax",
    "js .Lpod_pause_wait",
    // exit_group(0)
    "xor edi, edi",
    "mov eax, 231",
    "syscall",
    ".Lpod_pause_reap:",
    // wait4(-1, NULL, WNOHANG, NULL) while it reaps a child
    "mov edi, -1",
    "xor esi, esi",
    "mov edx, 1",
    "xor r10d, r10d",
    "mov eax, 61",
    "syscall",
    "test eax, eax",
    "jg .Lpod_pause_reap",
    "jmp .Lpod_pause_wait",
    ".Lpod_pause_name:",
    ".asciz \"pause\"",
    "pod_pause_code_end:",
    ".popsection",
);

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".pushsection .rodata.pod_pause_code,\"a\",@progbits",
    ".globl pod_pause_code_start",
    ".hidden pod_pause_code_start",
    ".globl pod_pause_code_end",
    ".hidden pod_pause_code_end",
    ".p2align 2",
    "pod_pause_code_start:",
    // prctl(PR_SET_NAME, "pause")
    "mov x0, #15",
    "adr x1, .Lpod_pause_name",
    "mov x8, #167",
    "svc #0",
    // prctl(PR_SET_DUMPABLE, 0)
    "mov x0, #4",
    "mov x1, #0",
    "mov x8, #167",
    "svc #0",
    // The set {SIGINT, SIGTERM, SIGCHLD} (bits 1, 14, 16) on the stack.
    "sub sp, sp, #16",
    "mov x9, #0x4002",
    "movk x9, #0x1, lsl #16",
    "str x9, [sp]",
    // rt_sigprocmask(SIG_BLOCK, set, NULL, 8)
    "mov x0, #0",
    "mov x1, sp",
    "mov x2, #0",
    "mov x3, #8",
    "mov x8, #135",
    "svc #0",
    ".Lpod_pause_wait:",
    // rt_sigtimedwait(set, NULL, NULL, 8)
    "mov x0, sp",
    "mov x1, #0",
    "mov x2, #0",
    "mov x3, #8",
    "mov x8, #137",
    "svc #0",
    "cmp x0, #17",
    "b.eq .Lpod_pause_reap",
    // Negative: interrupted (a stop and continue); wait again.
    "tbnz x0, #63, .Lpod_pause_wait",
    // exit_group(0)
    "mov x0, #0",
    "mov x8, #94",
    "svc #0",
    ".Lpod_pause_reap:",
    // wait4(-1, NULL, WNOHANG, NULL) while it reaps a child
    "mov x0, #-1",
    "mov x1, #0",
    "mov x2, #1",
    "mov x3, #0",
    "mov x8, #260",
    "svc #0",
    "cmp x0, #0",
    "b.gt .Lpod_pause_reap",
    "b .Lpod_pause_wait",
    ".Lpod_pause_name:",
    ".asciz \"pause\"",
    "pod_pause_code_end:",
    ".popsection",
);

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the pause process's program is written for x86_64 and aarch64 only");

#[cfg(target_arch = "x86_64")]
const MACHINE: u16 = 62; // EM_X86_64
#[cfg(target_arch = "aarch64")]
const MACHINE: u16 = 183; // EM_AARCH64

unsafe extern "C" {
    static pod_pause_code_start: u8;
    static pod_pause_code_end: u8;
}

/// The program's machine code, position-independent, as assembled above.
fn code() -> &'static [u8] {
    let start = &raw const pod_pause_code_start;
    let end = &raw const pod_pause_code_end;
    // SAFETY: both symbols delimit one read-only section of this binary,
    // start before end, and nothing writes to it.
    unsafe { std::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// Where the image is loaded (above vm.mmap_min_addr, the usual place of
/// a static executable).
const BASE: u64 = 0x40_0000;
const ELF_HEADER: usize = 64;
const PROGRAM_HEADER: usize = 56;
const HEADERS: usize = ELF_HEADER + 2 * PROGRAM_HEADER;

/// A static ELF executable of `code`: the ELF header, a PT_LOAD of the
/// whole file (read and execute) whose entry is the first instruction after
/// the headers, and a PT_GNU_STACK that keeps the stack not executable.
fn elf(code: &[u8]) -> Vec<u8> {
    let size = (HEADERS + code.len()) as u64;
    let mut out = Vec::with_capacity(size as usize);
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI.
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    out.extend_from_slice(&MACHINE.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // e_version
    out.extend_from_slice(&(BASE + HEADERS as u64).to_le_bytes()); // e_entry
    out.extend_from_slice(&(ELF_HEADER as u64).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&(ELF_HEADER as u16).to_le_bytes()); // e_ehsize
    out.extend_from_slice(&(PROGRAM_HEADER as u16).to_le_bytes()); // e_phentsize
    out.extend_from_slice(&2u16.to_le_bytes()); // e_phnum
    out.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    // PT_LOAD, PF_R | PF_X, the whole file at BASE.
    program_header(&mut out, 1, 5, BASE, size, 0x1000);
    // PT_GNU_STACK, PF_R | PF_W.
    program_header(&mut out, 0x6474_e551, 6, 0, 0, 16);
    out.extend_from_slice(code);
    out
}

fn program_header(out: &mut Vec<u8>, kind: u32, flags: u32, vaddr: u64, size: u64, align: u64) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    out.extend_from_slice(&vaddr.to_le_bytes());
    out.extend_from_slice(&vaddr.to_le_bytes()); // p_paddr
    out.extend_from_slice(&size.to_le_bytes()); // p_filesz
    out.extend_from_slice(&size.to_le_bytes()); // p_memsz
    out.extend_from_slice(&align.to_le_bytes());
}

/// The sealed memfd holding the image, made once per process (a page of
/// memory per supervisor, shared by the pause process that runs it).
static IMAGE: OnceLock<OwnedFd> = OnceLock::new();

/// The executable image of the pause process, open and sealed: no write,
/// no resize, no new seal.
pub fn image() -> Result<BorrowedFd<'static>> {
    if let Some(fd) = IMAGE.get() {
        return Ok(fd.as_fd());
    }
    let fd = make_image().context("writing the pause program to a memfd")?;
    // Another thread may have won the race: either copy is fine.
    let _ = IMAGE.set(fd);
    Ok(IMAGE.get().expect("set above").as_fd())
}

fn make_image() -> Result<OwnedFd> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) says so explicitly where vm.memfd_noexec would
    // otherwise make memfds not executable; older kernels refuse the flag.
    let fd = match rustix::fs::memfd_create("pause", flags | MemfdFlags::EXEC) {
        Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create("pause", flags)?,
        other => other?,
    };
    let image = elf(code());
    let mut written = 0;
    while written < image.len() {
        written += rustix::io::write(&fd, &image[written..])?;
    }
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
    )?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_a_small_static_executable() {
        let image = elf(code());
        assert!(image.len() < 512, "{} bytes", image.len());
        assert_eq!(&image[..4], b"\x7fELF");
        let entry = u64::from_le_bytes(image[24..32].try_into().unwrap());
        assert_eq!(entry, BASE + HEADERS as u64);
        // The string the program names itself with is inside the image.
        assert!(code().ends_with(b"pause\0"));
    }

    #[test]
    fn the_memfd_is_sealed() {
        let fd = image().unwrap();
        let seals = rustix::fs::fcntl_get_seals(fd).unwrap();
        assert!(seals.contains(SealFlags::WRITE | SealFlags::GROW | SealFlags::SEAL));
        assert!(rustix::io::write(fd, b"x").is_err());
    }
}
