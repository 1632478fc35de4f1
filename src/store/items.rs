//! The `items` table: one row per story as one outlet published it, matched on every poll by
//! id, by an alias (a re-publication's GUID) or by canonical link, so that its id never changes.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::decisions;
use super::sql::{args, Row, Sql, Transaction};
use super::window::StoredWindow;
use super::{search, timestamp, Ingested, Store, StoreError, StoredItem};
use crate::config::Dedup;
use crate::dedup::{Candidate, Incoming, Match, Policy, Signature, Sketch};
use crate::model::{Dated, Item, ItemId};
use crate::parse::plain_text;

/// The columns [`stored_item`] reads, in its order.
pub(super) const STORED_COLUMNS: &str =
    "id, feed_url, sort_at, first_seen, modified_at, data, story";
/// How many they are: a query may select more after them.
pub(super) const STORED_COLUMN_COUNT: usize = 7;

/// What one poll's items are stored under.
pub(super) struct PollContext<'a> {
    pub feed_url: &'a str,
    pub retention_cutoff: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub dedup: &'a Dedup,
    pub policy: &'a Policy,
    /// Ids and links of the items of the document being stored.
    pub siblings: &'a HashSet<&'a str>,
}

/// The stored copy an incoming item matches.
struct StoredCopy {
    id: String,
    content_hash: String,
    first_seen: DateTime<Utc>,
    /// Found by link alone: the incoming item's GUID is not the one stored.
    by_link: bool,
}

/// Inserts `item`, or updates the stored copy it matches: by id, by alias, by canonical link
/// within its outlet, or — a re-publication under a new GUID — by dedup's decision. A new item
/// joins the story dedup found for it (unless `[dedup]` is off) or starts its own. The stored
/// id always wins, so an item's id never changes.
pub(super) fn ingest(
    tx: &Transaction<'_>,
    item: &Item,
    rules: &PollContext<'_>,
    window: &mut StoredWindow,
    ingested: &mut Ingested,
    search: &mut search::Pending,
) -> Result<(), StoreError> {
    let Some(mut arrived) = arrive(tx, item.clone(), rules, window, ingested)? else {
        return Ok(());
    };
    let (data, hash) = arrived.item.to_stored();
    let unchanged = arrived.existing.as_ref().map(|e| e.content_hash == hash);
    if !ingested.count(unchanged, arrived.placed.joined) {
        return Ok(());
    }
    let item = &arrived.item;
    let text = arrived
        .compared
        .take()
        .unwrap_or_else(|| ItemText::of(item));
    let row = Written {
        item,
        canonical_url: item.canonical_url(),
        data: &data,
        hash: &hash,
        sort_at: arrived.dated.sort_at,
        first_seen: arrived.first_seen,
        signature: &text.signature,
    };
    let placed = &arrived.placed;
    let rowid = match &arrived.existing {
        None => {
            let rowid = insert(tx, &row, &placed.story, rules)?;
            decisions::record_related(tx, &item.id, &placed.related)?;
            window.index(row.candidate(&placed.story, text.sketch), rowid);
            rowid
        }
        Some(_) => {
            let (rowid, story) = update(tx, &row, rules)?;
            window.index(row.candidate(&story, text.sketch), rowid);
            rowid
        }
    };
    let summary = text.summary.unwrap_or_default();
    let known = arrived.existing.is_some();
    search.add(rowid, known, arrived.item.title, summary);
    Ok(())
}

/// An item as it arrives: the stored copy it matches, or where dedup placed it, and its date.
struct Arrived {
    /// Under the stored copy's id, if it has one.
    item: Item,
    existing: Option<StoredCopy>,
    placed: Placed,
    /// Made to place it, if it is new.
    compared: Option<ItemText>,
    dated: Dated,
    first_seen: DateTime<Utc>,
}

/// Finds the stored copy of `item`, or lets dedup place it (recording the decision), and
/// dates it; `None` if it is too old to keep.
fn arrive(
    tx: &Transaction<'_>,
    mut item: Item,
    rules: &PollContext<'_>,
    window: &mut StoredWindow,
    ingested: &mut Ingested,
) -> Result<Option<Arrived>, StoreError> {
    let mut existing = find_stored_copy(tx, &item)?;
    if existing.is_none() && item.published.is_some_and(|p| p < rules.retention_cutoff) {
        ingested.expired += 1;
        return Ok(None);
    }
    let (mut placed, mut compared) = (Placed::own(&item.id), None);
    if existing.is_none() {
        let text = compared.insert(ItemText::of(&item));
        placed = place(tx, &item, &text.sketch, rules, window)?;
        if let Some(id) = &placed.republication_of {
            existing = find_by_id(tx, id)?;
        }
    }
    if let Some(found) = existing.as_ref().filter(|e| e.by_link) {
        ingested.relinked += 1;
        decisions::record_alias(tx, &item.id, &found.id)?;
    }
    let first_seen = existing.as_ref().map_or(rules.now, |e| e.first_seen);
    let dated = item.date_on_arrival(first_seen, rules.now);
    ingested.clamped += usize::from(dated.clamped);
    if dated.sort_at < rules.retention_cutoff {
        ingested.expired += 1;
        return Ok(None);
    }
    if let Some(existing) = &existing {
        item.id = ItemId::from(existing.id.clone());
    }
    Ok(Some(Arrived {
        item,
        existing,
        placed,
        compared,
        dated,
        first_seen,
    }))
}

