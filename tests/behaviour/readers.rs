//! What readers get over HTTP: views, query filters and full-text search, compression,
//! caching headers, CORS, the XSLT stylesheet, RSS `<ttl>`, and WebSub pings.

use std::io::Read;

use crate::common::*;
use serde_json::Value;

/// Sets up ABC's Top Stories (19 items) as `abc` and News.com.au's national feed as `news`, with
/// three views, served by a daemon polling every second.
async fn daemon_with_views(extra: &str) -> (FixtureServer, Daemon, tempfile::TempDir) {
    let server = FixtureServer::start().await;
    server.serve("/a.xml", Doc::feed(ABC_TOP_0706, "a1"));
    server.serve("/n.xml", Doc::feed(NEWS_NATIONAL, "n1"));
    let dir = tempfile::tempdir().unwrap();
    let outlets = [
        ("abc", [server.url("/a.xml")]),
        ("news", [server.url("/n.xml")]),
    ];
    let outlets: Vec<(&str, &[String])> = outlets.iter().map(|(id, f)| (*id, &f[..])).collect();
    let config = config(free_port(), &outlets)
        + r#"
[[view]]
id = "trump"
title = "Trump watch"
include = ["Trump"]

[[view]]
id = "weather"
outlets = ["news"]
categories = ["weather"]

[[view]]
id = "world"
categories = ["World Politics"]
exclude = ["/(?i)trump/"]
"# + extra;
    let daemon = Daemon::start(dir.path(), &config).await;
    let news = fixture(NEWS_NATIONAL);
    let news_items = String::from_utf8_lossy(&news).matches("<item>").count() as u64;
    daemon.wait_for_items(19 + news_items).await;
    (server, daemon, dir)
}

