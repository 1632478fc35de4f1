//! OPML both ways: `GET /opml` lists every feed, and `tributary import-opml` adds a reader's
//! subscriptions to `feeds.toml`, which the running daemon then polls.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use quick_xml::events::Event;

/// Reads `xml` to the end: it is well-formed (end tags match) or the test fails.
fn assert_well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}\n{xml}", reader.error_position()),
        }
    }
}

fn import(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = binary()
        .arg("import-opml")
        .args(args)
        .arg("--config")
        .arg(dir.join("feeds.toml"))
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn the_feeds_go_out_as_opml_and_a_reader_s_list_comes_in() {
    let server = FixtureServer::start().await;
    server.serve("/a.xml", Doc::feed(ABC_TOP_0706, "a1"));
    server.serve("/n.xml", Doc::feed(NEWS_NATIONAL, "n1"));
    let dir = tempfile::tempdir().unwrap();
    let abc = server.url("/a.xml");
    let config = format!(
        "# Hand-written: this comment must survive the import.\n{}\n[[view]]\nid = \"trump\"\ninclude = [\"Trump\"]\n",
        config(free_port(), &[("abc", std::slice::from_ref(&abc))])
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(19).await;

    let response = daemon.get("/opml").await;
    assert_eq!(
        response.headers()["content-type"],
        "text/x-opml; charset=utf-8"
    );
    let exported = response.text().await.unwrap();
    assert_well_formed(&exported);
    assert!(exported.contains("<opml version=\"2.0\">"), "{exported}");
    for url in [
        "http://news.example/feed.xml",
        "http://news.example/outlets/abc/feed.xml",
        "http://news.example/views/trump/feed.xml",
        abc.as_str(),
    ] {
        assert!(
            exported.contains(&format!("xmlUrl=\"{url}\"")),
            "{url} in {exported}"
        );
    }

    // A reader's export: one feed already polled, one new (on another host), tributary's own
    // merged feed, and a broken entry.
    let news = server.url("/n.xml").replace("127.0.0.1", "localhost");
    let opml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>NetNewsWire Subscriptions</title></head><body>
<outline text="News" title="News">
  <outline text="ABC" type="rss" xmlUrl="{abc}"/>
  <outline text="News.com.au national" title="News.com.au national" type="rss" xmlUrl="{news}"/>
  <outline text="Me" type="rss" xmlUrl="http://news.example/feed.xml"/>
  <outline text="Broken" type="rss" xmlUrl="not a url"/>
</outline></body></opml>"#
    );
    std::fs::write(dir.path().join("mine.opml"), opml).unwrap();
    let mine = dir.path().join("mine.opml");
    let mine = mine.to_str().unwrap();

    let before = std::fs::read_to_string(dir.path().join("feeds.toml")).unwrap();
    let (ok, out, err) = import(dir.path(), &[mine, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("1 feeds would be added"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("feeds.toml")).unwrap(),
        before
    );

    // A config readable by its owner and the service's group only stays so.
    let feeds_toml = dir.path().join("feeds.toml");
    std::fs::set_permissions(&feeds_toml, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (ok, out, err) = import(dir.path(), &[mine]);
    assert!(ok, "{err}");
    let mode = std::fs::metadata(&feeds_toml).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    assert!(!dir.path().join("feeds.toml.new").exists());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            format!("skipped {abc}: already polled by outlet abc").as_str(),
            "skipped http://news.example/feed.xml: tributary's own feed",
            "skipped not a url: not an http(s) URL",
            format!("added outlet localhost (News.com.au national): {news}").as_str(),
            format!(
                "1 feeds added to {}",
                dir.path().join("feeds.toml").display()
            )
            .as_str(),
        ]
    );
    let after = std::fs::read_to_string(dir.path().join("feeds.toml")).unwrap();
    assert!(after.starts_with("# Hand-written: this comment must survive the import.\n"));

    // The running daemon sees the file change and polls the new outlet.
    let has_items = |status: u16, body: &str| {
        status == 200
            && serde_json::from_str::<serde_json::Value>(body).unwrap()["items"]
                != serde_json::json!([])
    };
    daemon
        .until("/outlets/localhost/feed.json", has_items)
        .await;

    let (ok, out, _) = import(dir.path(), &[mine]);
    assert!(ok);
    assert!(out.contains("nothing to add"), "{out}");
    let (ok, _, err) = import(
        dir.path(),
        &[dir.path().join("feeds.toml").to_str().unwrap()],
    );
    assert!(!ok);
    assert!(
        err.contains("cannot read") && err.contains("as OPML"),
        "{err}"
    );
}
