//! Several instances sharing one PostgreSQL database, end to end: the real daemons, a real
//! server (see `common::pg_server`) and fixture outlets on 127.0.0.1. Each feed is polled by
//! one instance per due time, never by both; an instance killed mid-poll gives its feeds up
//! within its lease; a story carried by two outlets is one story whichever instance stored
//! each copy; and every instance serves the same bytes under the same ETags.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Rewrites `config` (from [`common::config_with`]) to store in the PostgreSQL database `url`.
fn on_postgres(config: &str, url: &str) -> String {
    config.replace("path = \"test.db\"", &format!("url = \"{url}\""))
}

/// Writes a `[polling]` body that polls every second, at most every `min_interval_secs`, with 5 s
/// to fetch (so a 20 s lease).
fn polling(min_interval_secs: u64) -> String {
    format!(
        "schedule = \"* * * * * *\"\ntimeout_secs = 5\nmin_interval_secs = {min_interval_secs}\n"
    )
}

/// Starts two daemons on the database `url`, each in a folder of its own, with `outlets`.
async fn two_instances(
    url: &str,
    polling: &str,
    outlets: &[(&str, &[String])],
) -> [(Daemon, tempfile::TempDir); 2] {
    let mut started = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let config = on_postgres(&config_with(free_port(), polling, outlets), url);
        started.push((Daemon::start(dir.path(), &config).await, dir));
    }
    started.try_into().unwrap_or_else(|_| unreachable!())
}

/// Runs `query` on the database `url` (off the async workers: the client blocks).
fn query(url: &str, query: &'static str) -> Vec<postgres::Row> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .query(query, &[])
            .unwrap()
    })
    .join()
    .unwrap()
}

/// Fetches the merged JSON Feed's bytes and ETag.
async fn merged(daemon: &Daemon) -> (Vec<u8>, String) {
    let response = daemon.get("/feed.json").await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    (response.bytes().await.unwrap().to_vec(), etag)
}

#[tokio::test]
async fn two_instances_poll_each_feed_once_per_due_time_and_serve_the_same_bytes() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let server = FixtureServer::start().await;
    // Each answer takes 1.5 s: the other instance's ticks meanwhile find the feed due.
    let slow = Duration::from_millis(1_500);
    server.serve("/abc.xml", Doc::feed(ABC_TOP_0706, "a1").delayed(slow));
    server.serve("/news.xml", Doc::feed(NEWS_NATIONAL, "n1").delayed(slow));
    let (abc, news) = (server.url("/abc.xml"), server.url("/news.xml"));
    let started = Instant::now();
    let [(first, _a), (second, _b)] = two_instances(
        &url,
        &polling(4),
        &[("abc", &[abc]), ("newscomau", &[news])],
    )
    .await;
    let stored = first
        .wait_for("the first poll of both feeds", |h| {
            h["items"].as_u64().unwrap_or(0) > 0 && h["items"] != 0
        })
        .await;
    assert!(stored["items"].as_u64().unwrap() > 0);
    tokio::time::sleep(Duration::from_secs(13).saturating_sub(started.elapsed())).await;

    for path in ["/abc.xml", "/news.xml"] {
        let asked: Vec<Instant> = server.seen(path).iter().map(|s| s.at).collect();
        assert!(asked.len() >= 2, "{path} polled again: {asked:?}");
        for pair in asked.windows(2) {
            let apart = pair[1] - pair[0];
            assert!(
                apart >= Duration::from_millis(3_500),
                "{path} asked twice {apart:?} apart, within its 4 s interval\nfirst:\n{}\nsecond:\n{}",
                first.log(),
                second.log()
            );
        }
    }

    let mut same = false;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !same && Instant::now() < deadline {
        let (one, other) = (merged(&first).await, merged(&second).await);
        same = one == other;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(same, "the two instances serve different merged feeds");
    let (body, _) = merged(&first).await;
    let feed: Value = serde_json::from_slice(&body).unwrap();
    assert!(!feed["items"].as_array().unwrap().is_empty());
    let health = second.json("/healthz").await;
    assert_eq!(health["status"], "ok", "{health}");
}

