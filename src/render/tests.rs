use super::*;
use crate::model::{Enclosure, Item, ItemId};
use chrono::TimeZone;

const TRICKY: &str = "Q&A: <b>\"quotes\"</b> 'apostrophes' ✓ 📰 and עברית right-to-left";

fn stored(n: u32, title: &str) -> Arc<StoredItem> {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, n, 0, 0).unwrap();
    let item = Item {
        id: ItemId::derive("abc", &n.to_string()),
        outlet: "abc".into(),
        title: title.into(),
        url: Some(format!("https://www.abc.net.au/news/{n}")),
        summary: Some(format!("<p>{}</p>", html_escape::encode_text(title))),
        content: None,
        published: Some(at),
        updated: None,
        authors: vec!["Jane Citizen".into()],
        categories: vec!["Politics".into()],
        image: Some("https://www.abc.net.au/news/image/1.jpg".into()),
        enclosures: vec![Enclosure {
            url: "https://www.abc.net.au/a.mp3".into(),
            mime_type: Some("audio/mpeg".into()),
            length: Some(42),
        }],
        guid: Some(n.to_string()),
    };
    Arc::new(StoredItem {
        story: item.id.clone(),
        also: Vec::new(),
        related: Vec::new(),
        item,
        feed_url: "https://www.abc.net.au/news/feed/51120/rss.xml".into(),
        sort_at: at,
        first_seen: at,
        modified_at: at,
    })
}

/// Builds a merged feed's channel titled `title` at `path` below `base`.
fn channel<'a>(
    title: &str,
    path: &str,
    base: &'a Url,
    names: &'a HashMap<String, String>,
) -> Channel<'a> {
    Channel {
        title: title.into(),
        base_url: base,
        path: path.into(),
        outlet_names: names,
        merged: true,
        update_every: None,
        hub: None,
    }
}

fn render_all(items: &[Arc<StoredItem>]) -> Vec<(Format, feed_rs::model::Feed)> {
    let base = Url::parse("https://news.example/").unwrap();
    let names = HashMap::from([("abc".to_owned(), "ABC News".to_owned())]);
    let channel = channel("Tributary", "", &base, &names);
    Format::ALL
        .into_iter()
        .map(|format| {
            let bytes = render(format, &channel, items);
            let parsed = feed_rs::parser::parse(&bytes[..])
                .unwrap_or_else(|e| panic!("{format:?} output does not parse: {e}"));
            (format, parsed)
        })
        .collect()
}

#[test]
fn rss_titles_hold_no_tag_a_reader_could_run() {
    let inert = rss::inert("<script>alert(1)</script> 1 <2 & <!-- x --> <?php");
    assert_eq!(
        inert,
        "<\u{2060}script>alert(1)<\u{2060}/script> 1 <2 & <\u{2060}!-- x --> <\u{2060}?php"
    );
    assert!(matches!(
        rss::inert("No tags, 1 < 2"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn every_format_round_trips_titles_links_and_order() {
    let items = vec![stored(3, TRICKY), stored(2, "Second"), stored(1, "Third")];
    for (format, feed) in render_all(&items) {
        let titles: Vec<_> = feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect();
        let tricky = match format {
            Format::Rss => rss::inert(TRICKY),
            _ => TRICKY.into(),
        };
        assert_eq!(titles, [&*tricky, "Second", "Third"], "{format:?}");
        let first = &feed.entries[0];
        assert_eq!(
            first.id,
            format!("urn:tributary:item:{}", items[0].item.id),
            "{format:?}"
        );
        assert_eq!(
            first.links[0].href, "https://www.abc.net.au/news/3",
            "{format:?}"
        );
        assert_eq!(first.published, items[0].item.published, "{format:?}");
        assert_eq!(
            first.authors[0].name.as_deref(),
            Some("Jane Citizen"),
            "{format:?}"
        );
        let summary = first
            .summary
            .as_ref()
            .map(|s| s.content.clone())
            .unwrap_or_default();
        let body = first
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .unwrap_or_default();
        assert!(
            summary.contains("✓ 📰") || body.contains("✓ 📰"),
            "{format:?} lost the summary: {summary:?} {body:?}"
        );
    }
}

#[test]
fn the_same_items_render_to_the_same_bytes() {
    let base = Url::parse("https://news.example/").unwrap();
    let names = HashMap::new();
    let channel = channel("T", "outlets/abc/", &base, &names);
    let items = vec![stored(1, "One")];
    for format in Format::ALL {
        assert_eq!(
            render(format, &channel, &items),
            render(format, &channel, &items)
        );
    }
    let rss = String::from_utf8(render(Format::Rss, &channel, &items)).unwrap();
    assert!(
        rss.contains(r#"href="https://news.example/outlets/abc/feed.xml""#),
        "{rss}"
    );
    assert!(
        rss.contains(
            r#"<source url="https://www.abc.net.au/news/feed/51120/rss.xml">abc</source>"#
        ),
        "{rss}"
    );
}

#[test]
fn an_empty_feed_is_still_valid() {
    for (format, feed) in render_all(&[]) {
        assert!(feed.entries.is_empty(), "{format:?}");
        assert_eq!(feed.title.unwrap().content, "Tributary", "{format:?}");
    }
}

#[test]
fn json_feed_carries_the_outlet_and_attachments() {
    let base = Url::parse("https://news.example/").unwrap();
    let names = HashMap::from([("abc".to_owned(), "ABC News".to_owned())]);
    let channel = channel("T", "", &base, &names);
    let json: serde_json::Value =
        serde_json::from_slice(&render(Format::Json, &channel, &[stored(1, "One")])).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["feed_url"], "https://news.example/feed.json");
    let item = &json["items"][0];
    assert_eq!(item["_tributary"]["outlet"], "abc");
    assert_eq!(item["_tributary"]["outlet_name"], "ABC News");
    assert_eq!(item["attachments"][0]["size_in_bytes"], 42);
    assert_eq!(item["date_published"], "2026-11-20T01:00:00Z");
}

#[test]
fn the_stylesheet_route_is_its_path() {
    assert_eq!(STYLESHEET_ROUTE, format!("/{STYLESHEET_PATH}"));
}
