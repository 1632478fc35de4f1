//! Leases on feeds: before a process polls a feed it claims it in the store, so that processes
//! sharing a store (instances on one PostgreSQL database, or `tributary poll` beside the daemon)
//! never ask an outlet twice for one due time. A claim is granted only when no one else holds
//! an unexpired lease and, read after the lease is taken, the feed is due; the lease ends
//! when the poll's result is written (with the feed's next due time, in one transaction), or
//! when it expires, so that a process that died or lost the database gives its feeds up after
//! a bounded time.

use chrono::{DateTime, Utc};

use super::feeds::read_state;
use super::sql::{args, Sql, Transaction};
use super::{FeedState, Store, StoreError};

/// What a claim on a feed came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This process holds the feed until its poll is written (or the lease expires): the
    /// feed's state, read once the lease was taken.
    Granted(FeedState),
    /// Not due before `until`: polled meanwhile, perhaps by another process.
    NotDue { until: DateTime<Utc> },
    /// Another process is polling it, and holds it until `until` at the latest.
    Held { by: String, until: DateTime<Utc> },
}

impl Store {
    /// Claims the feeds `feed_urls` of `outlet` for this process until `until`, each if no one
    /// else holds it and it is due at `due_at` (`None`: whenever it was last polled, as for
    /// `tributary poll --force`); one claim per feed, in order. One transaction claims them
    /// all: on SQLite every claim waits for the store's one writer, so the feeds an outlet's
    /// tick finds due wait for it once, not once each.
    pub fn claim_feeds(
        &self,
        outlet: &str,
        feed_urls: &[String],
        due_at: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut conn = self.claimer();
        let tx = conn.claim_transaction()?;
        let mut claims = Vec::with_capacity(feed_urls.len());
        for feed_url in feed_urls {
            // One statement takes the lease or, while another process holds it, keeps it as it
            // is and says whose it is: the row stays locked from the conflict to the answer, so
            // the holder cannot finish in between.
            let (holder, until_ms): (String, i64) = tx
                .first(
                    "INSERT INTO leases (outlet, url, holder, until_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (outlet, url) DO UPDATE SET
                         holder = CASE WHEN leases.until_ms <= ?5
                                         OR leases.holder = excluded.holder
                                       THEN excluded.holder ELSE leases.holder END,
                         until_ms = CASE WHEN leases.until_ms <= ?5
                                           OR leases.holder = excluded.holder
                                         THEN excluded.until_ms ELSE leases.until_ms END
                     RETURNING holder, until_ms",
                    args![
                        outlet,
                        feed_url,
                        self.instance.as_str(),
                        until.timestamp_millis(),
                        now.timestamp_millis()
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?
                .ok_or(StoreError::NoRow)?;
            if holder != self.instance {
                let until = DateTime::from_timestamp_millis(until_ms).unwrap_or_default();
                claims.push(Claim::Held { by: holder, until });
                continue;
            }
            // Read once the lease is taken: a process that polled the feed meanwhile has
            // written when it is due next.
            let state = read_state(&tx, outlet, feed_url)?;
            let not_before = state
                .next_poll_at
                .filter(|next| due_at.is_some_and(|due| *next > due));
            match not_before {
                Some(until) => {
                    release(&tx, outlet, feed_url, &self.instance)?;
                    claims.push(Claim::NotDue { until });
                }
                None => claims.push(Claim::Granted(state)),
            }
        }
        tx.commit()?;
        Ok(claims)
    }

    /// Counts the feeds this process holds leases on: those it is polling now.
    pub fn leases_held(&self) -> Result<u64, StoreError> {
        let held: i64 = self.reader().value(
            "SELECT count(*) FROM leases WHERE holder = ?1",
            args![self.instance.as_str()],
        )?;
        Ok(held.unsigned_abs())
    }
}

/// Ends the lease this process (`holder`) has on a feed whose poll is being written.
pub(super) fn release(
    tx: &Transaction<'_>,
    outlet: &str,
    feed_url: &str,
    holder: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM leases WHERE outlet = ?1 AND url = ?2 AND holder = ?3",
        args![outlet, feed_url, holder],
    )?;
    Ok(())
}
