//! One batch of polls written in one transaction: straight through, or — when one of its
//! polls failed — again with each poll under a savepoint of its own, so that the one that fails
//! is rolled back and reported and the others are kept.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::sql::{self, Connection, Sql};
use super::window::StoredWindow;
use super::{changes, feeds, items, leases, search, FeedPoll, Ingested, StoreError};
use crate::config::Dedup;
use crate::dedup::{self, Policy};
use crate::model::Item;

/// Polls to write in one transaction, and what their items are stored under.
pub(super) struct Batch<'a> {
    pub(super) instance: &'a str,
    pub(super) polls: &'a [FeedPoll<'a>],
    pub(super) dedup: &'a Dedup,
    pub(super) policy: &'a Policy,
    pub(super) retention_cutoff: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
}

impl Batch<'_> {
    /// Writes the batch in one transaction, its polls kept apart by `guard`; one result per
    /// poll once committed, or `None` when a poll failed with the polls written straight
    /// through (nothing was kept).
    pub(super) fn write(
        &self,
        conn: &mut Connection,
        guard: Guard,
        candidates: &mut StoredWindow,
    ) -> Result<Option<Vec<Result<Ingested, StoreError>>>, StoreError> {
        let tx = conn.write_transaction()?;
        let writer = Writer {
            instance: self.instance,
            tx: &tx,
            dedup: self.dedup,
            policy: self.policy,
            retention_cutoff: self.retention_cutoff,
            now: self.now,
        };
        let mut results = Vec::with_capacity(self.polls.len());
        let mut search = search::Pending::default();
        for poll in self.polls {
            let result = match guard {
                Guard::EachPoll => writer.record_one(poll, candidates, &mut search),
                Guard::WholeBatch => writer.write(poll, candidates, &mut search),
            };
            // Some errors (a full disk, an I/O error) end the whole transaction, not only
            // the savepoint: nothing of the batch can be kept then.
            if tx.ended() {
                return Err(result.err().unwrap_or(StoreError::TransactionLost));
            }
            if result.is_err() && guard == Guard::WholeBatch {
                return Ok(None);
            }
            results.push(result);
        }
        search.write(&tx)?;
        if results
            .iter()
            .any(|r| r.as_ref().is_ok_and(Ingested::changed))
        {
            changes::moved(&tx, self.now)?;
        }
        tx.commit()?;
        Ok(Some(results))
    }
}

/// How the polls of a batch are kept apart.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Guard {
    /// Written straight through: one failing undoes the batch.
    WholeBatch,
    /// Each under a savepoint: one failing is undone alone.
    EachPoll,
}

/// One batch's transaction and what its polls are stored under.
struct Writer<'a, 'c> {
    /// This process, whose lease on each feed written ends.
    instance: &'a str,
    tx: &'a sql::Transaction<'c>,
    dedup: &'a Dedup,
    policy: &'a Policy,
    retention_cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Writer<'_, '_> {
    /// Records one poll of the batch, under a savepoint: on an error, what it wrote is undone. What
    /// it gives the search index joins `search` once the poll is written (see [`search::Pending`]).
    fn record_one(
        &self,
        poll: &FeedPoll<'_>,
        candidates: &mut StoredWindow,
        search: &mut search::Pending,
    ) -> Result<Ingested, StoreError> {
        self.tx.batch("SAVEPOINT poll")?;
        let mut indexed = search::Pending::default();
        match self.write(poll, candidates, &mut indexed) {
            Ok(ingested) => {
                self.tx.batch("RELEASE poll")?;
                search.extend(indexed);
                Ok(ingested)
            }
            Err(e) => {
                // What the window learnt of the undone writes is wrong now: it is loaded
                // again from the store at the next write.
                candidates.reset();
                if !self.tx.ended() {
                    self.tx.batch("ROLLBACK TO poll; RELEASE poll")?;
                }
                Err(e)
            }
        }
    }

    fn write(
        &self,
        poll: &FeedPoll<'_>,
        candidates: &mut StoredWindow,
        search: &mut search::Pending,
    ) -> Result<Ingested, StoreError> {
        let mut ingested = Ingested::default();
        if let Some(body) = &poll.body {
            if !body.items.is_empty() {
                candidates.catch_up(self.tx, self.now, self.dedup)?;
            }
            // The document's own items are never re-publications of each other: a story and
            // its live blog, say, are both in the feed at once.
            let links: Vec<String> = body.items.iter().filter_map(Item::canonical_url).collect();
            let siblings: HashSet<&str> = body
                .items
                .iter()
                .map(|i| i.id.as_str())
                .chain(links.iter().map(String::as_str))
                .collect();
            let mut rules = items::PollContext {
                feed_url: poll.feed_url,
                policy: self.policy,
                arrival: dedup::Poll {
                    now: self.now,
                    retention_cutoff: self.retention_cutoff,
                    join_stories: self.dedup.enabled,
                    listed: &siblings,
                    claimed: HashSet::with_capacity(body.items.len()),
                },
            };
            for item in body.items {
                items::ingest(self.tx, item, &mut rules, candidates, &mut ingested, search)?;
            }
            ingested.guids_changed =
                !body.state.by_link && dedup::guids_changed(ingested.relinked, body.items.len());
            feeds::record_body(
                self.tx,
                poll.outlet,
                poll.feed_url,
                body,
                ingested.guids_changed,
            )?;
        }
        feeds::record_attempt(self.tx, poll.outlet, poll.feed_url, &poll.attempt)?;
        leases::release(self.tx, poll.outlet, poll.feed_url, self.instance)?;
        Ok(ingested)
    }
}
