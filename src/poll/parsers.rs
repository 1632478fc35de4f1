//! The threads that parse fetched bodies: off the async workers, which also answer readers,
//! and at the idle priority (see [`crate::priority`]).
//!
//! They are a blocking pool of their own, not the runtime's: a thread lowered to the idle
//! priority cannot raise itself again, and the runtime's blocking threads also run readers'
//! searches. The pool is a tokio runtime that is never driven, only asked to run blocking work.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinError;

/// How long a parse thread with nothing to do waits for more before it ends.
const KEEP_ALIVE: Duration = Duration::from_secs(60);

/// Cheap to clone; the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Parsers {
    handle: Handle,
    _runtime: Arc<Owned>,
}

/// The pool's runtime, shut down without waiting when dropped: dropping a runtime may not
/// block an async worker, which is where the last poll holding it may end.
struct Owned(Option<Runtime>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Parsers {
    /// Starts a pool of at most one thread per core: parsing is all CPU, and more threads than
    /// cores would only take turns.
    pub fn start() -> std::io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let runtime = Builder::new_current_thread()
            .max_blocking_threads(threads)
            .thread_name("parse")
            // A round's bodies arrive over seconds, with gaps: threads are kept between them
            // rather than made again.
            .thread_keep_alive(KEEP_ALIVE)
            .on_thread_start(crate::priority::lower_to_background)
            .build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            _runtime: Arc::new(Owned(Some(runtime))),
        })
    }

    /// Runs `work` on one of the pool's threads.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, JoinError> {
        self.handle.spawn_blocking(work).await
    }
}