#[tokio::test]
async fn an_instance_killed_mid_poll_gives_its_feed_up_within_its_lease() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let server = FixtureServer::start().await;
    server.serve("/abc.xml", Doc::feed(ABC_TOP_0706, "a1"));
    let feed = server.url("/abc.xml");
    let [(first, _a), (second, _b)] = two_instances(&url, &polling(0), &[("abc", &[feed])]).await;
    let stored = first
        .wait_for("the feed's items", |h| h["items"].as_u64().unwrap_or(0) > 0)
        .await["items"]
        .clone();
    // Each poll now takes 4 s, all of it under a lease.
    server.serve(
        "/abc.xml",
        Doc::feed(ABC_TOP_0706, "a1").delayed(Duration::from_secs(4)),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let holder = loop {
        let holders = query(&url, "SELECT holder FROM leases");
        if let Some(row) = holders.first() {
            break row.get::<_, String>(0);
        }
        assert!(Instant::now() < deadline, "no instance took a lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pid: u32 = holder.split(':').nth(1).unwrap().parse().unwrap();
    let (killed, survivor) = match first.child.id() == pid {
        true => (first, second),
        false => (second, first),
    };
    assert_eq!(killed.child.id(), pid, "{holder} is one of the two");
    let asked_before = server.seen("/abc.xml").len();
    let killed_at = Instant::now();
    killed.stop("KILL");

    // The lease is 2 × 5 s + 10 s: the survivor asks within it, and a tick.
    let mut taken_over = None;
    while taken_over.is_none() && killed_at.elapsed() < Duration::from_secs(25) {
        let seen = server.seen("/abc.xml");
        taken_over = seen[asked_before..].first().map(|s| s.at - killed_at);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = taken_over
        .unwrap_or_else(|| panic!("the survivor never polled the feed\n{}", survivor.log()));
    assert!(
        after <= Duration::from_secs(22),
        "taken over after {after:?}"
    );
    let health = survivor.json("/healthz").await;
    assert_eq!(health["items"], stored, "nothing stored was lost");
    survivor
        .until("/status", |_, body| {
            body.contains("\"consecutive_failures\":0")
        })
        .await;
}

fn rss(items: &[(&str, &str, &str)]) -> Vec<u8> {
    let items: String = items
        .iter()
        .map(|(link, title, summary)| {
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
                 <description><![CDATA[<p>{summary}</p>]]></description>\
                 <pubDate>Thu, 19 Nov 2026 07:50:00 GMT</pubDate></item>"
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
        .into_bytes()
}

#[tokio::test]
async fn a_story_from_two_outlets_is_one_story_whichever_instance_stored_each_copy() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let server = FixtureServer::start().await;
    let abc = rss(&[(
        "https://www.abc.net.au/news/2026-11-19/landslide-png-enga/105992001",
        "Landslide in PNG's Enga province kills at least 14, dozens missing",
        "At least 14 people have been killed and dozens are missing after a landslide buried homes in a village in Papua New Guinea's Enga province, local officials say.",
    )]);
    let news = rss(&[(
        "https://www.news.com.au/world/pacific/png-landslide-14-dead/news-story/84320b52",
        "PNG landslide: 14 dead, dozens missing after hillside collapses",
        "A landslide has buried homes in a remote village in Papua New Guinea's Enga province, killing at least 14 people and leaving dozens more missing, officials say.",
    )]);
    server.serve("/abc.xml", Doc::body(200, abc));
    server.serve("/news.xml", Doc::body(200, news));
    let (abc, news) = (server.url("/abc.xml"), server.url("/news.xml"));
    let instances = two_instances(
        &url,
        &polling(3600),
        &[("abc", &[abc]), ("newscomau", &[news])],
    )
    .await;
    for (daemon, _) in &instances {
        daemon.wait_for_items(2).await;
        let feed = daemon
            .until("/feed.json", |_, body| body.contains("\"also\""))
            .await;
        let feed: Value = serde_json::from_str(&feed).unwrap();
        let items = feed["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "one story: {feed}");
        assert_eq!(items[0]["_tributary"]["also"].as_array().unwrap().len(), 1);
    }
    let stories = query(&url, "SELECT count(DISTINCT story) FROM items");
    assert_eq!(stories[0].get::<_, i64>(0), 1);
}

#[tokio::test]
async fn status_and_explain_read_a_postgresql_store() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let server = FixtureServer::start().await;
    let (daemon, dir) = Daemon::with_one_feed(&server, Doc::feed(ABC_JUSTIN, "j")).await;
    drop(daemon);
    let config = on_postgres(
        &config(free_port(), &[("abc", &[server.url("/top.xml")])]),
        &url,
    );
    std::fs::write(dir.path().join("feeds.toml"), &config).unwrap();
    // The fixture server answers on this thread: the command runs on another.
    let run = |args: &[&str]| {
        let mut command = binary();
        command
            .args(args)
            .arg("--config")
            .arg(dir.path().join("feeds.toml"));
        tokio::task::spawn_blocking(move || command.output())
    };
    let poll = run(&["poll"]).await.unwrap().unwrap();
    assert!(
        poll.status.success(),
        "{}{}",
        String::from_utf8_lossy(&poll.stdout),
        String::from_utf8_lossy(&poll.stderr)
    );
    let status = run(&["status", "--json"]).await.unwrap().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let feed = &status["outlets"][0]["feeds"][0];
    assert_eq!(feed["last_status"], 200, "{status}");
    assert!(feed["items"].as_u64().unwrap() > 0, "{status}");
    let id: String = query(&url, "SELECT id FROM items LIMIT 1")[0].get(0);
    let explain = run(&["explain", &id]).await.unwrap().unwrap();
    assert!(
        explain.status.success(),
        "{}",
        String::from_utf8_lossy(&explain.stderr)
    );
    assert!(String::from_utf8_lossy(&explain.stdout).contains("began the story"));
}

#[tokio::test]
async fn migrate_store_moves_an_sqlite_store_into_postgresql_with_nothing_lost() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let server = FixtureServer::start().await;
    server.serve("/abc.xml", Doc::feed(ABC_TOP_0706, "a1"));
    server.serve("/news.xml", Doc::feed(NEWS_NATIONAL, "n1"));
    let outlets: [(&str, &[String]); 2] = [
        ("abc", &[server.url("/abc.xml")]),
        ("newscomau", &[server.url("/news.xml")]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let sqlite = config_with(free_port(), &polling(3600), &outlets);
    let daemon = Daemon::start(dir.path(), &sqlite).await;
    let stored = daemon
        .wait_for("both feeds", |h| h["items"].as_u64().unwrap_or(0) > 20)
        .await["items"]
        .clone();
    let before = merged(&daemon).await;
    assert!(daemon.stop("TERM").success());

    let migrate = |to: String| {
        let mut command = binary();
        command
            .args(["migrate-store", "--to", &to, "--config"])
            .arg(dir.path().join("feeds.toml"));
        tokio::task::spawn_blocking(move || command.output())
    };
    let copied = migrate(url.clone()).await.unwrap().unwrap();
    let said = String::from_utf8_lossy(&copied.stdout).into_owned();
    assert!(
        copied.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert!(
        said.starts_with(&format!("copied {stored} items, 2 feeds")),
        "{said}"
    );
    let again = migrate(url.clone()).await.unwrap().unwrap();
    assert!(!again.status.success(), "a second copy would merge");
    let refused = String::from_utf8_lossy(&again.stderr);
    assert!(refused.contains("into an empty database only"), "{refused}");

    let moved = tempfile::tempdir().unwrap();
    let postgres = on_postgres(&config_with(free_port(), &polling(3600), &outlets), &url);
    let daemon = Daemon::start(moved.path(), &postgres).await;
    assert_eq!(daemon.json("/healthz").await["items"], stored);
    assert_eq!(
        merged(&daemon).await,
        before,
        "the same feed, byte for byte"
    );
    let status = daemon.feed_status(&server.url("/abc.xml")).await;
    assert_eq!(
        status["etag"], "\"a1\"",
        "the validators came along: {status}"
    );
    // Search runs on PostgreSQL's index, built as the items were copied.
    let every: Value = serde_json::from_slice(&before.0).unwrap();
    let first = &every["items"][0];
    let word = first["title"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_alphanumeric())
        .max_by_key(|w| w.len())
        .unwrap();
    let found: Value = daemon.json(&format!("/feed.json?q={word}")).await;
    let ids: Vec<&Value> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    assert!(ids.contains(&&first["id"]), "{word}: {found}");
}

#[tokio::test]
async fn a_database_outage_stops_ingest_not_serving() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let server = FixtureServer::start().await;
    server.serve("/abc.xml", Doc::feed(ABC_TOP_0706, "a1"));
    let dir = tempfile::tempdir().unwrap();
    let config = on_postgres(
        &config_with(
            free_port(),
            &polling(0),
            &[("abc", &[server.url("/abc.xml")])],
        ),
        &url,
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    let stored = daemon
        .wait_for("the feed's items", |h| h["items"].as_u64().unwrap_or(0) > 0)
        .await["items"]
        .clone();
    let before = merged(&daemon).await;

    // The database goes away: its connections are cut, and it cannot be connected to.
    let (name, admin) = url
        .rsplit_once('/')
        .map(|(base, name)| (name.to_owned(), format!("{base}/postgres")))
        .unwrap();
    let outage = |sql: String| {
        let admin = admin.clone();
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            client.batch_execute(&sql).unwrap();
        })
        .join()
        .unwrap()
    };
    outage(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ));
    let health = daemon.until("/healthz", |status, _| status == 503).await;
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "unhealthy");
    assert!(
        health["error"]
            .as_str()
            .unwrap()
            .starts_with("the database cannot be read"),
        "{health}"
    );
    assert_eq!(merged(&daemon).await, before, "readers still get the feeds");

    // Back: the daemon connects again by itself, and stores what changed meanwhile.
    server.serve("/abc.xml", Doc::feed(ABC_TOP_1240, "a2"));
    outage(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true;"));
    daemon.until("/healthz", |status, _| status == 200).await;
    daemon
        .wait_for("the changed feed's items", |h| {
            h["items"].as_u64() > stored.as_u64()
        })
        .await;
}
