//! What becomes of an item as it arrives: the same as its stored copy, an update of it, a
//! re-publication of another of its outlet's items, a copy that joins another outlet's story,
//! a story of its own, or too old to keep. Decided here from values alone — the item, what the
//! store holds of it and the dedup window's verdict — so that every rule is a unit test; the
//! store only carries the [`Action`] out, inside the transaction that read what it holds.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::decide::{Decision, Match};
use crate::model::{Dated, Item, ItemId};

/// The poll items arrive in, and what they are stored under.
pub struct Poll<'a> {
    pub now: DateTime<Utc>,
    /// Items dated before this are not kept.
    pub retention_cutoff: DateTime<Utc>,
    /// Whether another outlet's copy of a story joins it (`[dedup] enabled`).
    pub join_stories: bool,
    /// Ids and canonical links of the items the same document lists (a link among them is
    /// what the dedup window leaves out; an id, what an alias cannot stand for).
    pub listed: &'a HashSet<&'a str>,
    /// Ids of the stored items that the document's earlier entries were written to (or found
    /// unchanged): the store adds each as it goes.
    pub claimed: HashSet<String>,
}

/// A stored item that may be the arriving one.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredCopy {
    pub id: String,
    pub content_hash: String,
    pub first_seen: DateTime<Utc>,
    pub found_by: FoundBy,
    /// The gist of what it says (see [`Item::gist`]), read where it is compared: found by
    /// alias or link.
    pub gist: Option<String>,
}

/// How a stored copy was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// Under the arriving item's own id.
    Id,
    /// Under an id recorded as another name of the arriving item's.
    Alias,
    /// Under the arriving item's canonical link, in its outlet.
    Link,
    /// As the item that the dedup window found the arriving one re-publishes.
    Republication,
}

/// The dedup window's verdict on an item the store does not hold.
pub struct Verdict {
    pub decision: Decision,
    /// The stored copy of the outlet's own item that `decision.same` names, when it is one.
    pub republished: Option<StoredCopy>,
}

/// What the store does with an arriving item.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Nothing: it is dated before the retention cut.
    TooOld,
    /// Nothing is written: its stored copy `id` says the same already. `clamped`: it is dated in
    /// the future, and so dated when first seen.
    Unchanged { id: String, clamped: bool },
    /// It is written over its stored copy, under that copy's id.
    Update(Update),
    /// It is inserted as a new item.
    New(New),
}

/// An item as it is written, under the id it is stored by.
#[derive(Debug, PartialEq)]
pub struct Written {
    pub item: Item,
    pub dated: Dated,
    pub first_seen: DateTime<Utc>,
    /// The item as the store keeps it (JSON) and its digest (see [`Item::to_stored`]).
    pub data: String,
    pub hash: String,
}

/// An item written over its stored copy.
#[derive(Debug, PartialEq)]
pub struct Update {
    pub written: Written,
    /// The arriving item's own id becomes another name of the copy's, and why.
    pub alias: Option<Alias>,
}

/// Why an arriving item's id is recorded as another name of a stored item's.
#[derive(Debug, PartialEq)]
pub enum Alias {
    /// The same gist under the same link, with a new GUID.
    Relinked { own: ItemId },
    /// The same article edited, as the dedup window found it.
    Republished { own: ItemId, of: Match },
}

/// A new item, and the story it is in.
#[derive(Debug, PartialEq)]
pub struct New {
    pub written: Written,
    /// Its own id, or the story of another outlet's copy it joins.
    pub story: String,
    /// The copy it joins, when it joins one.
    pub joined: Option<Match>,
    /// Other outlets' items that are related coverage.
    pub related: Vec<Match>,
    /// Its id was recorded as another name of a stored item that it is not: that record goes.
    pub unfolded: bool,
}

