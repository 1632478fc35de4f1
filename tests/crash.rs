//! Crashes lose nothing: the daemon is killed with SIGKILL at random moments, 100 times, while it
//! polls feeds that change on every poll; after each restart the database passes SQLite's
//! integrity check and every item served before the kill is served again.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Cuts ABC's Just In capture into overlapping windows of 40 items: each poll brings new items
/// and drops old ones, as a live feed does.
fn windows() -> Vec<Vec<u8>> {
    let text = String::from_utf8(fixture(ABC_JUSTIN)).unwrap();
    let start = text.find("<item>").unwrap();
    let end = text.rfind("</item>").unwrap() + "</item>".len();
    let items: Vec<&str> = text[start..end]
        .split_inclusive("</item>")
        .map(str::trim)
        .collect();
    (0..items.len() - 40)
        .step_by(7)
        .map(|first| {
            format!(
                "{}{}{}",
                &text[..start],
                items[first..first + 40].join("\n"),
                &text[end..]
            )
            .into_bytes()
        })
        .collect()
}

fn served_ids(feed: &Value) -> HashSet<String> {
    entry_ids(feed).into_iter().collect()
}

#[tokio::test]
async fn a_hundred_kills_lose_nothing_that_was_served() {
    let server = FixtureServer::start().await;
    let windows = windows();
    let dir = tempfile::tempdir().unwrap();
    let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
    let mut random = 0x9e37_79b9_u64;
    for kill in 0..100 {
        let body = windows[kill % windows.len()].clone();
        server.serve("/top.xml", Doc::body(200, body));
        let daemon = Daemon::start(dir.path(), &config).await;
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        tokio::time::sleep(std::time::Duration::from_millis(random % 400)).await;
        let before = served_ids(&daemon.json("/feed.json?limit=1000").await);
        let status = daemon.stop("KILL");
        assert!(!status.success());

        let db = rusqlite::Connection::open(dir.path().join("test.db")).unwrap();
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "after kill {kill}");
        drop(db);

        let daemon = Daemon::start(dir.path(), &config).await;
        let after = served_ids(&daemon.json("/feed.json?limit=1000").await);
        let lost: Vec<_> = before.difference(&after).collect();
        assert!(lost.is_empty(), "kill {kill} lost {lost:?}");
        daemon.stop("KILL");
    }
}

/// Stops the daemon with SIGTERM while a poll waits `delay` for its answer (the next window of
/// the feed); returns how many items the database holds afterwards. Whatever the poll did, the
/// exit is clean and within 10 s, and a restart serves every item stored.
async fn sigterm_during_a_poll(delay: Duration) -> i64 {
    let server = FixtureServer::start().await;
    let windows = windows();
    server.serve("/top.xml", Doc::body(200, windows[0].clone()));
    let dir = tempfile::tempdir().unwrap();
    // A time limit longer than the slowest answer: only shutdown ends the poll.
    let polling = FAST_POLLING.replace("timeout_secs = 5", "timeout_secs = 60");
    let config = config_with(free_port(), &polling, &[("abc", &[server.url("/top.xml")])]);
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(40).await;

    server.serve(
        "/top.xml",
        Doc::body(200, windows[3].clone()).delayed(delay),
    );
    let asked = server.seen("/top.xml").len();
    eventually("a slow poll to start", 10, || {
        server.seen("/top.xml").len() > asked
    })
    .await;
    let started = std::time::Instant::now();
    let status = daemon.stop("TERM");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let db = rusqlite::Connection::open(dir.path().join("test.db")).unwrap();
    let (items, polls): (i64, i64) = db
        .query_row(
            "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM feeds)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(polls, 1);
    drop(db);
    server.serve("/top.xml", Doc::status(503));
    let daemon = Daemon::start(dir.path(), &config).await;
    let served = served_ids(&daemon.json("/feed.json?limit=1000").await);
    assert_eq!(
        served.len() as i64,
        items,
        "a restart serves what was stored"
    );
    items
}

// `Daemon::stop` blocks while it waits: the fixture server needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_poll_that_ends_within_the_grace_period_store_all_of_it() {
    // The fourth window starts 21 items after the first: 21 new items.
    assert_eq!(sigterm_during_a_poll(Duration::from_millis(1500)).await, 61);
}

// `Daemon::stop` blocks while it waits: the fixture server needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_poll_that_outlasts_the_grace_period_and_stores_none_of_it() {
    assert_eq!(sigterm_during_a_poll(Duration::from_secs(30)).await, 40);
}
