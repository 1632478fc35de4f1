use super::*;

const ABC_TOP: &[u8] =
    include_bytes!("../../tests/fixtures/abc/abc-topstories-2017-07-11T0706.xml");

fn feed_url() -> Url {
    Url::parse("https://www.abc.net.au/news/feed/45910/rss.xml").unwrap()
}

#[test]
fn abc_items_are_normalized() {
    let items = parse_feed(ABC_TOP, None, Some(&feed_url()), "abc")
        .unwrap()
        .items;
    assert_eq!(items.len(), 19);
    let first = &items[0];
    assert_eq!(
        first.title,
        "Afghan Files expose deadly secrets of Australia's special forces"
    );
    let link = "http://www.abc.net.au/news/2017-07-11/killings-of-unarmed-afghans-by-australian-special-forces/8466642";
    assert_eq!(first.url.as_deref(), Some(link));
    assert_eq!(first.guid.as_deref(), Some(link));
    assert_eq!(first.outlet, "abc");
    assert!(first
        .summary
        .as_deref()
        .unwrap()
        .starts_with("<p>Secret defence force documents"));
    assert_eq!(
        first.published.unwrap().to_rfc3339(),
        "2017-07-10T20:02:46+00:00"
    );
    assert_eq!(first.categories[0], "Defence Industry");
    assert_eq!(
        first.authors,
        ["Dan Oakes", "Sam Clark"],
        "dc:creator is split"
    );
    assert_eq!(
        first.image.as_deref(),
        Some("http://www.abc.net.au/news/image/8522110-3x2-940x627.jpg"),
        "the rendition marked isDefault"
    );
    assert!(
        first.enclosures.is_empty(),
        "image renditions are not enclosures"
    );
    assert_eq!(first.id, ItemId::derive("abc", &format!("guid:{link}")));
}

#[test]
fn without_a_guid_the_canonical_link_and_its_fragment_are_the_identity() {
    let rss = br#"<rss version="2.0"><channel><title>t</title>
        <item><title>A</title><link>/news/a?utm_source=rss#top</link></item>
        <item><title>B</title><description>no link</description><pubDate>Tue, 11 Jul 2017 06:32:35 +1000</pubDate></item>
        </channel></rss>"#;
    let items = parse_feed(rss, None, Some(&feed_url()), "abc")
        .unwrap()
        .items;
    assert_eq!(items[0].guid, None);
    assert_eq!(
        items[0].url.as_deref(),
        Some("https://www.abc.net.au/news/a?utm_source=rss#top"),
        "the publisher's link, as written"
    );
    assert_eq!(
        items[0].canonical_url().as_deref(),
        Some("https://www.abc.net.au/news/a")
    );
    assert_eq!(
        items[0].id,
        ItemId::derive("abc", "url:https://www.abc.net.au/news/a#top")
    );
    assert_eq!(items[1].url, None);
    assert_eq!(items[1].identity_key(), "title:B|1499718755");
    let again = parse_feed(rss, None, Some(&feed_url()), "abc")
        .unwrap()
        .items;
    assert_eq!(items, again, "parsing is deterministic");
}

#[test]
fn atom_text_and_enclosures_are_read() {
    let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
        <updated>2026-01-02T03:04:05Z</updated>
        <entry><id>urn:e1</id><title type="html">&lt;i&gt;Rates&lt;/i&gt; rise</title>
          <updated>2026-01-02T03:04:05Z</updated>
          <link rel="alternate" href="https://n.example/e1"/>
          <link rel="enclosure" type="audio/mpeg" length="1234" href="https://n.example/e1.mp3"/>
          <summary type="text">Prices &lt; wages</summary>
          <author><name>Jane Doe</name></author>
        </entry></feed>"#;
    let items = parse_feed(atom, None, None, "n").unwrap().items;
    let item = &items[0];
    assert_eq!(item.title, "Rates rise");
    assert_eq!(item.guid.as_deref(), Some("urn:e1"));
    assert_eq!(item.summary.as_deref(), Some("Prices &lt; wages"));
    assert_eq!(item.authors, ["Jane Doe"]);
    assert_eq!(
        item.enclosures,
        [Enclosure {
            url: "https://n.example/e1.mp3".into(),
            mime_type: Some("audio/mpeg".into()),
            length: Some(1234)
        }]
    );
}

