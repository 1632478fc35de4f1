//! The schema and its migrations. `PRAGMA user_version` counts the migrations applied; a new
//! database runs them all, an older one runs the ones it lacks, each in its own transaction.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: [&str; 3] = [
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
];

pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew(version));
    }
    for (done, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;",
            done + 1
        ))?;
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
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{}; PRAGMA user_version = 1;", MIGRATIONS[0]))
            .unwrap();
        conn.execute(
            "INSERT INTO feeds (outlet, url, etag, checked_at) VALUES ('abc', 'https://a/', '\"e\"', 5)",
            [],
        )
        .unwrap();
        migrate(&conn).unwrap();
        let (etag, attempt, failures): (String, i64, i64) = conn
            .query_row("SELECT etag, last_attempt, failures FROM feeds", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((etag.as_str(), attempt, failures), ("\"e\"", 5, 0));
        migrate(&conn).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&conn), Err(StoreError::TooNew(99))));
    }
}
