//! The `items` table: one row per story as one outlet published it. For each arriving item this
//! finds what the table holds of it (by id, by alias, by canonical link), asks the dedup window
//! when dedup needs it, and writes what [`dedup::decide_arrival`] decided.

use chrono::{DateTime, Utc};

use super::decisions;
use super::sql::{args, Flow, Row, Sql, Transaction};
use super::window::StoredWindow;
use super::{search, timestamp, Ingested, Store, StoreError, StoredItem};
use crate::dedup::{
    self, Action, Alias, Candidate, FoundBy, Incoming, New, Policy, Signature, Sketch, StoredCopy,
    Update, Verdict, Written,
};
use crate::model::{Item, ItemId};
use crate::parse::plain_text;

/// The columns [`stored_item`] reads, in its order.
pub(super) const STORED_COLUMNS: &str =
    "id, feed_url, sort_at, first_seen, modified_at, data, story";
/// How many they are: a query may select more after them.
pub(super) const STORED_COLUMN_COUNT: usize = 7;

/// What one poll's items are stored under.
pub(super) struct PollContext<'a> {
    pub feed_url: &'a str,
    pub policy: &'a Policy,
    /// What dedup decides each item by; its `claimed` grows as the poll's items are written.
    pub arrival: dedup::Poll<'a>,
}

/// Stores `item`: finds what the table holds of it, lets dedup decide, and carries that out.
pub(super) fn ingest(
    tx: &Transaction<'_>,
    item: &Item,
    rules: &mut PollContext<'_>,
    window: &mut StoredWindow,
    ingested: &mut Ingested,
    search: &mut search::Pending,
) -> Result<(), StoreError> {
    let held = find_stored_copies(tx, item)?;
    let mut compared = None;
    let action = dedup::decide_arrival(item.clone(), &rules.arrival, &held, |item| {
        let text = compared.insert(ItemText::of(item));
        verdict(tx, item, &text.sketch, rules, window)
    })?;
    let mut writer = ItemWriter {
        tx,
        rules,
        window,
        search,
    };
    match action {
        Action::TooOld => ingested.expired += 1,
        Action::Unchanged { id, clamped } => {
            ingested.unchanged += 1;
            ingested.clamped += usize::from(clamped);
            writer.rules.arrival.claimed.insert(id);
        }
        Action::Update(update) => {
            ingested.updated += 1;
            ingested.clamped += usize::from(update.written.dated.clamped);
            ingested.relinked += usize::from(matches!(update.alias, Some(Alias::Relinked { .. })));
            writer.update(update, compared)?;
        }
        Action::New(new) => {
            ingested.new += 1;
            ingested.clamped += usize::from(new.written.dated.clamped);
            ingested.merged += usize::from(new.joined.is_some());
            writer.insert(new, compared)?;
        }
    }
    Ok(())
}

/// Asks the dedup window where the new `item` belongs.
fn verdict(
    tx: &Transaction<'_>,
    item: &Item,
    sketch: &Sketch,
    rules: &PollContext<'_>,
    window: &mut StoredWindow,
) -> Result<Verdict, StoreError> {
    let now = rules.arrival.now;
    let canonical_url = item.canonical_url();
    let incoming = Incoming {
        id: item.id.as_str(),
        outlet: &item.outlet,
        url: canonical_url.as_deref(),
        dated: item.published.unwrap_or(now).min(now).timestamp(),
        sketch,
        siblings: rules.arrival.listed,
    };
    let decision = window.decide(&incoming, now, rules.policy);
    let republished = match &decision.same {
        Some(found) if found.outlet == item.outlet => find_republished(tx, &found.id)?,
        _ => None,
    };
    Ok(Verdict {
        decision,
        republished,
    })
}

/// Writes decided items: their rows, what was decided of them, the window and the search index.
struct ItemWriter<'t, 'c, 'r, 'p> {
    tx: &'t Transaction<'c>,
    rules: &'r mut PollContext<'p>,
    window: &'t mut StoredWindow,
    search: &'t mut search::Pending,
}

impl ItemWriter<'_, '_, '_, '_> {
    /// Writes an item over its stored copy, recording its id as another name of the copy's when
    /// it was found that way.
    fn update(&mut self, update: Update, compared: Option<ItemText>) -> Result<(), StoreError> {
        let Update { written, alias } = update;
        let id = &written.item.id;
        match &alias {
            Some(Alias::Relinked { own }) => decisions::record_alias(self.tx, own, id.as_str())?,
            Some(Alias::Republished { own, of }) => {
                decisions::record_republication(self.tx, own, of, self.rules.arrival.now)?;
            }
            None => {}
        }
        let text = compared.unwrap_or_else(|| ItemText::of(&written.item));
        let row = ItemRow::of(&written, &text.signature);
        let (rowid, story) = update_row(self.tx, &row, self.rules)?;
        self.window.index(row.candidate(&story, text.sketch), rowid);
        self.finish(written, rowid, true, text.summary);
        Ok(())
    }

