//! The `items` table: one row per story as one outlet published it, matched on every poll by
//! id, by an alias (a re-publication's GUID) or by canonical link, so that its id never changes.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::stories::{self, Candidates};
use super::{search, timestamp, Ingested, Store, StoreError, StoredItem};
use crate::config::Dedup;
use crate::dedup::{Candidate, Incoming, Policy, Signature, Sketch};
use crate::model::{Item, ItemId};
use crate::parse::plain_text;

/// How far ahead of the clock an item may be dated before its date is taken for a mistake.
const FUTURE_TOLERANCE_SECS: i64 = 3600;

/// The columns [`stored_item`] reads, in its order.
pub(super) const STORED_COLUMNS: &str =
    "id, feed_url, sort_at, first_seen, modified_at, data, story";
/// How many they are: a query may select more after them.
pub(super) const STORED_COLUMN_COUNT: usize = 7;

/// What one poll's items are stored under.
pub(super) struct Rules<'a> {
    pub feed_url: &'a str,
    pub retention_cutoff: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub dedup: &'a Dedup,
    pub policy: &'a Policy,
    /// Ids and links of the items of the document being stored.
    pub siblings: &'a HashSet<&'a str>,
}

/// The stored copy an incoming item matches.
struct Existing {
    id: String,
    content_hash: String,
    first_seen: DateTime<Utc>,
    /// Found by link alone: the incoming item's GUID is not the one stored.
    by_link: bool,
}

