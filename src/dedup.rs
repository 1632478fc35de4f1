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
pub use identity::{guids_changed, identify_anchors, identify_by_link, unreliable_guids};
pub use score::{measure, Features, Model, INPUTS, INPUT_NAMES};
pub use signature::{Signature, Sketch};
pub use window::{Candidate, Rarity, Window};

use std::collections::{HashMap, HashSet};

use crate::model::{Item, ItemId};

/// Returns a document's items as they are stored: identified by link when the feed's GUIDs are
/// unreliable (`by_link`: known from earlier polls; otherwise judged from this document, the
/// reason returned), and each item once.
pub fn identify(mut items: Vec<Item>, by_link: bool) -> (Vec<Item>, Option<&'static str>) {
    let unreliable = if by_link {
        None
    } else {
        unreliable_guids(&items)
    };
    let all_by_link = by_link || unreliable.is_some();
    if all_by_link {
        identify_by_link(&mut items);
    }
    identify_anchors(&mut items, all_by_link);
    (within_document(items), unreliable)
}

/// Keeps each entry of a document once: of entries that share an id, or that share a canonical
/// link, the first stands for those that say the same (see [`Item::text`]) — the same article
/// listed twice, or re-headlined — and those that say something else are entries of their own:
/// a podcast's episodes that all link the show's page, two posts given one GUID. O(1) per item:
/// hash-map probes.
pub fn within_document(mut items: Vec<Item>) -> Vec<Item> {
    for place in reused_ids(&items) {
        items[place] = items[place].clone().identified_apart();
    }
    let links: Vec<Option<String>> = items.iter().map(Item::canonical_url).collect();
    let mut ids = HashSet::with_capacity(items.len());
    let mut said = HashSet::with_capacity(items.len());
    let keep: Vec<bool> = items
        .iter()
        .zip(&links)
        .map(|(item, link)| {
            let new_id = ids.insert(&item.id);
            let new_text = link
                .as_deref()
                .is_none_or(|link| said.insert((link, item.text())));
            new_id && new_text
        })
        .collect();
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect()
}

/// Finds the places of the entries whose id an earlier entry has, saying something else.
fn reused_ids(items: &[Item]) -> Vec<usize> {
    let mut first: HashMap<&ItemId, &str> = HashMap::with_capacity(items.len());
    let mut reused = Vec::new();
    for (place, item) in items.iter().enumerate() {
        let text = *first.entry(&item.id).or_insert(item.text());
        if text != item.text() {
            reused.push(place);
        }
    }
    reused
}

#[cfg(test)]
mod tests;
