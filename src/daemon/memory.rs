//! Giving freed memory back to the system after a burst of work.
//!
//! glibc's allocator keeps what threads free in per-thread arenas, for reuse. After a poll
//! round of a thousand feeds — bodies, parsed documents, a batch of items — that is over
//! 100 MB the daemon will not touch again until the next round, yet it stays resident.

/// Returns the allocator's free memory to the system (glibc on Linux; elsewhere nothing).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer of ours; it only walks the allocator's free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
