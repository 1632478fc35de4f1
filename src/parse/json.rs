//! JSON Feed 1.0 and 1.1, read leniently: real feeds miss an attachment's `mime_type`, give a
//! numeric `id` or an unknown version string, hold raw control characters or end cut off, and a
//! strict reader refuses them all.

use serde_json::{Map, Value};
use url::Url;

use super::{dates, Body, Document, Entry, ParseError};
use crate::model::Enclosure;

pub(super) fn read(text: &str, notes: &mut Vec<String>) -> Result<Document, ParseError> {
    let root: Value = match serde_json::from_str(text) {
        Ok(root) => root,
        Err(error) => mended(text, notes).ok_or_else(|| ParseError::Json(error.to_string()))?,
    };
    let feed = root
        .as_object()
        .ok_or_else(|| ParseError::Json("the document is not a JSON object".into()))?;
    let version = string(feed, "version").unwrap_or_default();
    if !version.starts_with("https://jsonfeed.org/version/") {
        notes.push(format!(
            "unrecognised JSON Feed version {version:?}; read as 1.1"
        ));
    }
    let items = feed
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| ParseError::Json("there is no \"items\" array".into()))?;
    let feed_authors = authors(feed);
    Ok(Document {
        entries: items
            .iter()
            .filter_map(Value::as_object)
            .map(|item| entry(item, &feed_authors))
            .collect(),
        ttl: None,
        site: string(feed, "home_page_url").and_then(|u| Url::parse(&u).ok()),
    })
}

fn entry(item: &Map<String, Value>, feed_authors: &[String]) -> Entry {
    let html = string(item, "content_html").map(|text| Body {
        text,
        is_html: true,
    });
    let plain = string(item, "content_text").map(|text| Body {
        text,
        is_html: false,
    });
    let date = |key| string(item, key).and_then(|d| dates::parse_date(&d));
    let own_authors = authors(item);
    let tags = item.get("tags").and_then(Value::as_array);
    Entry {
        // Plain text by the specification, but read as HTML as feeds in the wild write it.
        title: string(item, "title").map(|text| Body {
            text,
            is_html: true,
        }),
        link: string(item, "url").or_else(|| string(item, "external_url")),
        // JSON Feed ids are opaque: never a link, even when they look like one.
        guid: scalar(item.get("id")),
        guid_is_permalink: false,
        summary: string(item, "summary").map(|text| Body {
            text,
            is_html: false,
        }),
        content: html.or(plain),
        published: date("date_published"),
        updated: date("date_modified"),
        authors: if own_authors.is_empty() {
            feed_authors.to_vec()
        } else {
            own_authors
        },
        categories: tags
            .into_iter()
            .flatten()
            .filter_map(|t| scalar(Some(t)))
            .collect(),
        image: string(item, "image").or_else(|| string(item, "banner_image")),
        enclosures: item
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .filter_map(|a| {
                Some(Enclosure {
                    url: string(a, "url")?,
                    mime_type: string(a, "mime_type"),
                    length: a.get("size_in_bytes").and_then(Value::as_u64),
                })
            })
            .collect(),
        html_base: None,
    }
}

/// Collects the names in `authors` (1.1) or `author` (1.0).
fn authors(object: &Map<String, Value>) -> Vec<String> {
    let many = object
        .get("authors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let one = object.get("author").into_iter();
    many.chain(one)
        .filter_map(|a| a.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

fn string(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Reads a string or number as text (ids and tags are sometimes numbers).
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses the document with what serde refuses mended: control characters that stand raw inside
/// strings are escaped, and a document cut off mid-way is closed after its last complete
/// item (an object directly inside an array of the root object).
fn mended(text: &str, notes: &mut Vec<String>) -> Option<Value> {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped, mut controls) = (false, false, false);
    let mut open: Vec<char> = Vec::new();
    let mut last_item_end: Option<(usize, Vec<char>)> = None;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            c if in_string && c < ' ' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
                controls = true;
                continue;
            }
            _ if in_string => {}
            '{' => open.push('}'),
            '[' => open.push(']'),
            '}' | ']' => {
                open.pop();
                if c == '}' && open.len() == 2 && open[1] == ']' {
                    last_item_end = Some((out.len() + 1, open.clone()));
                }
            }
            _ => {}
        }
        out.push(c);
    }
    if controls {
        notes.push("raw control characters in strings were escaped".into());
    }
    if let Ok(root) = serde_json::from_str(&out) {
        return Some(root);
    }
    let (cut, still_open) = last_item_end?;
    out.truncate(cut);
    out.extend(still_open.iter().rev());
    notes.push("the document ends mid-way; read up to its last complete item".into());
    serde_json::from_str(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_feed_1_0_with_its_quirks_is_read() {
        let text = "{\"version\":\"1.0\",\"title\":\"t\",\"home_page_url\":\"https://j.example/\",\
            \"author\":{\"name\":\"Feed Author\"},\"items\":[{\"id\":42,\"url\":\"/a\",\
            \"title\":\"A\u{1}B\",\"image\":\"https://j.example/a.png\",\
            \"attachments\":[{\"url\":\"https://j.example/a.mp3\"}],\"tags\":[\"x\",7]}]}";
        let mut notes = Vec::new();
        let document = read(text, &mut notes).unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(document.site.unwrap().as_str(), "https://j.example/");
        let entry = &document.entries[0];
        assert_eq!(entry.guid.as_deref(), Some("42"));
        assert_eq!(
            entry.title.as_ref().map(|t| t.text.as_str()),
            Some("A\u{1}B")
        );
        assert_eq!(entry.authors, ["Feed Author"]);
        assert_eq!(entry.image.as_deref(), Some("https://j.example/a.png"));
        assert_eq!(entry.enclosures[0].mime_type, None);
        assert_eq!(entry.categories, ["x", "7"]);
    }

    #[test]
    fn a_cut_off_document_keeps_its_complete_items() {
        let text = r#"{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","title":"[a]"},{"id":"2","title":"b"},{"id":"3","ti"#;
        let mut notes = Vec::new();
        let document = read(text, &mut notes).unwrap();
        assert_eq!(document.entries.len(), 2);
        assert_eq!(
            document.entries[0].title.as_ref().map(|t| t.text.as_str()),
            Some("[a]")
        );
        assert_eq!(
            notes,
            ["the document ends mid-way; read up to its last complete item"]
        );
    }

    #[test]
    fn what_is_not_a_json_feed_says_why() {
        let mut notes = Vec::new();
        let error = read("{\"title\": \"no items\"}", &mut notes).err().unwrap();
        assert!(error.to_string().contains("no \"items\" array"), "{error}");
        assert!(read("{", &mut notes).is_err());
    }
}
