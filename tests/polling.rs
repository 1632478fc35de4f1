//! Polling against outlets that misbehave on purpose: every fault ends within the time limit,
//! keeps what was stored, and is recorded; backoff, Retry-After, cache hints, the minimum
//! interval, permanent redirects and the per-host limit are checked by counting requests.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::raw::{self, Fault};
use common::*;
use serde_json::Value;

/// A poll that is cut off at the limit still takes a moment to record.
const LIMIT_SLACK_MS: u64 = 1000;

fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Gzips 64 MiB of spaces into about 64 KiB.
fn gzip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&spaces).unwrap();
    }
    encoder.finish().unwrap()
}

#[tokio::test]
async fn every_fault_ends_in_time_keeps_what_was_stored_and_is_recorded() {
    let server = FixtureServer::start().await;
    server.serve("/good.xml", Doc::feed(ABC_TOP_0706, "good"));
    let half_feed = fixture(NEWS_NATIONAL)[..2000].to_vec();
    let port = server
        .url("/")
        .split(':')
        .nth(2)
        .unwrap()
        .trim_matches('/')
        .to_owned();
    let http_faults: Vec<(&str, Doc, &str)> = vec![
        (
            "/html",
            Doc::body(
                200,
                b"<!doctype html><html><body><p>Welcome</p></body></html>".to_vec(),
            ),
            "not a readable feed",
        ),
        (
            "/random",
            Doc::body(200, random_bytes(4096)),
            "not a readable feed",
        ),
        ("/empty", Doc::body(200, Vec::new()), "empty body"),
        // Recovered rather than failed: what was cut off is recorded as a problem.
        ("/half", Doc::body(200, half_feed), "ends mid-way"),
        ("/404", Doc::status(404), "404 Not Found"),
        ("/410", Doc::status(410), "410 Gone"),
        ("/500", Doc::status(500), "500 Internal Server Error"),
        ("/loop", Doc::redirect(302, "/loop-back"), "redirect loop"),
        (
            "/huge",
            Doc::body(200, vec![b' '; 2 << 20]),
            "larger than 1048576 bytes",
        ),
        (
            "/bomb",
            Doc::body(200, gzip_bomb()).with_header("content-encoding", "gzip"),
            "larger than 1048576 bytes",
        ),
        (
            "/sneaky",
            Doc::redirect(302, &format!("http://localhost:{port}/good.xml")),
            "allow_private_networks",
        ),
    ];
    server.serve("/loop-back", Doc::redirect(302, "/loop"));
    // First every faulty path serves a good feed, so that there is something to lose.
    for (path, _, _) in &http_faults {
        server.serve(path, Doc::feed(NEWS_NATIONAL, "national"));
    }
    let mut faulty: Vec<(String, &str)> = http_faults
        .iter()
        .map(|(path, _, words)| (server.url(path), *words))
        .collect();
    faulty.extend([
        (raw::serve(Fault::NeverAnswers).await, "time limit"),
        (raw::serve(Fault::Trickles).await, "time limit"),
        (
            raw::serve(Fault::EndlessBody).await,
            "larger than 1048576 bytes",
        ),
        (raw::serve(Fault::TruncatedBody).await, "request failed"),
        ("http://feed.invalid/rss.xml".to_owned(), "dns error"),
        (
            format!("http://127.0.0.1:{}/rss.xml", free_port()),
            "Connection refused",
        ),
    ]);
    let polling = "schedule = \"* * * * * *\"\ntimeout_secs = 2\nmin_interval_secs = 0\n\
                   max_body_bytes = 1048576\n";
    let faulty_urls: Vec<String> = faulty.iter().map(|(url, _)| url.clone()).collect();
    // Another outlet is another host: named differently, it has its own per-host limit.
    let good_url = server.url("/good.xml").replace("127.0.0.1", "localhost");
    let config = config_with(
        free_port(),
        polling,
        &[
            ("good", std::slice::from_ref(&good_url)),
            ("faulty", &faulty_urls),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(19 + 7).await;
    // Every path that will misbehave has answered well once (they share one host's two slots
    // with the servers that hang, so some are asked only seconds later).
    for (path, _, _) in &http_faults {
        let url = server.url(path);
        let started = Instant::now();
        while !daemon.feed_status(&url).await["last_success"].is_string() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{url} never answered"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let before: Value = daemon.json("/feed.json?limit=1000").await;

    for (path, doc, _) in http_faults {
        server.serve(path, doc);
    }
    let started = Instant::now();
    for (url, words) in &faulty {
        loop {
            let status = daemon.feed_status(url).await;
            let error = status["last_error"].as_str().unwrap_or_default();
            let problems = status["document_problems"].as_str().unwrap_or_default();
            if problems.contains(words) {
                assert_eq!(status["last_status"], 200, "{status}");
                break;
            }
            if error.contains(words) {
                assert!(status["consecutive_failures"].as_u64().unwrap() >= 1);
                let ms = status["last_duration_ms"].as_u64().unwrap();
                assert!(ms <= 2000 + LIMIT_SLACK_MS, "{url} took {ms} ms");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{url} never failed with {words:?}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let good = daemon.feed_status(&good_url).await;
    assert_eq!(good["consecutive_failures"], 0, "{good}");
    assert_eq!(good["last_success"], good["last_attempt"], "{good}");
    eventually("the other outlet to keep being polled", 10, || {
        server
            .seen("/good.xml")
            .iter()
            .filter(|s| s.at > started)
            .count()
            >= 2
    })
    .await;
    let after: Value = daemon.json("/feed.json?limit=1000").await;
    assert_eq!(after["items"], before["items"], "stored items stay served");
    let national = daemon.feed_status(&server.url("/html")).await;
    assert_eq!(national["last_status"], 200);
    assert!(national["last_success"].is_string());
    let resident = daemon.resident_bytes();
    assert!(
        resident < 150 << 20,
        "endless and exploding bodies stay bounded: {resident} bytes resident"
    );
}

#[tokio::test]
async fn failures_back_off_and_retry_after_is_honoured_per_feed() {
    let server = FixtureServer::start().await;
    server.serve("/steady.xml", Doc::feed(ABC_TOP_0706, "steady"));
    server.serve("/fail.xml", Doc::status(500));
    server.serve(
        "/limited.xml",
        Doc::status(429).with_header("retry-after", "4"),
    );
    let retry_at = SystemTime::now() + Duration::from_secs(6);
    let not_before = Instant::now() + Duration::from_secs(5);
    server.serve(
        "/unavailable.xml",
        Doc::status(503).with_header("retry-after", &httpdate::fmt_http_date(retry_at)),
    );
    let feeds = [
        server.url("/steady.xml"),
        server.url("/fail.xml"),
        server.url("/limited.xml"),
        server.url("/unavailable.xml"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config(free_port(), &[("one-host", &feeds)])).await;
    eventually("the first polls", 10, || {
        !server.seen("/limited.xml").is_empty()
    })
    .await;
    let first = server.seen("/limited.xml")[0].at;
    tokio::time::sleep_until((first + Duration::from_millis(7500)).into()).await;

    let window = |path: &str| -> Vec<Duration> {
        server
            .seen(path)
            .iter()
            .map(|s| s.at.saturating_duration_since(first))
            .filter(|d| *d < Duration::from_millis(7500))
            .collect()
    };
    assert!(window("/steady.xml").len() >= 5, "the neighbours go on");
    let failing = window("/fail.xml");
    assert!(
        (2..=4).contains(&failing.len()),
        "backoff: 1, 2, 4 s between attempts, not every second: {failing:?}"
    );
    let limited = window("/limited.xml");
    assert!(
        limited[1..].iter().all(|d| *d >= Duration::from_secs(4)),
        "Retry-After: 4 was honoured: {limited:?}"
    );
    assert!(limited.len() >= 2, "and the feed was asked again after it");
    let unavailable = server.seen("/unavailable.xml");
    assert!(unavailable.len() >= 2, "asked again after the date");
    assert!(
        unavailable[1..].iter().all(|s| s.at >= not_before),
        "Retry-After as a date was honoured"
    );

    let status = daemon.feed_status(&server.url("/limited.xml")).await;
    assert_eq!(status["last_status"], 429);
    assert!(status["last_error"]
        .as_str()
        .unwrap()
        .contains("retry after 4 s"));
    let status = daemon.feed_status(&server.url("/fail.xml")).await;
    assert_eq!(status["next_poll_reason"], "backoff", "{status}");
    assert!(status["consecutive_failures"].as_u64().unwrap() >= 2);

    // One line per poll: info for an answer, warn with the reason for a failure.
    let log = daemon.log();
    let steady_lines = log.lines().filter(|l| l.contains("/steady.xml")).count();
    let steady_polls = server.seen("/steady.xml").len();
    assert!(
        steady_lines + 1 >= steady_polls && steady_lines <= steady_polls,
        "{steady_lines} log lines for {steady_polls} polls"
    );
    assert!(log.lines().any(|l| l.contains(" INFO ")
        && l.contains("/steady.xml")
        && l.contains("new=19")
        && l.contains("ms=")));
    assert!(log.lines().any(|l| l.contains(" WARN ")
        && l.contains("/limited.xml")
        && l.contains("429 Too Many Requests")));

    server.serve("/fail.xml", Doc::feed(NEWS_NATIONAL, "back"));
    daemon.wait_for_items(19 + 7).await;
    let recovered = daemon.feed_status(&server.url("/fail.xml")).await;
    assert_eq!(
        recovered["consecutive_failures"], 0,
        "a success resets the backoff"
    );
    assert_eq!(recovered["last_error"], Value::Null);
}

fn gaps(seen: &[Seen]) -> Vec<Duration> {
    seen.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test]
async fn cache_hints_and_the_minimum_interval_space_requests_out() {
    let respecting = FixtureServer::start().await;
    respecting.serve(
        "/cached.xml",
        Doc::feed(ABC_TOP_0706, "c").with_header("cache-control", "public, max-age=3"),
    );
    respecting.serve("/plain.xml", Doc::feed(NEWS_NATIONAL, "p"));
    let ignoring = FixtureServer::start().await;
    ignoring.serve(
        "/cached.xml",
        Doc::feed(ABC_TOP_0706, "c").with_header("cache-control", "max-age=600"),
    );
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let feeds_a = [respecting.url("/cached.xml"), respecting.url("/plain.xml")];
    let a = Daemon::start(dir_a.path(), &config(free_port(), &[("a", &feeds_a)])).await;
    let polling_b =
        "schedule = \"* * * * * *\"\nmin_interval_secs = 2\nrespect_cache_headers = false\n";
    let feeds_b = [ignoring.url("/cached.xml")];
    let b = Daemon::start(
        dir_b.path(),
        &config_with(free_port(), polling_b, &[("b", &feeds_b)]),
    )
    .await;
    eventually("the first polls", 10, || {
        !respecting.seen("/cached.xml").is_empty() && !ignoring.seen("/cached.xml").is_empty()
    })
    .await;
    let first = respecting.seen("/cached.xml")[0].at;
    tokio::time::sleep_until((first + Duration::from_millis(7500)).into()).await;

    let window = |server: &FixtureServer, path: &str, from: Instant| -> Vec<Seen> {
        let seen = server.seen(path);
        let end = from + Duration::from_millis(7500);
        seen.into_iter().filter(|s| s.at <= end).collect()
    };
    let cached = window(&respecting, "/cached.xml", first);
    assert!(
        (2..=3).contains(&cached.len()),
        "max-age=3 over 7.5 s: {:?}",
        gaps(&cached)
    );
    assert!(gaps(&cached)
        .iter()
        .all(|g| *g >= Duration::from_millis(2500)));
    assert!(
        respecting.seen("/plain.xml").len() >= 6,
        "no hint: every tick"
    );
    let status = a.feed_status(&respecting.url("/cached.xml")).await;
    assert_eq!(status["next_poll_reason"], "Cache-Control");

    let floored = ignoring.seen("/cached.xml");
    assert!(
        floored.len() >= 3,
        "max-age=600 ignored: {:?}",
        gaps(&floored)
    );
    assert!(
        gaps(&floored)
            .iter()
            .all(|g| *g >= Duration::from_millis(1500)),
        "min_interval_secs = 2 holds: {:?}",
        gaps(&floored)
    );
    let status = b.feed_status(&ignoring.url("/cached.xml")).await;
    assert_eq!(status["next_poll_reason"], "interval");
}

#[tokio::test]
async fn a_permanent_redirect_is_remembered_across_restarts_and_a_temporary_one_is_not() {
    let server = FixtureServer::start().await;
    server.serve("/old.xml", Doc::redirect(301, "/new.xml"));
    server.serve("/new.xml", Doc::feed(ABC_TOP_0706, "n"));
    server.serve("/elsewhere.xml", Doc::redirect(302, "/today.xml"));
    server.serve("/today.xml", Doc::feed(NEWS_NATIONAL, "t"));
    let feeds = [server.url("/old.xml"), server.url("/elsewhere.xml")];
    let dir = tempfile::tempdir().unwrap();
    let config = config(free_port(), &[("moving", &feeds)]);
    let daemon = Daemon::start(dir.path(), &config).await;
    eventually("three polls", 15, || server.seen("/new.xml").len() >= 3).await;
    assert_eq!(
        server.seen("/old.xml").len(),
        1,
        "the old address is asked once"
    );
    assert!(
        server.seen("/elsewhere.xml").len() >= 3,
        "a 302 is followed each time"
    );
    let moved = daemon.feed_status(&server.url("/old.xml")).await;
    assert_eq!(moved["current_url"], server.url("/new.xml"));
    let temporary = daemon.feed_status(&server.url("/elsewhere.xml")).await;
    assert_eq!(temporary["current_url"], Value::Null);
    assert_eq!(daemon.json("/healthz").await["items"], 19 + 7);
    let log = daemon.log();
    let moves: Vec<_> = log
        .lines()
        .filter(|l| l.contains("moved permanently"))
        .collect();
    assert_eq!(moves.len(), 1, "the move is logged once: {log}");
    assert!(moves[0].contains(&format!("new_url={}", server.url("/new.xml"))));

    daemon.stop("KILL");
    let seen_before = server.seen("/new.xml").len();
    let _daemon = Daemon::start(dir.path(), &config).await;
    eventually("polls after the restart", 15, || {
        server.seen("/new.xml").len() >= seen_before + 2
    })
    .await;
    assert_eq!(
        server.seen("/old.xml").len(),
        1,
        "still remembered after a restart"
    );
}

#[tokio::test]
async fn one_host_gets_a_few_requests_at_a_time_and_a_polite_client() {
    let slow = FixtureServer::start().await;
    let paths: Vec<String> = (0..6).map(|i| format!("/section-{i}.xml")).collect();
    for path in &paths {
        let doc = Doc::feed(NEWS_NATIONAL, path).delayed(Duration::from_millis(800));
        slow.serve(path, doc);
    }
    let other = FixtureServer::start().await;
    other.serve("/other.xml", Doc::feed(ABC_TOP_0706, "o"));
    let slow_feeds: Vec<String> = paths.iter().map(|p| slow.url(p)).collect();
    // The same server under another name is another host to the limit.
    let other_feed = [other.url("/other.xml").replace("127.0.0.1", "localhost")];
    let polling = format!("{FAST_POLLING}per_host_concurrency = 2\n");
    let config = config_with(
        free_port(),
        &polling,
        &[("slow", &slow_feeds), ("other", &other_feed)],
    );
    let dir = tempfile::tempdir().unwrap();
    let _daemon = Daemon::start(dir.path(), &config).await;
    eventually("every slow feed asked", 15, || {
        paths.iter().all(|p| !slow.seen(p).is_empty())
    })
    .await;
    assert_eq!(
        slow.most_in_flight(),
        2,
        "[polling] per_host_concurrency = 2"
    );
    let first_slow = paths.iter().map(|p| slow.seen(p)[0].at).min().unwrap();
    let last_slow = paths.iter().map(|p| slow.seen(p)[0].at).max().unwrap();
    assert!(
        last_slow - first_slow >= Duration::from_millis(1500),
        "three rounds of two"
    );
    let other_first = other.seen("/other.xml")[0].at;
    assert!(
        other_first < first_slow + Duration::from_millis(700),
        "another host is not held up by the slow one"
    );

    let request = &slow.seen(&paths[0])[0].headers;
    let agent = request["user-agent"].to_str().unwrap();
    assert!(
        agent.starts_with(&format!("tributary/{} (+http", env!("CARGO_PKG_VERSION"))),
        "{agent}"
    );
    let accept = request["accept"].to_str().unwrap();
    assert!(accept.contains("application/atom+xml") && accept.contains("application/feed+json"));
}

/// Outlets polled at the same tick that share a host take turns at it: one outlet's list of
/// feeds does not go before the other's.
#[tokio::test]
async fn outlets_sharing_a_host_take_turns_at_it() {
    let server = FixtureServer::start().await;
    let feeds = |outlet: &str| -> Vec<String> {
        (0..6)
            .map(|i| {
                let path = format!("/{outlet}-{i}.xml");
                let doc = Doc::feed(NEWS_NATIONAL, &path).delayed(Duration::from_millis(200));
                server.serve(&path, doc);
                server.url(&path)
            })
            .collect()
    };
    let (first, second) = (feeds("first"), feeds("second"));
    let polling = format!("{FAST_POLLING}per_host_concurrency = 1\nmax_concurrency = 1\n");
    let config = config_with(
        free_port(),
        &polling,
        &[("first", &first), ("second", &second)],
    );
    let dir = tempfile::tempdir().unwrap();
    let _daemon = Daemon::start(dir.path(), &config).await;
    let path = |url: &String| url.rsplit_once('/').map(|(_, p)| format!("/{p}")).unwrap();
    let all: Vec<(String, &str)> = first
        .iter()
        .map(|url| (path(url), "first"))
        .chain(second.iter().map(|url| (path(url), "second")))
        .collect();
    eventually("every feed asked", 15, || {
        all.iter().all(|(p, _)| !server.seen(p).is_empty())
    })
    .await;
    let mut asked: Vec<(Instant, &str)> = all
        .iter()
        .map(|(p, outlet)| (server.seen(p)[0].at, *outlet))
        .collect();
    asked.sort();
    let order: Vec<&str> = asked.iter().map(|(_, outlet)| *outlet).collect();
    assert!(
        order
            .windows(3)
            .all(|run| run.contains(&"first") && run.contains(&"second")),
        "one outlet's feeds went three in a row: {order:?}"
    );
}
