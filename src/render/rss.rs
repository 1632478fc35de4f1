//! RSS 2.0, with `dc:creator` for authors (RSS `author` must be an e-mail address),
//! `content:encoded` for full text and `atom:link rel="self"` as the RSS Advisory Board asks.

use std::borrow::Cow;
use std::sync::Arc;

use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::syndication::{self, SyndicationExtension, UpdatePeriod};

use super::{entry_id, Channel, Format};
use crate::store::StoredItem;

pub fn render(channel: &Channel<'_>, items: &[Arc<StoredItem>]) -> Vec<u8> {
    let self_link = atom_syndication::Link {
        href: channel.url_of(Format::Rss),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
    let mut atom_links = vec![self_link];
    if let Some(hub) = channel.hub {
        atom_links.push(atom_syndication::Link {
            href: hub.to_string(),
            rel: "hub".into(),
            ..Default::default()
        });
    }
    let rss_channel = rss::Channel {
        title: channel.title.clone(),
        link: channel.base_url.to_string(),
        description: format!("{}: news from several outlets, merged", channel.title),
        last_build_date: items.first().map(|_| Channel::updated(items).to_rfc2822()),
        generator: Some(format!("tributary {}", env!("CARGO_PKG_VERSION"))),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        atom_ext: Some(AtomExtension { links: atom_links }),
        ttl: channel
            .update_every
            .map(|every| every.as_secs().div_ceil(60).max(1).to_string()),
        syndication_ext: channel.update_every.map(update_period),
        namespaces: channel
            .update_every
            .map(|_| ("sy".to_owned(), syndication::NAMESPACE.to_owned()))
            .into_iter()
            .collect(),
        items: items.iter().map(|s| item(channel, s)).collect(),
        ..Default::default()
    };
    let xml = rss_channel
        .write_to(Vec::new())
        .expect("writing XML to memory cannot fail");
    with_stylesheet(xml, &channel.stylesheet_url())
}

/// Builds `sy:updatePeriod` and `sy:updateFrequency`: how many times per hour (or day) the feed can
/// change, rounded down so that a reader never polls more often than the outlets are.
fn update_period(every: std::time::Duration) -> SyndicationExtension {
    let secs = every.as_secs().max(1);
    let (period, frequency) = match secs {
        s if s <= 3600 => (UpdatePeriod::Hourly, 3600 / s),
        s if s <= 86_400 => (UpdatePeriod::Daily, 86_400 / s),
        _ => (UpdatePeriod::Weekly, 1),
    };
    SyndicationExtension {
        period,
        frequency: u32::try_from(frequency).unwrap_or(u32::MAX),
        ..Default::default()
    }
}

/// Links the XSLT stylesheet right after the XML declaration.
fn with_stylesheet(xml: Vec<u8>, href: &str) -> Vec<u8> {
    let declaration_end = xml
        .windows(2)
        .position(|w| w == b"?>")
        .filter(|_| xml.starts_with(b"<?xml"))
        .map_or(0, |i| i + 2);
    let instruction = format!(
        "\n<?xml-stylesheet type=\"text/xsl\" href=\"{}\"?>",
        html_escape::encode_double_quoted_attribute(href)
    );
    let mut out = Vec::with_capacity(xml.len() + instruction.len());
    out.extend_from_slice(&xml[..declaration_end]);
    out.extend_from_slice(instruction.as_bytes());
    out.extend_from_slice(&xml[declaration_end..]);
    out
}

fn item(channel: &Channel<'_>, stored: &StoredItem) -> rss::Item {
    let item = &stored.item;
    rss::Item {
        title: Some(inert(&item.title).into_owned()),
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

/// Ends the description with a line that links the other outlets' copies of the story.
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

/// Renders a title as plain text that no reader can take for markup. RSS leaves unsaid whether a
/// title is text or HTML, and a reader that renders it as HTML would run a headline that reads
/// `<script>`. A `<` that would open a tag (before a letter, `/`, `!` or `?`) is followed by an
/// invisible word joiner (U+2060), after which HTML sees no tag; the title reads the same. Atom
/// says its titles are text, and JSON Feed's are text by definition: they are left alone.
pub(super) fn inert(title: &str) -> Cow<'_, str> {
    let opens_tag = |next: u8| next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?');
    let bytes = title.as_bytes();
    if !bytes.windows(2).any(|w| w[0] == b'<' && opens_tag(w[1])) {
        return Cow::Borrowed(title);
    }
    let mut out = String::with_capacity(title.len() + 8);
    for (i, c) in title.char_indices() {
        out.push(c);
        if c == '<' && bytes.get(i + 1).copied().is_some_and(opens_tag) {
            out.push('\u{2060}');
        }
    }
    Cow::Owned(out)
}
