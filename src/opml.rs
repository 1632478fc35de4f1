//! OPML 2.0 (<http://opml.org/spec2.opml>), the format feed readers import and export
//! subscription lists in: `GET /opml` writes tributary's feeds as one, and
//! `tributary import-opml` reads another reader's list.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer, XmlVersion};

/// One subscription in a list read from OPML.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// `xmlUrl`, as written.
    pub url: String,
    /// `title`, else `text`; empty when the outline has neither.
    pub title: String,
}

/// An outline to write: a feed (with `xml_url`), or a group of `children`.
pub struct Outline {
    pub text: String,
    /// The feed's address; `None` for a group.
    pub xml_url: Option<String>,
    pub html_url: Option<String>,
    pub children: Vec<Outline>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not well-formed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("not OPML: the root element is <{0}>, not <opml>")]
    NotOpml(String),
}

/// Writes an OPML 2.0 document titled `title` with `outlines` as its body.
pub fn write(title: &str, outlines: &[Outline]) -> Vec<u8> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to memory cannot fail: the results are ignored.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
    let _ = writer.write_event(Event::Start(
        BytesStart::new("opml").with_attributes([("version", "2.0")]),
    ));
    let _ = writer.write_event(Event::Start(BytesStart::new("head")));
    for (name, value) in [("title", title), ("docs", "http://opml.org/spec2.opml")] {
        let _ = writer.write_event(Event::Start(BytesStart::new(name)));
        let _ = writer.write_event(Event::Text(BytesText::new(value)));
        let _ = writer.write_event(Event::End(BytesEnd::new(name)));
    }
    let _ = writer.write_event(Event::End(BytesEnd::new("head")));
    let _ = writer.write_event(Event::Start(BytesStart::new("body")));
    for outline in outlines {
        write_outline(&mut writer, outline);
    }
    let _ = writer.write_event(Event::End(BytesEnd::new("body")));
    let _ = writer.write_event(Event::End(BytesEnd::new("opml")));
    writer.into_inner()
}

fn write_outline(writer: &mut Writer<Vec<u8>>, outline: &Outline) {
    let mut element = BytesStart::new("outline");
    element.push_attribute(("text", outline.text.as_str()));
    if let Some(url) = &outline.xml_url {
        element.push_attribute(("title", outline.text.as_str()));
        element.push_attribute(("type", "rss"));
        element.push_attribute(("xmlUrl", url.as_str()));
    }
    if let Some(url) = &outline.html_url {
        element.push_attribute(("htmlUrl", url.as_str()));
    }
    if outline.children.is_empty() {
        let _ = writer.write_event(Event::Empty(element));
        return;
    }
    let _ = writer.write_event(Event::Start(element));
    for child in &outline.children {
        write_outline(writer, child);
    }
    let _ = writer.write_event(Event::End(BytesEnd::new("outline")));
}

/// Reads every outline with an `xmlUrl`, at any depth, in document order.
pub fn read(bytes: &[u8]) -> Result<Vec<Subscription>, OpmlError> {
    let mut reader = Reader::from_reader(bytes);
    let mut subscriptions = Vec::new();
    let mut root_seen = false;
    let mut buffer = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| OpmlError::Xml {
                position: reader.error_position(),
                message: e.to_string(),
            })?;
        match event {
            Event::Start(element) | Event::Empty(element) => {
                let name = element.local_name().as_ref().to_owned();
                if !root_seen {
                    root_seen = true;
                    if !name.eq_ignore_ascii_case("opml") {
                        return Err(OpmlError::NotOpml(name));
                    }
                }
                if name == "outline" {
                    subscriptions.extend(subscription(&element));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !root_seen {
        return Err(OpmlError::NotOpml(String::new()));
    }
    Ok(subscriptions)
}

fn subscription(element: &BytesStart<'_>) -> Option<Subscription> {
    let attribute = |wanted: &str| {
        element.attributes().flatten().find_map(|a| {
            let key = a.key.local_name().as_ref().to_owned();
            key.eq_ignore_ascii_case(wanted)
                .then(|| {
                    a.normalized_value(XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.trim().to_owned())
                })
                .flatten()
        })
    };
    let url = attribute("xmlUrl").filter(|u| !u.is_empty())?;
    let title = attribute("title")
        .filter(|t| !t.is_empty())
        .or_else(|| attribute("text"))
        .unwrap_or_default();
    Some(Subscription { url, title })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let outlines = [Outline {
            text: "ABC & co \"news\"".into(),
            xml_url: None,
            html_url: None,
            children: vec![Outline {
                text: "Top <stories>".into(),
                xml_url: Some("https://abc.example/rss?a=1&b=2".into()),
                html_url: Some("https://abc.example/".into()),
                children: vec![],
            }],
        }];
        let bytes = write("Tributary", &outlines);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "{text}"
        );
        assert_eq!(
            read(&bytes).unwrap(),
            [Subscription {
                url: "https://abc.example/rss?a=1&b=2".into(),
                title: "Top <stories>".into()
            }]
        );
    }

    #[test]
    fn readers_lists_of_every_shape_are_read() {
        let opml = br#"<?xml version="1.0"?>
<opml version="1.0"><head><title>Mine</title></head><body>
  <outline text="News">
    <outline text="Only text" xmlUrl="https://a.example/feed" />
    <outline title="Title wins" text="t" xmlURL="https://b.example/rss"/>
  </outline>
  <outline text="A folder with no feed"/>
  <outline type="rss" xmlUrl="  https://c.example/atom  "/>
</body></opml>"#;
        let read = read(opml).unwrap();
        let urls: Vec<_> = read
            .iter()
            .map(|s| (s.url.as_str(), s.title.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                ("https://a.example/feed", "Only text"),
                ("https://b.example/rss", "Title wins"),
                ("https://c.example/atom", "")
            ]
        );
        assert!(matches!(read_err(b"<rss/>"), OpmlError::NotOpml(name) if name == "rss"));
        assert!(matches!(
            read_err(b"<opml><body><outline></body>"),
            OpmlError::Xml { .. }
        ));
    }

    fn read_err(bytes: &[u8]) -> OpmlError {
        read(bytes).unwrap_err()
    }
}
