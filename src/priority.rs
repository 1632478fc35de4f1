//! Readers first: the CPU-heavy threads of ingest run at the kernel's idle priority.
//!
//! A poll round keeps both cores of a small machine busy for seconds (parsing, deduplicating,
//! writing). At the same priority as the HTTP workers, a reader's request waits for a core
//! until a round's thread has used up its time slice (what that did to `/feed.xml`'s p99:
//! `BENCHMARKS.md`, 3b). Under `SCHED_IDLE` a waking HTTP worker takes the core at once, while
//! the round still gets every cycle the readers leave.
//!
//! The policy orders threads within the daemon's own share of the CPU: under systemd the
//! service is a cgroup of its own (and a terminal's process an autogroup), so other programs'
//! load slows the round only by the share it takes, as it would at any priority. Lowering
//! one's own priority needs no privilege; the systemd unit allows `sched_setscheduler` for it.
//! What an idle thread holds, a normal one may wait for: the store's locks (only other
//! ingest work and reloads take them) and, briefly, a malloc arena. When readers' requests keep
//! both cores busy, such a wait lasts until the idle thread gets a turn; the runs under as many
//! requests as `wrk` can make (`BENCHMARKS.md`, 3b) showed no such stall in p99.
//!
//! Where the daemon shares its cgroup with a program that keeps every core busy, its polls
//! would wait for that program: `TRIBUTARY_INGEST_PRIORITY=normal` keeps them at the normal
//! priority (and lets `bench/run.sh latency` measure both).

/// The environment variable that keeps ingest at the normal priority when set to `normal`
/// (`idle`, the default, lowers it).
const SETTING: &str = "TRIBUTARY_INGEST_PRIORITY";

/// Puts the calling thread below every normal thread, for the rest of its life: a thread that
/// has no privilege to raise its priority cannot come back, so only threads that do nothing
/// but ingest are lowered (not the runtime's shared blocking threads, which also serve
/// searches). Where the system refuses, the thread stays as it was and this is said once.
pub fn lower_to_background() {
    match std::env::var(SETTING) {
        Ok(value) if value == "normal" => return,
        Ok(value) if value == "idle" => {}
        Ok(value) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::warn!(%value, "{SETTING} takes \"idle\" (the default) or \"normal\"; this value is ignored")
            });
        }
        Err(_) => {}
    }
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` outlives the call; pid 0 names the calling thread.
        let refused = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0;
        if refused {
            let error = std::io::Error::last_os_error();
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::warn!(%error, "cannot lower the priority of the ingest threads; readers' requests wait for the CPU during poll rounds")
            });
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn policy() -> libc::c_int {
        // SAFETY: reads the calling thread's policy; takes no pointer.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = policy();
        let lowered = std::thread::spawn(|| {
            lower_to_background();
            policy()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, libc::SCHED_IDLE);
        assert_eq!(policy(), before, "the spawning thread is left as it was");
    }
}
