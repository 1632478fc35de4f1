//! Feed documents → [`Item`]s, from whatever the wild sends.
//!
//! The bytes are decoded to UTF-8 (`encoding`); XML is mended where it is broken
//! (`repair`) and read by our reader over `quick-xml` (`xml`), JSON Feed is read
//! leniently (`json`). Each reader hands over its entries as `Entry` drafts, and
//! `normalize` turns every draft into the same clean item: plain-text title, sanitized HTML,
//! UTC dates, the publisher's link, a deterministic identity.

mod dates;
mod encoding;
mod json;
mod media;
mod nesting;
mod repair;
mod text;
mod xml;

pub use text::plain_text;

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use crate::model::link::{canonical_url, publisher_url, without_tracking_parameters};
use crate::model::{Enclosure, Item, ItemId};

/// One feed document, normalized.
#[derive(Debug)]
pub struct ParsedFeed {
    /// The entries, in document order.
    pub items: Vec<Item>,
    /// RSS `<ttl>`: how long the publisher asks readers to wait before polling again.
    pub ttl: Option<Duration>,
    /// What was wrong with the document and mended or guessed (a lying encoding, undeclared
    /// entities, truncation): empty for a well-formed document.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a readable feed: {0}")]
    Xml(String),
    #[error("not a readable feed: its root element is <{0}>, not <rss>, <rdf:RDF> or <feed>")]
    NotAFeed(String),
    #[error("not a readable feed: it holds no XML element")]
    NoElement,
    #[error("not a readable JSON Feed: {0}")]
    Json(String),
}

/// Parses one feed document fetched from `feed_url` (the base for relative links) with the
/// response's `content_type`, and normalizes its entries as items of `outlet`.
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    feed_url: Option<&Url>,
    outlet: &str,
) -> Result<ParsedFeed, ParseError> {
    let decoded = encoding::decode(bytes, content_type.and_then(charset));
    let mut notes = decoded.notes;
    let document = if decoded.text.trim_start().starts_with('{') {
        json::read(&decoded.text, &mut notes)?
    } else {
        xml::read(&decoded.text, feed_url, &mut notes)?
    };
    // Relative links resolve against the feed's own address, else the site it names.
    let base = feed_url.cloned().or(document.site);
    let items = document
        .entries
        .into_iter()
        .map(|entry| normalize(entry, base.as_ref(), outlet, &mut notes))
        .collect();
    Ok(ParsedFeed {
        items,
        ttl: document.ttl,
        notes,
    })
}

/// Drops `utm_*`, `fbclid`, `gclid` and the like from the items' links (`[polling]
/// strip_tracking_parameters`). Identity is untouched: it never counts them.
pub fn strip_tracking_parameters(items: &mut [Item]) {
    for item in items {
        if let Some(url) = &item.url {
            item.url = Some(without_tracking_parameters(url));
        }
    }
}

/// Finds the `charset` parameter of a `Content-Type`.
fn charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// A document as a format reader saw it.
struct Document {
    entries: Vec<Entry>,
    ttl: Option<Duration>,
    /// The site the feed belongs to (RSS channel `<link>`, JSON Feed `home_page_url`).
    site: Option<Url>,
}

/// One entry as its format gave it, before normalization.
#[derive(Default)]
struct Entry {
    /// The title as written: HTML in RSS and Atom `type="html"`, else text.
    title: Option<Body>,
    link: Option<String>,
    guid: Option<String>,
    /// The GUID may serve as the link (RSS `isPermaLink` is not `false`).
    guid_is_permalink: bool,
    summary: Option<Body>,
    content: Option<Body>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    authors: Vec<String>,
    categories: Vec<String>,
    /// The best image the format offers, before the fallback to the content's first `<img>`.
    image: Option<String>,
    enclosures: Vec<Enclosure>,
    /// The base for relative URLs in the content when the document sets one (`xml:base`).
    html_base: Option<Url>,
}

/// A summary or content, as HTML or as plain text.
struct Body {
    text: String,
    is_html: bool,
}

/// The most characters of a title kept: a headline is a line, and a title of megabytes would
/// be republished whole in every feed and on the page for every reader.
const MAX_TITLE_CHARS: usize = 300;

/// The most bytes of an entry's summary and of its content read, before they are sanitized: a
/// summary is a paragraph or two, and the longest articles are a few hundred kilobytes.
const MAX_SUMMARY_BYTES: usize = 64 * 1024;
const MAX_CONTENT_BYTES: usize = 512 * 1024;

/// Cuts `text` to at most `max` bytes, at a character's boundary. Cut HTML is mended by the
/// sanitizer like any other broken markup.
fn at_most(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let end = (0..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..end]
}

