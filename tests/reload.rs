//! Reloading `feeds.toml` while the daemon runs, by SIGHUP and by editing the file: outlets
//! added and removed take effect at once, and a broken edit is refused with the old config kept.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Serves fixture feeds for two outlets: ABC's Top Stories at `/a.xml`, News.com.au at `/n.xml`.
async fn two_feeds() -> FixtureServer {
    let server = FixtureServer::start().await;
    server.serve("/a.xml", Doc::feed(ABC_TOP_0706, "a1"));
    server.serve("/n.xml", Doc::feed(NEWS_NATIONAL, "n1"));
    server
}

fn item_count(feed: &str) -> usize {
    let feed: Value = serde_json::from_str(feed).unwrap();
    feed["items"].as_array().map_or(0, Vec::len)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

/// Writes the config atomically, as editors do: a new file renamed over the old one.
fn write_config(dir: &std::path::Path, text: &str) {
    let staged = dir.join("feeds.toml.new");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(staged, dir.join("feeds.toml")).unwrap();
}

/// Reloads (by SIGHUP) a config of news alone (`news` its feeds) with `purge_removed`, and
/// waits until ABC is no longer served.
async fn remove_abc_with_purge(daemon: &Daemon, dir: &std::path::Path, port: u16, news: &[String]) {
    let purging = config(port, &[("news", news)]).replace(
        "retention_days = 36500\n",
        "retention_days = 36500\npurge_removed = true\n",
    );
    write_config(dir, &purging);
    daemon.signal("HUP");
    daemon
        .until("/outlets/abc/feed.json", |s, _| s == 404)
        .await;
}

/// A broken edit: line 3 has a feed that is not a URL.
const BROKEN: &str =
    "[server]\nlisten = \"127.0.0.1:1\"\n[[outlet]]\nid = \"x\"\nfeeds = [\"not a url\"]\n";

#[tokio::test]
async fn sighup_adds_and_removes_outlets_and_refuses_a_broken_edit() {
    let server = two_feeds().await;
    let (a, n) = ([server.url("/a.xml")], [server.url("/n.xml")]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let only_abc = config(port, &[("abc", &a)]);
    let daemon = Daemon::start_with_args(dir.path(), &only_abc, &["--no-watch"]).await;
    let abc_items = item_count(
        &daemon
            .until("/outlets/abc/feed.json", |_, b| item_count(b) > 0)
            .await,
    );

    // An outlet added: polled at once, its feed served.
    write_config(dir.path(), &config(port, &[("abc", &a), ("news", &n)]));
    daemon.signal("HUP");
    let news = daemon
        .until("/outlets/news/feed.json", |s, b| {
            s == 200 && item_count(b) > 0
        })
        .await;
    let news_items = item_count(&news);
    let log = daemon.log();
    assert!(log.contains("SIGHUP: reloading the config"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("config reloaded") && l.contains("diff=added news")),
        "one line names what changed:\n{log}"
    );

    // An outlet removed, with purge_removed: no longer polled, its items gone.
    remove_abc_with_purge(&daemon, dir.path(), port, &n).await;
    let healthz = daemon
        .until("/healthz", |_, b| json_of(b)["items"] == news_items)
        .await;
    assert!(json_of(&healthz).get("warning").is_none(), "{healthz}");
    let asked = server.seen("/a.xml").len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        server.seen("/a.xml").len(),
        asked,
        "a removed outlet is not polled"
    );
    assert!(abc_items > 0);

    // A broken edit: refused, the old config stays in force and says so.
    write_config(dir.path(), BROKEN);
    daemon.signal("HUP");
    let healthz = daemon
        .until("/healthz", |s, b| {
            s == 200 && json_of(b).get("warning").is_some()
        })
        .await;
    let warning = json_of(&healthz)["warning"].as_str().unwrap().to_owned();
    assert!(
        warning.contains("feeds.toml:5:10"),
        "line and column: {warning}"
    );
    let status = daemon.json("/status").await;
    assert!(
        status["config_refused"]["error"]
            .as_str()
            .unwrap()
            .contains("feeds.toml:5:10"),
        "{status}"
    );
    let outlets: Vec<&str> = status["outlets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        outlets,
        ["news"],
        "the config in force is the last valid one"
    );
    assert!(
        daemon.log().contains("config reload refused"),
        "{}",
        daemon.log()
    );
    let asked = server.seen("/n.xml").len();
    eventually("news to be polled still", 10, || {
        server.seen("/n.xml").len() > asked
    })
    .await;

    let metrics = daemon.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("tributary_config_reloads_total{result=\"applied\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tributary_config_reloads_total{result=\"refused\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tributary_retention_deleted_items_total "),
        "{metrics}"
    );
    assert!(daemon.stop("TERM").success());
}

