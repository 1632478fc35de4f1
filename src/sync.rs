//! Work across threads. Locks outlive a panic: a thread that panicked holding one of the
//! daemon's locks left what it guards whole — a value replaced in one step, a connection whose
//! open transaction was rolled back when dropped — so the others go on with it rather than
//! panic in turn. (The dedup window, which a panic can leave half-updated, is reloaded instead:
//! `Store`.) And blocking work (SQLite) runs off the async workers with one error for its own
//! failure and its thread's.

use std::sync::{LockResult, PoisonError};

/// Runs `work` on a thread for blocking work, with its error or the thread's failure as one error.
pub async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> anyhow::Result<T>
where
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    Ok(tokio::task::spawn_blocking(work).await??)
}

/// The guard of a lock, poisoned or not.
pub trait Unpoisoned<G> {
    fn unpoisoned(self) -> G;
}

impl<G> Unpoisoned<G> for LockResult<G> {
    fn unpoisoned(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_lock_poisoned_by_a_panic_still_gives_its_value() {
        let lock = Arc::new(Mutex::new(7));
        let holder = Arc::clone(&lock);
        let _ = std::thread::spawn(move || {
            let _guard = holder.lock().unpoisoned();
            panic!("poisons the lock");
        })
        .join();
        assert!(lock.is_poisoned());
        assert_eq!(*lock.lock().unpoisoned(), 7);
    }

    #[tokio::test]
    async fn blocking_work_gives_its_value_or_its_error() {
        assert_eq!(blocking(|| Ok::<_, std::io::Error>(7)).await.unwrap(), 7);
        let failed = blocking(|| Err::<(), _>(std::io::Error::other("disk gone"))).await;
        assert_eq!(failed.unwrap_err().to_string(), "disk gone");
    }
}
