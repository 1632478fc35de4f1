//! Checkpoints on a thread of their own. In WAL mode a commit appends pages to the log, and a
//! checkpoint copies them into the database file and syncs it. Left to SQLite, the commit that
//! fills the log pays for that; once the store outgrows the page cache every commit touches
//! pages all over the file, and the copy and sync grow with it (`BENCHMARKS.md`, section 5).
//! Here the writer only wakes this thread, which copies what was committed while the writer
//! goes on; the writer's own checkpoint (`wal_autocheckpoint`) stays as the backstop, and
//! finds little left to copy.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// The checkpoint thread's name, as `ps` and `/proc` show it (Linux keeps its first 15 bytes).
pub const THREAD_NAME: &str = "store-checkpoint";

/// The least time between two checkpoints: the commits of a poll round come in bursts, and a
/// checkpoint per commit would copy the pages they all change again and again.
const PAUSE: Duration = Duration::from_millis(100);

pub(super) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread, with a connection of its own to the database at `path`.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        // Woken once however many commits come while it works or pauses.
        let (wake, woken) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                crate::priority::lower_to_background();
                let mut failing = false;
                while woken.recv().is_ok() {
                    // PASSIVE: copies what no reader still needs, and never waits for one.
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        // Said once, not at every commit while it lasts (a full disk, say).
                        Err(e) if !failing => {
                            tracing::warn!("checkpoint failed (retried after each commit): {e}");
                            failing = true;
                        }
                        Err(_) => {}
                        Ok(()) => failing = false,
                    }
                    std::thread::sleep(PAUSE);
                }
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Tells the thread that a transaction committed.
    pub fn committed(&self) {
        if let Some(wake) = &self.wake {
            // Full: a wake-up is already pending, and covers this commit too.
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    /// Ends the thread: closing the channel ends its loop after the checkpoint under way.
    fn drop(&mut self) {
        self.wake.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
