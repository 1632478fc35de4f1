//! The schema and its migrations, one list per engine. A new database runs them all, an older
//! one runs the ones it lacks, each in its own transaction that holds the store's write lock
//! and reads the version again once it has it, so that processes starting together after an
//! upgrade never both apply one. SQLite counts the migrations applied in `PRAGMA
//! user_version`, PostgreSQL in the `schema_version` table.
//!
//! The two schemas hold the same tables and columns under the same names, so that every
//! statement but search's is the same on both: PostgreSQL's `items.rowid` is an identity
//! column standing for SQLite's rowid, and its search index is a `tsvector` column.

use super::sql::{Connection, Dialect, Sql, Transaction};
use super::StoreError;

const SQLITE_MIGRATIONS: [&str; 12] = [
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
    // Leases on feeds: which process is polling a feed, until when at the latest.
    "CREATE TABLE leases (
        outlet   TEXT NOT NULL,
        url      TEXT NOT NULL,
        holder   TEXT NOT NULL,
        until_ms INTEGER NOT NULL,
        PRIMARY KEY (outlet, url)
    ) WITHOUT ROWID;",
    // The change mark (`changes::ChangeMark`): one row.
    "CREATE TABLE changes (version INTEGER NOT NULL, changed_at INTEGER NOT NULL);
    INSERT INTO changes VALUES (0, 0);",
];

const POSTGRES_MIGRATIONS: [&str; 1] = [
    // The schema SQLite reached in its twelve migrations, at once.
    "CREATE TABLE schema_version (version BIGINT NOT NULL);
    INSERT INTO schema_version VALUES (0);
    CREATE TABLE feeds (
        outlet            TEXT NOT NULL,
        url               TEXT NOT NULL,
        etag              TEXT,
        last_modified     TEXT,
        body_hash         TEXT,
        status            BIGINT,
        error             TEXT,
        last_attempt      BIGINT NOT NULL,
        current_url       TEXT,
        last_success      BIGINT,
        duration_ms       BIGINT,
        failures          BIGINT NOT NULL DEFAULT 0,
        next_poll_at_ms   BIGINT,
        next_poll_reason  TEXT,
        ttl_secs          BIGINT,
        document_problems TEXT,
        identity_by_link  BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (outlet, url)
    );
    CREATE TABLE items (
        rowid        BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
        id           TEXT PRIMARY KEY,
        outlet       TEXT NOT NULL,
        url          TEXT,
        feed_url     TEXT NOT NULL,
        sort_at      BIGINT NOT NULL,
        first_seen   BIGINT NOT NULL,
        modified_at  BIGINT NOT NULL,
        content_hash TEXT NOT NULL,
        data         TEXT NOT NULL,
        story        TEXT NOT NULL,
        signature    TEXT
    );
    CREATE INDEX items_by_url ON items (outlet, url);
    CREATE INDEX items_by_time ON items (sort_at DESC, id);
    CREATE INDEX items_by_outlet_time ON items (outlet, sort_at DESC, id);
    CREATE INDEX items_by_feed ON items (outlet, feed_url);
    CREATE INDEX items_by_first_seen ON items (first_seen);
    CREATE INDEX items_by_joined_story ON items (story) WHERE story <> id;
    CREATE TABLE aliases (alias TEXT PRIMARY KEY, item_id TEXT NOT NULL);
    CREATE INDEX aliases_by_item ON aliases (item_id);
    CREATE TABLE decisions (
        item_id    TEXT PRIMARY KEY,
        story      TEXT NOT NULL,
        matched    TEXT NOT NULL,
        score      DOUBLE PRECISION NOT NULL,
        features   TEXT NOT NULL,
        decided_at BIGINT NOT NULL
    );
    CREATE TABLE related (
        item_id  TEXT NOT NULL,
        other_id TEXT NOT NULL,
        score    DOUBLE PRECISION NOT NULL,
        features TEXT NOT NULL,
        PRIMARY KEY (item_id, other_id)
    );
    CREATE INDEX related_by_other ON related (other_id);
    CREATE TABLE leases (
        outlet   TEXT NOT NULL,
        url      TEXT NOT NULL,
        holder   TEXT NOT NULL,
        until_ms BIGINT NOT NULL,
        PRIMARY KEY (outlet, url)
    );
    CREATE TABLE changes (version BIGINT NOT NULL, changed_at BIGINT NOT NULL);
    INSERT INTO changes VALUES (0, 0);
    CREATE TABLE items_search (rowid BIGINT PRIMARY KEY, document tsvector NOT NULL);
    CREATE INDEX items_search_words ON items_search USING gin (document);
    CREATE FUNCTION items_forgotten() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM decisions WHERE item_id = old.id
            OR item_id IN (SELECT alias FROM aliases WHERE item_id = old.id);
        DELETE FROM aliases WHERE item_id = old.id;
        DELETE FROM related WHERE item_id = old.id OR other_id = old.id;
        DELETE FROM items_search WHERE rowid = old.rowid;
        RETURN old;
    END $$;
    CREATE TRIGGER items_forgotten AFTER DELETE ON items
        FOR EACH ROW EXECUTE FUNCTION items_forgotten();",
];

