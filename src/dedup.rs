//! One story, one item: identity within an outlet (a document that lists a story twice) and,
//! across outlets and re-publications, clustering by similarity.
//!
//! `signature` reduces an item to what is compared; the [`Window`] indexes the recent items
//! under their terms and knows how rare each term is, so that candidates come from the
//! incoming item's rarest terms; `score` measures two items in features a person can check
//! and weighs them with a fitted logistic [`Model`]; `decide` picks the same story and the
//! related coverage. The store records what is decided.

mod decide;
mod identity;
mod score;
mod signature;
mod window;

pub use decide::{Decision, Incoming, Match, Policy};
pub use identity::{identify_by_link, unreliable_guids};
pub use score::{measure, Features, Model, INPUTS, INPUT_NAMES};
pub use signature::{Signature, Sketch};
pub use window::{Candidate, Rarity, Window};

use std::collections::HashSet;

use crate::model::Item;

/// Returns a document's items as they are stored: identified by link when the feed's GUIDs are
/// unreliable (`by_link`: known from earlier polls; otherwise judged from this document, the
/// reason returned), and each item once.
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

/// Keeps the first of each set of items that share an id or a canonical link, in order.
/// O(1) per item: two hash-set probes.
pub fn within_document(items: Vec<Item>) -> Vec<Item> {
    let mut ids = HashSet::with_capacity(items.len());
    let mut urls = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| {
            let new_id = ids.insert(item.id.clone());
            let new_url = item.canonical_url().is_none_or(|url| urls.insert(url));
            new_id && new_url
        })
        .collect()
}

#[cfg(test)]
mod tests;
