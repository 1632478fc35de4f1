//! Identity that survives bad feeds. Some feeds give every item the same GUID, put the
//! headline in the GUID (so a corrected headline is a new item), or change every GUID on every
//! fetch; trusting them would merge distinct stories or repeat the same one. Such a feed's
//! items are identified by their canonical link instead (then by title and date); whether a
//! poll found most of its GUIDs changed is [`guids_changed`].

use std::collections::HashSet;

use crate::model::{Item, ItemId};

/// Tells why a document's GUIDs cannot identify its items, if they cannot.
pub fn unreliable_guids(items: &[Item]) -> Option<&'static str> {
    let guids: Vec<&str> = items.iter().filter_map(|i| i.guid.as_deref()).collect();
    if guids.len() >= 2 && guids.iter().collect::<HashSet<_>>().len() == 1 {
        return Some("every item has the same GUID");
    }
    // A permalink spells the headline as its slug, which is no fault: only GUIDs that are not
    // links count.
    let with_headline = items
        .iter()
        .filter(|i| {
            i.guid.as_deref().is_some_and(|g| {
                let is_link = g.starts_with("http://") || g.starts_with("https://");
                !is_link && i.url.as_deref() != Some(g) && embeds(g, &i.title)
            })
        })
        .count();
    if with_headline >= 3 && with_headline * 2 >= items.len() {
        return Some("the GUIDs embed the headlines");
    }
    None
}

/// Tells whether a feed's GUIDs changed since its last poll: most of the `listed` items were
/// found again only by their link, under a new GUID and saying the same (`relinked`).
pub fn guids_changed(relinked: usize, listed: usize) -> bool {
    relinked >= 3 && relinked * 2 >= listed
}

/// Tells whether `guid` carries `title` (spelled as words or as a slug): alphanumerics compared.
fn embeds(guid: &str, title: &str) -> bool {
    let letters = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let title = letters(title);
    title.chars().count() >= 12 && letters(guid).contains(&title)
}

/// Gives `items` ids from their links (then title and date), for a feed whose GUIDs are
/// unreliable.
pub fn identify_by_link(items: &mut [Item]) {
    for item in items {
        item.id = ItemId::derive(&item.outlet, &item.link_identity_key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize, guid: &str, title: &str) -> Item {
        Item {
            url: Some(format!("https://o.example/{n}")),
            guid: Some(guid.into()),
            ..Item::new("o", title)
        }
        .identified()
    }

    #[test]
    fn one_guid_for_all_or_headlines_in_guids_are_unreliable() {
        let same = [
            item(1, "g", "First story here"),
            item(2, "g", "Second story here"),
        ];
        assert_eq!(
            unreliable_guids(&same),
            Some("every item has the same GUID")
        );
        let headlines: Vec<Item> = (0..4)
            .map(|n| {
                let title = format!("Council approves new bike lanes number {n}");
                item(n, &format!("site-{}-2026", title.replace(' ', "-")), &title)
            })
            .collect();
        assert_eq!(
            unreliable_guids(&headlines),
            Some("the GUIDs embed the headlines")
        );
        let fine: Vec<Item> = (0..4)
            .map(|n| item(n, &format!("urn:{n}"), "A story"))
            .collect();
        assert_eq!(unreliable_guids(&fine), None);
        let permalinks: Vec<Item> = (0..4)
            .map(|n| {
                let title = format!("Council approves new bike lanes number {n}");
                let slug = title.to_lowercase().replace(' ', "-");
                item(n, &format!("https://news.example/{slug}-2026"), &title)
            })
            .collect();
        assert_eq!(
            unreliable_guids(&permalinks),
            None,
            "slugs in permalinks are fine"
        );
    }

    #[test]
    fn anchors_on_one_page_are_told_apart_by_their_fragment() {
        let post = |link: &str| {
            Item {
                url: Some(link.into()),
                ..Item::new("o", link)
            }
            .identified()
        };
        let day = "http://scripting.com/2017/06/26.html";
        let (first, second) = (
            post(&format!("{day}#a080605")),
            post(&format!("{day}#a030658")),
        );
        assert_ne!(first.id, second.id);
        assert_eq!(first.id, ItemId::derive("o", &format!("url:{day}#a080605")));
        assert_eq!(first.canonical_url(), second.canonical_url(), "one page");
    }

    #[test]
    fn items_identified_by_link_stay_apart_and_stable() {
        let mut items = [
            item(1, "g", "First story here"),
            item(2, "g", "Second story here"),
        ];
        assert_eq!(items[0].id, items[1].id);
        identify_by_link(&mut items);
        assert_ne!(items[0].id, items[1].id);
        assert_eq!(items[0].id, ItemId::derive("o", "url:https://o.example/1"));
    }
}
