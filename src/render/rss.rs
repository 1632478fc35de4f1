//! RSS 2.0, with `dc:creator` for authors (RSS `author` must be an e-mail address),
//! `content:encoded` for full text and `atom:link rel="self"` as the RSS Advisory Board asks.

use std::sync::Arc;

use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;

use super::{entry_id, Channel, Format};
use crate::store::StoredItem;

pub fn render(channel: &Channel<'_>, items: &[Arc<StoredItem>]) -> Vec<u8> {
    let self_link = atom_syndication::Link {
        href: channel.url_of(Format::Rss),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
    let rss_channel = rss::Channel {
        title: channel.title.clone(),
        link: channel.base_url.to_string(),
        description: format!("{}: news from several outlets, merged", channel.title),
        last_build_date: items.first().map(|_| Channel::updated(items).to_rfc2822()),
        generator: Some(format!("tributary {}", env!("CARGO_PKG_VERSION"))),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        atom_ext: Some(AtomExtension {
            links: vec![self_link],
        }),
        items: items.iter().map(|s| item(channel, s)).collect(),
        ..Default::default()
    };
    rss_channel
        .write_to(Vec::new())
        .expect("writing XML to memory cannot fail")
}

fn item(channel: &Channel<'_>, stored: &StoredItem) -> rss::Item {
    let item = &stored.item;
    rss::Item {
        title: Some(item.title.clone()),
        link: item.url.clone(),
        description: with_also(
            channel,
            stored,
            item.summary.as_ref().or(item.content.as_ref()),
        ),
        content: item.content.clone(),
        guid: Some(rss::Guid {
            value: entry_id(channel, stored),
            permalink: false,
        }),
        pub_date: Some(stored.sort_at.to_rfc2822()),
        categories: item
            .categories
            .iter()
            .map(|name| rss::Category {
                name: name.clone(),
                domain: None,
            })
            .collect(),
        // RSS allows one enclosure per item; the JSON Feed and Atom renderings carry them all.
        enclosure: item.enclosures.first().map(|e| rss::Enclosure {
            url: e.url.clone(),
            length: e.length.unwrap_or(0).to_string(),
            mime_type: e
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
        }),
        source: Some(rss::Source {
            url: stored.feed_url.clone(),
            title: Some(channel.outlet_name(&item.outlet).to_owned()),
        }),
        dublin_core_ext: (!item.authors.is_empty()).then(|| DublinCoreExtension {
            creators: item.authors.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The description, ending with a line that links the other outlets' copies of the story.
fn with_also(
    channel: &Channel<'_>,
    stored: &StoredItem,
    description: Option<&String>,
) -> Option<String> {
    let links: Vec<String> = stored
        .also
        .iter()
        .map(|also| {
            let name = html_escape::encode_text(channel.outlet_name(&also.outlet)).into_owned();
            match &also.url {
                Some(url) => format!(
                    "<a href=\"{}\">{name}</a>",
                    html_escape::encode_double_quoted_attribute(url)
                ),
                None => name,
            }
        })
        .collect();
    if links.is_empty() {
        return description.cloned();
    }
    let line = format!("<p>Also reported by: {}</p>", links.join(", "));
    Some(match description {
        Some(description) => format!("{description}\n{line}"),
        None => line,
    })
}
