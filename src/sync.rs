//! Locks that outlive a panic. A thread that panicked holding one of the daemon's locks left
//! what it guards whole — a value replaced in one step, a connection whose open transaction
//! was rolled back when dropped — so the others go on with it rather than panic in turn. (The
//! dedup window, which a panic can leave half-updated, is reloaded instead: `Store`.)

use std::sync::{LockResult, PoisonError};

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
}
