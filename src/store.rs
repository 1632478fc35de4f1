//! The store, the only module that speaks SQL: items and per-feed state in an SQLite file (in
//! WAL mode), or in a PostgreSQL database that several instances share, behind one interface
//! (`sql`) so that both take every decision alike. Feed polls are written in batches, one
//! transaction each, so a crash keeps either the whole batch or none of it; a batch in which one
//! poll fails is written again with each poll under a savepoint of its own. Writes are one at a
//! time across every process sharing the store. The dedup window is kept in memory beside it
//! (`window::StoredWindow`) and reads what other processes wrote before each write; what dedup
//! decides is recorded with each item.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::OpenFlags;

use crate::config::{Database, Dedup};
use crate::dedup::{Model, Policy};
use crate::model::{Item, ItemId};
use crate::sync::Unpoisoned;

mod batch;
mod changes;
mod checkpoint;
mod copy;
mod decisions;
mod feeds;
mod items;
mod leases;
mod schema;
mod search;
mod sql;
mod stories;
mod window;

use batch::{Batch, Guard};
use sql::{args, postgres_config, Connection, Sql};

pub use changes::ChangeMark;
pub use checkpoint::THREAD_NAME as CHECKPOINT_THREAD_NAME;
pub use copy::{Copied, CopyError};
pub use feeds::{Attempt, FeedState, FeedStatus};
pub use leases::Claim;
pub use search::{Matches, QueryError, SearchQuery};
pub use stories::{AlsoReported, Explanation, Member, Reason};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("column {0} of a stored row holds a number out of range")]
    OutOfRange(usize),
    #[error("column {0} of a stored row is unexpectedly empty (NULL)")]
    Null(usize),
    #[error("a query that always gives a row gave none")]
    NoRow,
    #[error("stored item {id} is unreadable: {source}")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
    #[error(
        "database schema version {0} is newer than this tributary understands; upgrade tributary"
    )]
    TooNew(i64),
    /// The transaction a poll was written in did not commit (or could not begin): nothing of
    /// it was kept. Shared by every poll of the batch.
    #[error("not saved: {0}")]
    NotCommitted(Arc<StoreError>),
    #[error("the database ended the transaction (rolled back)")]
    TransactionLost,
    #[error("could not start the store's checkpoint thread: {0}")]
    Thread(String),
    #[error("the search took longer than {0:?} and was stopped: narrow it down")]
    TooSlow(std::time::Duration),
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

impl<'a> FeedPoll<'a> {
    /// A poll at `at` that brought a new document of `items`: what a replay of items (an
    /// evaluation, a benchmark) records.
    pub fn of_items(
        outlet: &'a str,
        feed_url: &'a str,
        items: &'a [Item],
        at: DateTime<Utc>,
    ) -> Self {
        FeedPoll {
            outlet,
            feed_url,
            attempt: Attempt {
                at,
                duration_ms: 1,
                status: Some(200),
                error: None,
                failures: 0,
                next_poll_at: at,
                next_poll_reason: "interval".into(),
                current_url: None,
            },
            body: Some(PolledBody {
                state: FeedState::default(),
                items,
                problems: None,
            }),
        }
    }
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
    /// New items that joined a story another outlet reported first.
    pub merged: usize,
    pub unchanged: usize,
    /// Older than the retention period, so not stored at all.
    pub expired: usize,
    /// Dated too far in the future, so dated when first seen instead.
    pub clamped: usize,
    /// Matched a stored item by link but not by id: the feed changed its GUID.
    pub relinked: usize,
    /// Most of the feed's GUIDs changed since the last poll: from now on its items are
    /// identified by link.
    pub guids_changed: bool,
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
    /// The story it belongs to: the id of the first item of the story, which stays its id in
    /// the merged feed whichever copy is shown.
    pub story: ItemId,
    /// In the merged feed, the other outlets' copies of the story.
    pub also: Vec<AlsoReported>,
    /// In the merged feed, other outlets' items on the same event thread that are not the
    /// same story (dedup's related coverage), best first.
    pub related: Vec<AlsoReported>,
    pub feed_url: String,
    /// The item's place in the merged feed: its publication date, or when it was first seen
    /// if it has none (or claims one in the future).
    pub sort_at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    /// When the stored copy last changed: feeds derive `Last-Modified` from it.
    pub modified_at: DateTime<Utc>,
}

pub struct Store {
    /// Who this process is in the leases it takes: host, process id and a random part, so
    /// that a restarted process is not taken for the one before it.
    instance: String,
    /// The connection that writes (and reads inside its own transactions).
    conn: Mutex<Connection>,
    /// The connection that claims leases on PostgreSQL, so that a claim does not wait
    /// behind a batch being written; on SQLite, which has one writer per file, the writer's.
    claimer: Option<Mutex<Connection>>,
    /// The connection that only reads.
    reader: Mutex<Connection>,
    /// The connection that only searches, each search under a deadline (`search::Searcher`).
    searcher: search::Searcher,
    /// How items become stories; the daemon sets it from `[dedup]`.
    dedup: RwLock<Dedup>,
    /// The model dedup scores with: the fitted one, unless an evaluation swaps in another.
    model: RwLock<Model>,
    /// The dedup window, in memory: what new items are compared with. Locked after `conn`,
    /// by whatever writes or deletes items.
    candidates: Mutex<window::StoredWindow>,
    /// Why the database could not be read when last asked, if it could not (see
    /// [`Store::change_mark`]).
    unreachable: RwLock<Option<String>>,
    /// Copies committed pages into the database file beside the writer (SQLite only).
    checkpointer: Option<checkpoint::Checkpointer>,
}

