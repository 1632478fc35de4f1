//! The least SQLite takes to keep a poll round's items: the rows and search entries that a
//! round stored (`bench/run.sh poll` leaves them in `target/bench/poll.db`), written again
//! into a fresh store with the same schema and settings, in one transaction, with nothing
//! fetched, parsed, looked up, deduplicated or serialized. No change to tributary's own work
//! can bring a round below it while the items are kept in SQLite: it is the floor under the
//! round's wall time (the store has one writer), and part of the floor under its CPU time.
//!
//! Run: `cargo bench --bench store_floor -- target/bench/poll.db` (after a round).

use std::time::Instant;

use rusqlite::{params, Connection};
use tributary::store::Store;

/// One stored item as the round wrote it: its row and its search entry.
struct Row {
    columns: Vec<rusqlite::types::Value>,
    title: String,
    summary: String,
}

const COLUMNS: &str =
    "id, outlet, url, feed_url, sort_at, first_seen, modified_at, content_hash, data, story, signature";

/// How many times each is measured; the fastest counts (the least it takes).
const RUNS: usize = 3;

fn main() {
    let source = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "target/bench/poll.db".into());
    let rows = read(&source);
    println!("{} items from {source}", rows.len());
    println!("written                        seconds  µs per item");
    for (what, with_search) in [("items only", false), ("items and search entries", true)] {
        let seconds = (0..RUNS)
            .map(|_| write(&rows, with_search))
            .fold(f64::INFINITY, f64::min);
        println!(
            "{what:<29} {seconds:>8.2}  {:>11.1}",
            seconds * 1e6 / rows.len() as f64
        );
    }
}

/// Reads the round's items and their search entries, in the order they were stored.
fn read(source: &str) -> Vec<Row> {
    let conn = Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the round's database (run `bash bench/run.sh poll` first)");
    let mut statement = conn
        .prepare(&format!(
            "SELECT {COLUMNS}, s.title, s.summary FROM items i
             JOIN items_search s ON s.rowid = i.rowid ORDER BY i.rowid"
        ))
        .expect("the round's database has tributary's schema");
    statement
        .query_map([], |row| {
            Ok(Row {
                columns: (0..11).map(|i| row.get(i)).collect::<Result<_, _>>()?,
                title: row.get(11)?,
                summary: row.get(12)?,
            })
        })
        .expect("items to read")
        .collect::<Result<_, _>>()
        .expect("items read")
}

/// Seconds to write `rows` (and their search entries if `with_search`) into a fresh store.
fn write(rows: &[Row], with_search: bool) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("floor.db");
    // The schema and the settings the store keeps in the file (WAL), made by the store itself.
    drop(Store::open(&path).expect("a fresh store"));
    let mut conn = Connection::open(&path).expect("the fresh store");
    // The settings `Store::open` gives its writer.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("a setting");
    conn.pragma_update(None, "cache_size", -16_384)
        .expect("a setting");
    conn.pragma_update(None, "temp_store", "MEMORY")
        .expect("a setting");
    let clock = Instant::now();
    let tx = conn.transaction().expect("a transaction");
    {
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))
            .expect("the items table");
        let mut search = tx
            .prepare("INSERT INTO items_search (rowid, title, summary) VALUES (?1, ?2, ?3)")
            .expect("the search index");
        for row in rows {
            insert
                .execute(rusqlite::params_from_iter(&row.columns))
                .expect("a row written");
            if with_search {
                search
                    .execute(params![tx.last_insert_rowid(), row.title, row.summary])
                    .expect("a search entry written");
            }
        }
    }
    tx.commit().expect("committed");
    clock.elapsed().as_secs_f64()
}
