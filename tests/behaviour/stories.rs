//! One story carried by both outlets, end to end: once in each merged feed with the other
//! outlet as "also reported by", once in each outlet's own feed, explained by `tributary
//! explain`, and under the same id whichever copy the merged feed shows. Run on each store:
//! `tests/stories.rs` (SQLite) and `tests/stories_on_postgres.rs`.

use crate::common::*;
use serde_json::Value;

const ABC_LANDSLIDE: &str = "https://www.abc.net.au/news/2026-11-19/landslide-in-pngs-enga-province-kills-at-least-14-dozens-missing/105992001";
const NEWS_LANDSLIDE: &str = "https://www.news.com.au/world/pacific/png-landslide-14-dead-dozens-missing-after-hillside-collapses/news-story/84320b52f9b936cd7eeda1c31f6bd7a9";

fn rss(items: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let items: String = items
        .iter()
        .map(|(link, title, summary, date)| {
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
                 <description><![CDATA[<p>{summary}</p>]]></description><pubDate>{date}</pubDate></item>"
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
        .into_bytes()
}

/// Serves ABC's and News.com.au's feeds, each with the landslide and a story of its own.
fn serve_outlets(server: &FixtureServer) -> (String, String) {
    let abc = rss(&[
        (
            ABC_LANDSLIDE,
            "Landslide in PNG&#039;s Enga province kills at least 14, dozens missing",
            "At least 14 people have been killed and dozens are missing after a landslide buried homes in a village in Papua New Guinea's Enga province, local officials say.",
            "Thu, 19 Nov 2026 17:10:00 +1100",
        ),
        (
            "https://www.abc.net.au/news/2026-11-19/tasmanian-devil-joeys-born-at-mainland-sanctuary/105978196",
            "Tasmanian devil joeys born at mainland sanctuary in Barrington Tops",
            "Conservationists say 11 Tasmanian devil joeys have been born at a sanctuary in the Barrington Tops, the largest number since devils were reintroduced to the mainland.",
            "Thu, 19 Nov 2026 08:30:00 +1100",
        ),
    ]);
    let news = rss(&[
        (
            NEWS_LANDSLIDE,
            "PNG landslide: 14 dead, dozens missing after hillside collapses",
            "A landslide has buried homes in a remote village in Papua New Guinea's Enga province, killing at least 14 people and leaving dozens more missing, officials say.",
            "Thu, 19 Nov 2026 07:50:00 GMT",
        ),
        (
            "https://www.news.com.au/lifestyle/parenting/aussie-mums-12-kmart-hack/news-story/77f1248a4017e3b8",
            "Aussie mum's $12 Kmart hack ends back-seat fights for good",
            "A Melbourne mum has gone viral after sharing how she used a $12 Kmart storage caddy to end back-seat fights between her three kids on long road trips.",
            "Thu, 19 Nov 2026 03:20:00 GMT",
        ),
    ]);
    let doc = |body: Vec<u8>, etag: &str| Doc {
        etag: Some(format!("\"{etag}\"")),
        ..Doc::body(200, body)
    };
    server.serve("/abc.xml", doc(abc, "a"));
    server.serve("/news.xml", doc(news, "n"));
    (server.url("/abc.xml"), server.url("/news.xml"))
}

fn landslide(feed: &Value) -> Vec<&Value> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"].as_str().unwrap().contains("andslide"))
        .collect()
}

#[tokio::test]
async fn a_story_from_both_outlets_is_one_entry_with_the_other_as_also_reported_by() {
    let server = FixtureServer::start().await;
    let (abc, news) = serve_outlets(&server);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}\n[[view]]\nid = \"abc\"\noutlets = [\"abc\"]\n\n[[view]]\nid = \"newscomau\"\noutlets = [\"newscomau\"]\n",
        config(free_port(), &[("abc", &[abc]), ("newscomau", &[news])])
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(4).await;

    let merged: Value = daemon.json("/feed.json").await;
    assert_eq!(merged["items"].as_array().unwrap().len(), 3, "{merged}");
    let story = landslide(&merged);
    assert_eq!(story.len(), 1, "the story is in the merged feed once");
    let also = story[0]["_tributary"]["also"].as_array().unwrap();
    assert_eq!(also.len(), 1);
    let (shown, other) = match story[0]["_tributary"]["outlet"].as_str().unwrap() {
        "abc" => (ABC_LANDSLIDE, NEWS_LANDSLIDE),
        _ => (NEWS_LANDSLIDE, ABC_LANDSLIDE),
    };
    assert_eq!(story[0]["url"], shown);
    assert_eq!(also[0]["url"], other);
    assert!(also[0]["score"].as_f64().unwrap() >= 0.49);

    let atom_bytes = daemon.get("/feed.atom").await.bytes().await.unwrap();
    let atom = atom_syndication::Feed::read_from(&atom_bytes[..]).unwrap();
    assert_eq!(atom.entries().len(), 3);
    let related: Vec<_> = atom
        .entries()
        .iter()
        .flat_map(|e| e.links())
        .filter(|l| l.rel() == "related")
        .collect();
    assert_eq!(related.len(), 1);
    assert_eq!(related[0].href(), other);

    let rss_bytes = daemon.get("/feed.xml").await.bytes().await.unwrap();
    let rss = rss::Channel::read_from(&rss_bytes[..]).unwrap();
    assert_eq!(rss.items().len(), 3);
    let with_also: Vec<_> = rss
        .items()
        .iter()
        .filter_map(|i| i.description())
        .filter(|d| d.contains("Also reported by"))
        .collect();
    assert_eq!(with_also.len(), 1);
    assert!(with_also[0].contains(other), "{}", with_also[0]);

    for (outlet, copy) in [("abc", ABC_LANDSLIDE), ("newscomau", NEWS_LANDSLIDE)] {
        let only: Value = daemon.json(&format!("/views/{outlet}/feed.json")).await;
        let story = landslide(&only);
        assert_eq!(story.len(), 1, "{outlet} carried the story: {only}");
        assert_eq!(story[0]["url"], copy, "shown in {outlet}'s copy");
        assert_eq!(only["items"].as_array().unwrap().len(), 2, "{only}");
    }
    for outlet in ["abc", "newscomau"] {
        let own: Value = daemon.json(&format!("/outlets/{outlet}/feed.json")).await;
        assert_eq!(
            own["items"].as_array().unwrap().len(),
            2,
            "{outlet} keeps its copy"
        );
        assert_eq!(landslide(&own).len(), 1);
    }

    let id = story[0]["id"].as_str().unwrap().to_owned();
    let output = binary()
        .args(["explain", &id, "--config"])
        .arg(dir.path().join("feeds.toml"))
        .output()
        .unwrap();
    let explained = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{explained}");
    assert!(explained.contains("(2 items)"), "{explained}");
    assert!(explained.contains("began the story"), "{explained}");
    assert!(
        explained.contains("joined the story through"),
        "{explained}"
    );
    assert!(
        explained.contains("enga"),
        "shared names are listed: {explained}"
    );
    let unknown = binary()
        .args(["explain", "nope", "--config"])
        .arg(dir.path().join("feeds.toml"))
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no stored item"));
}

