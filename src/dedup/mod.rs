//! One story, one item: identity within an outlet (a document that lists a story twice) and,
//! across outlets and re-publications, clustering by similarity.
//!
//! [`signature`] reduces an item to what is compared and to MinHash band keys, so that
//! candidates come from an index lookup in the [`Window`]; [`score`] compares two items in
//! features a person can check. The store keeps the clusters and every decision.

mod identity;
mod score;
mod signature;
mod window;

pub use identity::{identify_by_link, unreliable_guids};
pub use score::{features, score, Features};
pub use signature::{Signature, Sketch};
pub use window::{Candidate, Window};

use std::collections::HashSet;

use crate::model::Item;

/// Keeps the first of each set of items that share an id or a canonical link, in order.
/// O(1) per item: two hash-set probes.
pub fn within_document(items: Vec<Item>) -> Vec<Item> {
    let mut ids = HashSet::with_capacity(items.len());
    let mut urls = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| {
            let new_id = ids.insert(item.id.clone());
            let new_url = item.url.as_ref().is_none_or(|url| urls.insert(url.clone()));
            new_id && new_url
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, url: Option<&str>) -> Item {
        Item {
            url: url.map(str::to_owned),
            guid: Some(key.into()),
            ..Item::new("o", key)
        }
        .identified()
    }

    #[test]
    fn repeated_ids_and_links_keep_the_first() {
        let items = vec![
            item("a", Some("https://x.example/1")),
            item("a", Some("https://x.example/other")),
            item("b", Some("https://x.example/1")),
            item("c", None),
            item("d", None),
        ];
        let kept: Vec<_> = within_document(items)
            .into_iter()
            .map(|i| i.title)
            .collect();
        assert_eq!(kept, ["a", "c", "d"]);
    }
}
