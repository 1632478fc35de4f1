//! Full-text search over items' titles and summaries, for a feed's `q=`: SQLite's FTS5, or
//! PostgreSQL's text search (`tsvector` with the `simple` configuration, which neither stems
//! nor drops words, as FTS5's `unicode61` tokenizer does not).
//!
//! The index holds plain text, not the stored HTML, so that markup never matches a search.
//! Readers type words, not query syntax: a query is cut into words that must all appear, with
//! `"quoted phrases"` kept together and a trailing `*` for a prefix, so that no input is a
//! syntax error in either engine.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sql::{args, Connection, Dialect, Flow, Sql, Value};
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
    /// Adds the item stored in row `rowid`, to be indexed under its title and summary text
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

    /// Writes the entries: on SQLite one after another, each statement prepared once; on
    /// PostgreSQL, where each statement is a round trip, a few statements for the whole batch
    /// (see [`Pending::write_together`]).
    pub(super) fn write(self, tx: &impl Sql) -> Result<(), StoreError> {
        if tx.dialect() == Dialect::Postgres {
            return self.write_together(tx);
        }
        for entry in self.0 {
            index(tx, entry.rowid, entry.replace, &entry.title, &entry.summary)?;
        }
        Ok(())
    }

    /// Writes the entries in a few statements, rows of up to [`ROWS_PER_STATEMENT`] each. An
    /// item written twice in the batch is indexed once, under its last text.
    fn write_together(self, tx: &impl Sql) -> Result<(), StoreError> {
        let mut last: HashMap<i64, Entry> = HashMap::with_capacity(self.0.len());
        let mut order = Vec::with_capacity(self.0.len());
        for entry in self.0 {
            match last.get_mut(&entry.rowid) {
                Some(earlier) => {
                    let replace = earlier.replace || entry.replace;
                    *earlier = Entry { replace, ..entry };
                }
                None => {
                    order.push(entry.rowid);
                    last.insert(entry.rowid, entry);
                }
            }
        }
        let entries: Vec<Entry> = order.iter().filter_map(|r| last.remove(r)).collect();
        let replaced: Vec<Value<'_>> = entries
            .iter()
            .filter(|e| e.replace)
            .map(|e| Value::Int(e.rowid))
            .collect();
        for chunk in in_chunks(&replaced) {
            let rowids = vec!["?"; chunk.len()].join(",");
            tx.execute(
                &format!("DELETE FROM items_search WHERE rowid IN ({rowids})"),
                chunk,
            )?;
        }
        let row = tx.dialect().pick(
            "(?, ?, ?)",
            "(?, to_tsvector('simple', ?) || to_tsvector('simple', ?))",
        );
        let insert = tx.dialect().pick(
            "INSERT INTO items_search (rowid, title, summary) VALUES ",
            "INSERT INTO items_search (rowid, document) VALUES ",
        );
        for chunk in in_chunks(&entries) {
            let values: Vec<Value<'_>> = chunk
                .iter()
                .flat_map(|e| {
                    [
                        Value::Int(e.rowid),
                        Value::Text(&e.title),
                        Value::Text(&e.summary),
                    ]
                })
                .collect();
            let rows = vec![row; chunk.len()].join(", ");
            tx.execute(&format!("{insert}{rows}"), &values)?;
        }
        Ok(())
    }
}

/// The most rows one statement writes.
const ROWS_PER_STATEMENT: usize = 64;

/// Splits `items` into chunks of a power of two rows, at most [`ROWS_PER_STATEMENT`]: a few shapes
/// of statement, each prepared once per connection.
fn in_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let size = ROWS_PER_STATEMENT.min(1 << items.len().ilog2());
        let (chunk, rest) = items.split_at(size);
        items = rest;
        Some(chunk)
    })
}

/// Indexes the item stored in row `rowid` under its title and its summary as plain text,
/// replacing what was indexed for it before (`replace`: there may be something).
pub(super) fn index(
    tx: &impl Sql,
    rowid: i64,
    replace: bool,
    title: &str,
    summary: &str,
) -> Result<(), StoreError> {
    if replace {
        tx.execute("DELETE FROM items_search WHERE rowid = ?1", args![rowid])?;
    }
    let insert = tx.dialect().pick(
        "INSERT INTO items_search (rowid, title, summary) VALUES (?1, ?2, ?3)",
        "INSERT INTO items_search (rowid, document)
         VALUES (?1, to_tsvector('simple', ?2) || to_tsvector('simple', ?3))",
    );
    tx.execute(insert, args![rowid, title, summary])?;
    Ok(())
}

