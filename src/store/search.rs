//! Full-text search over items' titles and summaries (SQLite FTS5), for a feed's `q=`.
//!
//! The index holds plain text, not the stored HTML, so that markup never matches a search.
//! Readers type words, not FTS5 syntax: a query is cut into words that must all appear, with
//! `"quoted phrases"` kept together and a trailing `*` for a prefix, so that no input is an
//! FTS5 syntax error.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};

use super::{Store, StoreError};
use crate::model::Item;
use crate::parse::plain_text;
use crate::sync::Unpoisoned;

/// The items a search found, and the stories they belong to.
#[derive(Debug, Default)]
pub struct Matches {
    pub items: HashSet<String>,
    pub stories: HashSet<String>,
}

/// Index entries held back until every poll of a batch is written. FTS5 writes what it holds
/// in memory to a new segment of its index at each savepoint, and a batch written again after
/// a failure has a savepoint per poll (as every batch once had): indexing poll by poll made a
/// small segment per poll, and merging them took a sixth of the writer's time in a round of
/// 1,000 feeds. Written after the last poll, a batch's entries reach the index in one go, at
/// commit; those of a poll that was undone are dropped with it.
#[derive(Default)]
pub(super) struct Pending(Vec<Entry>);

struct Entry {
    rowid: i64,
    replace: bool,
    title: String,
    summary: String,
}

impl Pending {
    /// The item stored in row `rowid`, to be indexed under its title and summary text
    /// (`replace`: something may be indexed for it already).
    pub(super) fn add(&mut self, rowid: i64, replace: bool, title: String, summary: String) {
        self.0.push(Entry {
            rowid,
            replace,
            title,
            summary,
        });
    }

    /// Takes on what a poll that was written added, after what came before (the order matters
    /// when two polls of the batch wrote the same item).
    pub(super) fn extend(&mut self, poll: Pending) {
        self.0.extend(poll.0);
    }

    pub(super) fn write(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        for entry in self.0 {
            index(tx, entry.rowid, entry.replace, &entry.title, &entry.summary)?;
        }
        Ok(())
    }
}

/// Indexes the item stored in row `rowid` under its title and its summary as plain text,
/// replacing what was indexed for it before (`replace`: there may be something).
fn index(
    tx: &Transaction<'_>,
    rowid: i64,
    replace: bool,
    title: &str,
    summary: &str,
) -> Result<(), StoreError> {
    if replace {
        tx.prepare_cached("DELETE FROM items_search WHERE rowid = ?1")?
            .execute(params![rowid])?;
    }
    tx.prepare_cached("INSERT INTO items_search (rowid, title, summary) VALUES (?1, ?2, ?3)")?
        .execute(params![rowid, title, summary])?;
    Ok(())
}

/// Indexes every stored item: the migration that creates the index runs it once.
pub(super) fn index_all(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let stored: Vec<(i64, String, String)> = tx
        .prepare("SELECT rowid, id, data FROM items")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (rowid, id, data) in stored {
        let item: Item = serde_json::from_str(&data).map_err(|source| StoreError::Corrupt {
            id: id.clone(),
            source,
        })?;
        let summary = item.summary.as_deref().map(plain_text).unwrap_or_default();
        index(tx, rowid, true, &item.title, &summary)?;
    }
    Ok(())
}

/// The longest search a reader may type, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// The most words and phrases in one search: each is a walk of the index, and every one
/// narrows what the others found.
pub const MAX_QUERY_TERMS: usize = 8;
/// The fewest characters before a prefix's `*`: `m*` would read the postings of every word
/// that starts with an m.
pub const MIN_PREFIX_CHARS: usize = 3;

/// Why a search is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("it has no word to search for")]
    NoWord,
    #[error("a search is at most {MAX_QUERY_BYTES} bytes")]
    TooLong,
    #[error("a search has at most {MAX_QUERY_TERMS} words and phrases")]
    TooManyTerms,
    #[error("a prefix needs at least {MIN_PREFIX_CHARS} letters before its *")]
    ShortPrefix,
}

/// The FTS5 query for what a reader typed, bounded so that no search is dear: refused when
/// it is too long, has too many terms or too short a prefix, or has no word at all.
pub fn fts_query(typed: &str) -> Result<String, QueryError> {
    if typed.len() > MAX_QUERY_BYTES {
        return Err(QueryError::TooLong);
    }
    let mut terms = Vec::new();
    for (i, part) in typed.split('"').enumerate() {
        let quoted = i % 2 == 1;
        let words: Vec<&str> = part
            .split(|c: char| !c.is_alphanumeric() && c != '*')
            .map(|w| w.trim_start_matches('*'))
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .collect();
        if quoted && !words.is_empty() {
            let phrase: Vec<&str> = words.iter().map(|w| w.trim_end_matches('*')).collect();
            terms.push(format!("\"{}\"", phrase.join(" ")));
            continue;
        }
        for word in words {
            let prefix = word.ends_with('*');
            let word = word.trim_end_matches('*');
            if prefix && word.chars().count() < MIN_PREFIX_CHARS {
                return Err(QueryError::ShortPrefix);
            }
            terms.push(format!("\"{word}\"{}", if prefix { "*" } else { "" }));
        }
    }
    match terms.len() {
        0 => Err(QueryError::NoWord),
        n if n > MAX_QUERY_TERMS => Err(QueryError::TooManyTerms),
        _ => Ok(terms.join(" AND ")),
    }
}

