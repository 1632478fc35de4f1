//! One story, one item: identity within an outlet (every entry a document lists kept once, and
//! found again in the next poll however its feed spells it) and, across outlets and
//! re-publications, clustering by similarity.
//!
//! `identity` tells what identifies a document's items; `arrival` decides what becomes of each
//! item as it is stored (unchanged, updated, re-published, new, joining a story, too old);
//! `signature` reduces an item to what is compared; the [`Window`] indexes the recent items
//! under their terms and knows how rare each term is, so that candidates come from the
//! incoming item's rarest terms; `score` measures two items in features a person can check
//! and weighs them with a fitted logistic [`Model`]; `decide` picks the same story and the
//! related coverage. The store records what is decided.

mod arrival;
mod decide;
mod identity;
mod score;
mod signature;
mod window;

pub use arrival::{
    decide_arrival, Action, Alias, FoundBy, New, Poll, StoredCopy, Update, Verdict, Written,
};
pub use decide::{Decision, Incoming, Match, Policy};
pub use identity::{guids_changed, identify_by_link, unreliable_guids};
pub use score::{measure, Features, Model, INPUTS, INPUT_NAMES};
pub use signature::{Signature, Sketch};
pub use window::{Candidate, Rarity, Window};

use std::collections::{HashMap, HashSet};

use crate::model::{Item, ItemId};

/// Returns a document's items as they are stored: identified by link when the feed's GUIDs are
/// unreliable (`by_link`: known from earlier polls; otherwise judged from this document, the
/// reason returned), entries that share an id but not their gist told apart, and each entry
/// once (see [`within_document`]).
pub fn identify(mut items: Vec<Item>, by_link: bool) -> (Vec<Item>, Option<&'static str>) {
    let unreliable = if by_link {
        None
    } else {
        unreliable_guids(&items)
    };
    if by_link || unreliable.is_some() {
        identify_by_link(&mut items);
    }
    (within_document(items), unreliable)
}

/// Keeps each entry of a document once: of entries that share an id, or that share a canonical
/// link, the first stands for those whose gist is the same (see [`Item::gist`]) — the same
/// article listed twice, or re-headlined — and those that say something else are entries of
/// their own: a podcast's episodes that all link the show's page, two posts given one GUID
/// (each told apart by its date: see `tell_apart`). O(1) per item, hash-map probes, and a sort
/// of each set of entries that share an id but not their gist.
pub fn within_document(mut items: Vec<Item>) -> Vec<Item> {
    tell_apart(&mut items);
    let keys: Vec<(Option<String>, String)> = items
        .iter()
        .map(|item| (item.canonical_url(), item.gist()))
        .collect();
    let mut ids = HashSet::with_capacity(items.len());
    let mut said = HashSet::with_capacity(items.len());
    let keep: Vec<bool> = items
        .iter()
        .zip(&keys)
        .map(|(item, (link, gist))| {
            let new_id = ids.insert(&item.id);
            let new_gist = link
                .as_deref()
                .is_none_or(|link| said.insert((link, gist.as_str())));
            new_id && new_gist
        })
        .collect();
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect()
}

/// Gives an id of its own to each entry that shares its id (its GUID, or its link) with
/// entries of the document that say something else. Of those, the earliest dated keeps the id,
/// whatever the order the feed lists them in, so that a newer entry never takes an older one's
/// stored item; each other is told apart by its date, else by its date and title, else by its
/// gist, and entries that say the same keep one id between them.
fn tell_apart(items: &mut [Item]) {
    let mut sharing: HashMap<&ItemId, Vec<usize>> = HashMap::with_capacity(items.len());
    for (place, item) in items.iter().enumerate() {
        sharing.entry(&item.id).or_default().push(place);
    }
    let groups: Vec<Vec<usize>> = sharing.into_values().filter(|p| p.len() > 1).collect();
    for places in groups {
        let mut by_gist: Vec<(String, Vec<usize>)> = Vec::new();
        let mut gists: HashMap<String, usize> = HashMap::with_capacity(places.len());
        for place in places {
            let gist = items[place].gist();
            match gists.get(&gist) {
                Some(&same) => by_gist[same].1.push(place),
                None => {
                    gists.insert(gist.clone(), by_gist.len());
                    by_gist.push((gist, vec![place]));
                }
            }
        }
        by_gist.sort_by_cached_key(|(gist, places)| {
            let item = &items[places[0]];
            let date = item.published.or(item.updated);
            (date.is_none(), date, item.title.clone(), gist.clone())
        });
        let mut taken = HashSet::new();
        for (gist, places) in by_gist.iter().skip(1) {
            let id = apart_id(&items[places[0]], gist, &mut taken);
            for &place in places {
                items[place].id = id.clone();
            }
        }
    }
}

/// Derives an id for `item` beside the one it shares, not yet in `taken`: from its date, else
/// its date and title, else its date, title and gist.
fn apart_id(item: &Item, gist: &str, taken: &mut HashSet<ItemId>) -> ItemId {
    let date = item
        .published
        .or(item.updated)
        .map_or(String::new(), |d| d.timestamp().to_string());
    let suffixes = [
        date.clone(),
        format!("{date}|{}", item.title),
        format!("{date}|{}|{gist}", item.title),
    ];
    let mut id = item.id.clone();
    for suffix in suffixes {
        id = ItemId::derive(&item.outlet, &format!("{}|{suffix}", item.id));
        if taken.insert(id.clone()) {
            break;
        }
    }
    id
}

#[cfg(test)]
mod tests;
