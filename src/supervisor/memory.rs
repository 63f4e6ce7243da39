//! Keeping the supervisor small: it lives as long as its pod, one per pod,
//! so every page it keeps is paid once per pod (the figures are in the
//! README's bench section, case 11).

/// Sets glibc's allocator up for a long-lived, mostly idle process. Called
/// before any thread exists.
pub fn set_up_allocator() {
    // SAFETY: mallopt only sets allocator parameters; no allocation is
    // in flight on another thread yet.
    unsafe {
        // One arena for every thread: the network's thread and tokio's
        // blocking pool each got one of their own otherwise, 132 KiB
        // reserved and about 40 KiB resident for good, for the few KiB
        // they allocate.
        libc::mallopt(libc::M_ARENA_MAX, 1);
        // Blocks of 64 KiB and more (the pumps' read buffers, the log
        // writers, files read whole at start) are mapped of their own:
        // pages never written stay out of memory, where a recycled piece
        // of the heap would bring earlier garbage with it, and a free
        // gives the memory back instead of leaving a hole in the heap.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
    }
}

/// Gives back what a burst of work (the pod's start, a restart, a pull,
/// a container's output) left behind: the scratch buffers' pages, the free
/// pages of the heap, and the pages of the main thread's stack that deeper
/// calls touched (decoding the pod and the node's configuration goes deep
/// once, and those pages stayed resident).
pub fn give_back() {
    SCRATCH.with(|scratch| {
        if let Ok(mut scratch) = scratch.try_borrow_mut()
            && let Some(scratch) = scratch.as_mut()
        {
            scratch.input.release();
            scratch.out = Vec::new();
        }
    });
    // SAFETY: malloc_trim may be called at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    release_stack();
    drop_code_mappings();
}

/// Drops this process's mappings of the pod binary's read-only pages (its
/// code and read-only data): the page-table entries, not the pages, which
/// stay in the page cache, shared by every process of the binary.
///
/// Most of the binary's code a supervisor runs, it runs once: decoding
/// the pod and the node's configuration, setting up the runtime and the
/// containers. Mapped, those pages counted in its RSS (some 11 MiB, the
/// figure `ps` shows) and in its share of every page of the binary that
/// any pod's process maps (PSS), and the page tables that map them stayed
/// allocated (kernel memory, tens of KiB a process), all for the pod's
/// life. What runs again maps its pages again, a minor fault each.
///
/// Only segments that were never writable are dropped: their pages are
/// the file's, so dropping them loses nothing (relocated data, the GOT
/// and .data are in writable segments and stay).
pub fn drop_code_mappings() {
    unsafe extern "C" fn executable(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        _data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: getauxval reads the auxiliary vector; no allocation, so
        // the keeper may call this (see `keeper`).
        let page = match unsafe { libc::getauxval(libc::AT_PAGESZ) } as usize {
            0 => 4096,
            p => p,
        };
        // SAFETY: glibc passes a valid description for the call's duration.
        let info = unsafe { &*info };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: dlpi_phdr holds dlpi_phnum program headers.
            let header = unsafe { &*info.dlpi_phdr.add(i) };
            if header.p_type != libc::PT_LOAD || header.p_flags & libc::PF_W != 0 {
                continue;
            }
            let start = (info.dlpi_addr + header.p_vaddr) as usize;
            let end = start + header.p_memsz as usize;
            // Whole pages of the segment only.
            let (start, end) = (start.next_multiple_of(page), end & !(page - 1));
            if start < end {
                // SAFETY: a read-only mapping of the executable's file,
                // never written: its pages come back from the file.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
                }
            }
        }
        // The first object is the executable: stop there.
        1
    }
    // SAFETY: the callback only reads what glibc passes it.
    unsafe {
        libc::dl_iterate_phdr(Some(executable), std::ptr::null_mut());
    }
}

/// The size of a read of a container's output.
pub const READ_SIZE: usize = 64 * 1024;

