//! RSS 0.9x/1.0/2.0 and Atom 0.3/1.0, read by `feed-rs` from mended text (see [`repair`]),
//! completed with what it drops (see [`hints`]).

use feed_rs::model::{Entry as FeedEntry, Feed, FeedType};
use url::Url;

use super::hints::{Hints, ItemHints};
use super::{dates, media, repair, Body, Document, Entry, ParseError};

pub(super) fn read(
    text: &str,
    feed_url: Option<&Url>,
    notes: &mut Vec<String>,
) -> Result<Document, ParseError> {
    let repaired = repair::repair(text);
    notes.extend(repaired.notes.iter().map(|n| n.to_string()));
    let feed = match parse(&repaired.text, feed_url) {
        Ok(feed) => feed,
        Err(error) => {
            let closed = repair::close_truncated(&repaired.text).ok_or(error)?;
            let feed = parse(&closed, feed_url)?;
            notes.push("the document ends mid-way; read up to its last complete item".into());
            feed
        }
    };
    let hints = Hints::scan(&repaired.text);
    let site = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .and_then(|l| Url::parse(&l.href).ok());
    let rss = !matches!(feed.feed_type, FeedType::Atom);
    // Atom's feed-level author is every entry's that names none.
    let feed_authors: Vec<String> = match rss {
        true => Vec::new(),
        false => feed.authors.iter().filter_map(person).collect(),
    };
    let no_hints = ItemHints::default();
    let entries = feed.entries.into_iter().enumerate().map(|(i, e)| {
        let item_hints = hints.items.get(i).unwrap_or(&no_hints);
        let mut entry = entry(e, &hints, item_hints, rss);
        if entry.authors.is_empty() {
            entry.authors = feed_authors.clone();
        }
        entry
    });
    Ok(Document {
        ttl: feed
            .ttl
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
        entries: entries.collect(),
        site,
    })
}

/// Parses with `feed-rs`. Its XML layer panics on a declaration it meets mid-stream (one left
/// inside a section that was never closed); that is caught and the text read again with every
/// declaration neutralized.
fn parse(text: &str, feed_url: Option<&Url>) -> Result<Feed, feed_rs::parser::ParseFeedError> {
    let attempt = |text: &str| std::panic::catch_unwind(|| parse_unguarded(text, feed_url));
    match attempt(text) {
        Ok(result) => result,
        Err(_) => match attempt(&repair::without_any_declaration(text)) {
            Ok(result) => result,
            Err(_) => Err(feed_rs::parser::ParseFeedError::ParseError(
                feed_rs::parser::ParseErrorKind::NoFeedRoot,
            )),
        },
    }
}

fn parse_unguarded(
    text: &str,
    feed_url: Option<&Url>,
) -> Result<Feed, feed_rs::parser::ParseFeedError> {
    feed_rs::parser::Builder::new()
        .base_uri(feed_url.map(Url::as_str))
        // An empty id marks "the feed gave none": feed-rs would otherwise invent one that is not
        // the feed's GUID, and identity falls back to the canonical link instead.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(dates::parse_date)
        // Sanitizing is ours (ammonia, with our rules); feed-rs's own pass would only cost time.
        .sanitize_content(false)
        .build()
        .parse(text.as_bytes())
}

/// One entry; `rss` because only an RSS GUID can be a permalink (an Atom id never is).
fn entry(entry: FeedEntry, hints: &Hints, item: &ItemHints, rss: bool) -> Entry {
    let guid = Some(entry.id.trim())
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let guid_is_permalink = rss
        && guid
            .as_ref()
            .is_some_and(|g| !hints.not_permalinks.contains(g));
    let mut authors: Vec<String> = entry.authors.iter().filter_map(person).collect();
    if authors.is_empty() {
        authors.extend(item.itunes_author.clone());
    }
    let body = |text: &feed_rs::model::Text| Body {
        is_html: text.content_type.essence().to_string() != "text/plain",
        text: text.content.clone(),
    };
    Entry {
        title: entry.title.as_ref().map(|t| t.content.clone()),
        link: link(&entry),
        guid,
        guid_is_permalink,
        summary: entry.summary.as_ref().map(body),
        content: entry.content.as_ref().and_then(|c| {
            Some(Body {
                text: c.body.clone()?,
                is_html: c.content_type.essence().to_string() != "text/plain",
            })
        }),
        // feed-rs keeps whichever of pubDate and dc:date came last; pubDate is the RSS date.
        published: item
            .pub_date
            .as_deref()
            .and_then(dates::parse_date)
            .or(entry.published),
        // feed-rs copies an RSS pubDate into `updated`; normalization keeps only a distinct one.
        updated: entry.updated,
        authors,
        categories: entry
            .categories
            .iter()
            .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
            .collect(),
        image: media::best_image(&entry, &hints.default_images).or_else(|| item.thumbnail.clone()),
        enclosures: media::enclosures(&entry),
        html_base: item.content_base.clone(),
    }
}

/// A person's name, else their address: RSS `<author>` is often "jane@example.com (Jane Doe)",
/// which feed-rs splits leaving the parentheses.
fn person(person: &feed_rs::model::Person) -> Option<String> {
    let name = person.name.as_deref().map(|n| {
        let n = n.trim();
        match n.strip_prefix('(').and_then(|n| n.strip_suffix(')')) {
            Some(inner) => inner.trim(),
            None => n,
        }
    });
    name.filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| person.email.clone())
}

/// The entry's web page: the `alternate` link (Atom), else the first link that is not an
/// enclosure, comments or a feed (RSS `<link>`).
fn link(entry: &FeedEntry) -> Option<String> {
    let alternate = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("alternate"));
    let plain = || {
        entry
            .links
            .iter()
            .find(|l| l.rel.is_none() && l.target.is_none())
    };
    alternate.or_else(plain).map(|l| l.href.clone())
}