/// How long one search may run before it is stopped.
pub const SEARCH_DEADLINE: Duration = Duration::from_secs(1);

/// How many of SQLite's virtual-machine steps run between two looks at the deadline.
const STEPS_BETWEEN_CHECKS: i32 = 1_000;

/// A read-only connection for searches alone, whose queries stop at a deadline: a dear search
/// neither holds the reader that renderings and status use nor runs on.
pub(super) struct Searcher {
    conn: Mutex<Connection>,
    /// When the running search must stop, in microseconds since `epoch`; `u64::MAX` between
    /// searches.
    deadline: Arc<AtomicU64>,
    epoch: Instant,
}

impl Searcher {
    pub(super) fn new(conn: Connection) -> Self {
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let epoch = Instant::now();
        let watched = Arc::clone(&deadline);
        conn.progress_handler(
            STEPS_BETWEEN_CHECKS,
            Some(move || micros_since(epoch) > watched.load(Ordering::Relaxed)),
        );
        Searcher {
            conn: Mutex::new(conn),
            deadline,
            epoch,
        }
    }
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl Store {
    /// The items of `outlets` (all, for `None`), newest first and at most `limit`, whose title
    /// or summary holds every word of the FTS5 query `query` (see [`fts_query`]); stopped
    /// after [`SEARCH_DEADLINE`].
    pub fn search(
        &self,
        query: &str,
        outlets: Option<&[String]>,
        limit: usize,
    ) -> Result<Matches, StoreError> {
        self.search_within(query, outlets, limit, SEARCH_DEADLINE)
    }

    /// [`Store::search`] with a deadline of `within`.
    pub fn search_within(
        &self,
        query: &str,
        outlets: Option<&[String]>,
        limit: usize,
        within: Duration,
    ) -> Result<Matches, StoreError> {
        let searcher = &self.searcher;
        // The deadline counts from when the search was asked for, not from when it got the
        // connection: one queued behind others is stopped as soon, not later.
        let until = micros_since(searcher.epoch)
            .saturating_add(u64::try_from(within.as_micros()).unwrap_or(u64::MAX));
        let conn = searcher.conn.lock().unpoisoned();
        if micros_since(searcher.epoch) > until {
            return Err(StoreError::TooSlow(within));
        }
        searcher.deadline.store(until, Ordering::Relaxed);
        let found = run_search(&conn, query, outlets, limit);
        searcher.deadline.store(u64::MAX, Ordering::Relaxed);
        match found {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Err(StoreError::TooSlow(within))
            }
            found => found,
        }
    }
}

/// The search itself, on `conn`.
fn run_search(
    conn: &Connection,
    query: &str,
    outlets: Option<&[String]>,
    limit: usize,
) -> Result<Matches, StoreError> {
    let among = outlets.map_or_else(String::new, |outlets| {
        format!(
            "AND items.outlet IN ({})",
            vec!["?"; outlets.len()].join(",")
        )
    });
    let mut statement = conn.prepare_cached(&format!(
        "SELECT items.id, items.story FROM items_search
             JOIN items ON items.rowid = items_search.rowid
             WHERE items_search MATCH ? {among}
             ORDER BY items.sort_at DESC LIMIT ?"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let values = std::iter::once(rusqlite::types::Value::from(query.to_owned()))
        .chain(outlets.unwrap_or_default().iter().map(|o| o.clone().into()))
        .chain(std::iter::once(limit.into()));
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    let mut matches = Matches::default();
    while let Some(row) = rows.next()? {
        matches.items.insert(row.get(0)?);
        matches.stories.insert(row.get(1)?);
    }
    Ok(matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_readers_type_becomes_a_query_that_cannot_fail() {
        assert_eq!(fts_query("bushfire"), Ok("\"bushfire\"".into()));
        assert_eq!(
            fts_query("covid-19 vaccine"),
            Ok("\"covid\" AND \"19\" AND \"vaccine\"".into())
        );
        assert_eq!(
            fts_query("\"prime minister\" albo*"),
            Ok("\"prime minister\" AND \"albo\"*".into())
        );
        assert_eq!(
            fts_query("NOT OR AND"),
            Ok("\"NOT\" AND \"OR\" AND \"AND\"".into())
        );
        assert_eq!(fts_query("\"unbalanced"), Ok("\"unbalanced\"".into()));
        assert_eq!(fts_query(" -- ** \"\" "), Err(QueryError::NoWord));
        assert_eq!(
            fts_query("Zürich 東京"),
            Ok("\"Zürich\" AND \"東京\"".into())
        );
    }

    #[test]
    fn a_dear_search_is_refused() {
        let many = "m* ".repeat(5_000);
        assert_eq!(fts_query(&many), Err(QueryError::TooLong));
        assert_eq!(fts_query("ma*"), Err(QueryError::ShortPrefix));
        assert_eq!(fts_query("mar*"), Ok("\"mar\"*".into()));
        assert_eq!(fts_query("m*"), Err(QueryError::ShortPrefix));
        let nine = "a b c d e f g h i";
        assert_eq!(fts_query(nine), Err(QueryError::TooManyTerms));
        assert!(fts_query("a b c d e f g h").is_ok());
    }
}