/// The buffers the pumps of every container share (see [`with_scratch`]).
struct Scratch {
    input: Mapped,
    out: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the loop's buffers for one read of a container's output:
/// `input` ([`READ_SIZE`] bytes) to read into, `out` for the log entries
/// made of it (empty, and to be left empty: `LogFile::flush`). The pumps
/// run on one thread and use them only between two awaits, so one pair
/// serves every container of the pod, where a pair per stream cost up to
/// 128 KiB each for the pod's life once written to. `input` is mapped of
/// its own, never a piece of the heap: only the pages a read touched are
/// resident, and `give_back` drops them.
pub fn with_scratch<T>(f: impl FnOnce(&mut [u8], &mut Vec<u8>) -> T) -> std::io::Result<T> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch
            .try_borrow_mut()
            .map_err(|_| std::io::Error::other("the scratch buffers are in use"))?;
        if scratch.is_none() {
            *scratch = Some(Scratch {
                input: Mapped::new(READ_SIZE)?,
                out: Vec::new(),
            });
        }
        let scratch = scratch.as_mut().expect("set above");
        Ok(f(scratch.input.bytes(), &mut scratch.out))
    })
}

/// Anonymous memory mapped apart from the heap.
struct Mapped {
    start: *mut u8,
    len: usize,
}

impl Mapped {
    fn new(len: usize) -> std::io::Result<Mapped> {
        // SAFETY: a fresh private anonymous mapping, owned by the result.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped {
            start: start.cast(),
            len,
        })
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is ours, readable and writable, `len` long,
        // and zero-filled where never written.
        unsafe { std::slice::from_raw_parts_mut(self.start, self.len) }
    }

    /// Drops the pages: they read as zeros again, and cost nothing until
    /// written.
    fn release(&mut self) {
        // SAFETY: the mapping is ours and nothing borrows it (`&mut self`).
        unsafe {
            libc::madvise(self.start.cast(), self.len, libc::MADV_DONTNEED);
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing borrows it any more.
        unsafe {
            libc::munmap(self.start.cast(), self.len);
        }
    }
}

/// What stays of the stack below the caller's frame: room for the calls
/// that follow (madvise itself) and for a signal handler. Measured on a
/// release supervisor: the loop runs some 35 KiB below the top of a stack
/// that start-up grew to 132 KiB, and the periodic check stays within
/// 16 KiB of the loop, so 60 KiB go back and stay back.
const STACK_KEPT: usize = 16 * 1024;

/// Drops the pages of the calling thread's stack lower than STACK_KEPT
/// below this frame. Memory below the stack pointer holds nothing live, so
/// the kernel may take the pages back and hand out zeroed ones if the
/// stack grows there again.
#[inline(never)]
fn release_stack() {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let Some(low) = mapping_start(here) else {
        return;
    };
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as usize);
    let end = here.saturating_sub(STACK_KEPT) & !(page - 1);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) is the unused part of this thread's own stack
    // mapping, entirely below the live frames (see above).
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

