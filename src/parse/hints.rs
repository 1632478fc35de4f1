//! What `feed-rs` reads but does not keep, gathered in one pass of `quick-xml` over the mended
//! text when the document has any of it: which Media RSS rendition is the default, which GUIDs
//! are not permalinks, and per item its RSS `pubDate` (which must win over `dc:date`, whatever
//! their order), its `itunes:author`, its first `media:thumbnail` (dropped by `feed-rs` when the
//! item has no other Media RSS element), and the `xml:base` in scope of its content.

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use url::Url;

#[derive(Default)]
pub struct Hints {
    /// URLs of `media:content` marked `isDefault="true"`.
    pub default_images: HashSet<String>,
    /// GUIDs marked `isPermaLink="false"`.
    pub not_permalinks: HashSet<String>,
    /// One per item or entry, in document order (the order `feed-rs` keeps).
    pub items: Vec<ItemHints>,
}

#[derive(Default)]
pub struct ItemHints {
    pub pub_date: Option<String>,
    pub itunes_author: Option<String>,
    pub thumbnail: Option<String>,
    /// The `xml:base` in scope of the item's content (else its summary), resolved.
    pub content_base: Option<Url>,
}

/// The text element whose text is wanted next.
#[derive(Clone, Copy, PartialEq)]
enum Capture {
    PubDate,
    ItunesAuthor,
    PlainGuid,
}

impl Hints {
    pub fn scan(text: &str) -> Self {
        let mut hints = Hints::default();
        let worth_it = [
            "isDefault",
            "isPermaLink",
            "xml:base",
            "itunes:author",
            "thumbnail",
        ]
        .iter()
        .any(|needle| text.contains(needle))
            || (text.contains("<pubDate") && text.contains(":date>"));
        if !worth_it {
            return hints;
        }
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = false;
        // The xml:base in scope at each open element.
        let mut bases: Vec<Option<Url>> = Vec::new();
        // The depth of the item being read, if one is.
        let mut item_depth: Option<usize> = None;
        // What the open element's text is wanted for, and the text so far (text, CDATA and
        // references arrive as separate events).
        let mut capture: Option<(Capture, String)> = None;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    let base = scoped_base(&e, bases.last().cloned().flatten());
                    if is_item(&e) {
                        item_depth = Some(bases.len());
                    }
                    let wanted = hints.open(&e, base.as_ref(), item_depth.is_some());
                    capture = wanted.map(|c| (c, String::new()));
                    bases.push(base);
                }
                Ok(Event::Empty(e)) => {
                    let base = scoped_base(&e, bases.last().cloned().flatten());
                    hints.open(&e, base.as_ref(), item_depth.is_some());
                }
                Ok(Event::Text(t)) => append(&mut capture, &t.into_inner()),
                Ok(Event::CData(t)) => append(&mut capture, &t.into_inner()),
                Ok(Event::GeneralRef(r)) => {
                    let reference = format!("&{};", r.into_inner());
                    append(&mut capture, &html_escape::decode_html_entities(&reference));
                }
                Ok(Event::End(_)) => {
                    bases.pop();
                    if let Some((wanted, text)) = capture.take() {
                        hints.take(wanted, text.trim());
                    }
                    if item_depth == Some(bases.len()) {
                        item_depth = None;
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => {}
            }
        }
        hints
    }

    /// Notes what an element says in its attributes; returns what its text is wanted for
    /// (only inside an item: a channel's `pubDate` is no item's).
    fn open(&mut self, e: &BytesStart<'_>, base: Option<&Url>, in_item: bool) -> Option<Capture> {
        let name = e.name().into_inner();
        if is_item(e) {
            self.items.push(ItemHints::default());
            return None;
        }
        if !in_item {
            return None;
        }
        match e.local_name().into_inner() {
            "content" if name.starts_with("media:") => {
                let is_default = attribute(e, "isDefault").as_deref() == Some("true");
                if let Some(url) = attribute(e, "url").filter(|_| is_default) {
                    self.default_images.insert(url);
                }
            }
            "thumbnail" if name.starts_with("media:") => {
                if let Some(item) = self.items.last_mut() {
                    if item.thumbnail.is_none() {
                        item.thumbnail = attribute(e, "url");
                    }
                }
            }
            "content" | "encoded" | "summary" | "description" => {
                let is_content = name != "summary" && name != "description";
                if let Some(item) = self.items.last_mut() {
                    if is_content || item.content_base.is_none() {
                        item.content_base = base.cloned();
                    }
                }
            }
            "guid" if attribute(e, "isPermaLink").as_deref() == Some("false") => {
                return Some(Capture::PlainGuid)
            }
            "pubDate" => return Some(Capture::PubDate),
            "author" if name == "itunes:author" => return Some(Capture::ItunesAuthor),
            _ => {}
        }
        None
    }

    fn take(&mut self, capture: Capture, text: &str) {
        let text = text.to_owned();
        match (capture, self.items.last_mut()) {
            (Capture::PlainGuid, _) => {
                self.not_permalinks.insert(text);
            }
            (Capture::PubDate, Some(item)) => item.pub_date = Some(text),
            (Capture::ItunesAuthor, Some(item)) => item.itunes_author = Some(text),
            _ => {}
        }
    }
}

