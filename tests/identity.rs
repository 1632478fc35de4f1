//! Every entry a publisher lists is served, once, through the running daemon: entries with GUIDs
//! of their own that share one link (a podcast whose every episode links the show's page, a
//! WordPress feed whose "Link:" posts link the feed itself), entries whose links differ only by
//! their fragment (a real blog whose posts are anchors on one page a day, two of them even given
//! one GUID), and a document cut off inside its only entry. The fixtures are in
//! `tests/fixtures/identity/` (its README says where each comes from).

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashSet;

const PODCAST: &str = "tests/fixtures/identity/podcast-shared-link.xml";
const WORDPRESS: &str = "tests/fixtures/identity/wordpress-links.atom";
const SCRIPTING: &str = "tests/fixtures/identity/scripting-news-2017-06-26.rss";
const CUT: &str = "tests/fixtures/identity/cut-inside-its-only-item.xml";

/// Reads the titles of an outlet's feed, as served.
async fn titles(daemon: &Daemon, outlet: &str) -> Vec<String> {
    let feed: Value = daemon
        .json(&format!("/outlets/{outlet}/feed.json?limit=1000"))
        .await;
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Counts the `<item>` or `<entry>` elements of a fixture: what the publisher listed.
fn listed(path: &str) -> usize {
    let text = String::from_utf8(fixture(path)).unwrap();
    text.matches("<item>").count()
        + text.matches("<item ").count()
        + text.matches("<entry>").count()
}

#[tokio::test]
async fn every_entry_the_publisher_lists_is_served_once() {
    let server = FixtureServer::start().await;
    server.serve("/podcast.xml", Doc::body(200, fixture(PODCAST)));
    server.serve("/feed/atom/", Doc::body(200, fixture(WORDPRESS)));
    server.serve("/scripting.rss", Doc::body(200, fixture(SCRIPTING)));
    server.serve("/cut.xml", Doc::body(200, fixture(CUT)));
    let dir = tempfile::tempdir().unwrap();
    let outlets: [(&str, &[String]); 4] = [
        ("podcast", &[server.url("/podcast.xml")]),
        ("notes", &[server.url("/feed/atom/")]),
        ("scripting", &[server.url("/scripting.rss")]),
        ("gazette", &[server.url("/cut.xml")]),
    ];
    let daemon = Daemon::start(dir.path(), &config(free_port(), &outlets)).await;
    let expected = [
        ("podcast", listed(PODCAST)),
        ("notes", listed(WORDPRESS)),
        ("scripting", listed(SCRIPTING)),
        ("gazette", 1),
    ];
    assert_eq!(expected.map(|(_, n)| n), [12, 4, 50, 1]);
    daemon.wait_for_items(12 + 4 + 50 + 1).await;

    for (outlet, count) in expected {
        let served = titles(&daemon, outlet).await;
        assert_eq!(served.len(), count, "{outlet}: {served:?}");
    }
    let podcast: HashSet<String> = titles(&daemon, "podcast").await.into_iter().collect();
    assert_eq!(podcast.len(), 12, "each episode under its own title");
    assert!(podcast.contains("Episode 1: Rivers that run backwards"));
    assert_eq!(
        titles(&daemon, "gazette").await,
        ["Ferry timetable changes from Monday"]
    );
    let scripting: Value = daemon.json("/outlets/scripting/feed.json?limit=1000").await;
    let links: HashSet<&str> = scripting["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["url"].as_str())
        .collect();
    assert_eq!(
        links.len(),
        48,
        "48 anchors, two of them given to two posts each"
    );
    assert!(links.contains("http://scripting.com/2017/06/26.html#a030658"));
}

#[tokio::test]
async fn a_new_episode_under_the_shared_link_is_added_and_a_re_publication_is_not() {
    let server = FixtureServer::start().await;
    let podcast = String::from_utf8(fixture(PODCAST)).unwrap();
    server.serve("/podcast.xml", Doc::body(200, podcast.clone().into_bytes()));
    let (daemon, _dir) = {
        let dir = tempfile::tempdir().unwrap();
        let outlets: [(&str, &[String]); 1] = [("podcast", &[server.url("/podcast.xml")])];
        let daemon = Daemon::start(dir.path(), &config(free_port(), &outlets)).await;
        (daemon, dir)
    };
    daemon.wait_for_items(12).await;

    // A thirteenth episode, and the first one again under a new GUID and headline, with the
    // same description and audio.
    let thirteenth = "<item><title>Episode 13: Paper boats</title>\
        <link>https://slowradio.example/</link><guid isPermaLink=\"false\">slowradio-ep-013</guid>\
        <description>In episode 13 we talk about paper boats.</description>\
        <pubDate>Tue, 01 Dec 2026 06:00:00 +1100</pubDate></item>";
    let first_again = "<item><title>Episode 1 (remastered): Rivers that run backwards</title>\
        <link>https://slowradio.example/</link><guid isPermaLink=\"false\">slowradio-ep-001-r</guid>\
        <description>In episode 1 we talk about rivers that run backwards, with a guest who has \
        spent years on it.</description>\
        <pubDate>Fri, 27 Nov 2026 06:00:00 +1100</pubDate>\
        <enclosure url=\"https://cdn.slowradio.example/audio/ep001.mp3\" length=\"31001234\" \
        type=\"audio/mpeg\"/></item>";
    let next = podcast.replacen(
        "    <item>",
        &format!("{thirteenth}{first_again}    <item>"),
        1,
    );
    server.serve("/podcast.xml", Doc::body(200, next.into_bytes()));
    daemon.wait_for_items(13).await;

    let seen = server.seen("/podcast.xml").len();
    eventually("two more polls", 15, || {
        server.seen("/podcast.xml").len() >= seen + 2
    })
    .await;
    let health: Value = daemon.json("/healthz").await;
    assert_eq!(
        health["items"], 13,
        "the re-published episode is not stored twice"
    );
    let served = titles(&daemon, "podcast").await;
    assert!(
        served.contains(&"Episode 13: Paper boats".to_owned()),
        "{served:?}"
    );
    assert!(
        served.contains(&"Episode 1 (remastered): Rivers that run backwards".to_owned()),
        "the re-publication updates the episode it re-publishes: {served:?}"
    );
}