#[test]
fn json_feed_without_titles_gets_one_from_its_text() {
    let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
        {"id":"1","url":"https://j.example/1","content_html":"<p>A short note about the weather in Hobart today.</p>"}]}"#;
    let items = parse_feed(json, None, None, "j").unwrap().items;
    assert_eq!(
        items[0].title,
        "A short note about the weather in Hobart today."
    );
    assert_eq!(
        items[0].content.as_deref(),
        Some("<p>A short note about the weather in Hobart today.</p>")
    );
}

#[test]
fn what_is_not_a_feed_is_an_error() {
    for doc in [
        &b""[..],
        b"<html><body>Not here</body></html>",
        b"\x00\x01garbage",
    ] {
        assert!(
            parse_feed(doc, None, None, "x").is_err(),
            "{:?}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn rss_ttl_is_read_in_minutes() {
    let rss = b"<rss version=\"2.0\"><channel><title>t</title><ttl>15</ttl>\
        <item><title>a</title><link>https://x.example/a</link></item></channel></rss>";
    let parsed = parse_feed(rss, None, None, "x").unwrap();
    assert_eq!(parsed.ttl, Some(std::time::Duration::from_secs(900)));
    assert_eq!(parsed.items.len(), 1);
}

#[test]
fn an_external_entity_is_never_fetched_or_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "the secret").unwrap();
    let rss = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY leak SYSTEM \"file://{}\">]>\n\
         <rss version=\"2.0\"><channel><title>t</title>\
         <item><title>A &leak; B</title><link>https://x.example/a</link></item></channel></rss>",
        secret.display()
    );
    let parsed = parse_feed(rss.as_bytes(), None, None, "x").unwrap();
    assert_eq!(parsed.items[0].title, "A &leak; B");
    assert!(
        parsed.notes.iter().any(|n| n.contains("DTD")),
        "{:?}",
        parsed.notes
    );
}

#[test]
fn the_http_charset_is_honoured_and_mended_documents_say_so() {
    let latin1 = b"<rss version=\"2.0\"><channel><title>t</title>\
        <item><title>Caf\xe9 &amp; bar &hellip; R&D</title><link>https://x.example/a</link></item></channel></rss>";
    let parsed = parse_feed(
        latin1,
        Some("application/rss+xml; charset=ISO-8859-1"),
        None,
        "x",
    )
    .unwrap();
    assert_eq!(parsed.items[0].title, "Café & bar … R&D");
    assert_eq!(parsed.notes.len(), 2, "{:?}", parsed.notes);
}

#[test]
fn a_cut_off_document_keeps_its_complete_items() {
    let whole = std::str::from_utf8(ABC_TOP).unwrap();
    let cut = &whole[..whole.len() / 2];
    let parsed = parse_feed(cut.as_bytes(), None, Some(&feed_url()), "abc").unwrap();
    assert!(
        parsed.items.len() >= 5 && parsed.items.len() < 19,
        "{}",
        parsed.items.len()
    );
    assert!(parsed.notes.iter().any(|n| n.contains("ends mid-way")));
}

/// Inputs that the fuzz target (`fuzz/`) once crashed on; each must now parse or fail cleanly.
#[test]
fn what_the_fuzzer_found_stays_fixed() {
    let misplaced_declaration =
        include_bytes!("../../tests/fixtures/fuzz/misplaced-declaration.xml");
    let parsed = parse_feed(misplaced_declaration, None, None, "x").unwrap();
    assert!(!parsed.items.is_empty());
    assert!(parsed
        .notes
        .iter()
        .any(|n| n.contains("misplaced XML declaration")));
}

