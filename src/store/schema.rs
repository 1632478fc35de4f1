//! The schema and its migrations. `PRAGMA user_version` counts the migrations applied; a new
//! database runs them all, an older one runs the ones it lacks, each in its own transaction.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

const MIGRATIONS: [&str; 10] = [
    "CREATE TABLE feeds (
        outlet        TEXT NOT NULL,
        url           TEXT NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        body_hash     TEXT,
        status        INTEGER,
        error         TEXT,
        checked_at    INTEGER NOT NULL,
        PRIMARY KEY (outlet, url)
    );
    CREATE TABLE items (
        id           TEXT PRIMARY KEY,
        outlet       TEXT NOT NULL,
        url          TEXT,
        feed_url     TEXT NOT NULL,
        sort_at      INTEGER NOT NULL,
        first_seen   INTEGER NOT NULL,
        modified_at  INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        data         TEXT NOT NULL
    );
    CREATE INDEX items_by_url ON items (outlet, url);
    CREATE INDEX items_by_time ON items (sort_at DESC, id);
    CREATE INDEX items_by_outlet_time ON items (outlet, sort_at DESC, id);",
    // Politeness and status: when a feed may be polled again and why, failures in a row, where
    // it moved to, and how many stored items it carried.
    "ALTER TABLE feeds RENAME COLUMN checked_at TO last_attempt;
    ALTER TABLE feeds ADD COLUMN current_url TEXT;
    ALTER TABLE feeds ADD COLUMN last_success INTEGER;
    ALTER TABLE feeds ADD COLUMN duration_ms INTEGER;
    ALTER TABLE feeds ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN next_poll_at_ms INTEGER;
    ALTER TABLE feeds ADD COLUMN next_poll_reason TEXT;
    ALTER TABLE feeds ADD COLUMN ttl_secs INTEGER;
    CREATE INDEX items_by_feed ON items (outlet, feed_url);",
    // What was wrong with the last document parsed, so that a malformed feed shows as such.
    "ALTER TABLE feeds ADD COLUMN document_problems TEXT;",
    // Stories: the item each story began with, each item's dedup signature, the MinHash band
    // index over the window, re-published GUIDs merged into stored items, and every decision.
    "ALTER TABLE items ADD COLUMN story TEXT;
    UPDATE items SET story = id;
    ALTER TABLE items ADD COLUMN signature TEXT;
    CREATE INDEX items_by_story ON items (story);
    CREATE TABLE bands (band INTEGER NOT NULL, item_id TEXT NOT NULL, seen_at INTEGER NOT NULL);
    CREATE INDEX bands_by_band ON bands (band);
    CREATE INDEX bands_by_item ON bands (item_id);
    CREATE INDEX bands_by_time ON bands (seen_at);
    CREATE TABLE aliases (alias TEXT PRIMARY KEY, item_id TEXT NOT NULL);
    CREATE INDEX aliases_by_item ON aliases (item_id);
    CREATE TABLE decisions (
        item_id    TEXT PRIMARY KEY,
        story      TEXT NOT NULL,
        matched    TEXT NOT NULL,
        score      REAL NOT NULL,
        features   TEXT NOT NULL,
        decided_at INTEGER NOT NULL
    );
    CREATE INDEX decisions_by_story ON decisions (story);
    CREATE TRIGGER items_forgotten AFTER DELETE ON items BEGIN
        DELETE FROM bands WHERE item_id = old.id;
        DELETE FROM decisions WHERE item_id = old.id
            OR item_id IN (SELECT alias FROM aliases WHERE item_id = old.id);
        DELETE FROM aliases WHERE item_id = old.id;
    END;",
    // Feeds whose GUIDs proved unreliable, identified by link from then on.
    "ALTER TABLE feeds ADD COLUMN identity_by_link INTEGER NOT NULL DEFAULT 0;",
    // Full-text search over titles and summaries as plain text (filled by `search::index`).
    "CREATE VIRTUAL TABLE items_search USING fts5(
        title, summary, tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER items_unsearchable AFTER DELETE ON items BEGIN
        DELETE FROM items_search WHERE rowid = old.rowid;
    END;",
    // The band index as one B-tree keyed by band and time, and nothing else: a key's most
    // recent postings are read without sorting, and a posting is written once. An item's
    // postings are deleted by its keys when its text changes; those of deleted items expire
    // with the window (a posting whose item is gone is skipped).
    "CREATE TABLE bands_keyed (
        band INTEGER NOT NULL, seen_at INTEGER NOT NULL, item_id TEXT NOT NULL,
        PRIMARY KEY (band, seen_at, item_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO bands_keyed (band, seen_at, item_id) SELECT band, seen_at, item_id FROM bands;
    DROP TRIGGER items_forgotten;
    DROP TABLE bands;
    ALTER TABLE bands_keyed RENAME TO bands;
    CREATE TRIGGER items_forgotten AFTER DELETE ON items BEGIN
        DELETE FROM decisions WHERE item_id = old.id
            OR item_id IN (SELECT alias FROM aliases WHERE item_id = old.id);
        DELETE FROM aliases WHERE item_id = old.id;
    END;",
    // The band index moved to memory (`dedup::Window`), loaded at start from the items first
    // seen within the window.
    "DROP TABLE bands;
    CREATE INDEX items_by_first_seen ON items (first_seen);",
    // Most items begin a story of their own (`story = id`) and are found by id: only those
    // that joined another's story are indexed by it. An index of every item by its story, a
    // random key, cost a page written per new item once it outgrew the cache; decisions are
    // read by item, so theirs by story went too.
    "DROP INDEX items_by_story;
    CREATE INDEX items_by_joined_story ON items (story) WHERE story <> id;
    DROP INDEX decisions_by_story;",
    // Related coverage: another outlet's item on the same event thread that is not the same
    // story, linked both ways, with the score and features that linked it.
    "CREATE TABLE related (
        item_id  TEXT NOT NULL,
        other_id TEXT NOT NULL,
        score    REAL NOT NULL,
        features TEXT NOT NULL,
        PRIMARY KEY (item_id, other_id)
    ) WITHOUT ROWID;
    CREATE INDEX related_by_other ON related (other_id);
    DROP TRIGGER items_forgotten;
    CREATE TRIGGER items_forgotten AFTER DELETE ON items BEGIN
        DELETE FROM decisions WHERE item_id = old.id
            OR item_id IN (SELECT alias FROM aliases WHERE item_id = old.id);
        DELETE FROM aliases WHERE item_id = old.id;
        DELETE FROM related WHERE item_id = old.id OR other_id = old.id;
    END;",
];