impl Store {
    /// Opens the database at `path`, creating it if there is none.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::with(path, rusqlite::Connection::open(path)?)
    }

    /// Connects to the PostgreSQL database at `url` (a `postgres://` URL or libpq's
    /// `key=value` string) and brings its schema up to date. Three connections: the writer,
    /// the reader and the searcher, as on SQLite.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let config = postgres_config(url)?;
        let connect = || -> Result<Connection, StoreError> {
            Ok(Connection::Postgres(Box::new(std::cell::RefCell::new(
                sql::Postgres::connect(&config)?,
            ))))
        };
        let mut conn = connect()?;
        schema::migrate(&mut conn)?;
        let mut store = Self::around(conn, connect()?, connect()?, None);
        store.claimer = Some(Mutex::new(connect()?));
        Ok(store)
    }

    /// Opens the configured database, creating its schema if it has none.
    pub fn open_database(database: &Database) -> Result<Self, StoreError> {
        match database {
            Database::Sqlite(path) => Self::open(path),
            Database::Postgres(url) => Self::connect(url),
        }
    }

    /// Opens the configured database only if it exists: a reader such as `tributary status`
    /// must not create an empty SQLite file at a mistyped path and report on it. (A
    /// PostgreSQL database is there or the connection fails.)
    pub fn open_existing(database: &Database) -> Result<Self, StoreError> {
        let path = match database {
            Database::Sqlite(path) => path,
            Database::Postgres(url) => return Self::connect(url),
        };
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Self::with(path, rusqlite::Connection::open_with_flags(path, flags)?)
    }

    fn with(path: &Path, conn: rusqlite::Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL keeps readers off the writer's back; NORMAL sync in WAL mode loses no committed
        // transaction to a process crash, only (at worst) the last ones to a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The writer checkpoints only when 32 MiB of log were not copied by the checkpoint
        // thread (`checkpoint::Checkpointer`) in time; it is otherwise that thread's job.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
        // 16 MiB of page cache at most (the default is 2): every new item is looked up by id
        // and link and inserted into indexes keyed at random, and re-reading those pages from
        // the OS costs more than keeping them.
        conn.pragma_update(None, "cache_size", -16_384)?;
        // A batch written again after a failure has a savepoint per poll, whose journal is a
        // temporary file unless told otherwise: a write and a read of every page it changes.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Every statement a batch and a claim run stays prepared: some twenty, past the
        // default of sixteen, which would prepare some of them again for every item.
        conn.set_prepared_statement_cache_capacity(32);
        let mut conn = Connection::Sqlite(conn);
        schema::migrate(&mut conn)?;
        Ok(Self::around(
            conn,
            Connection::Sqlite(Self::reader_for(path)?),
            Connection::Sqlite(Self::reader_for(path)?),
            Some(checkpoint::Checkpointer::start(path)?),
        ))
    }

    /// The store over its writer's, reader's and searcher's connections.
    fn around(
        writer: Connection,
        reader: Connection,
        searcher: Connection,
        checkpointer: Option<checkpoint::Checkpointer>,
    ) -> Self {
        Self {
            instance: instance_name(),
            conn: Mutex::new(writer),
            claimer: None,
            reader: Mutex::new(reader),
            searcher: search::Searcher::new(searcher),
            dedup: RwLock::new(Dedup::default()),
            model: RwLock::new(Model::FITTED),
            candidates: Mutex::default(),
            unreachable: RwLock::default(),
            checkpointer,
        }
    }

    /// Tells the checkpoint thread (on SQLite) that a transaction committed.
    fn committed(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
    }

    /// Sets how items become stories from now on (`[dedup]`).
    pub fn set_dedup(&self, dedup: Dedup) {
        let mut current = self.dedup.write().unpoisoned();
        let resized = current.window_hours != dedup.window_hours;
        *current = dedup;
        drop(current);
        if resized {
            self.candidates().reset();
        }
    }

    /// Scores with `model` from now on instead of [`Model::FITTED`]: how cross-validation
    /// measures weights fitted without the stories it evaluates.
    pub fn set_model(&self, model: Model) {
        *self.model.write().unpoisoned() = model;
    }

    /// A read-only connection beside the writer's: in WAL mode it reads the last commit while
    /// a batch is being written, so renderings, searches and status never wait for a poll.
    pub(crate) fn reader_for(path: &Path) -> Result<rusqlite::Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let reader = rusqlite::Connection::open_with_flags(path, flags)?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        // Readings touch the newest items and the search index: 8 MiB of cache at most.
        reader.pragma_update(None, "cache_size", -8_192)?;
        Ok(reader)
    }

    /// The connection for reading (see [`Store::reader_for`]).
    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unpoisoned()
    }

    fn candidates(&self) -> MutexGuard<'_, window::StoredWindow> {
        // A panic may have left it half-updated: it is loaded again from the store.
        self.candidates.lock().unwrap_or_else(|poisoned| {
            let mut candidates = poisoned.into_inner();
            candidates.reset();
            self.candidates.clear_poison();
            candidates
        })
    }

    /// The connection that claims leases (see [`Store::claimer`]'s field).
    fn claimer(&self) -> MutexGuard<'_, Connection> {
        match &self.claimer {
            Some(claimer) => claimer.lock().unpoisoned(),
            None => self.conn(),
        }
    }

    /// Who this process is in the leases it takes.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolled it back; the
        // connection itself is still sound.
        self.conn.lock().unpoisoned()
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
        let mut results = self.record_polls(std::slice::from_ref(poll), retention_cutoff, now);
        results.pop().expect("one result per poll")
    }

    /// Records several feed polls in one transaction (group commit): what a commit costs —
    /// the log frames of every page it changed, and now and then a checkpoint — is paid once
    /// for all of them, and pages that several feeds change are written once. Each poll is
    /// still all or nothing: the batch is first written straight through, and if one of its
    /// polls fails it is undone and written again with each poll under a savepoint of its own,
    /// so that the one that fails is rolled back and reported and the others are kept. (A
    /// savepoint per poll, taken every time, copied every page a poll first touched into the
    /// savepoint journal: a tenth of the writer's time, spent for failures that almost never
    /// happen.) The search index is written last, for the polls that were kept (see
    /// `search::Pending`); a failure there fails the whole batch, as one at commit does (in
    /// practice the same causes: a full disk, an I/O error). Returns one result per poll, in
    /// order.
    ///
    /// The transaction takes the write lock at once (`IMMEDIATE`): begun as a reader, it could
    /// not write after another process (`tributary poll`) committed, and every poll of the
    /// batch would fail.
    pub fn record_polls(
        &self,
        polls: &[FeedPoll<'_>],
        retention_cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<Result<Ingested, StoreError>> {
        let dedup = self.dedup.read().unpoisoned().clone();
        let policy = Policy {
            model: *self.model.read().unpoisoned(),
            threshold: dedup.threshold,
            related: dedup.related,
            window_hours: dedup.window_hours,
        };
        let batch = Batch {
            instance: &self.instance,
            polls,
            dedup: &dedup,
            policy: &policy,
            retention_cutoff,
            now,
        };
        let mut conn = self.conn();
        let mut candidates = self.candidates();
        for guard in [Guard::WholeBatch, Guard::EachPoll] {
            match batch.write(&mut conn, guard, &mut candidates) {
                Ok(Some(results)) => {
                    self.committed();
                    return results;
                }
                // What the window learnt of the undone writes was never stored.
                Ok(None) => candidates.reset(),
                Err(failed) => {
                    candidates.reset();
                    let failed = Arc::new(failed);
                    return polls
                        .iter()
                        .map(|_| Err(StoreError::NotCommitted(Arc::clone(&failed))))
                        .collect();
                }
            }
        }
        unreachable!("polls written each under a savepoint are never written again")
    }

    pub fn item_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self.reader().value("SELECT count(*) FROM items", &[])?;
        Ok(count.unsigned_abs())
    }

    /// Deletes an outlet's items and what is known of its feeds (an outlet removed from the
    /// config with `[storage] purge_removed`); returns how many items went.
    pub fn forget_outlet(&self, outlet: &str) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.write_transaction()?;
        let deleted = tx.execute("DELETE FROM items WHERE outlet = ?1", args![outlet])?;
        tx.execute("DELETE FROM feeds WHERE outlet = ?1", args![outlet])?;
        if deleted > 0 {
            changes::moved(&tx, Utc::now())?;
        }
        tx.commit()?;
        self.committed();
        self.candidates().forget(&*conn, |c| *c.outlet == *outlet)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    /// Deletes items whose place in the feed is older than `cutoff`; returns how many.
    pub fn purge_older_than(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.write_transaction()?;
        let deleted = tx.execute(
            "DELETE FROM items WHERE sort_at < ?1",
            args![cutoff.timestamp()],
        )?;
        if deleted > 0 {
            changes::moved(&tx, Utc::now())?;
        }
        tx.commit()?;
        if deleted > 0 {
            self.committed();
            self.candidates()
                .forget(&*conn, |c| c.dated < cutoff.timestamp())?;
        }
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

/// This process's name in leases: `host:pid:random`.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!("{host}:{}:{:08x}", std::process::id(), fastrand::u32(..))
}

/// What the server said, for an error it reported (the client's own text is only "db error").
fn postgres_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}

/// A stored Unix time; the epoch for a value out of range (which the store never writes).
fn timestamp(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

#[cfg(test)]
mod tests;