impl Ingested {
    /// Counts an item as new (`unchanged` is `None`), unchanged or updated; whether it is to be
    /// written.
    fn count(&mut self, unchanged: Option<bool>, joined: bool) -> bool {
        match unchanged {
            Some(true) => self.unchanged += 1,
            Some(false) => self.updated += 1,
            None => {
                self.new += 1;
                self.merged += usize::from(joined);
            }
        }
        unchanged != Some(true)
    }
}

/// Where dedup placed a new item.
struct Placed {
    /// The story it is in: its own id, or the story it joined.
    story: String,
    joined: bool,
    /// The stored item of its outlet it re-publishes: it updates that item instead.
    republication_of: Option<String>,
    related: Vec<Match>,
}

impl Placed {
    fn own(id: &ItemId) -> Self {
        Placed {
            story: id.to_string(),
            joined: false,
            republication_of: None,
            related: Vec::new(),
        }
    }
}

/// Asks dedup where the new `item` belongs, and records the decision.
fn place(
    tx: &Transaction<'_>,
    item: &Item,
    sketch: &Sketch,
    rules: &PollContext<'_>,
    window: &mut StoredWindow,
) -> Result<Placed, StoreError> {
    let canonical_url = item.canonical_url();
    let incoming = Incoming {
        id: item.id.as_str(),
        outlet: &item.outlet,
        url: canonical_url.as_deref(),
        dated: item
            .published
            .unwrap_or(rules.now)
            .min(rules.now)
            .timestamp(),
        sketch,
        siblings: rules.siblings,
    };
    let decision = window.decide(&incoming, rules.now, rules.policy);
    let mut placed = Placed {
        related: decision.related,
        ..Placed::own(&item.id)
    };
    match decision.same {
        Some(found) if found.outlet == item.outlet => {
            decisions::record_republication(tx, &item.id, &found, rules.now)?;
            placed.republication_of = Some(found.id);
        }
        Some(found) if rules.dedup.enabled => {
            decisions::record_decision(tx, &item.id, &found, rules.now)?;
            placed.story = found.story;
            placed.joined = true;
        }
        _ => {}
    }
    Ok(placed)
}

/// What an item's row holds beside its story.
struct Written<'a> {
    item: &'a Item,
    /// The item's canonical link: the `url` column, by which a copy of it is found.
    canonical_url: Option<String>,
    data: &'a str,
    hash: &'a str,
    sort_at: DateTime<Utc>,
    first_seen: DateTime<Utc>,
    signature: &'a Signature,
}

impl Written<'_> {
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
fn insert(
    tx: &Transaction<'_>,
    row: &Written<'_>,
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
            rules.now.timestamp(),
            row.hash,
            row.data,
            story,
            &signature
        ],
    )
}

/// Updates a stored item's row by id; returns its rowid and story.
fn update(
    tx: &Transaction<'_>,
    row: &Written<'_>,
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
            rules.now.timestamp(),
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

fn find_stored_copy(tx: &Transaction<'_>, item: &Item) -> Result<Option<StoredCopy>, StoreError> {
    tx.first(
        "SELECT id, content_hash, first_seen, 0 FROM items WHERE id = ?1
         UNION ALL
         SELECT i.id, i.content_hash, i.first_seen, 0 FROM aliases a JOIN items i ON i.id = a.item_id
         WHERE a.alias = ?1
         UNION ALL
         SELECT id, content_hash, first_seen, 1 FROM items WHERE outlet = ?2 AND url = ?3
         LIMIT 1",
        args![
            item.id.as_str(),
            &item.outlet,
            item.canonical_url().as_deref()
        ],
        stored_copy,
    )
}

fn find_by_id(tx: &Transaction<'_>, id: &str) -> Result<Option<StoredCopy>, StoreError> {
    tx.first(
        "SELECT id, content_hash, first_seen, 0 FROM items WHERE id = ?1",
        args![id],
        stored_copy,
    )
}

fn stored_copy(row: &Row<'_>) -> Result<StoredCopy, StoreError> {
    Ok(StoredCopy {
        id: row.get(0)?,
        content_hash: row.get(1)?,
        first_seen: timestamp(row.get(2)?),
        by_link: row.get(3)?,
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
