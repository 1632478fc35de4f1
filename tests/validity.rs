//! The published feeds checked against the specifications, not against themselves: Atom against
//! RFC 4287's RELAX NG schema (xmllint) and the rules the schema leaves out, JSON Feed against a
//! JSON Schema written from the 1.1 spec, RSS against the RSS 2.0 spec's rules. And text that
//! XML and JSON must escape — `<`, `&`, quotes, emoji, right-to-left scripts — comes back out of
//! every format exactly as it went in.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::*;
use serde_json::Value;

const SCHEMAS: &str = "tests/fixtures/schemas";

/// Titles and summaries that every format must carry exactly.
const TRICKY: [(&str, &str); 4] = [
    (
        "Tom & Jerry: \"3 < 5\" isn't 'news' ✓ 📰",
        "<p>Fish &amp; chips &lt;script&gt;alert(1)&lt;/script&gt; \"quoted\" 🐟</p>",
    ),
    (
        "ירושלים: כותרת מימין לשמאל & more",
        "<p>טקסט בעברית עם <b>הדגשה</b> ו-English</p>",
    ),
    (
        "مرحبا بالعالم — العربية",
        "<p>Arabic قراءة من اليمين إلى اليسار</p>",
    ),
    (
        "Emoji 👩🏽‍🚀 and CJK 東京 and ]]> CDATA's end",
        "<p>]]&gt; ends a CDATA section; &lt;![CDATA[ starts one</p>",
    ),
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn tricky_feed() -> Vec<u8> {
    let items: String = TRICKY
        .iter()
        .enumerate()
        .map(|(n, (title, summary))| {
            format!(
                "<item><title>{}</title><link>https://tricky.example/{n}</link><guid>tricky-{n}</guid>\
                 <description>{}</description><pubDate>Tue, 11 Jul 2017 0{n}:00:00 +0000</pubDate></item>",
                escape(title),
                escape(summary)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>T</title>\
         <link>https://tricky.example/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

/// Starts a daemon with ABC's Just In (250 items), News.com.au, the tricky feed and a view.
async fn daemon() -> (FixtureServer, Daemon, tempfile::TempDir) {
    let server = FixtureServer::start().await;
    server.serve("/justin.xml", Doc::feed(ABC_JUSTIN, "j"));
    server.serve("/n.xml", Doc::feed(NEWS_NATIONAL, "n"));
    server.serve("/tricky.xml", Doc::body(200, tricky_feed()));
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        free_port(),
        &[
            ("abc", &[server.url("/justin.xml")]),
            ("news", &[server.url("/n.xml")]),
            ("tricky", &[server.url("/tricky.xml")]),
        ],
    )
        + "\n[[view]]\nid = \"mixed\"\ntitle = \"Mixed & <matched>\"\ninclude = [\"/./\"]\n";
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon
        .wait_for("every feed stored", |h| {
            h["items"].as_u64() >= Some(250 + 4 + 5)
        })
        .await;
    (server, daemon, dir)
}

const SCOPES: [&str; 4] = ["/", "/outlets/abc/", "/outlets/tricky/", "/views/mixed/"];

async fn document(daemon: &Daemon, path: &str) -> String {
    daemon
        .get(&format!("{path}?limit=1000"))
        .await
        .text()
        .await
        .unwrap()
}

fn xmllint() -> bool {
    let found = Command::new("xmllint").arg("--version").output().is_ok();
    assert!(
        found || std::env::var_os("CI").is_none(),
        "CI must have xmllint: .ci/run installs libxml2-utils"
    );
    found
}

#[tokio::test]
async fn atom_matches_rfc_4287() {
    let (_server, daemon, dir) = daemon().await;
    for scope in SCOPES {
        let atom = document(&daemon, &format!("{scope}feed.atom")).await;
        if xmllint() {
            let file = dir.path().join("feed.atom");
            std::fs::write(&file, &atom).unwrap();
            let output = Command::new("xmllint")
                .args(["--noout", "--relaxng", &format!("{SCHEMAS}/atom.rng")])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{scope}feed.atom is not valid Atom: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        } else {
            eprintln!(
                "xmllint is missing: the RELAX NG check is skipped (apt-get install libxml2-utils)"
            );
        }
        // What the schema's Schematron annotations say and RELAX NG cannot check.
        let doc = roxmltree::Document::parse(&atom).unwrap();
        let feed = doc.root_element();
        let is = |node: &roxmltree::Node, name: &str| {
            node.is_element() && node.tag_name().name() == name
        };
        let has_author = |node: &roxmltree::Node| node.children().any(|c| is(&c, "author"));
        let entries: Vec<_> = feed.children().filter(|c| is(c, "entry")).collect();
        assert!(
            has_author(&feed) || entries.iter().all(has_author),
            "{scope}: no author"
        );
        let self_links = feed
            .children()
            .filter(|c| is(c, "link") && c.attribute("rel") == Some("self"))
            .count();
        assert_eq!(self_links, 1, "{scope}");
        for entry in &entries {
            let alternate = entry.children().any(|c| {
                is(&c, "link") && c.attribute("rel").unwrap_or("alternate") == "alternate"
            });
            let content = entry.children().any(|c| is(&c, "content"));
            assert!(
                alternate || content,
                "{scope}: an entry with neither link nor content"
            );
        }
        let ids: std::collections::HashSet<_> = entries
            .iter()
            .filter_map(|e| e.children().find(|c| is(c, "id")).and_then(|id| id.text()))
            .collect();
        assert_eq!(ids.len(), entries.len(), "{scope}: entry ids are unique");
    }
}

#[tokio::test]
async fn json_feed_matches_its_schema() {
    let (_server, daemon, _dir) = daemon().await;
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{SCHEMAS}/jsonfeed-1.1.schema.json")).unwrap(),
    )
    .unwrap();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler
        .add_resource("urn:x-tributary:schema:jsonfeed-1.1", schema)
        .unwrap();
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile("urn:x-tributary:schema:jsonfeed-1.1", &mut schemas)
        .unwrap();
    for scope in SCOPES {
        let feed: Value =
            serde_json::from_str(&document(&daemon, &format!("{scope}feed.json")).await).unwrap();
        if let Err(e) = schemas.validate(&feed, index) {
            panic!("{scope}feed.json breaks the JSON Feed 1.1 schema: {e:#}");
        }
        assert!(!feed["items"].as_array().unwrap().is_empty());
    }
    // The check has teeth: a feed without items' ids is refused.
    let mut broken: Value = serde_json::from_str(&document(&daemon, "/feed.json").await).unwrap();
    broken["items"][0].as_object_mut().unwrap().remove("id");
    assert!(schemas.validate(&broken, index).is_err());
}

/// Asserts that `date` is RFC 822 as RSS 2.0 asks for it, with a four-digit year:
/// `Tue, 11 Jul 2017 05:45:00 +0000`.
fn assert_rfc_822(date: &str, what: &str) {
    assert!(
        chrono::DateTime::parse_from_rfc2822(date).is_ok(),
        "{what}: {date:?}"
    );
    let parts: Vec<&str> = date.split(' ').collect();
    assert_eq!(parts.len(), 6, "{what}: {date:?}");
    assert!(
        parts[0].ends_with(',') && parts[3].len() == 4,
        "{what}: {date:?}"
    );
}

#[tokio::test]
async fn rss_follows_the_rss_2_0_rules() {
    let (_server, daemon, _dir) = daemon().await;
    for scope in SCOPES {
        let url = format!("{scope}feed.xml");
        let rss = document(&daemon, &url).await;
        let doc = roxmltree::Document::parse(&rss).unwrap();
        let root = doc.root_element();
        assert_eq!(
            (root.tag_name().name(), root.attribute("version")),
            ("rss", Some("2.0"))
        );
        let channels: Vec<_> = root
            .children()
            .filter(|c| c.has_tag_name("channel"))
            .collect();
        assert_eq!(channels.len(), 1, "{url}");
        let channel = channels[0];
        let text = |node: roxmltree::Node, name: &str| {
            node.children()
                .find(|c| {
                    c.is_element()
                        && c.tag_name().name() == name
                        && c.tag_name().namespace().is_none()
                })
                .and_then(|c| c.text())
                .map(str::to_owned)
        };
        for required in ["title", "link", "description"] {
            assert!(
                text(channel, required).is_some_and(|t| !t.trim().is_empty()),
                "{url}: no {required}"
            );
        }
        assert_rfc_822(&text(channel, "lastBuildDate").unwrap(), &url);
        let ttl = text(channel, "ttl").unwrap();
        assert!(ttl.parse::<u32>().is_ok_and(|m| m > 0), "{url}: ttl {ttl}");
        const ATOM: &str = "http://www.w3.org/2005/Atom";
        let self_links: Vec<_> = channel
            .children()
            .filter(|c| c.has_tag_name((ATOM, "link")) && c.attribute("rel") == Some("self"))
            .collect();
        assert_eq!(self_links.len(), 1, "{url}: one atom:link rel=\"self\"");
        assert_eq!(
            self_links[0].attribute("href"),
            Some(format!("http://news.example{url}").as_str())
        );
        assert_eq!(self_links[0].attribute("type"), Some("application/rss+xml"));
        let items: Vec<_> = channel
            .children()
            .filter(|c| c.has_tag_name("item"))
            .collect();
        assert!(!items.is_empty());
        for item in items {
            assert!(
                text(item, "title").is_some() || text(item, "description").is_some(),
                "{url}"
            );
            assert_rfc_822(&text(item, "pubDate").unwrap(), &url);
            let guid = item.children().find(|c| c.has_tag_name("guid")).unwrap();
            match guid.attribute("isPermaLink") {
                Some("false") => assert!(guid.text().unwrap().starts_with("urn:tributary:item:")),
                other => panic!("{url}: guid isPermaLink={other:?} but the guid is no URL"),
            }
            if let Some(enclosure) = item.children().find(|c| c.has_tag_name("enclosure")) {
                for attribute in ["url", "length", "type"] {
                    assert!(
                        enclosure.attribute(attribute).is_some(),
                        "{url}: enclosure {attribute}"
                    );
                }
                assert!(enclosure
                    .attribute("length")
                    .unwrap()
                    .parse::<u64>()
                    .is_ok());
            }
            if let Some(source) = item.children().find(|c| c.has_tag_name("source")) {
                assert!(
                    source
                        .attribute("url")
                        .is_some_and(|u| u.starts_with("http")),
                    "{url}"
                );
            }
        }
    }
}

#[tokio::test]
async fn tricky_text_comes_back_exactly_from_every_format() {
    let (_server, daemon, _dir) = daemon().await;
    for format in ["feed.xml", "feed.atom", "feed.json"] {
        let bytes = daemon
            .get(&format!("/outlets/tricky/{format}"))
            .await
            .bytes()
            .await
            .unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{format}: {e}"));
        let read: HashMap<String, String> = feed
            .entries
            .iter()
            .map(|e| {
                let title = e.title.as_ref().unwrap().content.clone();
                let summary = e
                    .summary
                    .as_ref()
                    .map(|s| s.content.clone())
                    .or_else(|| e.content.as_ref().and_then(|c| c.body.clone()))
                    .unwrap_or_default();
                (title, summary)
            })
            .collect();
        for (title, summary) in TRICKY {
            let found = read
                .get(title)
                .unwrap_or_else(|| panic!("{format}: {title:?} not among {:?}", read.keys()));
            assert_eq!(found, summary, "{format}: the summary of {title:?}");
        }
    }
    // And the view's title, which holds `&` and `<`, in each format's own field.
    let json: Value = daemon.json("/views/mixed/feed.json").await;
    assert_eq!(json["title"], "Test River: Mixed & <matched>");
}