fn titles(feed: &Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn status_and_text(daemon: &Daemon, path: &str) -> (u16, String) {
    let response = daemon.get(path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn views_show_their_slice_of_the_merged_feed() {
    let (_server, daemon, _dir) = daemon_with_views("").await;
    let trump = daemon.json("/views/trump/feed.json").await;
    assert_eq!(trump["title"], "Test River: Trump watch");
    let trump = titles(&trump);
    assert!(trump.len() >= 3, "{trump:?}");
    assert!(trump
        .iter()
        .any(|t| t.starts_with("Trump defends giving daughter")));
    let weather = titles(&daemon.json("/views/weather/feed.json").await);
    assert_eq!(
        weather,
        ["Bushfire season to start early, authorities warn"]
    );
    let world = titles(&daemon.json("/views/world/feed.json").await);
    assert_eq!(
        world,
        [
            "South Koreans protest against THAAD missile defence system",
            "US warns of continued threat as Iraqi PM formally declares victory over IS"
        ]
    );
    let atom = daemon
        .get("/views/world/feed.atom")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        atom.contains("<link href=\"http://news.example/views/world/feed.atom\" rel=\"self\""),
        "{atom}"
    );
    let (status, body) = status_and_text(&daemon, "/views/nope/feed.xml").await;
    assert_eq!((status, body.trim()), (404, "no view \"nope\""));
}

#[tokio::test]
async fn query_filters_narrow_any_feed_and_bad_ones_say_why() {
    let (_server, daemon, _dir) = daemon_with_views("").await;
    let news = daemon.json("/feed.json?outlet=news&limit=1000").await;
    assert!(news["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["_tributary"]["outlet"] == "news"));
    let both = daemon.json("/feed.json?outlet=abc,news&limit=1000").await;
    assert!(titles(&both).len() > titles(&news).len());

    // Full-text search: every word must appear, in the title or the summary.
    let found = daemon.json("/feed.json?q=trump").await;
    let found_titles = titles(&found);
    assert!(
        found_titles
            .iter()
            .any(|t| t.starts_with("Why did Chris Uhlmann")),
        "{found_titles:?}"
    );
    for item in found["items"].as_array().unwrap() {
        let text = format!("{} {}", item["title"], item["content_html"]).to_lowercase();
        assert!(text.contains("trump"), "{item}");
    }
    let phrase = titles(&daemon.json("/feed.json?q=%22free%20trade%22").await);
    assert!(
        phrase.iter().any(|t| t.contains("free trade deal")),
        "{phrase:?}"
    );
    let prefix = titles(&daemon.json("/outlets/news/feed.json?q=bushfir*").await);
    assert_eq!(prefix, ["Bushfire season to start early, authorities warn"]);
    assert!(titles(&daemon.json("/feed.json?q=zzyzx").await).is_empty());

    let weather = titles(&daemon.json("/feed.json?category=WEATHER").await);
    assert_eq!(weather.len(), 2, "{weather:?}");
    let recent = daemon
        .json("/feed.json?since=2017-07-11T00:00:00Z&limit=1000")
        .await;
    for item in recent["items"].as_array().unwrap() {
        assert!(
            item["date_published"].as_str().unwrap() >= "2017-07-11T00:00:00Z",
            "{item}"
        );
    }
    assert!(!titles(&recent).is_empty());

    for (query, parameter) in [
        ("limit=0", "limit=\"0\""),
        ("since=yesterday", "since=\"yesterday\""),
        ("outlet=abc,nope", "\"nope\" is not a configured outlet"),
        ("q=--", "q=\"--\""),
        ("category=,", "category=\",\""),
        ("q=m*+bushfire", "a prefix needs at least 3 letters"),
        ("q=a+b+c+d+e+f+g+h+i", "at most 8 words"),
    ] {
        let (status, body) = status_and_text(&daemon, &format!("/feed.xml?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(parameter), "{query}: {body}");
    }
    // A search of 5,000 prefixes is refused by its length, and the answer does not repeat it.
    let long = format!("/feed.xml?q={}", "m*+".repeat(5_000));
    let (status, body) = status_and_text(&daemon, &long).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("at most 256 bytes") && body.len() < 300,
        "{body}"
    );
}

#[tokio::test]
async fn feeds_are_compressed_cached_and_open_to_other_origins() {
    let (_server, daemon, _dir) = daemon_with_views("").await;
    // The client must not decode: the test reads the codings themselves.
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let url = format!("{}/feed.xml", daemon.base);
    let plain = client.get(&url).send().await.unwrap();
    let headers = plain.headers().clone();
    assert_eq!(
        headers["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    assert_eq!(headers["vary"], "Accept-Encoding");
    assert_eq!(
        headers["cache-control"], "public, max-age=1",
        "every second, in these tests"
    );
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(headers.get("content-encoding").is_none());
    let identity = plain.bytes().await.unwrap();

    let gzip = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    let gzip_etag = gzip.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gzip_etag, headers["etag"].to_str().unwrap());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, identity);

    let br = client
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    let compressed = br.bytes().await.unwrap();
    assert!(compressed.len() * 2 < identity.len());
    let mut unbrotlied = Vec::new();
    brotli::BrotliDecompress(&mut &compressed[..], &mut unbrotlied).unwrap();
    assert_eq!(unbrotlied, identity);

    let again = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .header("if-none-match", &gzip_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], gzip_etag.as_str());
    assert_eq!(again.headers()["cache-control"], "public, max-age=1");
    assert_eq!(again.headers()["last-modified"], headers["last-modified"]);
    assert_eq!(again.headers()["vary"], "Accept-Encoding");
    assert_eq!(again.headers()["access-control-allow-origin"], "*");
    // A 304 describes no body: no type or coding of one (RFC 9110 §15.4.5).
    assert!(again.headers().get("content-type").is_none());
    assert!(again.headers().get("content-encoding").is_none());

    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], headers["etag"]);
    assert!(head.bytes().await.unwrap().is_empty());

    let json = client
        .get(format!("{}/outlets/abc/feed.json", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json.headers()["content-type"],
        "application/feed+json; charset=utf-8"
    );
    assert_eq!(json.headers()["access-control-allow-origin"], "*");
    let atom = client
        .get(format!("{}/views/trump/feed.atom", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        atom.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    assert!(atom.headers().get("etag").is_some() && atom.headers().get("last-modified").is_some());

    // The polling cadence, for readers that read it, and a page for browsers.
    let rss = String::from_utf8(identity.to_vec()).unwrap();
    assert!(rss.contains("<ttl>1</ttl>"), "{rss}");
    assert!(
        rss.contains("<sy:updatePeriod>hourly</sy:updatePeriod>"),
        "{rss}"
    );
    assert!(
        rss.contains("<sy:updateFrequency>3600</sy:updateFrequency>"),
        "{rss}"
    );
    let declaration_and_stylesheet = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <?xml-stylesheet type=\"text/xsl\" href=\"http://news.example/feed.xsl\"?>";
    assert!(
        rss.starts_with(declaration_and_stylesheet),
        "{}",
        &rss[..200]
    );
    let xsl = daemon.get("/feed.xsl").await;
    assert_eq!(xsl.headers()["content-type"], "text/xsl; charset=utf-8");
    assert!(xsl.text().await.unwrap().contains("<xsl:stylesheet"));
}

#[tokio::test]
async fn a_websub_hub_is_advertised_and_told_of_each_change() {
    let hub = FixtureServer::start().await;
    hub.serve("/hub", Doc::status(204));
    let server = FixtureServer::start().await;
    server.serve("/a.xml", Doc::feed(ABC_TOP_0706, "a1"));
    let dir = tempfile::tempdir().unwrap();
    let config = config(free_port(), &[("abc", &[server.url("/a.xml")])]).replace(
        "title = \"Test River\"\n",
        &format!(
            "title = \"Test River\"\nwebsub_hub = \"{}\"\n",
            hub.url("/hub")
        ),
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(19).await;

    let rss = daemon.get("/feed.xml").await.text().await.unwrap();
    let hub_url = hub.url("/hub");
    assert!(
        rss.contains(&format!("<atom:link href=\"{hub_url}\" rel=\"hub\"/>")),
        "{rss}"
    );
    let atom = daemon.get("/feed.atom").await.text().await.unwrap();
    assert!(
        atom.contains(&format!("<link href=\"{hub_url}\" rel=\"hub\"/>")),
        "{atom}"
    );
    let json = daemon.json("/feed.json").await;
    assert_eq!(
        json["hubs"],
        serde_json::json!([{ "type": "WebSub", "url": hub_url }])
    );

    eventually("the hub to be told", 10, || hub.seen("/hub").len() >= 6).await;
    let told: Vec<String> = hub
        .seen("/hub")
        .iter()
        .inspect(|seen| assert_eq!(seen.method, "POST"))
        .map(|seen| String::from_utf8(seen.body.clone()).unwrap())
        .collect();
    for feed in [
        "feed.xml",
        "feed.atom",
        "feed.json",
        "outlets%2Fabc%2Ffeed.xml",
    ] {
        let ping = format!("hub.mode=publish&hub.url=http%3A%2F%2Fnews.example%2F{feed}");
        assert!(told.contains(&ping), "{ping} not in {told:?}");
    }
}

#[tokio::test]
async fn a_view_added_to_the_config_is_served_after_a_reload() {
    let (_server, daemon, dir) = daemon_with_views("").await;
    let (status, _) = status_and_text(&daemon, "/views/sport/feed.json").await;
    assert_eq!(status, 404);
    let path = dir.path().join("feeds.toml");
    let config = std::fs::read_to_string(&path).unwrap()
        + "\n[[view]]\nid = \"sport\"\ntitle = \"Sport\"\ncategories = [\"sport\"]\n";
    std::fs::write(&path, config).unwrap();
    daemon.signal("HUP");
    let feed = daemon
        .until("/views/sport/feed.json", |status, _| status == 200)
        .await;
    let feed: Value = serde_json::from_str(&feed).unwrap();
    assert_eq!(
        titles(&feed),
        ["'Lucky' Porte reflects on horrifying Tour de France crash"]
    );
    assert!(
        daemon.log().contains("diff=changed [[view]]"),
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn a_feed_that_changes_without_new_items_is_not_reported_unmodified() {
    let (_server, daemon, dir) = daemon_with_views("").await;
    let client = reqwest::Client::new();
    let url = format!("{}/feed.xml", daemon.base);
    let first = client.get(&url).send().await.unwrap();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    // A new title changes every feed's bytes, and no item's time.
    let path = dir.path().join("feeds.toml");
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace("title = \"Test River\"", "title = \"Renamed River\"");
    std::fs::write(&path, config).unwrap();
    daemon.signal("HUP");
    daemon
        .until("/feed.xml", |_, body| {
            body.contains("<title>Renamed River</title>")
        })
        .await;
    let after = client
        .get(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        200,
        "the body changed since {last_modified}"
    );
    assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
    let newer = after.headers()["last-modified"].to_str().unwrap();
    assert!(
        httpdate::parse_http_date(newer).unwrap()
            > httpdate::parse_http_date(&last_modified).unwrap()
    );
}

#[tokio::test]
async fn links_are_the_publishers_with_tracking_dropped_unless_kept() {
    let rss = b"<rss version=\"2.0\"><channel><title>t</title><link>https://a.example/</link>\
        <item><title>One</title><link>https://A.example/story?utm_source=rss&amp;id=1&amp;flag#c2</link>\
        </item></channel></rss>"
        .to_vec();
    let server = FixtureServer::start().await;
    server.serve("/tracked.xml", Doc::body(200, rss));
    for (setting, expected) in [
        ("", "https://A.example/story?id=1&flag#c2"),
        (
            "strip_tracking_parameters = false\n",
            "https://A.example/story?utm_source=rss&id=1&flag#c2",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let polling = format!("{}{setting}", FAST_POLLING);
        let feeds = [server.url("/tracked.xml")];
        let config = config_with(free_port(), &polling, &[("abc", &feeds)]);
        let daemon = Daemon::start(dir.path(), &config).await;
        daemon.wait_for_items(1).await;
        let feed = daemon.json("/feed.json").await;
        assert_eq!(feed["items"][0]["url"], expected, "{setting}");
    }
}