fn is_item(e: &BytesStart<'_>) -> bool {
    matches!(e.local_name().into_inner(), "item" | "entry")
}

fn append(capture: &mut Option<(Capture, String)>, text: &str) {
    if let Some((_, so_far)) = capture {
        so_far.push_str(text);
    }
}

/// The base in scope of `e`: its own `xml:base` resolved against its parent's, else the
/// parent's.
fn scoped_base(e: &BytesStart<'_>, parent: Option<Url>) -> Option<Url> {
    match attribute(e, "xml:base") {
        Some(own) => match &parent {
            Some(parent) => parent.join(&own).ok(),
            None => Url::parse(&own).ok(),
        },
        None => parent,
    }
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.into_inner() == name || a.key.local_name().into_inner() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_feed_rs_drops_is_gathered_per_item() {
        let text = r#"<rss xmlns:itunes="x" xmlns:dc="y" xmlns:media="z"><channel xml:base="https://b.example/news/">
            <item><dc:date>2018-02-12T23:42:14Z</dc:date><pubDate>Mon, 16 Oct 2017 15:10:00 GMT</pubDate>
              <guid isPermaLink="false">urn:1</guid><itunes:author>Pod Host</itunes:author>
              <media:content url="https://i.example/d.jpg" isDefault="true"/>
              <description xml:base="2017/">text</description></item>
            <item><guid>https://b.example/2</guid></item>
        </channel></rss>"#;
        let hints = Hints::scan(text);
        assert_eq!(hints.items.len(), 2);
        let first = &hints.items[0];
        assert_eq!(
            first.pub_date.as_deref(),
            Some("Mon, 16 Oct 2017 15:10:00 GMT")
        );
        assert_eq!(first.itunes_author.as_deref(), Some("Pod Host"));
        assert_eq!(
            first.content_base.as_ref().unwrap().as_str(),
            "https://b.example/news/2017/"
        );
        assert!(hints.not_permalinks.contains("urn:1"));
        assert!(!hints.not_permalinks.contains("https://b.example/2"));
        assert!(hints.default_images.contains("https://i.example/d.jpg"));
        let entities = Hints::scan(
            "<rss><channel><item><itunes:author>Tom &#38; Jerry</itunes:author>\
             <guid isPermaLink=\"false\">https://x.example/?a=1&amp;b=2</guid></item>\
             <pubDate>Mon, 16 Oct 2017 15:10:00 GMT</pubDate></channel></rss>",
        );
        assert_eq!(
            entities.items[0].itunes_author.as_deref(),
            Some("Tom & Jerry")
        );
        assert!(entities
            .not_permalinks
            .contains("https://x.example/?a=1&b=2"));
        assert_eq!(
            entities.items[0].pub_date, None,
            "a channel date is no item's"
        );
        let thumbnail = Hints::scan(
            r#"<rss><item><media:thumbnail url="https://i.example/t.jpg"/></item></rss>"#,
        );
        assert_eq!(
            thumbnail.items[0].thumbnail.as_deref(),
            Some("https://i.example/t.jpg")
        );
    }
}
