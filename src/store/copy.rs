//! Moving a store to another database (`tributary migrate-store`): an SQLite file into a
//! PostgreSQL database that several instances will share, or back. Everything is copied in one
//! transaction of the target — feeds' politeness state, items under their rowids, aliases,
//! decisions, related coverage, the change mark — the search index is built as the items
//! arrive, and the target's counts are checked against the source's before it commits: either
//! all of it arrives or none of it.

use super::sql::{args, Dialect, Flow, Row, Sql, Transaction, Value};
use super::{search, Store, StoreError};
use crate::model::Item;
use crate::parse::plain_text;

/// What a column holds, to read it from one engine and write it to the other.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Real,
    Bool,
}

use Kind::{Bool, Int, Real, Text};

/// The tables copied as they are, with their columns (the same on both engines).
const TABLES: [(&str, &[(&str, Kind)]); 4] = [
    (
        "feeds",
        &[
            ("outlet", Text),
            ("url", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("body_hash", Text),
            ("status", Int),
            ("error", Text),
            ("last_attempt", Int),
            ("current_url", Text),
            ("last_success", Int),
            ("duration_ms", Int),
            ("failures", Int),
            ("next_poll_at_ms", Int),
            ("next_poll_reason", Text),
            ("ttl_secs", Int),
            ("document_problems", Text),
            ("identity_by_link", Bool),
        ],
    ),
    ("aliases", &[("alias", Text), ("item_id", Text)]),
    (
        "decisions",
        &[
            ("item_id", Text),
            ("story", Text),
            ("matched", Text),
            ("score", Real),
            ("features", Text),
            ("decided_at", Int),
        ],
    ),
    (
        "related",
        &[
            ("item_id", Text),
            ("other_id", Text),
            ("score", Real),
            ("features", Text),
        ],
    ),
];

/// The items' columns; the search index is made from `data` as each is copied.
const ITEM_COLUMNS: [(&str, Kind); 12] = [
    ("rowid", Int),
    ("id", Text),
    ("outlet", Text),
    ("url", Text),
    ("feed_url", Text),
    ("sort_at", Int),
    ("first_seen", Int),
    ("modified_at", Int),
    ("content_hash", Text),
    ("data", Text),
    ("story", Text),
    ("signature", Text),
];

/// A value read from the source, owned until it is written.
enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl Owned {
    fn read(row: &Row<'_>, index: usize, kind: Kind) -> Result<Self, StoreError> {
        Ok(match kind {
            Text => row
                .get::<Option<String>>(index)?
                .map_or(Owned::Null, Owned::Text),
            Int => row
                .get::<Option<i64>>(index)?
                .map_or(Owned::Null, Owned::Int),
            Real => row
                .get::<Option<f64>>(index)?
                .map_or(Owned::Null, Owned::Real),
            Bool => row
                .get::<Option<bool>>(index)?
                .map_or(Owned::Null, Owned::Bool),
        })
    }

    fn value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(v) => Value::Int(*v),
            Owned::Real(v) => Value::Real(*v),
            Owned::Text(v) => Value::Text(v),
            Owned::Bool(v) => Value::Bool(*v),
        }
    }
}

/// How many rows of each table were copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub items: u64,
    pub feeds: u64,
    /// Aliases, decisions and related links together.
    pub decisions: u64,
}

/// Why a copy was refused or undone.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the target database already holds {items} items and {feeds} feeds: a store is copied into an empty database only, so that nothing is merged by accident")]
    NotEmpty { items: u64, feeds: u64 },
    #[error("the copy of {table} has {copied} rows where the source has {source_rows}: nothing was kept")]
    Short {
        table: &'static str,
        copied: u64,
        source_rows: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Copies everything this store holds into `target`, which must be empty.
    pub fn copy_to(&self, target: &Store) -> Result<Copied, CopyError> {
        let count = |store: &Store, table: &str| -> Result<u64, StoreError> {
            let n: i64 = store
                .reader()
                .value(&format!("SELECT count(*) FROM {table}"), &[])?;
            Ok(n.unsigned_abs())
        };
        let (items, feeds) = (count(target, "items")?, count(target, "feeds")?);
        if items + feeds > 0 {
            return Err(CopyError::NotEmpty { items, feeds });
        }
        let source = self.reader();
        let mut conn = target.conn();
        let tx = conn.write_transaction()?;
        let mut copied = Copied {
            items: copy_items(&*source, &tx)?,
            ..Copied::default()
        };
        for (table, columns) in TABLES {
            let rows = copy_table(&*source, &tx, (table, columns), |_| Ok(()))?;
            match table {
                "feeds" => copied.feeds = rows,
                _ => copied.decisions += rows,
            }
        }
        let mark: (i64, i64) = source
            .first("SELECT version, changed_at FROM changes", &[], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .unwrap_or_default();
        tx.execute(
            "UPDATE changes SET version = ?1, changed_at = ?2",
            args![mark.0, mark.1],
        )?;
        if tx.dialect() == Dialect::Postgres {
            // Rows inserted under their own rowids left the identity's sequence behind them.
            tx.batch(
                "SELECT setval(pg_get_serial_sequence('items', 'rowid'),
                               (SELECT coalesce(max(rowid), 0) + 1 FROM items), false)",
            )?;
        }
        for (table, _) in std::iter::once(("items", &[][..])).chain(TABLES) {
            let counted = format!("SELECT count(*) FROM {table}");
            let source_rows = source.value::<i64>(&counted, &[])?.unsigned_abs();
            let copied: i64 = tx.value(&counted, &[])?;
            if copied.unsigned_abs() != source_rows {
                return Err(CopyError::Short {
                    table,
                    copied: copied.unsigned_abs(),
                    source_rows,
                });
            }
        }
        tx.commit()?;
        target.committed();
        Ok(copied)
    }
}

/// Copies `table`'s `columns` from `source` into `tx`, handing each row to `also` once it is
/// written; returns how many rows.
fn copy_table(
    source: &impl Sql,
    tx: &Transaction<'_>,
    (table, columns): (&str, &[(&str, Kind)]),
    mut also: impl FnMut(&Row<'_>) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    // By rowid for the items, so that a later one never takes an earlier one's place.
    let order = if table == "items" {
        " ORDER BY rowid"
    } else {
        ""
    };
    let select = format!("SELECT {} FROM {table}{order}", names.join(", "));
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        vec!["?"; names.len()].join(", ")
    );
    let mut rows = 0;
    source.each_row(&select, &[], &mut |row| {
        let owned = columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| Owned::read(row, i, *kind))
            .collect::<Result<Vec<_>, _>>()?;
        let values: Vec<Value<'_>> = owned.iter().map(Owned::value).collect();
        tx.execute(&insert, &values)?;
        also(row)?;
        rows += 1;
        Ok(Flow::More)
    })?;
    Ok(rows)
}

/// Copies the items under their rowids and indexes each for search; returns how many.
fn copy_items(source: &impl Sql, tx: &Transaction<'_>) -> Result<u64, StoreError> {
    copy_table(source, tx, ("items", &ITEM_COLUMNS), |row| {
        let (rowid, id, data): (i64, String, String) = (row.get(0)?, row.get(1)?, row.get(9)?);
        let item: Item =
            serde_json::from_str(&data).map_err(|source| StoreError::Corrupt { id, source })?;
        let summary = item.summary.as_deref().map(plain_text).unwrap_or_default();
        search::index(tx, rowid, false, &item.title, &summary)
    })
}
