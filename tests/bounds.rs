//! No reader and no outlet can stall the rest: connections are bounded in time and number,
//! searches in size and time, and sanitizing in cost, against the real daemon on loopback.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{Daemon, Doc, FixtureServer, ABC_JUSTIN};

/// The daemon's header timeout (`serve::HEADER_TIMEOUT`), and what a closed socket may take
/// beyond it to be seen closed.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(5);

/// Reads from `socket` until the daemon closes it, and returns what it sent; fails the test
/// if it is still open at `deadline`.
async fn closed_by(socket: &mut TcpStream, deadline: Instant) -> Vec<u8> {
    let mut sent = Vec::new();
    let left = deadline.saturating_duration_since(Instant::now());
    let read = tokio::time::timeout(left, socket.read_to_end(&mut sent)).await;
    assert!(read.is_ok(), "still open after the header timeout");
    sent
}

async fn metric(daemon: &Daemon, name: &str) -> f64 {
    let text = daemon.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_and_half_sent_connections_are_closed_and_readers_still_served() {
    let server = FixtureServer::start().await;
    let (daemon, _dir) = Daemon::with_one_feed(&server, Doc::feed(ABC_JUSTIN, "\"1\"")).await;
    daemon.wait_for_items(250).await;
    let address = daemon.base.trim_start_matches("http://").to_owned();

    let opened = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..1100 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    let mut half = TcpStream::connect(&address).await.unwrap();
    half.write_all(b"GET /feed.xml HT").await.unwrap();
    let mut trickle = TcpStream::connect(&address).await.unwrap();
    let trickling = tokio::spawn(async move {
        for byte in b"GET /feed.xml HTTP/1.1\r\nHost: x\r\n".iter().cycle() {
            if trickle.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });

    let feed = daemon.get("/feed.xml").await;
    assert_eq!(
        feed.status(),
        200,
        "a reader is served beside 1,100 idle sockets"
    );
    assert!(feed.text().await.unwrap().contains("<item>"));
    assert!(metric(&daemon, "tributary_http_connections").await >= 1100.0);
    assert!(metric(&daemon, "tributary_http_connections_max").await >= 1100.0);

    let deadline = opened + HEADER_TIMEOUT + SLACK;
    for socket in &mut idle {
        assert!(closed_by(socket, deadline).await.is_empty());
    }
    let answer = closed_by(&mut half, deadline).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    tokio::time::timeout(SLACK, trickling)
        .await
        .expect("a trickling request is cut at the header timeout")
        .unwrap();
    // Once earlier readers' sockets are seen closed, this request's own is the one left open.
    let mut open = f64::MAX;
    for _ in 0..50 {
        open = metric(&daemon, "tributary_http_connections").await;
        if open == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 1.0, "closed connections are no longer counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_when_idle() {
    let server = FixtureServer::start().await;
    let (daemon, _dir) = Daemon::with_one_feed(&server, Doc::feed(ABC_JUSTIN, "\"1\"")).await;
    let address = daemon.base.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = Instant::now();
    let sent = closed_by(&mut socket, answered + HEADER_TIMEOUT + SLACK).await;
    assert!(sent.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_readers_wait_instead_of_failing() {
    let server = FixtureServer::start().await;
    server.serve("/top.xml", Doc::feed(ABC_JUSTIN, "\"1\""));
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(common::free_port(), &[("abc", &[server.url("/top.xml")])]);
    // 600 open files leave room for 88 readers' connections.
    let daemon = Daemon::start_with_open_files(dir.path(), &config, 600).await;
    daemon.wait_for_items(250).await;
    assert_eq!(
        metric(&daemon, "tributary_http_connections_max").await,
        88.0
    );
    let address = daemon.base.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    // 88 are served, the rest wait in the kernel's queue ahead of the reader.
    for _ in 0..150 {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    let waited = Instant::now();
    let health = tokio::time::timeout(
        HEADER_TIMEOUT * 3,
        reqwest::get(format!("{}/healthz", daemon.base)),
    )
    .await
    .expect("answered once idle connections timed out")
    .unwrap();
    assert_eq!(health.status(), 200);
    assert!(waited.elapsed() >= Duration::from_secs(1), "the cap held");
    let log = daemon.log();
    assert!(
        log.contains("as many readers' connections as allowed"),
        "{log}"
    );
    assert!(!log.contains("Too many open files"), "{log}");
}

/// Builds an RSS feed of one item whose description is `depth` nested `<div>`s around its text.
fn nested_feed(outlet: &str, depth: usize) -> Vec<u8> {
    let html = "<p>The words before.</p>".to_owned()
        + &"<div>".repeat(depth)
        + "inside"
        + &"</div>".repeat(depth);
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{outlet}</title>\
         <link>https://{outlet}.example/</link><item><title>Deep at {outlet}</title>\
         <link>https://{outlet}.example/deep</link><description><![CDATA[{html}]]></description>\
         <pubDate>Tue, 23 May 2017 10:00:00 GMT</pubDate></item></channel></rss>"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_html_is_cut_shown_in_status_and_delays_no_one() {
    let server = FixtureServer::start().await;
    server.serve("/deep-1.xml", Doc::body(200, nested_feed("deep1", 100_000)));
    server.serve("/deep-2.xml", Doc::body(200, nested_feed("deep2", 100_000)));
    server.serve("/top.xml", Doc::feed(ABC_JUSTIN, "\"1\""));
    let dir = tempfile::tempdir().unwrap();
    let deep = [server.url("/deep-1.xml"), server.url("/deep-2.xml")];
    let healthy = [server.url("/top.xml")];
    let config = common::config(common::free_port(), &[("deep", &deep), ("abc", &healthy)]);
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(252).await;
    for url in &deep {
        let status = daemon.feed_status(url).await;
        let problems = status["document_problems"].as_str().unwrap_or_default();
        assert!(
            // The description is read to its first 64 KiB: 13,107 `<div>`s.
            problems.contains("nests 13102 elements deep, past 256: kept as plain text"),
            "{status}"
        );
    }
    let feed = daemon.json("/feed.json?outlet=deep").await;
    let texts: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["content_html"].as_str())
        .collect();
    assert_eq!(texts.len(), 2, "{feed}");
    assert!(
        texts.iter().all(|t| t.starts_with("The words before.")),
        "{feed}"
    );
}

/// Makes the 250 items of the Just In capture 50,000, each copy a day older than the last,
/// with their search entries: the store the searches below run against.
fn copy_items_to_50_000(database: &std::path::Path) {
    let db = rusqlite::Connection::open(database).unwrap();
    db.execute_batch(
        "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 199)
         INSERT INTO items (id, outlet, url, feed_url, sort_at, first_seen, modified_at,
                            content_hash, data, story, signature)
         SELECT id || '-' || k, outlet, url || '?copy=' || k, feed_url, sort_at - k * 86400,
                first_seen - k * 86400, modified_at, content_hash, data, id || '-' || k, signature
         FROM items, n WHERE outlet = 'abc';
         INSERT INTO items_search (rowid, title, summary)
         SELECT copy.rowid, s.title, s.summary
         FROM items copy
         JOIN items original ON original.id = substr(copy.id, 1, instr(copy.id, '-') - 1)
         JOIN items_search s ON s.rowid = original.rowid
         WHERE instr(copy.id, '-') > 0;",
    )
    .unwrap();
    let count: u64 = db
        .query_row(
            "SELECT count(*) FROM items WHERE outlet = 'abc'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(count, 50_000);
}

/// Builds an RSS feed of `titles`, one item each.
fn small_feed(titles: &[&str]) -> Vec<u8> {
    let items: String = titles
        .iter()
        .enumerate()
        .map(|(i, title)| {
            format!(
                "<item><title>{title}</title><link>https://fresh.example/{i}</link>\
                 <pubDate>Tue, 23 May 2017 1{i}:00:00 GMT</pubDate></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Fresh</title>\
         <link>https://fresh.example/</link>{items}</channel></rss>"
    )
    .into_bytes()
}

/// Measures the slowest of `GET path` answers while `until` has not passed, and their statuses.
async fn hammer(base: String, path: String, until: Instant) -> (Duration, Vec<u16>) {
    let client = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    let mut statuses = Vec::new();
    while Instant::now() < until {
        let asked = Instant::now();
        let status = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        slowest = slowest.max(asked.elapsed());
        statuses.push(status);
    }
    (slowest, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_hold_up_neither_status_nor_polls() {
    let server = FixtureServer::start().await;
    server.serve("/top.xml", Doc::feed(ABC_JUSTIN, "\"1\""));
    server.serve("/fresh.xml", Doc::body(200, small_feed(&["First"])));
    let dir = tempfile::tempdir().unwrap();
    let feeds = [server.url("/top.xml")];
    let fresh = [server.url("/fresh.xml")];
    let config = common::config(common::free_port(), &[("abc", &feeds), ("fresh", &fresh)]);
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(251).await;
    assert!(daemon.stop("TERM").success());
    copy_items_to_50_000(&dir.path().join("test.db"));
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(50_001).await;

    // Refused by their length at once, and the costliest searches that are allowed: eight
    // three-letter prefixes, each matching thousands of items.
    let refused = format!("/feed.xml?q={}", "m*+".repeat(5_000));
    let costliest = "/feed.xml?q=the*+pol*+gov*+min*+sta*+aus*+new*+sai*".to_owned();
    let until = Instant::now() + Duration::from_secs(6);
    let searches: Vec<_> = [&refused, &refused, &costliest, &costliest]
        .into_iter()
        .map(|path| tokio::spawn(hammer(daemon.base.clone(), path.clone(), until)))
        .collect();
    let health = tokio::spawn(hammer(daemon.base.clone(), "/healthz".into(), until));
    let status = tokio::spawn(hammer(daemon.base.clone(), "/status".into(), until));
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.serve(
        "/fresh.xml",
        Doc::body(200, small_feed(&["First", "Second"])),
    );
    daemon.wait_for_items(50_002).await;

    for search in searches {
        let (slowest, statuses) = search.await.unwrap();
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 400)),
            "{statuses:?}"
        );
        // The deadline is one second from arrival; debug builds and a busy machine get more.
        assert!(
            slowest < Duration::from_secs(3),
            "a search took {slowest:?}"
        );
    }
    for operator in [health, status] {
        let (slowest, statuses) = operator.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        assert!(slowest < Duration::from_secs(1), "took {slowest:?}");
    }
}