/// Cuts `title` to [`MAX_TITLE_CHARS`], with an ellipsis when it was cut.
fn capped_title(title: String) -> String {
    match title.char_indices().nth(MAX_TITLE_CHARS) {
        Some((cut, _)) => format!("{}…", title[..cut].trim_end()),
        None => title,
    }
}

/// Returns the entry's summary and content as sanitized HTML (plain text made HTML), each cut to
/// its cap, and the depth from which markup too deeply nested was kept as plain text, if any was.
fn html_bodies(
    entry: &Entry,
    html_base: Option<&Url>,
) -> (Option<String>, Option<String>, Option<usize>) {
    let mut flattened_from = None;
    let mut html = |body: &Body, max: usize| match body.is_html {
        true => {
            let sanitized = text::sanitize_html(at_most(&body.text, max), html_base);
            flattened_from = flattened_from.max(sanitized.flattened_from);
            sanitized.html
        }
        false => text::text_to_html(at_most(&body.text, max)),
    };
    let summary = entry
        .summary
        .as_ref()
        .and_then(|s| html(s, MAX_SUMMARY_BYTES));
    let content = entry
        .content
        .as_ref()
        .and_then(|c| html(c, MAX_CONTENT_BYTES));
    (summary, content, flattened_from)
}

/// Returns the title as plain text within its cap, or one made from `body` when there is none.
fn plain_title(title: Option<&Body>, body: Option<&str>) -> String {
    // A title is read from at most four bytes a character it keeps (and some markup).
    let text = title.map(|t| {
        let written = at_most(&t.text, 16 * MAX_TITLE_CHARS);
        match t.is_html {
            true => text::plain_text(written),
            false => text::collapse_whitespace(written),
        }
    });
    match text {
        Some(title) if !title.is_empty() => capped_title(title),
        _ => untitled(body),
    }
}

/// Turns `entry` into an item of `outlet`; what had to be cut from it is added to `notes`.
fn normalize(entry: Entry, base: Option<&Url>, outlet: &str, notes: &mut Vec<String>) -> Item {
    let permalink = || {
        let guid = entry.guid.as_deref().filter(|_| entry.guid_is_permalink)?;
        publisher_url(guid, None)
    };
    let url = entry
        .link
        .as_deref()
        .and_then(|link| publisher_url(link, base))
        .or_else(permalink);
    let html_base = entry
        .html_base
        .clone()
        .or_else(|| url.as_deref().and_then(|u| Url::parse(u).ok()));
    let html_base = html_base.as_ref().or(base);
    let (summary, content, flattened_from) = html_bodies(&entry, html_base);
    let title = plain_title(
        entry.title.as_ref(),
        summary.as_deref().or(content.as_deref()),
    );
    if let Some(depth) = flattened_from {
        notes.push(format!(
            "the HTML of {title:?} nests {depth} elements deep, past {}: kept as plain text",
            nesting::MAX_DEPTH
        ));
    }
    let image = entry
        .image
        .as_deref()
        .and_then(|raw| canonical_url(raw, html_base))
        .map(String::from)
        .or_else(|| media::first_img(content.as_deref().or(summary.as_deref())));
    let published = entry.published.or(entry.updated);
    let mut item = Item {
        id: ItemId::from(String::new()),
        outlet: outlet.to_owned(),
        title,
        url,
        summary,
        content,
        published,
        updated: entry.updated.filter(|updated| Some(*updated) != published),
        authors: people(&entry.authors),
        categories: unique(entry.categories.iter().map(String::as_str)),
        image,
        enclosures: resolved(entry.enclosures, html_base),
        guid: entry.guid,
    };
    item.id = ItemId::derive(outlet, &item.identity_key());
    item
}

/// Makes a title for an entry that has none (JSON Feed allows that): the start of its text.
fn untitled(html: Option<&str>) -> String {
    let text = html.map(text::plain_text).unwrap_or_default();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text,
    }
}

/// Lists the author names in `names`, one each: `dc:creator` and friends often hold several ("Jane
/// Doe and John Roe", "Dan Conifer And Jane Norman", "A & B"). A comma is left alone: "Doe, Jane"
/// is one.
fn people(names: &[String]) -> Vec<String> {
    let split = names.iter().flat_map(|name| {
        name.split(" and ")
            .flat_map(|n| n.split(" And "))
            .flat_map(|n| n.split(" & "))
    });
    unique(split)
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

/// Enclosures with absolute URLs, one per URL.
fn resolved(enclosures: Vec<Enclosure>, base: Option<&Url>) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    for mut enclosure in enclosures {
        let Some(url) = canonical_url(&enclosure.url, base) else {
            continue;
        };
        enclosure.url = url.into();
        if !out.iter().any(|e| e.url == enclosure.url) {
            out.push(enclosure);
        }
    }
    out
}

#[cfg(test)]
mod tests;