/// Decides what becomes of `item`, arriving in `poll`, given the stored copies the store found
/// for it (by id, by alias, by link). The dedup window is asked for its verdict only when the
/// item is new and young enough to keep: most of a feed polled again is known, and a verdict
/// costs a sketch and a search of the window.
pub fn decide_arrival<E>(
    item: Item,
    poll: &Poll<'_>,
    held: &[StoredCopy],
    verdict: impl FnOnce(&Item) -> Result<Verdict, E>,
) -> Result<Action, E> {
    let placement = match held.iter().find(|copy| is_this_items(copy, &item, poll)) {
        Some(copy) => Placement::Over {
            alias: (copy.found_by == FoundBy::Link).then(|| Alias::Relinked {
                own: item.id.clone(),
            }),
            copy: copy.clone(),
        },
        None if item.published.is_some_and(|p| p < poll.retention_cutoff) => {
            return Ok(Action::TooOld)
        }
        None => place_new(&item, poll, verdict(&item)?),
    };
    let unfolded = held.iter().any(|copy| copy.found_by == FoundBy::Alias);
    Ok(write(item, poll, placement, unfolded))
}

/// Where an arriving item goes: over a stored copy, or in as a new item.
enum Placement {
    Over {
        copy: StoredCopy,
        alias: Option<Alias>,
    },
    In {
        joined: Option<Match>,
        related: Vec<Match>,
    },
}

/// Places an item the store does not hold by the window's verdict: over the item of its outlet
/// that it re-publishes (unless an earlier entry of the document was written to that one), in
/// the story of another outlet's copy (when stories are joined), or in a story of its own.
fn place_new(item: &Item, poll: &Poll<'_>, verdict: Verdict) -> Placement {
    let Verdict {
        decision,
        republished,
    } = verdict;
    let republished = republished.filter(|copy| !poll.claimed.contains(&copy.id));
    match (decision.same, republished) {
        (Some(of), Some(copy)) if of.outlet == item.outlet => Placement::Over {
            copy,
            alias: Some(Alias::Republished {
                own: item.id.clone(),
                of,
            }),
        },
        (same, _) => Placement::In {
            joined: same.filter(|s| s.outlet != item.outlet && poll.join_stories),
            related: decision.related,
        },
    }
}

/// Dates `item` where `placement` puts it and says how it is written, if at all: not when it is
/// dated before the retention cut, nor over a copy that says the same already. `unfolded`: an
/// alias of its id was found that it is not, if it goes in as a new item.
fn write(mut item: Item, poll: &Poll<'_>, placement: Placement, unfolded: bool) -> Action {
    let copy = match &placement {
        Placement::Over { copy, .. } => Some(copy),
        Placement::In { .. } => None,
    };
    let first_seen = copy.map_or(poll.now, |c| c.first_seen);
    let dated = item.date_on_arrival(first_seen, poll.now);
    if dated.sort_at < poll.retention_cutoff {
        return Action::TooOld;
    }
    if let Some(copy) = copy {
        item.id = ItemId::from(copy.id.clone());
    }
    let (data, hash) = item.to_stored();
    let written = Written {
        item,
        dated,
        first_seen,
        data,
        hash,
    };
    match placement {
        Placement::Over { copy, alias: None } if copy.content_hash == written.hash => {
            Action::Unchanged {
                id: copy.id,
                clamped: written.dated.clamped,
            }
        }
        Placement::Over { alias, .. } => Action::Update(Update { written, alias }),
        Placement::In { joined, related } => Action::New(New {
            story: joined
                .as_ref()
                .map_or_else(|| written.item.id.to_string(), |j| j.story.clone()),
            written,
            joined,
            related,
            unfolded,
        }),
    }
}