#[test]
fn titles_summaries_and_contents_are_capped() {
    let title = "Storm ".repeat(200_000);
    let summary = "<p>rain</p>".repeat(100_000);
    let content = "é".repeat(1_000_000);
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><title>{title}</title>\
         <link>https://x.example/1</link><description><![CDATA[{summary}]]></description>\
         <content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">{content}</content:encoded>\
         </item></channel></rss>"
    );
    let items = parse_feed(feed.as_bytes(), None, None, "x").unwrap().items;
    let item = &items[0];
    let kept = item.title.chars().count();
    assert!(
        (MAX_TITLE_CHARS - 5..=MAX_TITLE_CHARS + 1).contains(&kept),
        "{kept}"
    );
    assert!(item.title.starts_with("Storm Storm") && item.title.ends_with('…'));
    let summary = item.summary.as_deref().unwrap();
    assert!(summary.len() <= MAX_SUMMARY_BYTES + 64, "{}", summary.len());
    assert!(summary.starts_with("<p>rain</p>"));
    let content = item.content.as_deref().unwrap();
    assert!(content.len() <= MAX_CONTENT_BYTES + 64, "{}", content.len());
    assert!(
        content.ends_with('é') || content.ends_with("</p>"),
        "cut at a character"
    );
}

#[test]
fn xhtml_keeps_its_markup_and_empty_elements_stay_empty() {
    let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>tag:x,2026:1</id>
        <title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>bold</b> move</div></title>
        <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">one<br/>two &amp; three</div></content>
        </entry></feed>"#;
    let items = parse_feed(atom, None, Some(&feed_url()), "abc")
        .unwrap()
        .items;
    assert_eq!(items[0].title, "A bold move");
    assert_eq!(
        items[0].content.as_deref(),
        Some("<div>one<br>two &amp; three</div>")
    );
    assert_eq!(items[0].url, None, "a tag: id is no link");
}

#[test]
fn one_odd_entry_costs_only_itself_and_a_broken_tail_only_the_tail() {
    let rss = br#"<rss xmlns="http://backend.userland.com/rss2"><channel>
        <item><title>First</title><link>https://a.example/1</link></item>
        <item><title type="application/octet-stream">???</title><dc:title>Second</dc:title><link>https://a.example/2</link></item>
        <item><title>Third</title><link>https://a.example/3</link></item>
        <item><title>Fourth</title><link>https://a.example/4</li"#;
    let parsed = parse_feed(rss, None, Some(&feed_url()), "abc").unwrap();
    let titles: Vec<&str> = parsed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["First", "???", "Third"]);
    assert_eq!(
        parsed.notes,
        ["the document ends mid-way; read up to its last complete item"]
    );
}

#[test]
fn an_entry_cut_off_after_its_title_link_and_guid_is_kept() {
    let cut = br#"<rss><channel>
        <item><title>Ferry timetable changes</title><link>https://a.example/ferry</link>
        <guid isPermaLink="false">ferry-1</guid><description>Services to the north sh"#;
    let parsed = parse_feed(cut, None, Some(&feed_url()), "abc").unwrap();
    let titles: Vec<&str> = parsed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Ferry timetable changes"]);
    assert_eq!(parsed.items[0].summary, None, "what was cut is not kept");
    assert_eq!(
        parsed.notes,
        ["the document ends mid-way; read up to its last item, kept cut off with its title and link"]
    );
    // Its GUID unread, beside entries that have one: the next poll would not know it again.
    let before_its_guid = br#"<rss><channel>
        <item><title>First</title><link>https://a.example/1</link><guid>g1</guid></item>
        <item><title>Second</title><link>https://a.example/2</link><descr"#;
    let parsed = parse_feed(before_its_guid, None, Some(&feed_url()), "abc").unwrap();
    assert_eq!(parsed.items.len(), 1);
    // Cut in its only entry, before a GUID that may yet come: nothing says it has none.
    let first_cut = br#"<rss><channel>
        <item><title>First</title><link>https://a.example/1</link><descr"#;
    let parsed = parse_feed(first_cut, None, Some(&feed_url()), "abc").unwrap();
    assert!(parsed.items.is_empty());
}