#[tokio::test]
async fn the_preferred_outlet_is_shown_and_the_story_keeps_its_id() {
    let server = FixtureServer::start().await;
    let (abc, news) = serve_outlets(&server);
    // ABC's copy comes first: News.com.au's feed is down at first.
    let news_doc = server.take("/news.xml");
    server.serve("/news.xml", Doc::status(503));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let news_first = [
        ("newscomau", std::slice::from_ref(&news)),
        ("abc", std::slice::from_ref(&abc)),
    ];
    let first_seen = config(port, &news_first);
    let daemon = Daemon::start(dir.path(), &first_seen).await;
    daemon.wait_for_items(2).await;
    server.serve("/news.xml", news_doc);
    daemon.wait_for_items(4).await;
    let before = landslide(&daemon.json("/feed.json").await)[0].clone();
    assert_eq!(before["_tributary"]["outlet"], "abc", "the first seen copy");
    daemon.stop("TERM");

    // News.com.au is listed first, so under config-order its copy is shown.
    let preferring = format!("{first_seen}\n[dedup]\nprefer = \"config-order\"\n");
    let daemon = Daemon::start(dir.path(), &preferring).await;
    let after = landslide(&daemon.json("/feed.json").await)[0].clone();
    assert_eq!(after["_tributary"]["outlet"], "newscomau");
    assert_eq!(after["id"], before["id"], "a story's id never changes");
    let own = daemon.json("/outlets/newscomau/feed.json").await;
    assert_ne!(
        landslide(&own)[0]["id"],
        after["id"],
        "an outlet's feed names its own item, the merged feed the story"
    );

    let separate = format!("{first_seen}\n[dedup]\nenabled = false\n");
    daemon.stop("TERM");
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &separate).await;
    daemon.wait_for_items(4).await;
    let merged: Value = daemon.json("/feed.json").await;
    assert_eq!(landslide(&merged).len(), 2, "with [dedup] enabled = false");
}

