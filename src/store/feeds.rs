//! The `feeds` table: what the daemon remembers of each feed between polls (validators, where
//! it moved, when it may be asked again) and what the operator reads in the status.

use std::time::Duration;

use super::sql::{args, Sql, Transaction};
use super::{timestamp, PolledBody, Store, StoreError};
use crate::fetch::Validators;
use chrono::{DateTime, Utc};

/// What a poll needs to know of a feed before it asks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FeedState {
    pub validators: Validators,
    /// Digest of the last body parsed: an identical body is not parsed again.
    pub body_hash: Option<String>,
    /// Where a permanent redirect sent the feed; polled instead of the configured address.
    pub current_url: Option<String>,
    /// Failures in a row; backoff grows with them.
    pub failures: u32,
    /// The earliest time the feed may be asked again.
    pub next_poll_at: Option<DateTime<Utc>>,
    /// The RSS `<ttl>` of the last body parsed, honoured after `304`s too.
    pub ttl: Option<Duration>,
    /// The feed's GUIDs proved unreliable: its items are identified by link.
    pub by_link: bool,
}

/// What one poll of a feed came to, whatever it brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status: Option<u16>,
    /// In words; `None` when the poll succeeded.
    pub error: Option<String>,
    /// Failures in a row, this one included; 0 after a success.
    pub failures: u32,
    pub next_poll_at: DateTime<Utc>,
    /// Why not earlier: "interval", "Cache-Control", "Retry-After", "backoff"…
    pub next_poll_reason: String,
    /// The feed's address after a permanent redirect, if it has one.
    pub current_url: Option<String>,
}

/// One feed as the status page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    pub outlet: String,
    pub url: String,
    pub current_url: Option<String>,
    pub last_attempt: DateTime<Utc>,
    pub last_success: Option<DateTime<Utc>>,
    pub status: Option<u16>,
    pub failures: u32,
    pub error: Option<String>,
    pub duration_ms: Option<u64>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub next_poll_reason: Option<String>,
    pub validators: Validators,
    /// Stored items that this feed carried last.
    pub items: u64,
    /// What was wrong with the last document parsed and mended, `; `-separated.
    pub document_problems: Option<String>,
}

impl Store {
    pub fn feed_state(&self, outlet: &str, feed_url: &str) -> Result<FeedState, StoreError> {
        read_state(&*self.reader(), outlet, feed_url)
    }

    /// Lists every feed that was ever polled, with its stored item count, by outlet and URL.
    pub fn feed_statuses(&self) -> Result<Vec<FeedStatus>, StoreError> {
        self.reader().rows(
            "SELECT outlet, url, current_url, last_attempt, last_success, status, failures, error,
                    duration_ms, next_poll_at_ms, next_poll_reason, etag, last_modified,
                    document_problems,
                    (SELECT count(*) FROM items i WHERE i.outlet = f.outlet AND i.feed_url = f.url)
             FROM feeds f ORDER BY outlet, url",
            &[],
            |row| {
                Ok(FeedStatus {
                    outlet: row.get(0)?,
                    url: row.get(1)?,
                    current_url: row.get(2)?,
                    last_attempt: timestamp(row.get(3)?),
                    last_success: row.get::<Option<i64>>(4)?.map(timestamp),
                    status: row.get(5)?,
                    failures: row.get(6)?,
                    error: row.get(7)?,
                    duration_ms: row.get(8)?,
                    next_poll_at: row
                        .get::<Option<i64>>(9)?
                        .and_then(DateTime::from_timestamp_millis),
                    next_poll_reason: row.get(10)?,
                    validators: Validators {
                        etag: row.get(11)?,
                        last_modified: row.get(12)?,
                    },
                    document_problems: row.get(13)?,
                    items: row.get(14)?,
                })
            },
        )
    }
}

/// Reads what is known of a feed before it is asked (nothing, for a new one) through `conn`.
pub(super) fn read_state(
    conn: &impl Sql,
    outlet: &str,
    feed_url: &str,
) -> Result<FeedState, StoreError> {
    let state = conn.first(
        "SELECT etag, last_modified, body_hash, current_url, failures, next_poll_at_ms,
                ttl_secs, identity_by_link
         FROM feeds WHERE outlet = ?1 AND url = ?2",
        args![outlet, feed_url],
        |row| {
            Ok(FeedState {
                validators: Validators {
                    etag: row.get(0)?,
                    last_modified: row.get(1)?,
                },
                body_hash: row.get(2)?,
                current_url: row.get(3)?,
                failures: row.get(4)?,
                next_poll_at: row
                    .get::<Option<i64>>(5)?
                    .and_then(DateTime::from_timestamp_millis),
                ttl: row.get::<Option<u64>>(6)?.map(Duration::from_secs),
                by_link: row.get(7)?,
            })
        },
    )?;
    Ok(state.unwrap_or_default())
}

/// Remembers the validators and digest of a body that was parsed and stored.
pub(super) fn record_body(
    tx: &Transaction<'_>,
    outlet: &str,
    url: &str,
    body: &PolledBody<'_>,
    guids_changed: bool,
) -> Result<(), StoreError> {
    let state = &body.state;
    let by_link = state.by_link || guids_changed;
    let problems = body
        .problems
        .map(|notes| notes.join("; "))
        .filter(|joined| !joined.is_empty());
    tx.execute(
        "INSERT INTO feeds (outlet, url, etag, last_modified, body_hash, ttl_secs,
                            document_problems, identity_by_link, last_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, 0)
         ON CONFLICT (outlet, url) DO UPDATE SET etag = ?3, last_modified = ?4, body_hash = ?5,
             ttl_secs = ?6, document_problems = CASE WHEN ?7 THEN ?8 ELSE feeds.document_problems END,
             identity_by_link = ?9",
        args![
            outlet,
            url,
            state.validators.etag.as_deref(),
            state.validators.last_modified.as_deref(),
            state.body_hash.as_deref(),
            state.ttl.map(|ttl| ttl.as_secs()),
            body.problems.is_some(),
            problems.as_deref(),
            by_link,
        ],
    )?;
    Ok(())
}

pub(super) fn record_attempt(
    tx: &Transaction<'_>,
    outlet: &str,
    url: &str,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let success = attempt.error.is_none().then_some(attempt.at.timestamp());
    tx.execute(
        "INSERT INTO feeds (outlet, url, status, error, last_attempt, last_success, duration_ms,
                            failures, next_poll_at_ms, next_poll_reason, current_url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (outlet, url) DO UPDATE SET status = ?3, error = ?4, last_attempt = ?5,
             last_success = coalesce(?6, feeds.last_success), duration_ms = ?7, failures = ?8,
             next_poll_at_ms = ?9, next_poll_reason = ?10, current_url = ?11",
        args![
            outlet,
            url,
            attempt.status,
            attempt.error.as_deref(),
            attempt.at.timestamp(),
            success,
            attempt.duration_ms,
            attempt.failures,
            attempt.next_poll_at.timestamp_millis(),
            &attempt.next_poll_reason,
            attempt.current_url.as_deref(),
        ],
    )?;
    Ok(())
}
