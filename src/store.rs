//! SQLite: the only module that speaks SQL. Items and per-feed state live in one file, in WAL
//! mode, and each feed poll is written in one transaction, so a crash keeps either the whole
//! poll or none of it.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use crate::model::{Item, ItemId};

mod feeds;
mod schema;

pub use feeds::{Attempt, FeedState, FeedStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored item {id} is unreadable: {source}")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
    #[error(
        "database schema version {0} is newer than this tributary understands; upgrade tributary"
    )]
    TooNew(i64),
    #[error("there is no database at {0}: it is created when the daemon or `tributary poll` first runs with this configuration")]
    Missing(std::path::PathBuf),
}

/// The outcome of one feed poll, to be recorded with its items.
pub struct FeedPoll<'a> {
    pub outlet: &'a str,
    /// The feed's address as configured: its identity, even after it moved.
    pub feed_url: &'a str,
    pub attempt: Attempt,
    /// `None` when the poll brought no new body (304, unchanged body, failure): validators and
    /// items stay as they are.
    pub body: Option<PolledBody<'a>>,
}

pub struct PolledBody<'a> {
    pub state: FeedState,
    pub items: &'a [Item],
    /// What was wrong with the document and mended (see `parse::ParsedFeed::notes`); `None`
    /// when the body was not parsed again (the same bytes), so the last notes stand.
    pub problems: Option<&'a [String]>,
}

/// How a poll's items compared with what was stored.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Older than the retention period, so not stored at all.
    pub expired: usize,
    /// Dated too far in the future, so dated when first seen instead.
    pub clamped: usize,
}

impl Ingested {
    pub fn changed(&self) -> bool {
        self.new + self.updated > 0
    }
}

/// An item with what the store knows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    pub item: Item,
    pub feed_url: String,
    /// The item's place in the merged feed: its publication date, or when it was first seen
    /// if it has none (or claims one in the future).
    pub sort_at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    /// When the stored copy last changed: feeds derive `Last-Modified` from it.
    pub modified_at: DateTime<Utc>,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens the database at `path`, creating it if there is none.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with(Connection::open(path)?)
    }

    /// Opens the database at `path` only if it exists: a reader such as `tributary status`
    /// must not create an empty database at a mistyped path and report on it.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Self::with(Connection::open_with_flags(path, flags)?)
    }

    fn with(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL keeps readers off the writer's back; NORMAL sync in WAL mode loses no committed
        // transaction to a process crash, only (at worst) the last ones to a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolled it back; the
        // connection itself is still sound.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records one feed poll and its items in a single transaction. Items older than
    /// `retention_cutoff` are skipped, so that retention does not delete what the next poll
    /// would add again.
    pub fn record_poll(
        &self,
        poll: &FeedPoll<'_>,
        retention_cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Ingested, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut ingested = Ingested::default();
        if let Some(body) = &poll.body {
            for item in body.items {
                upsert(
                    &tx,
                    item,
                    poll.feed_url,
                    retention_cutoff,
                    now,
                    &mut ingested,
                )?;
            }
            feeds::record_body(&tx, poll.outlet, poll.feed_url, body)?;
        }
        feeds::record_attempt(&tx, poll.outlet, poll.feed_url, &poll.attempt)?;
        tx.commit()?;
        Ok(ingested)
    }

    /// The newest items, of one outlet or of all, newest first.
    pub fn recent(
        &self,
        outlet: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredItem>, StoreError> {
        let conn = self.conn();
        let columns = "SELECT id, feed_url, sort_at, first_seen, modified_at, data FROM items";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement;
        let rows = match outlet {
            Some(outlet) => {
                statement = conn.prepare_cached(&format!(
                    "{columns} WHERE outlet = ?1 ORDER BY sort_at DESC, id LIMIT ?2"
                ))?;
                statement.query(params![outlet, limit])?
            }
            None => {
                statement =
                    conn.prepare_cached(&format!("{columns} ORDER BY sort_at DESC, id LIMIT ?1"))?;
                statement.query(params![limit])?
            }
        };
        rows.mapped(|row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                [row.get::<_, i64>(2)?, row.get(3)?, row.get(4)?],
                row.get::<_, String>(5)?,
            ))
        })
        .map(|row| {
            let (id, feed_url, [sort_at, first_seen, modified_at], data) = row?;
            let item =
                serde_json::from_str(&data).map_err(|source| StoreError::Corrupt { id, source })?;
            Ok(StoredItem {
                item,
                feed_url,
                sort_at: timestamp(sort_at),
                first_seen: timestamp(first_seen),
                modified_at: timestamp(modified_at),
            })
        })
        .collect()
    }

    pub fn item_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
        Ok(count.unsigned_abs())
    }

    /// Deletes items whose place in the feed is older than `cutoff`; returns how many.
    pub fn purge_older_than(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let deleted = self.conn().execute(
            "DELETE FROM items WHERE sort_at < ?1",
            params![cutoff.timestamp()],
        )?;
        Ok(deleted)
    }
}

/// Inserts `item`, or updates the stored copy it matches by id or, failing that, by canonical
/// link within its outlet (the same story under another GUID in another of the outlet's feeds).
/// The stored id always wins, so an item's id never changes.
/// How far ahead of the clock an item may be dated before its date is taken for a mistake.
const FUTURE_TOLERANCE_SECS: i64 = 3600;

fn upsert(
    tx: &Transaction<'_>,
    item: &Item,
    feed_url: &str,
    retention_cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    ingested: &mut Ingested,
) -> Result<(), StoreError> {
    let existing: Option<(String, String, i64)> = tx
        .prepare_cached(
            "SELECT id, content_hash, first_seen FROM items WHERE id = ?1
             UNION ALL
             SELECT id, content_hash, first_seen FROM items WHERE outlet = ?2 AND url = ?3
             LIMIT 1",
        )?
        .query_row(params![item.id.as_str(), item.outlet, item.url], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let first_seen = existing
        .as_ref()
        .map_or(now, |(_, _, seen)| timestamp(*seen));
    let mut item = item.clone();
    // An undated item is dated when it was first seen; one dated far ahead (a wrong zone, a
    // scheduled post) is not news from the future, and is dated the same way.
    match item.published {
        None => item.published = Some(first_seen),
        Some(date) if date > now + chrono::Duration::seconds(FUTURE_TOLERANCE_SECS) => {
            item.published = Some(first_seen);
            ingested.clamped += 1;
        }
        Some(_) => {}
    }
    let sort_at = item.published.unwrap_or(first_seen).min(now);
    if sort_at < retention_cutoff {
        ingested.expired += 1;
        return Ok(());
    }
    if let Some((id, _, _)) = &existing {
        item.id = ItemId::from(id.clone());
    }
    let hash = item.content_hash();
    let data = serde_json::to_string(&item).expect("an Item always serializes to JSON");
    match &existing {
        Some((_, stored_hash, _)) if *stored_hash == hash => {
            ingested.unchanged += 1;
            return Ok(());
        }
        Some(_) => ingested.updated += 1,
        None => ingested.new += 1,
    }
    tx.prepare_cached(
        "INSERT INTO items (id, outlet, url, feed_url, sort_at, first_seen, modified_at, content_hash, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, feed_url = excluded.feed_url,
             sort_at = excluded.sort_at, modified_at = excluded.modified_at,
             content_hash = excluded.content_hash, data = excluded.data",
    )?
    .execute(params![
        item.id.as_str(),
        item.outlet,
        item.url,
        feed_url,
        sort_at.timestamp(),
        now.timestamp(),
        hash,
        data
    ])?;
    Ok(())
}

fn timestamp(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

#[cfg(test)]
mod tests;