/// Builds a feed of four distinct local stories, under the given GUIDs.
fn with_guids(guids: &[&str]) -> Vec<u8> {
    let stories = [
        (
            "Council votes to double green bin collections",
            "Ratepayers in Marrickville will get fortnightly green waste pickups from March.",
        ),
        (
            "Swimming pool reopens after $4m refurbishment",
            "The Leichhardt Park Aquatic Centre has reopened with a new learn-to-swim pool.",
        ),
        (
            "Library hours cut as budget tightens",
            "Three branch libraries in the inner west will close on Sundays from January.",
        ),
        (
            "Residents fight plan for 12-storey tower",
            "More than 400 objections were lodged against the Dulwich Hill apartment proposal.",
        ),
    ];
    let items: String = guids
        .iter()
        .zip(stories)
        .enumerate()
        .map(|(n, (guid, (title, summary)))| {
            format!(
                "<item><title>{title}</title><link>https://council.example/news/{n}</link>\
                 <guid isPermaLink=\"false\">{guid}</guid><description>{summary}</description>\
                 <pubDate>Thu, 19 Nov 2026 0{n}:00:00 GMT</pubDate></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Council</title>{items}</channel></rss>")
        .into_bytes()
}

#[tokio::test]
async fn a_feed_with_unreliable_guids_is_identified_by_link() {
    let server = FixtureServer::start().await;
    server.serve("/same.xml", Doc::body(200, with_guids(&["x", "x", "x"])));
    server.serve(
        "/changing.xml",
        Doc::body(200, with_guids(&["a0", "a1", "a2", "a3"])),
    );
    let dir = tempfile::tempdir().unwrap();
    let feeds = [server.url("/same.xml")];
    let changing = [server.url("/changing.xml")];
    let config = config(free_port(), &[("same", &feeds), ("changing", &changing)]);
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(3 + 4).await;
    let before: Value = daemon.json("/outlets/changing/feed.json").await;

    server.serve(
        "/changing.xml",
        Doc::body(200, with_guids(&["b0", "b1", "b2", "b3"])),
    );
    eventually("a poll of the new GUIDs", 15, || {
        daemon.log().contains("GUIDs changed since the last poll")
    })
    .await;
    server.serve(
        "/changing.xml",
        Doc::body(200, with_guids(&["c0", "c1", "c2", "c3"])),
    );
    let seen = server.seen("/changing.xml").len();
    eventually("another poll", 15, || {
        server.seen("/changing.xml").len() >= seen + 2
    })
    .await;

    let health: Value = daemon.json("/healthz").await;
    assert_eq!(health["items"], 3 + 4, "no story stored twice");
    let after: Value = daemon.json("/outlets/changing/feed.json").await;
    assert_eq!(entry_ids(&after), entry_ids(&before), "ids do not change");
    let log = daemon.log();
    assert_eq!(
        log.matches("every item has the same GUID").count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches("GUIDs changed since the last poll").count(),
        1,
        "{log}"
    );
}

#[tokio::test]
async fn a_tributary_subscribed_to_another_shows_each_story_once() {
    let server = FixtureServer::start().await;
    let (abc, news) = serve_outlets(&server);
    let upstream_dir = tempfile::tempdir().unwrap();
    let upstream_config = config(
        free_port(),
        &[("abc", std::slice::from_ref(&abc)), ("newscomau", &[news])],
    );
    let upstream = Daemon::start(upstream_dir.path(), &upstream_config).await;
    upstream.wait_for_items(4).await;

    // A second tributary reads ABC directly and the first one's merged feed.
    let downstream_dir = tempfile::tempdir().unwrap();
    let merged_feed = format!("{}/feed.xml", upstream.base);
    let downstream_config = config(free_port(), &[("abc", &[abc]), ("river", &[merged_feed])]);
    let downstream = Daemon::start(downstream_dir.path(), &downstream_config).await;
    downstream.wait_for_items(2 + 3).await;
    let merged: Value = downstream.json("/feed.json").await;
    assert_eq!(landslide(&merged).len(), 1, "{merged}");
    assert_eq!(merged["items"].as_array().unwrap().len(), 3, "{merged}");
    let ids = entry_ids(&merged);
    let seen = server.seen("/abc.xml").len();
    eventually("more polls", 15, || {
        server.seen("/abc.xml").len() >= seen + 2
    })
    .await;
    let again: Value = downstream.json("/feed.json").await;
    assert_eq!(ids, entry_ids(&again), "ids are stable across polls");
}

/// Two outlets' feeds of three days (`../shared/fixtures/dedup-dev`): stories on the same event
/// thread that are not the same story are linked as related coverage, in JSON Feed's
/// `_tributary.related` and on the page, and never hidden.
#[tokio::test]
async fn related_coverage_is_linked_beside_a_story_and_hides_nothing() {
    let server = FixtureServer::start().await;
    let set = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/dedup-dev");
    let mut stored = 0;
    for outlet in ["abc", "newscomau"] {
        let body = std::fs::read(set.join(format!("{outlet}.xml"))).unwrap();
        let parsed = tributary::parse::parse_feed(&body, None, None, outlet).unwrap();
        stored += tributary::dedup::identify(parsed.items, false).0.len() as u64;
        server.serve(&format!("/{outlet}.xml"), Doc::body(200, body));
    }
    let feeds = |outlet: &str| [server.url(&format!("/{outlet}.xml"))];
    let config = config(
        free_port(),
        &[("abc", &feeds("abc")), ("newscomau", &feeds("newscomau"))],
    );
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(stored).await;
    let merged: Value = daemon.json("/feed.json?limit=1000").await;
    let items = merged["items"].as_array().unwrap();
    // Every article the feed carries: the copy shown and the other outlets' copies.
    let urls: std::collections::HashSet<&str> = items
        .iter()
        .flat_map(|i| {
            let also = i["_tributary"]["also"].as_array().into_iter().flatten();
            std::iter::once(&i["url"]).chain(also.map(|a| &a["url"]))
        })
        .filter_map(|u| u.as_str())
        .collect();
    let with_related: Vec<&Value> = items
        .iter()
        .filter(|i| i["_tributary"]["related"].is_array())
        .collect();
    assert!(
        with_related.len() >= 3,
        "{} stories with related coverage",
        with_related.len()
    );
    for item in &with_related {
        for related in item["_tributary"]["related"].as_array().unwrap() {
            let url = related["url"].as_str().unwrap();
            assert_ne!(Some(url), item["url"].as_str());
            assert!(
                urls.contains(url),
                "a related article is in the feed too: {url}"
            );
            assert!(related["title"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(related["outlet"] == "abc" || related["outlet"] == "newscomau");
            assert!(related["score"]
                .as_f64()
                .is_some_and(|s| (0.0..=1.0).contains(&s)));
        }
    }
    let page = daemon.get("/").await.text().await.unwrap();
    assert!(
        page.contains("Related: "),
        "the page lists related coverage"
    );
}