/// Does the work a migration needs beyond its SQL, by the migration's index: the search index is
/// filled from the items already stored, whose HTML only Rust turns into text.
fn after_migration(dialect: Dialect, index: usize, tx: &Transaction<'_>) -> Result<(), StoreError> {
    match (dialect, index) {
        (Dialect::Sqlite, 5) => super::search::index_all(tx),
        _ => Ok(()),
    }
}

/// Reads how many migrations the database has had (0 for a new one).
fn version(dialect: Dialect, tx: &impl Sql, known: usize) -> Result<i64, StoreError> {
    let applied: i64 = match dialect {
        Dialect::Sqlite => tx.value("PRAGMA user_version", &[])?,
        Dialect::Postgres => {
            // Read from the catalog's rows, not its cache: the cache of a process that waited
            // for the lock while another created the table may not know it yet.
            let exists: bool = tx.value(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                                WHERE table_schema = current_schema()
                                  AND table_name = 'schema_version')",
                &[],
            )?;
            if !exists {
                return Ok(0);
            }
            tx.value("SELECT version FROM schema_version", &[])?
        }
    };
    match applied {
        newer if newer > known as i64 => Err(StoreError::TooNew(newer)),
        applied => Ok(applied),
    }
}

/// Brings the schema up to date.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let dialect = conn.dialect();
    let migrations: &[&str] = match dialect {
        Dialect::Sqlite => &SQLITE_MIGRATIONS,
        Dialect::Postgres => &POSTGRES_MIGRATIONS,
    };
    if version(dialect, conn, migrations.len())? == migrations.len() as i64 {
        return Ok(());
    }
    for (done, migration) in migrations.iter().enumerate() {
        let tx = conn.write_transaction()?;
        if version(dialect, &tx, migrations.len())? > done as i64 {
            continue;
        }
        tx.batch(migration)?;
        after_migration(dialect, done, &tx)?;
        tx.batch(&match dialect {
            Dialect::Sqlite => format!("PRAGMA user_version = {}", done + 1),
            Dialect::Postgres => format!("UPDATE schema_version SET version = {}", done + 1),
        })?;
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
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "{}; PRAGMA user_version = 1;",
            SQLITE_MIGRATIONS[0]
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO feeds (outlet, url, etag, checked_at) VALUES ('abc', 'https://a/', '\"e\"', 5)",
            [],
        )
        .unwrap();
        let mut conn = Connection::Sqlite(conn);
        migrate(&mut conn).unwrap();
        let (etag, attempt, failures): (String, i64, i64) = conn
            .first("SELECT etag, last_attempt, failures FROM feeds", &[], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap()
            .unwrap();
        assert_eq!((etag.as_str(), attempt, failures), ("\"e\"", 5, 0));
        migrate(&mut conn).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let mut conn = Connection::Sqlite(conn);
        assert!(matches!(migrate(&mut conn), Err(StoreError::TooNew(99))));
    }
}
