//! What a lease costs a poll: a claim of one feed at a time (the dearest case: the daemon
//! claims the feeds an outlet's tick finds due together), timed over 2,000 distinct feeds one
//! after another, on SQLite and on PostgreSQL (with `TRIBUTARY_BENCH_POSTGRES` set to the URL
//! of an empty database; `bench/run.sh shared` sets it). The release is one more `DELETE` by
//! key in the transaction that writes the poll, timed beside it the same way: 2,000 failed
//! attempts recorded with and without a lease to end.
//!
//! Run: `cargo bench --bench lease`.

use std::time::Instant;

use chrono::{Duration, Utc};
use tributary::store::{Attempt, FeedPoll, Store};

const FEEDS: usize = 2_000;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sqlite = Store::open(&dir.path().join("lease.db")).expect("an SQLite store");
    measure("SQLite", &sqlite);
    match std::env::var("TRIBUTARY_BENCH_POSTGRES") {
        Ok(url) => measure(
            "PostgreSQL",
            &Store::connect(&url).expect("the PostgreSQL store"),
        ),
        Err(_) => println!("PostgreSQL: set TRIBUTARY_BENCH_POSTGRES to an empty database's URL"),
    }
}

fn measure(engine: &str, store: &Store) {
    let now = Utc::now();
    let urls: Vec<String> = (0..FEEDS)
        .map(|n| format!("http://127.0.0.1:9/{engine}/{n}.xml"))
        .collect();
    let record = |urls: &[String]| {
        let started = Instant::now();
        for url in urls {
            let poll = FeedPoll {
                outlet: "o",
                feed_url: url,
                attempt: Attempt {
                    at: now,
                    duration_ms: 1,
                    status: Some(500),
                    error: Some("bench".into()),
                    failures: 1,
                    next_poll_at: now,
                    next_poll_reason: "backoff".into(),
                    current_url: None,
                },
                body: None,
            };
            store
                .record_poll(&poll, now - Duration::days(30), now)
                .expect("a recorded attempt");
        }
        started.elapsed()
    };
    // The feeds' rows are written first, so that both timed writes update them.
    record(&urls);
    let started = Instant::now();
    for url in &urls {
        store
            .claim_feeds(
                "o",
                std::slice::from_ref(url),
                Some(now),
                now + Duration::seconds(70),
                now,
            )
            .expect("a claim");
    }
    let claims = started.elapsed();
    // Written once with every lease to end, once more with none left.
    let (with_lease, without) = (record(&urls), record(&urls));
    let micros = |d: std::time::Duration| d.as_secs_f64() * 1e6 / FEEDS as f64;
    println!(
        "{engine}: claim {:.1} µs per feed; a poll written {:.1} µs with its lease to end, {:.1} µs without",
        micros(claims),
        micros(with_lease),
        micros(without)
    );
}
