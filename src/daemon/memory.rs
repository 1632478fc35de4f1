//! Giving freed memory back to the system after a burst of work.
//!
//! glibc's allocator keeps what threads free in per-thread arenas, for reuse. After a poll
//! round — bodies, parsed documents, batches of items — that is memory the daemon will not
//! touch again until the next round, yet it stays resident (BENCHMARKS.md, section 4).

/// Returns the allocator's free memory to the system (glibc on Linux; elsewhere nothing).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer of ours; it only walks the allocator's free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Holds glibc to two malloc arenas, one per core of the machines tributary runs on, instead
/// of up to eight per core. Each thread that allocates may otherwise get an arena of its own —
/// the runtime's workers and blocking threads, the store's writer — and each arena keeps its
/// own free memory, in pieces that no trim can hand back (what two arenas save after a round:
/// BENCHMARKS.md, section 4). Called before any thread starts; an operator's own setting
/// (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`) wins.
pub fn limit_arenas() {
    if ["MALLOC_ARENA_MAX", "GLIBC_TUNABLES"]
        .iter()
        .any(|name| std::env::var_os(name).is_some())
    {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no thread allocates concurrently yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