    /// Inserts a new item in its story, with what dedup decided of it.
    fn insert(&mut self, new: New, compared: Option<ItemText>) -> Result<(), StoreError> {
        let New {
            written,
            story,
            joined,
            related,
            unfolded,
        } = new;
        let id = &written.item.id;
        if unfolded {
            decisions::forget_alias(self.tx, id)?;
        }
        if let Some(joined) = &joined {
            decisions::record_decision(self.tx, id, joined, self.rules.arrival.now)?;
        }
        let text = compared.unwrap_or_else(|| ItemText::of(&written.item));
        let row = ItemRow::of(&written, &text.signature);
        let rowid = insert_row(self.tx, &row, &story, self.rules)?;
        decisions::record_related(self.tx, id, &related)?;
        self.window.index(row.candidate(&story, text.sketch), rowid);
        self.finish(written, rowid, false, text.summary);
        Ok(())
    }

    /// Claims a written item's row for the rest of the poll, and gives the search index its text.
    fn finish(&mut self, written: Written, rowid: i64, known: bool, summary: Option<String>) {
        let Written { item, .. } = written;
        self.rules.arrival.claimed.insert(item.id.to_string());
        self.search
            .add(rowid, known, item.title, summary.unwrap_or_default());
    }
}

/// What an item's row holds beside its story.
struct ItemRow<'a> {
    item: &'a Item,
    /// The item's canonical link: the `url` column, by which a copy of it is found.
    canonical_url: Option<String>,
    data: &'a str,
    hash: &'a str,
    sort_at: DateTime<Utc>,
    first_seen: DateTime<Utc>,
    signature: &'a Signature,
}

impl<'a> ItemRow<'a> {
    fn of(written: &'a Written, signature: &'a Signature) -> Self {
        ItemRow {
            item: &written.item,
            canonical_url: written.item.canonical_url(),
            data: &written.data,
            hash: &written.hash,
            sort_at: written.dated.sort_at,
            first_seen: written.first_seen,
            signature,
        }
    }

    /// Builds the item as the dedup window keeps it, in `story`.
    fn candidate(&self, story: &str, sketch: Sketch) -> Candidate {
        Candidate {
            id: self.item.id.as_str().into(),
            outlet: self.item.outlet.as_str().into(),
            story: story.into(),
            url: self.canonical_url.as_deref().map(Into::into),
            dated: self.sort_at.timestamp(),
            seen_at: self.first_seen.timestamp(),
            sketch,
        }
    }
}

/// Inserts a new item's row in `story`; returns its rowid. A plain insert, neither an insert
/// that updates on conflict nor one that returns the rowid: SQLite keeps a statement journal of
/// every page such a statement changes, in case it must undo half.
fn insert_row(
    tx: &Transaction<'_>,
    row: &ItemRow<'_>,
    story: &str,
    rules: &PollContext<'_>,
) -> Result<i64, StoreError> {
    let signature = serde_json::to_string(row.signature).expect("a signature serializes");
    tx.insert_row(
        "INSERT INTO items (id, outlet, url, feed_url, sort_at, first_seen, modified_at,
                            content_hash, data, story, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        args![
            row.item.id.as_str(),
            &row.item.outlet,
            row.canonical_url.as_deref(),
            rules.feed_url,
            row.sort_at.timestamp(),
            row.first_seen.timestamp(),
            rules.arrival.now.timestamp(),
            row.hash,
            row.data,
            story,
            &signature
        ],
    )
}

