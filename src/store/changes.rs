//! The store's change mark: a counter that every write changing what is published (items
//! stored, updated or deleted) moves on, with the time of that write. Every process sharing the
//! store reads it now and then and renders its feeds again when it moved, so that all serve the
//! same feeds within seconds of a change, whichever of them made it.

use chrono::{DateTime, Utc};

use super::sql::{args, Sql};
use super::{timestamp, Store, StoreError};
use crate::sync::Unpoisoned;

/// Where the store's published content stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangeMark {
    /// How many changes were written; only ever grows.
    pub version: i64,
    /// When the last of them was written.
    pub at: DateTime<Utc>,
}

impl Store {
    /// Reads the change mark from the database; whether that worked is remembered as the
    /// store's reachability (see [`Store::unreachable`]): the daemon reads it every few seconds.
    pub fn change_mark(&self) -> Result<ChangeMark, StoreError> {
        let mark = self
            .reader()
            .first("SELECT version, changed_at FROM changes", &[], |row| {
                Ok(ChangeMark {
                    version: row.get(0)?,
                    at: timestamp(row.get(1)?),
                })
            })
            .map(Option::unwrap_or_default);
        *self.unreachable.write().unpoisoned() = mark.as_ref().err().map(ToString::to_string);
        mark
    }

    /// Tells why the database could not be read the last time the change mark was, if it could not.
    pub fn unreachable(&self) -> Option<String> {
        self.unreachable.read().unpoisoned().clone()
    }
}

/// Moves the mark on, in the transaction that made a change at `now`.
pub(super) fn moved(conn: &impl Sql, now: DateTime<Utc>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE changes SET version = version + 1, changed_at = ?1",
        args![now.timestamp()],
    )?;
    Ok(())
}
