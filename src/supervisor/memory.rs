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

/// Gives back what a burst of work (the pod's start, a restart, a pull)
/// left behind: the free pages of the heap, and the pages of the main
/// thread's stack that deeper calls touched (decoding the pod and the
/// node's configuration goes deep once, and those pages stayed resident).
pub fn give_back() {
    // SAFETY: malloc_trim may be called at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    release_stack();
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