/// The start of the mapping that holds `address` (the main thread's
/// `[stack]`, or a thread's stack without its guard page), from
/// /proc/self/maps.
fn mapping_start(address: usize) -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let (low, high) = line.split_whitespace().next()?.split_once('-')?;
        let low = usize::from_str_radix(low, 16).ok()?;
        let high = usize::from_str_radix(high, 16).ok()?;
        (low..high).contains(&address).then_some(low)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rss in KiB of the mapping that holds `address`.
    fn rss_kib(address: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'));
            if let Some((low, high)) = range
                && let (Ok(low), Ok(high)) = (
                    usize::from_str_radix(low, 16),
                    usize::from_str_radix(high, 16),
                )
            {
                inside = (low..high).contains(&address);
            } else if inside && let Some(v) = line.strip_prefix("Rss:") {
                return v.trim().trim_end_matches(" kB").parse().unwrap();
            }
        }
        panic!("no mapping holds {address:#x}");
    }

    /// Resident KiB of [address, address + len), by mincore(2) (the
    /// mapping's own figure in smaps can include a neighbour it was merged
    /// with).
    fn resident_kib(address: usize, len: usize) -> usize {
        let pages = len.div_ceil(4096);
        let mut vec = vec![0u8; pages];
        // SAFETY: the range is a mapping of ours; `vec` has one byte a page.
        let rc = unsafe { libc::mincore(address as *mut libc::c_void, len, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        vec.iter().filter(|b| *b & 1 == 1).count() * 4
    }

    /// Touches about `kib` KiB of stack below the caller.
    #[inline(never)]
    fn deep(kib: usize) -> u8 {
        let mut frame = [1u8; 1024];
        std::hint::black_box(&mut frame);
        if kib > 1 {
            frame[0] = frame[0].wrapping_add(deep(kib - 1));
        }
        frame[0]
    }

    #[test]
    fn the_scratch_buffers_are_given_back() {
        let address = with_scratch(|input, out| {
            assert_eq!(input.len(), READ_SIZE);
            assert!(out.is_empty());
            input.fill(7);
            out.extend_from_slice(b"entries");
            out.clear();
            input.as_ptr() as usize
        })
        .unwrap();
        assert_eq!(resident_kib(address, READ_SIZE), READ_SIZE / 1024);
        // One pair for the thread, and not reentrant.
        let nested = with_scratch(|_, _| with_scratch(|_, _| ()).is_err()).unwrap();
        assert!(nested);
        give_back();
        assert_eq!(resident_kib(address, READ_SIZE), 0);
        with_scratch(|input, out| {
            assert_eq!(input.as_ptr() as usize, address);
            assert!(input.iter().all(|b| *b == 0));
            assert_eq!(out.capacity(), 0);
        })
        .unwrap();
    }

    /// Read-only data of this test binary, in a segment never writable.
    /// The block the test looks at is in its middle, 2 MiB from either
    /// end: a fault maps the neighbours in its 64 KiB window, and may map
    /// the whole large folio of the page cache the faulting page is in
    /// (up to 2 MiB; their file offsets need not line up with the
    /// block's addresses). With the block near the end of a 192 KiB array
    /// its last pages were seen mapped again after a drop in about 1 run
    /// of 10: a read of some other constant brought them back.
    static READ_ONLY: [u8; READ_ONLY_SIZE] = [7; READ_ONLY_SIZE];
    const READ_ONLY_SIZE: usize = 4 * 1024 * 1024 + 128 * 1024;

    /// Whether a page table maps the page at `address` (/proc/self/pagemap,
    /// bit 63).
    fn mapped(address: usize) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let mut pagemap = std::fs::File::open("/proc/self/pagemap").unwrap();
        pagemap
            .seek(SeekFrom::Start((address / 4096 * 8) as u64))
            .unwrap();
        let mut entry = [0u8; 8];
        pagemap.read_exact(&mut entry).unwrap();
        u64::from_le_bytes(entry) >> 63 == 1
    }

    fn read(address: usize) -> u8 {
        // SAFETY: `address` is inside READ_ONLY.
        unsafe { std::ptr::read_volatile(address as *const u8) }
    }

    /// Set in the copy of this test binary that runs the check alone.
    const ALONE: &str = "POD_TEST_READ_ONLY_PAGES_ALONE";

    #[test]
    fn the_binary_read_only_pages_are_unmapped_and_read_back_the_same() {
        if std::env::var_os(ALONE).is_none() {
            // The drop also takes the code other tests' threads run, and
            // their faults on it can map this block again before it is
            // looked at (fault-around, whole large folios of the page
            // cache): run the check in a process of its own, on one thread.
            let name = "supervisor::memory::tests::the_binary_read_only_pages_are_unmapped_and_read_back_the_same";
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--test-threads=1", "--nocapture"])
                .env(ALONE, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("1 passed"),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let block = (READ_ONLY.as_ptr() as usize + 2 * 1024 * 1024).next_multiple_of(64 * 1024);
        let pages: Vec<usize> = (0..16).map(|i| block + i * 4096).collect();
        for &page in &pages {
            assert!(
                read(page) == 7 && mapped(page),
                "{page:#x} is not mapped after a read"
            );
        }
        // Nothing of this process reads them in between. Yet one page of
        // a freshly linked or copied binary was seen to stay mapped through
        // a drop (kernel 6.18, THP always; cause not found): allow a few
        // drops. A drop that does nothing never gets there.
        let attempts = (1..=20).find(|_| {
            drop_code_mappings();
            pages.iter().all(|&page| !mapped(page))
        });
        let still: Vec<String> = (pages.iter())
            .filter(|&&page| mapped(page))
            .map(|page| format!("{:#x} (page {} of the block)", page, (page - block) / 4096))
            .collect();
        assert!(attempts.is_some(), "still mapped after 20 drops: {still:?}");
        // Their content comes back from the file.
        for &page in &pages {
            assert_eq!(read(page), 7);
        }
    }

    #[test]
    fn stack_pages_below_the_frame_go_back() {
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        deep(512);
        let touched = rss_kib(here);
        assert!(touched >= 512, "the recursion touched {touched} KiB");
        // Nothing gives them back by itself.
        assert!(rss_kib(here) >= 512);
        release_stack();
        let after = rss_kib(here);
        assert!(
            after + 384 <= touched,
            "stack Rss {touched} KiB before, {after} KiB after"
        );
        // The stack still works where it was given back.
        deep(512);
    }
}