/// Updates a stored item's row by id; returns its rowid and story.
fn update_row(
    tx: &Transaction<'_>,
    row: &ItemRow<'_>,
    rules: &PollContext<'_>,
) -> Result<(i64, String), StoreError> {
    let signature = serde_json::to_string(row.signature).expect("a signature serializes");
    tx.first(
        "UPDATE items SET url = ?2, feed_url = ?3, sort_at = ?4, modified_at = ?5,
                          content_hash = ?6, data = ?7, signature = ?8
         WHERE id = ?1 RETURNING rowid, story",
        args![
            row.item.id.as_str(),
            row.canonical_url.as_deref(),
            rules.feed_url,
            row.sort_at.timestamp(),
            rules.arrival.now.timestamp(),
            row.hash,
            row.data,
            &signature
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .ok_or(StoreError::NoRow)
}

/// What dedup and the search index take of an item: its summary as plain text, its signature,
/// and the sketch made from that. Made only for an item that is new or changed: an
/// unchanged one, most of a feed polled again, needs none of it.
struct ItemText {
    summary: Option<String>,
    signature: Signature,
    sketch: Sketch,
}

impl ItemText {
    fn of(item: &Item) -> Self {
        let summary = item.summary.as_deref().map(plain_text);
        let signature = Signature::with_summary_text(item, summary.as_deref());
        ItemText {
            sketch: signature.sketch(),
            summary,
            signature,
        }
    }
}

/// Finds what the table holds that may be `item`: the row under its id (then nothing else
/// counts), else rows under an alias of its id and the outlet's 16 most recent rows under its
/// canonical link, those with what they say. One statement, one round trip to PostgreSQL; its
/// bound is written in it, for a `LIMIT` given as a parameter has SQLite prepare the statement
/// again on every run.
fn find_stored_copies(tx: &Transaction<'_>, item: &Item) -> Result<Vec<StoredCopy>, StoreError> {
    let mut found = Vec::new();
    tx.each_row(
        "SELECT id, content_hash, first_seen, 0, NULL FROM items WHERE id = ?1
         UNION ALL
         SELECT i.id, i.content_hash, i.first_seen, 1, i.data
         FROM aliases a JOIN items i ON i.id = a.item_id WHERE a.alias = ?1
         UNION ALL
         SELECT * FROM (SELECT id, content_hash, first_seen, 2, data FROM items
                        WHERE outlet = ?2 AND url = ?3 AND id <> ?1
                        ORDER BY rowid DESC LIMIT 16) AS linked",
        args![
            item.id.as_str(),
            &item.outlet,
            item.canonical_url().as_deref()
        ],
        &mut |row| {
            let copy = stored_copy(row)?;
            // SQLite gives the branches' rows in order, PostgreSQL need not.
            if copy.found_by == FoundBy::Id {
                found = vec![copy];
                return Ok(Flow::Enough);
            }
            found.push(copy);
            Ok(Flow::More)
        },
    )?;
    Ok(found)
}

/// Finds the stored item `id` that dedup found an arriving item re-publishes.
fn find_republished(tx: &Transaction<'_>, id: &str) -> Result<Option<StoredCopy>, StoreError> {
    tx.first(
        "SELECT id, content_hash, first_seen, 3, NULL FROM items WHERE id = ?1",
        args![id],
        stored_copy,
    )
}

/// Reads a row of `id, content_hash, first_seen, how it was found (0 by id, 1 by alias, 2 by
/// link, 3 as a re-publication), data`: the gist of what a stored copy says is read from its
/// data, when selected.
fn stored_copy(row: &Row<'_>) -> Result<StoredCopy, StoreError> {
    let id: String = row.get(0)?;
    let found_by = match row.get::<i64>(3)? {
        0 => FoundBy::Id,
        1 => FoundBy::Alias,
        2 => FoundBy::Link,
        _ => FoundBy::Republication,
    };
    let data: Option<String> = row.get(4)?;
    let gist = match data {
        Some(data) => {
            let item: Item = serde_json::from_str(&data).map_err(|source| StoreError::Corrupt {
                id: id.clone(),
                source,
            })?;
            Some(item.gist())
        }
        None => None,
    };
    Ok(StoredCopy {
        id,
        content_hash: row.get(1)?,
        first_seen: timestamp(row.get(2)?),
        found_by,
        gist,
    })
}

/// Reads a row of [`STORED_COLUMNS`].
pub(super) fn stored_item(row: &Row<'_>) -> Result<StoredItem, StoreError> {
    let id: String = row.get(0)?;
    let data: String = row.get(5)?;
    let story: String = row.get(6)?;
    let item: Item = serde_json::from_str(&data).map_err(|source| StoreError::Corrupt {
        id: id.clone(),
        source,
    })?;
    Ok(StoredItem {
        story: ItemId::from(story),
        item,
        feed_url: row.get(1)?,
        sort_at: timestamp(row.get(2)?),
        first_seen: timestamp(row.get(3)?),
        modified_at: timestamp(row.get(4)?),
        also: Vec::new(),
        related: Vec::new(),
    })
}

impl Store {
    /// Lists the newest items of one outlet, newest first: every story the outlet carried, whoever
    /// else carried it too.
    pub fn recent(&self, outlet: &str, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        self.reader().rows(
            &format!(
                "SELECT {STORED_COLUMNS} FROM items WHERE outlet = ?1 ORDER BY sort_at DESC, id LIMIT ?2"
            ),
            args![outlet, limit as u64],
            stored_item,
        )
    }
}
