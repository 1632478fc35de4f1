//! How many requests may be in flight: at most a few per host, so that one outlet never sees a
//! burst from its many feeds, and a global cap, so that a large config cannot open hundreds of
//! connections at once.

use crate::sync::Unpoisoned;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many hosts are remembered before the idle ones are forgotten.
const FORGET_IDLE_HOSTS_AT: usize = 1024;

pub struct Limits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    global: Arc<Semaphore>,
}

/// Held for the length of one request; dropping it lets the next one go.
pub struct Slot {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Limits {
    pub fn new(per_host: usize, global: usize) -> Self {
        Self {
            per_host,
            hosts: Mutex::new(HashMap::new()),
            global: Arc::new(Semaphore::new(global)),
        }
    }

    /// Waits for a free slot for `host`. The host's permit is taken first, so a request waiting
    /// for its host never holds one of the global permits that other hosts could use.
    pub async fn acquire(&self, host: &str) -> Slot {
        let host_semaphore = {
            let mut hosts = self.hosts.lock().unpoisoned();
            // Hosts come from the config and from redirects; forget idle ones now and then so
            // that the map cannot grow without bound.
            if hosts.len() >= FORGET_IDLE_HOSTS_AT {
                hosts.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            }
            Arc::clone(
                hosts
                    .entry(host.to_ascii_lowercase())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        let host = host_semaphore
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let global = Arc::clone(&self.global)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Slot {
            _host: host,
            _global: global,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_host_gets_its_share_and_other_hosts_are_not_held_up() {
        let limits = Arc::new(Limits::new(2, 3));
        let a1 = limits.acquire("a.example").await;
        let _a2 = limits.acquire("A.example").await;
        let third = tokio::time::timeout(Duration::from_millis(50), limits.acquire("a.example"));
        assert!(third.await.is_err(), "a third request to one host waits");
        let _b = limits.acquire("b.example").await;
        let fourth = tokio::time::timeout(Duration::from_millis(50), limits.acquire("c.example"));
        assert!(fourth.await.is_err(), "the global cap holds");
        drop(a1);
        let _c = limits.acquire("c.example").await;
    }
}
