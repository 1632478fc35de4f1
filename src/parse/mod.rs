//! Feed documents → [`Item`]s: any of RSS 0.9x/1.0/2.0, Atom and JSON Feed, read by `feed-rs`
//! into one model and normalized here into what readers of the merged feed get.

mod canonical;
mod text;

pub use canonical::canonical_url;

use feed_rs::model::{Entry, MediaContent};
use url::Url;

use crate::model::{Enclosure, Item, ItemId};

#[derive(Debug, thiserror::Error)]
#[error("not a readable feed: {0}")]
pub struct ParseError(#[from] feed_rs::parser::ParseFeedError);

/// One feed document, normalized.
#[derive(Debug)]
pub struct ParsedFeed {
    /// The entries, in document order.
    pub items: Vec<Item>,
    /// RSS `<ttl>`: how long the publisher asks readers to wait before polling again.
    pub ttl: Option<std::time::Duration>,
}

/// Parses one feed document fetched from `feed_url` (the base for relative links) and
/// normalizes its entries as items of `outlet`.
pub fn parse_feed(
    bytes: &[u8],
    feed_url: Option<&Url>,
    outlet: &str,
) -> Result<ParsedFeed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(feed_url.map(Url::as_str))
        // An empty id marks "the feed gave none": feed-rs would otherwise invent one that is not
        // the feed's GUID, and identity falls back to the canonical link instead.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser.parse(bytes)?;
    Ok(ParsedFeed {
        ttl: feed
            .ttl
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
        items: feed
            .entries
            .into_iter()
            .map(|entry| normalize(entry, feed_url, outlet))
            .collect(),
    })
}

fn normalize(entry: Entry, feed_url: Option<&Url>, outlet: &str) -> Item {
    let url = entry_link(&entry).and_then(|href| canonical_url(href, feed_url));
    let base = url.as_ref().or(feed_url);
    let summary = entry.summary.as_ref().and_then(|t| {
        if t.content_type.essence().to_string() == "text/plain" {
            text::text_to_html(&t.content)
        } else {
            text::sanitize_html(&t.content, base)
        }
    });
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .and_then(|body| text::sanitize_html(body, base));
    let title = match entry.title.as_ref().map(|t| text::plain_text(&t.content)) {
        Some(title) if !title.is_empty() => title,
        _ => untitled(summary.as_deref().or(content.as_deref())),
    };
    let guid = Some(entry.id.trim())
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let media: Vec<&MediaContent> = entry.media.iter().flat_map(|m| &m.content).collect();
    let mut item = Item {
        id: ItemId::from(String::new()),
        outlet: outlet.to_owned(),
        title,
        url: url.map(String::from),
        summary,
        content,
        published: entry.published,
        // feed-rs copies an RSS pubDate into `updated`; only a distinct date is an update.
        updated: entry
            .updated
            .filter(|updated| Some(*updated) != entry.published),
        authors: unique(entry.authors.iter().filter_map(|p| p.name.as_deref())),
        categories: unique(
            entry
                .categories
                .iter()
                .map(|c| c.label.as_deref().unwrap_or(&c.term)),
        ),
        image: best_image(&entry, &media, feed_url),
        enclosures: enclosures(&entry, &media, feed_url),
        guid,
    };
    item.id = ItemId::derive(outlet, &item.identity_key());
    item
}

/// The entry's web page: the `alternate` link (Atom), else the first link (RSS `<link>`).
fn entry_link(entry: &Entry) -> Option<&str> {
    let alternate = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"));
    alternate.or(entry.links.first()).map(|l| l.href.as_str())
}

/// A title for an entry that has none (JSON Feed allows that): the start of its text.
fn untitled(html: Option<&str>) -> String {
    let text = html.map(text::plain_text).unwrap_or_default();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text,
    }
}

fn unique<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values.map(text::plain_text) {
        if !value.is_empty() && !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

fn is_image(media: &MediaContent) -> bool {
    media
        .content_type
        .as_ref()
        .is_some_and(|t| t.ty() == "image")
}

/// The largest image the feed offers for the entry (Media RSS renditions, an image
/// enclosure), else its thumbnail.
fn best_image(entry: &Entry, media: &[&MediaContent], base: Option<&Url>) -> Option<String> {
    let largest = media
        .iter()
        .filter(|m| is_image(m) || m.width.is_some())
        .max_by_key(|m| m.width.unwrap_or(0) as u64 * m.height.unwrap_or(0) as u64)
        .and_then(|m| m.url.as_ref())
        .map(Url::as_str);
    let thumbnail = || {
        entry
            .media
            .iter()
            .flat_map(|m| &m.thumbnails)
            .map(|t| t.image.uri.as_str())
            .next()
    };
    largest
        .or_else(thumbnail)
        .and_then(|raw| canonical_url(raw, base))
        .map(String::from)
}

/// Attached files: RSS `<enclosure>`s and Media RSS content that is not an image rendition
/// (feed-rs reads both into one media model), and Atom `rel="enclosure"` links.
fn enclosures(entry: &Entry, media: &[&MediaContent], base: Option<&Url>) -> Vec<Enclosure> {
    let from_media = media
        .iter()
        .filter(|m| !is_image(m) || m.size.is_some())
        .filter_map(|m| {
            Some(Enclosure {
                url: canonical_url(m.url.as_ref()?.as_str(), base)?.into(),
                mime_type: m.content_type.as_ref().map(ToString::to_string),
                length: m.size,
            })
        });
    let from_links = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .filter_map(|l| {
            Some(Enclosure {
                url: canonical_url(&l.href, base)?.into(),
                mime_type: l.media_type.clone(),
                length: l.length,
            })
        });
    let mut out: Vec<Enclosure> = Vec::new();
    for enclosure in from_media.chain(from_links) {
        if !out.iter().any(|e| e.url == enclosure.url) {
            out.push(enclosure);
        }
    }
    out
}

#[cfg(test)]
mod tests;