/// Tells whether `copy` is the stored copy of `item`. One found by id always is. One found by
/// another name or by the link is not when an earlier entry of the document was written to it
/// (two entries the publisher lists are two items), and is only when its gist is the item's —
/// a re-publication under a new GUID — or, found by alias, when the document does not list
/// it beside the item: an entry that shares a link with others (a podcast's every episode linking
/// the show's page) is not the others.
fn is_this_items(copy: &StoredCopy, item: &Item, poll: &Poll<'_>) -> bool {
    if copy.found_by == FoundBy::Id {
        return true;
    }
    if poll.claimed.contains(&copy.id) {
        return false;
    }
    let same_gist = copy.gist.as_deref() == Some(item.gist().as_str());
    same_gist || (copy.found_by == FoundBy::Alias && !poll.listed.contains(copy.id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Features;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, hour, 0, 0).unwrap()
    }

    /// An episode of a podcast whose every entry links the show's page.
    fn episode(guid: &str, summary: &str) -> Item {
        Item {
            url: Some("https://podcast.example/".into()),
            guid: Some(guid.into()),
            summary: Some(summary.into()),
            published: Some(at(9)),
            ..Item::new("pod", guid)
        }
        .identified()
    }

    fn copy(id: &str, found_by: FoundBy, gist: Option<&str>) -> StoredCopy {
        StoredCopy {
            id: id.into(),
            content_hash: "old".into(),
            first_seen: at(9),
            found_by,
            gist: gist.map(str::to_owned),
        }
    }

    fn matched(id: &str, outlet: &str) -> Match {
        Match {
            id: id.into(),
            outlet: outlet.into(),
            story: format!("story-of-{id}"),
            score: 0.99,
            features: Features::default(),
        }
    }

    /// Decides `item` in a poll at noon that lists `listed`, `claimed` already written, the
    /// window's verdict `verdict` (which must not be asked when it is `None`).
    fn decided(
        item: Item,
        held: &[StoredCopy],
        listed: &[&str],
        claimed: &[&str],
        verdict: Option<Verdict>,
    ) -> Action {
        let listed: HashSet<&str> = listed.iter().copied().collect();
        let poll = Poll {
            now: at(12),
            retention_cutoff: at(0),
            join_stories: true,
            listed: &listed,
            claimed: claimed.iter().map(|c| c.to_string()).collect(),
        };
        let asked = |_: &Item| verdict.ok_or("the verdict was asked for");
        decide_arrival(item, &poll, held, asked).unwrap()
    }

    fn nothing_alike() -> Option<Verdict> {
        Some(Verdict {
            decision: Decision {
                same: None,
                related: Vec::new(),
            },
            republished: None,
        })
    }

    #[test]
    fn a_copy_found_by_id_is_updated_under_its_id_or_left_unchanged() {
        let item = episode("e1", "Rivers.");
        let id = item.id.to_string();
        let Action::Update(update) = decided(
            item.clone(),
            &[copy(&id, FoundBy::Id, None)],
            &[],
            &[],
            None,
        ) else {
            panic!("an edited copy is updated");
        };
        assert_eq!(update.written.item.id.as_str(), id);
        assert_eq!(update.alias, None);
        let stored = StoredCopy {
            content_hash: update.written.hash.clone(),
            ..copy(&id, FoundBy::Id, None)
        };
        let unchanged = decided(item, &[stored], &[], &[], None);
        assert_eq!(unchanged, Action::Unchanged { id, clamped: false });
    }

    #[test]
    fn the_same_gist_under_the_same_link_and_a_new_guid_is_the_stored_item() {
        let item = episode("e1-again", "Rivers.");
        let Action::Update(update) = decided(
            item.clone(),
            &[copy("e1", FoundBy::Link, Some("Rivers."))],
            &[],
            &[],
            None,
        ) else {
            panic!("a re-publication under a new GUID updates the stored item");
        };
        assert_eq!(update.written.item.id.as_str(), "e1");
        assert_eq!(update.alias, Some(Alias::Relinked { own: item.id }));
    }

    #[test]
    fn another_entry_under_the_same_link_is_a_new_item() {
        let item = episode("e2", "Mountains.");
        let held = [copy("e1", FoundBy::Link, Some("Rivers."))];
        let Action::New(new) = decided(item.clone(), &held, &["e1"], &[], nothing_alike()) else {
            panic!("an episode that says something else is new");
        };
        assert_eq!(new.written.item.id, item.id);
        assert_eq!(new.story, item.id.as_str());
        assert!(!new.unfolded);
    }

    #[test]
    fn a_copy_an_earlier_entry_was_written_to_is_not_this_ones() {
        let item = episode("e1-again", "Rivers.");
        let held = [copy("e1", FoundBy::Link, Some("Rivers."))];
        let action = decided(item, &held, &[], &["e1"], nothing_alike());
        assert!(matches!(action, Action::New(_)), "{action:?}");
    }

    #[test]
    fn an_alias_holds_unless_the_document_lists_the_aliased_item_saying_otherwise() {
        // A re-publication the window found earlier: the original is gone from the feed.
        let item = episode("e1-edited", "Rivers, with more.");
        let held = [copy("e1", FoundBy::Alias, Some("Rivers."))];
        let kept = decided(item.clone(), &held, &[], &[], None);
        assert!(
            matches!(kept, Action::Update(Update { alias: None, .. })),
            "{kept:?}"
        );
        // An entry folded by the rule of earlier versions, listed beside the one it was
        // folded into: it is an item of its own again.
        let Action::New(new) = decided(item, &held, &["e1"], &[], nothing_alike()) else {
            panic!("an entry listed beside its alias's item is new");
        };
        assert!(new.unfolded);
    }

    #[test]
    fn an_item_dated_before_retention_is_too_old_and_never_compared() {
        let item = Item {
            published: Some(at(0) - chrono::Duration::days(1)),
            ..episode("old", "Long ago.")
        };
        assert_eq!(decided(item, &[], &[], &[], None), Action::TooOld);
    }

    #[test]
    fn a_stored_copy_first_seen_before_retention_and_undated_is_too_old() {
        let item = Item {
            published: None,
            ..episode("e1", "Rivers.")
        };
        let stored = StoredCopy {
            first_seen: at(0) - chrono::Duration::hours(1),
            ..copy(item.id.as_str(), FoundBy::Id, None)
        };
        assert_eq!(decided(item, &[stored], &[], &[], None), Action::TooOld);
    }

    #[test]
    fn a_re_publication_the_window_finds_updates_the_item_it_re_publishes() {
        let item = episode("e1-new-guid", "Rivers, retold.");
        let verdict = Verdict {
            decision: Decision {
                same: Some(matched("e1", "pod")),
                related: Vec::new(),
            },
            republished: Some(copy("e1", FoundBy::Republication, None)),
        };
        let Action::Update(update) = decided(item.clone(), &[], &[], &[], Some(verdict)) else {
            panic!("a re-publication updates its item");
        };
        assert_eq!(update.written.item.id.as_str(), "e1");
        assert_eq!(
            update.alias,
            Some(Alias::Republished {
                own: item.id,
                of: matched("e1", "pod")
            })
        );
    }

    #[test]
    fn another_outlets_copy_joins_its_story_and_related_coverage_is_kept() {
        let item = episode("e9", "Rivers rise.");
        let verdict = || Verdict {
            decision: Decision {
                same: Some(matched("x1", "other")),
                related: vec![matched("x2", "third")],
            },
            republished: None,
        };
        let Action::New(new) = decided(item.clone(), &[], &[], &[], Some(verdict())) else {
            panic!("a copy from another outlet is a new item");
        };
        assert_eq!(new.story, "story-of-x1");
        assert_eq!(new.joined, Some(matched("x1", "other")));
        assert_eq!(new.related, [matched("x2", "third")]);
        // With [dedup] off, it is a story of its own.
        let listed = HashSet::new();
        let poll = Poll {
            now: at(12),
            retention_cutoff: at(0),
            join_stories: false,
            listed: &listed,
            claimed: HashSet::new(),
        };
        let alone = decide_arrival(item.clone(), &poll, &[], |_| Ok::<_, ()>(verdict())).unwrap();
        let Action::New(new) = alone else {
            panic!("still new");
        };
        assert_eq!((new.story.as_str(), new.joined), (item.id.as_str(), None));
    }

    #[test]
    fn an_item_dated_in_the_future_is_dated_when_first_seen() {
        let item = Item {
            published: Some(at(12) + chrono::Duration::days(2)),
            ..episode("soon", "Tomorrow.")
        };
        let Action::New(new) = decided(item, &[], &[], &[], nothing_alike()) else {
            panic!("new");
        };
        assert!(new.written.dated.clamped);
        assert_eq!(new.written.item.published, Some(at(12)));
    }
}