/// Work a migration needs beyond its SQL, by the migration's index: the search index is
/// filled from the items already stored, whose HTML only Rust turns into text.
fn after_migration(index: usize, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    match index {
        5 => super::search::index_all(tx),
        _ => Ok(()),
    }
}

/// Brings the schema up to date. Each migration runs in an immediate transaction that reads
/// the version again once it holds the write lock, so that a daemon and a command starting
/// together after an upgrade never both apply one.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let version = |conn: &Connection| -> Result<i64, StoreError> {
        match conn.pragma_query_value(None, "user_version", |r| r.get(0))? {
            newer if newer > known => Err(StoreError::TooNew(newer)),
            version => Ok(version),
        }
    };
    if version(conn)? == known {
        return Ok(());
    }
    for (done, migration) in MIGRATIONS.iter().enumerate() {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if version(&tx)? > done as i64 {
            continue;
        }
        tx.execute_batch(migration)?;
        after_migration(done, &tx)?;
        tx.pragma_update(None, "user_version", done + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_version_database_is_brought_up_to_date_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{}; PRAGMA user_version = 1;", MIGRATIONS[0]))
            .unwrap();
        conn.execute(
            "INSERT INTO feeds (outlet, url, etag, checked_at) VALUES ('abc', 'https://a/', '\"e\"', 5)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let (etag, attempt, failures): (String, i64, i64) = conn
            .query_row("SELECT etag, last_attempt, failures FROM feeds", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((etag.as_str(), attempt, failures), ("\"e\"", 5, 0));
        migrate(&mut conn).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::TooNew(99))));
    }
}