#[tokio::test]
async fn a_purge_waits_for_the_removed_outlets_poll_under_way() {
    let server = FixtureServer::start().await;
    server.serve(
        "/a.xml",
        Doc::feed(ABC_TOP_0706, "a1").delayed(Duration::from_secs(3)),
    );
    server.serve("/n.xml", Doc::feed(NEWS_NATIONAL, "n1"));
    let (a, n) = ([server.url("/a.xml")], [server.url("/n.xml")]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let both = config(port, &[("abc", &a), ("news", &n)]);
    let daemon = Daemon::start_with_args(dir.path(), &both, &["--no-watch"]).await;
    let news_items = item_count(
        &daemon
            .until("/outlets/news/feed.json", |_, b| item_count(b) > 0)
            .await,
    );
    eventually("ABC's feed to be asked", 10, || {
        !server.seen("/a.xml").is_empty()
    })
    .await;
    // ABC removed with purge_removed while its poll waits for the slow feed.
    remove_abc_with_purge(&daemon, dir.path(), port, &n).await;
    eventually("the removed outlet's items to be deleted", 15, || {
        daemon
            .log()
            .contains("deleted the items of a removed outlet")
    })
    .await;
    let log = daemon.log();
    let deleted = log
        .lines()
        .find(|l| l.contains("deleted the items of a removed outlet"))
        .unwrap();
    assert!(
        !deleted.contains("deleted=0"),
        "the poll under way stored first: {deleted}"
    );
    daemon
        .until("/healthz", |_, b| json_of(b)["items"] == news_items)
        .await;
    assert!(daemon.stop("TERM").success());
}

#[tokio::test]
async fn editing_the_file_reloads_it_without_a_signal() {
    let server = two_feeds().await;
    let (a, n) = ([server.url("/a.xml")], [server.url("/n.xml")]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let only_abc = config(port, &[("abc", &a)]);
    let daemon = Daemon::start(dir.path(), &only_abc).await;
    daemon
        .until("/outlets/abc/feed.json", |_, b| item_count(b) > 0)
        .await;

    write_config(dir.path(), &config(port, &[("abc", &a), ("news", &n)]));
    daemon
        .until("/outlets/news/feed.json", |s, b| {
            s == 200 && item_count(b) > 0
        })
        .await;
    let news_items = item_count(&daemon.until("/outlets/news/feed.json", |_, _| true).await);
    let stored = daemon
        .until("/healthz", |_, b| {
            json_of(b)["items"].as_u64() >= Some(19 + news_items as u64)
        })
        .await;
    let stored = json_of(&stored)["items"].clone();

    // Removed without purge_removed: not polled, but its items stay until retention.
    write_config(dir.path(), &only_abc);
    daemon
        .until("/outlets/news/feed.json", |s, _| s == 404)
        .await;
    let healthz = json_of(&daemon.get("/healthz").await.text().await.unwrap());
    assert_eq!(healthz["items"], stored, "a removed outlet's items stay");

    write_config(dir.path(), BROKEN);
    daemon
        .until("/healthz", |_, b| json_of(b).get("warning").is_some())
        .await;
    let asked = server.seen("/a.xml").len();
    eventually("abc to be polled still", 10, || {
        server.seen("/a.xml").len() > asked
    })
    .await;

    // Fixed: the warning goes.
    write_config(
        dir.path(),
        &only_abc.replace("title = \"Test River\"", "title = \"Fixed\""),
    );
    daemon
        .until("/healthz", |_, b| json_of(b).get("warning").is_none())
        .await;
    let feed = daemon
        .until("/feed.json", |_, b| json_of(b)["title"] == "Fixed")
        .await;
    assert!(item_count(&feed) > 0);
    let log = daemon.log();
    assert!(
        log.contains("the config file changed: reloading it"),
        "{log}"
    );
    assert!(
        log.contains("diff=changed [server] base_url/title"),
        "{log}"
    );
    assert!(daemon.stop("TERM").success());
}

#[tokio::test]
async fn the_log_level_comes_from_the_config_and_follows_a_reload() {
    let server = two_feeds().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let feeds = [server.url("/a.xml")];
    let quiet = config(port, &[("abc", &feeds)])
        .replace("[polling]", "[log]\nlevel = \"warn\"\n\n[polling]");
    let daemon = Daemon::start_with_env(dir.path(), &quiet, &[("RUST_LOG", "")]).await;
    daemon
        .wait_for("items", |h| h["items"].as_u64() > Some(0))
        .await;
    assert!(
        !daemon.log().contains(" INFO "),
        "level = \"warn\" logs no info:\n{}",
        daemon.log()
    );

    write_config(
        dir.path(),
        &quiet.replace("level = \"warn\"", "level = \"info\""),
    );
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains(" INFO ") {
        assert!(
            Instant::now() < deadline,
            "no info after the reload:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        daemon.log().contains("diff=changed [log]"),
        "{}",
        daemon.log()
    );
}
