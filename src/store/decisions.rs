//! The rows that record what dedup decided: why an item joined a story, which GUIDs are
//! aliases of a stored item, and which items are related coverage of each other.

use super::sql::{args, Sql, Transaction};
use super::StoreError;
use crate::dedup::Match;
use crate::model::ItemId;
use chrono::{DateTime, Utc};

/// Records why `item` joined the story of `found`.
pub(super) fn record_decision(
    tx: &Transaction<'_>,
    item: &ItemId,
    found: &Match,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let features = serde_json::to_string(&found.features).expect("features serialize");
    tx.execute(
        "INSERT INTO decisions (item_id, story, matched, score, features, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (item_id) DO UPDATE SET story = excluded.story, matched = excluded.matched,
             score = excluded.score, features = excluded.features,
             decided_at = excluded.decided_at",
        args![
            item.as_str(),
            &found.story,
            &found.id,
            found.score,
            &features,
            now.timestamp()
        ],
    )?;
    Ok(())
}

/// Records that `alias` (a new GUID's item id) is a re-publication of `found`, so that it
/// updates `found` now and on every later poll.
pub(super) fn record_republication(
    tx: &Transaction<'_>,
    alias: &ItemId,
    found: &Match,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    record_alias(tx, alias, &found.id)?;
    record_decision(tx, alias, found, now)
}

/// Records that `item` is related coverage of each of `related`: another outlet's telling of
/// the same event thread, not the same story.
pub(super) fn record_related(
    tx: &Transaction<'_>,
    item: &ItemId,
    related: &[Match],
) -> Result<(), StoreError> {
    for other in related {
        let features = serde_json::to_string(&other.features).expect("features serialize");
        tx.execute(
            "INSERT INTO related (item_id, other_id, score, features) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (item_id, other_id) DO UPDATE SET score = excluded.score,
                 features = excluded.features",
            args![item.as_str(), &other.id, other.score, &features],
        )?;
    }
    Ok(())
}

/// Remembers that the item id `alias` (from another GUID, or from no GUID) is the stored item
/// `id`, so that it is found again by id and `tributary explain` knows it.
pub(super) fn record_alias(
    tx: &Transaction<'_>,
    alias: &ItemId,
    id: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO aliases (alias, item_id) VALUES (?1, ?2)
         ON CONFLICT (alias) DO UPDATE SET item_id = excluded.item_id",
        args![alias.as_str(), id],
    )?;
    Ok(())
}

/// Forgets that the item id `alias` names another stored item, and the decision that said so:
/// it is an item of its own now (see [`crate::dedup::New::unfolded`]).
pub(super) fn forget_alias(tx: &Transaction<'_>, alias: &ItemId) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM aliases WHERE alias = ?1",
        args![alias.as_str()],
    )?;
    tx.execute(
        "DELETE FROM decisions WHERE item_id = ?1",
        args![alias.as_str()],
    )?;
    Ok(())
}