/// Indexes every stored item: the migration that creates the index runs it once.
pub(super) fn index_all(tx: &impl Sql) -> Result<(), StoreError> {
    let stored: Vec<(i64, String, String)> =
        tx.rows("SELECT rowid, id, data FROM items", &[], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
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

/// What a reader searched for: words and phrases that must all appear, each maybe a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery(Vec<Term>);

/// A word, or a quoted phrase of several, and whether its last word is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    words: Vec<String>,
    prefix: bool,
}

impl SearchQuery {
    /// Parses what a reader typed as a query, bounded so that no search is dear: refused when it is
    /// too long, has too many terms or too short a prefix, or has no word at all.
    pub fn parse(typed: &str) -> Result<Self, QueryError> {
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
                terms.push(Term {
                    words: words
                        .iter()
                        .map(|w| w.trim_end_matches('*').to_owned())
                        .collect(),
                    prefix: false,
                });
                continue;
            }
            for word in words {
                let prefix = word.ends_with('*');
                let word = word.trim_end_matches('*');
                if prefix && word.chars().count() < MIN_PREFIX_CHARS {
                    return Err(QueryError::ShortPrefix);
                }
                terms.push(Term {
                    words: vec![word.to_owned()],
                    prefix,
                });
            }
        }
        match terms.len() {
            0 => Err(QueryError::NoWord),
            n if n > MAX_QUERY_TERMS => Err(QueryError::TooManyTerms),
            _ => Ok(SearchQuery(terms)),
        }
    }

    /// Writes the query in FTS5's syntax: `"prime minister" AND "albo"*`.
    fn fts5(&self) -> String {
        let terms: Vec<String> = self
            .0
            .iter()
            .map(|term| {
                let star = if term.prefix { "*" } else { "" };
                format!("\"{}\"{star}", term.words.join(" "))
            })
            .collect();
        terms.join(" AND ")
    }

    /// Writes the query in PostgreSQL's `tsquery` syntax: `('prime' <-> 'minister') & 'albo':*`.
    /// Words hold letters and digits only, so quoting them cannot fail.
    fn tsquery(&self) -> String {
        let terms: Vec<String> = self
            .0
            .iter()
            .map(|term| {
                let words: Vec<String> = term.words.iter().map(|w| format!("'{w}'")).collect();
                let star = if term.prefix { ":*" } else { "" };
                format!("({}{star})", words.join(" <-> "))
            })
            .collect();
        terms.join(" & ")
    }
}

/// How long one search may run before it is stopped.
pub const SEARCH_DEADLINE: Duration = Duration::from_secs(1);

/// How many of SQLite's virtual-machine steps run between two looks at the deadline.
const STEPS_BETWEEN_CHECKS: i32 = 1_000;

/// A read-only connection for searches alone, whose queries stop at a deadline: a dear search
/// neither holds the reader that renderings and status use nor runs on. SQLite looks at the
/// deadline from a progress handler; PostgreSQL is given it as the statement's timeout.
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
        if let Some(sqlite) = conn.sqlite() {
            sqlite.progress_handler(
                STEPS_BETWEEN_CHECKS,
                Some(move || micros_since(epoch) > watched.load(Ordering::Relaxed)),
            );
        }
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
    /// Finds the items of `outlets` (all, for `None`), newest first and at most `limit`, whose
    /// title or summary holds every word of `query`; stopped after `SEARCH_DEADLINE`.
    pub fn search(
        &self,
        query: &SearchQuery,
        outlets: Option<&[String]>,
        limit: usize,
    ) -> Result<Matches, StoreError> {
        self.search_within(query, outlets, limit, SEARCH_DEADLINE)
    }

    /// Runs [`Store::search`] with a deadline of `within`.
    pub fn search_within(
        &self,
        query: &SearchQuery,
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
        let left = until.saturating_sub(micros_since(searcher.epoch));
        let found = run_search(&conn, query, outlets, limit, left);
        searcher.deadline.store(u64::MAX, Ordering::Relaxed);
        match found {
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Err(StoreError::TooSlow(within))
            }
            Err(StoreError::Postgres(e))
                if e.code() == Some(&postgres::error::SqlState::QUERY_CANCELED) =>
            {
                Err(StoreError::TooSlow(within))
            }
            found => found,
        }
    }
}

/// Does the search itself, on `conn`, with `left_micros` to run (PostgreSQL's statement timeout).
fn run_search(
    conn: &Connection,
    query: &SearchQuery,
    outlets: Option<&[String]>,
    limit: usize,
    left_micros: u64,
) -> Result<Matches, StoreError> {
    let among = outlets.map_or_else(String::new, |outlets| {
        format!(
            "AND items.outlet IN ({})",
            vec!["?"; outlets.len()].join(",")
        )
    });
    let (matching, typed) = match conn.dialect() {
        Dialect::Sqlite => ("items_search MATCH ?", query.fts5()),
        Dialect::Postgres => {
            // 0 would mean no timeout at all.
            let millis = (left_micros / 1_000).max(1);
            conn.batch(&format!("SET statement_timeout = {millis}"))?;
            (
                "items_search.document @@ to_tsquery('simple', ?)",
                query.tsquery(),
            )
        }
    };
    let sql = format!(
        "SELECT items.id, items.story FROM items_search
             JOIN items ON items.rowid = items_search.rowid
             WHERE {matching} {among}
             ORDER BY items.sort_at DESC LIMIT ?"
    );
    let values: Vec<Value<'_>> = std::iter::once(Value::Text(&typed))
        .chain(outlets.unwrap_or_default().iter().map(Value::from))
        .chain(std::iter::once(Value::from(limit as u64)))
        .collect();
    let mut matches = Matches::default();
    conn.each_row(&sql, &values, &mut |row| {
        matches.items.insert(row.get(0)?);
        matches.stories.insert(row.get(1)?);
        Ok(Flow::More)
    })?;
    Ok(matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts_query(typed: &str) -> Result<String, QueryError> {
        SearchQuery::parse(typed).map(|q| q.fts5())
    }

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
    fn the_same_query_is_written_for_postgresql() {
        let query = SearchQuery::parse("\"prime minister\" albo* covid-19").unwrap();
        assert_eq!(
            query.tsquery(),
            "('prime' <-> 'minister') & ('albo':*) & ('covid') & ('19')"
        );
        let odd = SearchQuery::parse("O'Brien & | ! <-> :*").unwrap();
        assert_eq!(odd.tsquery(), "('O') & ('Brien')");
    }

    #[test]
    fn entries_are_written_in_chunks_of_a_few_shapes() {
        let sizes = |n: usize| {
            let items: Vec<usize> = (0..n).collect();
            in_chunks(&items).map(<[usize]>::len).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(135), [64, 64, 4, 2, 1]);
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
