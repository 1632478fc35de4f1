//! The dedup window as the store keeps it: loaded from the items first seen within it at the
//! first write, kept in step with what this process writes and deletes, and brought up to date
//! with what another process wrote before each write.

use super::sql::{args, Flow, Row, Sql, Transaction};
use super::StoreError;
use crate::config::Dedup;
use crate::dedup::{Candidate, Decision, Incoming, Policy, Signature, Window};
use chrono::{DateTime, Utc};

/// The columns [`StoredWindow::load`] reads, in its order.
const CANDIDATE_COLUMNS: &str = "id, outlet, story, url, sort_at, first_seen, signature";

/// How often items older than the dedup window are dropped from it: a rebuild of the index,
/// and an item a few minutes past the window does no harm (it is skipped).
const FORGET_EVERY_SECS: i64 = 600;

/// The window's index and what it knows of the store.
#[derive(Default)]
pub(super) struct StoredWindow {
    window: Window,
    /// The highest `items` rowid read into the window: later rows, written by another process
    /// (`tributary poll` beside the daemon), are read at the next write. `None`: not loaded.
    through: Option<i64>,
    /// When items older than the window were last dropped (Unix time).
    forgotten_at: i64,
}

impl StoredWindow {
    /// Forgets everything, so that the next write loads the window again from the store: its
    /// length changed, or what it holds may be wrong (a write undone, a panic).
    pub fn reset(&mut self) {
        *self = StoredWindow::default();
    }

    /// Brings the window up to date with the store before a write: loads it the first time,
    /// then reads the items written since by anyone else, and now and then drops those that
    /// left it.
    pub fn catch_up(
        &mut self,
        tx: &Transaction<'_>,
        now: DateTime<Utc>,
        dedup: &Dedup,
    ) -> Result<(), StoreError> {
        let cutoff = (now - chrono::Duration::hours(dedup.window_hours.into())).timestamp();
        match self.through {
            None => self.load_window(tx, cutoff)?,
            Some(through) => self.read_since(tx, through, cutoff)?,
        }
        if now.timestamp().saturating_sub(self.forgotten_at) >= FORGET_EVERY_SECS {
            self.window.forget_before(cutoff);
            self.forgotten_at = now.timestamp();
        }
        Ok(())
    }

    /// Loads the items first seen within the window, oldest first.
    fn load_window(&mut self, tx: &Transaction<'_>, cutoff: i64) -> Result<(), StoreError> {
        tx.each_row(
            &format!(
                "SELECT {CANDIDATE_COLUMNS} FROM items
                 WHERE first_seen >= ?1 AND signature IS NOT NULL ORDER BY first_seen"
            ),
            args![cutoff],
            &mut |row| {
                self.load(row)?;
                Ok(Flow::More)
            },
        )?;
        self.through = Some(tx.value("SELECT coalesce(max(rowid), 0) FROM items", &[])?);
        Ok(())
    }

    /// Indexes the items stored after rowid `through`: those another process wrote (this
    /// one's are indexed as they are written).
    fn read_since(
        &mut self,
        tx: &Transaction<'_>,
        through: i64,
        cutoff: i64,
    ) -> Result<(), StoreError> {
        let mut last = through;
        tx.each_row(
            &format!(
                "SELECT {CANDIDATE_COLUMNS}, rowid FROM items WHERE rowid > ?1 ORDER BY rowid"
            ),
            args![through],
            &mut |row| {
                last = row.get(7)?;
                let (id, seen_at): (String, i64) = (row.get(0)?, row.get(5)?);
                if seen_at >= cutoff && !self.window.contains(&id) {
                    self.load(row)?;
                }
                Ok(Flow::More)
            },
        )?;
        self.through = Some(last);
        Ok(())
    }

    /// Indexes a stored item from its row ([`CANDIDATE_COLUMNS`]). One without a readable
    /// signature is left out: it finds no copies, as an item without words does not.
    fn load(&mut self, row: &Row<'_>) -> Result<(), StoreError> {
        let Some(Ok(signature)) = row
            .get::<Option<String>>(6)?
            .map(|json| serde_json::from_str::<Signature>(&json))
        else {
            return Ok(());
        };
        let candidate = Candidate {
            id: row.get::<String>(0)?.into(),
            outlet: row.get::<String>(1)?.into(),
            story: row.get::<String>(2)?.into(),
            url: row.get::<Option<String>>(3)?.map(Into::into),
            dated: row.get(4)?,
            seen_at: row.get(5)?,
            sketch: signature.sketch(),
        };
        self.window.insert(candidate);
        Ok(())
    }

    /// Indexes `candidate`, just written (as `rowid`, if that was an insert), in place of what
    /// it was indexed as. No one else writes during the transaction, so the rows up to
    /// `rowid` need not be read back.
    pub fn index(&mut self, candidate: Candidate, rowid: i64) {
        self.window.insert(candidate);
        if let Some(through) = self.through.as_mut() {
            *through = (*through).max(rowid);
        }
    }

    /// Forgets the items `gone` says were just deleted (through `conn`). Deleting the newest
    /// rows lets SQLite give their rowids out again, so rows are read again from the highest
    /// left (those already known are skipped).
    pub fn forget(
        &mut self,
        conn: &impl Sql,
        gone: impl Fn(&Candidate) -> bool,
    ) -> Result<(), StoreError> {
        self.window.retain(|candidate| !gone(candidate));
        if let Some(through) = self.through {
            let highest: i64 = conn.value("SELECT coalesce(max(rowid), 0) FROM items", &[])?;
            self.through = Some(through.min(highest));
        }
        Ok(())
    }

    /// Tells what dedup decides for `incoming`, among the items first seen within the window.
    pub fn decide(
        &mut self,
        incoming: &Incoming<'_>,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Decision {
        let since = (now - chrono::Duration::hours(policy.window_hours.into())).timestamp();
        self.window.decide(incoming, since, policy)
    }
}