/// Inserts `item`, or updates the stored copy it matches: by id, by alias, by canonical link
/// within its outlet, or — a re-publication under a new GUID — by similarity within the
/// outlet. A new item joins the story of a similar item from another outlet (unless `[dedup]`
/// is off) or starts its own. The stored id always wins, so an item's id never changes.
pub(super) fn upsert(
    tx: &Transaction<'_>,
    item: &Item,
    rules: &Rules<'_>,
    candidates: &mut Candidates,
    ingested: &mut Ingested,
    search: &mut search::Pending,
) -> Result<(), StoreError> {
    let now = rules.now;
    let mut item = item.clone();
    let mut compared = None;
    let mut story = item.id.to_string();
    let mut joined = false;
    let mut related = Vec::new();
    let mut existing = find_existing(tx, &item)?;
    if existing.is_none() && item.published.is_some_and(|p| p < rules.retention_cutoff) {
        ingested.expired += 1;
        return Ok(());
    }
    if existing.is_none() {
        let dated = item.published.unwrap_or(now).min(now);
        let text = compared.insert(Compared::of(&item));
        let incoming = Incoming {
            id: item.id.as_str(),
            outlet: &item.outlet,
            url: item.url.as_deref(),
            dated: dated.timestamp(),
            sketch: &text.sketch,
            siblings: rules.siblings,
        };
        let decision = candidates.decide(&incoming, now, rules.policy);
        related = decision.related;
        match decision.same {
            Some(found) if found.outlet == item.outlet => {
                stories::record_republication(tx, &item.id, &found, now)?;
                existing = find_by_id(tx, &found.id)?;
            }
            Some(found) if rules.dedup.enabled => {
                stories::record_decision(tx, &item.id, &found, now)?;
                story = found.story;
                joined = true;
            }
            _ => {}
        }
    }
    if let Some(found) = existing.as_ref().filter(|e| e.by_link) {
        ingested.relinked += 1;
        stories::record_alias(tx, &item.id, &found.id)?;
    }
    let first_seen = existing.as_ref().map_or(now, |e| e.first_seen);
    // An undated item is dated when it was first seen; one dated far ahead (a wrong zone, a
    // scheduled post) is not news from the future, and is dated the same way.
    match item.published {
        None => item.published = Some(first_seen),
        Some(date) if date > now + chrono::Duration::seconds(FUTURE_TOLERANCE_SECS) => {
            item.published = Some(first_seen);
            ingested.clamped += 1;
        }
        Some(_) => {}
    }
    let sort_at = item.published.unwrap_or(first_seen).min(now);
    if sort_at < rules.retention_cutoff {
        ingested.expired += 1;
        return Ok(());
    }
    if let Some(existing) = &existing {
        item.id = ItemId::from(existing.id.clone());
    }
    let (data, hash) = item.to_stored();
    match &existing {
        Some(e) if e.content_hash == hash => {
            ingested.unchanged += 1;
            return Ok(());
        }
        Some(_) => ingested.updated += 1,
        None => {
            ingested.new += 1;
            ingested.merged += usize::from(joined);
        }
    }
    let Compared {
        summary,
        signature,
        sketch,
    } = compared.unwrap_or_else(|| Compared::of(&item));
    let signature_json = serde_json::to_string(&signature).expect("a signature serializes");
    // Known to be new or stored already: a plain insert or update by id. (An upsert made
    // SQLite keep a statement journal of every page the insert changed, in case it had to
    // undo half of it.)
    let (rowid, story): (i64, String) = match &existing {
        None => {
            tx.prepare_cached(
                "INSERT INTO items (id, outlet, url, feed_url, sort_at, first_seen, modified_at,
                                    content_hash, data, story, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                item.id.as_str(),
                item.outlet,
                item.url,
                rules.feed_url,
                sort_at.timestamp(),
                first_seen.timestamp(),
                now.timestamp(),
                hash,
                data,
                story,
                signature_json
            ])?;
            let rowid = tx.last_insert_rowid();
            stories::record_related(tx, &item.id, &related)?;
            (rowid, story)
        }
        Some(_) => tx
            .prepare_cached(
                "UPDATE items SET url = ?2, feed_url = ?3, sort_at = ?4, modified_at = ?5,
                                  content_hash = ?6, data = ?7, signature = ?8
                 WHERE id = ?1 RETURNING rowid, story",
            )?
            .query_row(
                params![
                    item.id.as_str(),
                    item.url,
                    rules.feed_url,
                    sort_at.timestamp(),
                    now.timestamp(),
                    hash,
                    data,
                    signature_json
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?,
    };
    let candidate = Candidate {
        id: item.id.as_str().into(),
        outlet: item.outlet.as_str().into(),
        story: story.as_str().into(),
        url: item.url.as_deref().map(Into::into),
        dated: sort_at.timestamp(),
        seen_at: first_seen.timestamp(),
        sketch,
    };
    candidates.index(candidate, rowid);
    search.add(
        rowid,
        existing.is_some(),
        item.title,
        summary.unwrap_or_default(),
    );
    Ok(())
}

/// What dedup and the search index take of an item: its summary as plain text, its signature,
/// and the sketch made from that. Made only for an item that is new or changed: an
/// unchanged one, most of a feed polled again, needs none of it.
struct Compared {
    summary: Option<String>,
    signature: Signature,
    sketch: Sketch,
}

impl Compared {
    fn of(item: &Item) -> Self {
        let summary = item.summary.as_deref().map(plain_text);
        let signature = Signature::with_summary_text(item, summary.as_deref());
        Compared {
            sketch: signature.sketch(),
            summary,
            signature,
        }
    }
}

fn find_existing(tx: &Transaction<'_>, item: &Item) -> Result<Option<Existing>, StoreError> {
    let found = tx
        .prepare_cached(
            "SELECT id, content_hash, first_seen, 0 FROM items WHERE id = ?1
             UNION ALL
             SELECT i.id, i.content_hash, i.first_seen, 0 FROM aliases a JOIN items i ON i.id = a.item_id
             WHERE a.alias = ?1
             UNION ALL
             SELECT id, content_hash, first_seen, 1 FROM items WHERE outlet = ?2 AND url = ?3
             LIMIT 1",
        )?
        .query_row(params![item.id.as_str(), item.outlet, item.url], existing)
        .optional()?;
    Ok(found)
}

fn find_by_id(tx: &Transaction<'_>, id: &str) -> Result<Option<Existing>, StoreError> {
    let found = tx
        .prepare_cached("SELECT id, content_hash, first_seen, 0 FROM items WHERE id = ?1")?
        .query_row(params![id], existing)
        .optional()?;
    Ok(found)
}

fn existing(row: &Row<'_>) -> rusqlite::Result<Existing> {
    Ok(Existing {
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
    /// The newest items of one outlet, newest first: every story the outlet carried, whoever
    /// else carried it too.
    pub fn recent(&self, outlet: &str, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        let conn = self.reader();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {STORED_COLUMNS} FROM items WHERE outlet = ?1 ORDER BY sort_at DESC, id LIMIT ?2"
        ))?;
        let mut rows = statement.query(params![outlet, limit])?;
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            items.push(stored_item(row)?);
        }
        Ok(items)
    }
}
