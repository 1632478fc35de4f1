//! Atom 1.0 (RFC 4287): each entry names its outlet in `<source>`.

use std::sync::Arc;

use atom_syndication::{Category, Content, Entry, Feed, Link, Person, Source, Text};
use chrono::{DateTime, FixedOffset, Utc};

use super::{entry_id, Channel, Format};
use crate::store::StoredItem;

fn fixed(date: DateTime<Utc>) -> DateTime<FixedOffset> {
    date.fixed_offset()
}

fn link(href: String, rel: &str, mime_type: Option<&str>) -> Link {
    Link {
        href,
        rel: rel.into(),
        mime_type: mime_type.map(str::to_owned),
        ..Default::default()
    }
}

pub fn render(channel: &Channel<'_>, items: &[Arc<StoredItem>]) -> Vec<u8> {
    let self_url = channel.url_of(Format::Atom);
    let feed = Feed {
        title: Text::plain(channel.title.clone()),
        id: self_url.clone(),
        updated: fixed(Channel::updated(items)),
        // RFC 4287 wants an author on every entry; the feed-level one covers entries without.
        authors: vec![Person {
            name: channel.title.clone(),
            ..Default::default()
        }],
        links: [
            Some(link(self_url, "self", Some("application/atom+xml"))),
            Some(link(
                channel.base_url.to_string(),
                "alternate",
                Some("text/html"),
            )),
            channel.hub.map(|hub| link(hub.to_string(), "hub", None)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        generator: Some(atom_syndication::Generator {
            value: "tributary".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Default::default()
        }),
        entries: items.iter().map(|s| entry(channel, s)).collect(),
        ..Default::default()
    };
    feed.write_to(Vec::new())
        .expect("writing XML to memory cannot fail")
}

/// Builds the entry's links: its page, its enclosures, and the other outlets' copies of the story
/// ("also reported by") as related links.
fn entry_links(channel: &Channel<'_>, stored: &StoredItem) -> Vec<Link> {
    let item = &stored.item;
    let mut links: Vec<Link> = item
        .url
        .iter()
        .map(|url| link(url.clone(), "alternate", Some("text/html")))
        .collect();
    links.extend(item.enclosures.iter().map(|e| Link {
        length: e.length.map(|l| l.to_string()),
        ..link(e.url.clone(), "enclosure", e.mime_type.as_deref())
    }));
    // The other outlets' copies of the story: "also reported by".
    links.extend(stored.also.iter().filter_map(|also| {
        Some(Link {
            title: Some(format!(
                "{}: {}",
                channel.outlet_name(&also.outlet),
                also.title
            )),
            ..link(also.url.clone()?, "related", Some("text/html"))
        })
    }));
    links
}

fn entry(channel: &Channel<'_>, stored: &StoredItem) -> Entry {
    let item = &stored.item;
    let html = |value: &String| Text::html(value.clone());
    // An entry without a link to its page must carry its text (RFC 4287 §4.1.2).
    let body = item.content.as_ref().or(if item.url.is_none() {
        item.summary.as_ref()
    } else {
        None
    });
    Entry {
        title: Text::plain(item.title.clone()),
        id: entry_id(channel, stored),
        updated: fixed(item.updated.unwrap_or(stored.sort_at)),
        published: Some(fixed(stored.sort_at)),
        authors: item
            .authors
            .iter()
            .map(|name| Person {
                name: name.clone(),
                ..Default::default()
            })
            .collect(),
        categories: item
            .categories
            .iter()
            .map(|term| Category {
                term: term.clone(),
                ..Default::default()
            })
            .collect(),
        links: entry_links(channel, stored),
        summary: item.summary.as_ref().map(html),
        content: body.map(|value| Content {
            value: Some(value.clone()),
            content_type: Some("html".into()),
            ..Default::default()
        }),
        source: Some(Source {
            title: Text::plain(channel.outlet_name(&item.outlet)),
            id: stored.feed_url.clone(),
            updated: fixed(stored.modified_at),
            links: vec![link(stored.feed_url.clone(), "self", None)],
            ..Default::default()
        }),
        ..Default::default()
    }
}
