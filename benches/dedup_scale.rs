//! Ingest cost per item, deduplication included, as the store grows: 10k, 100k and 1M stored
//! items. Items arrive as outlets publish them — two outlets, together an item a minute of
//! simulated time (about what ABC and News.com.au publish), a third of them stories both carry
//! — so once the first 48 hours have passed the dedup window always holds about the same
//! number of items (2,880), and the cost per item should stay flat however many are stored.
//! Each mark gives the writer's time per item (how long a poll takes to store) and the CPU
//! time per item of all the process's threads (the checkpoint thread copies the log into the
//! database beside the writer: its work shows there, not in the writer's time).
//!
//! Run: `cargo bench --bench dedup_scale` (add a number to stop at that many items, e.g.
//! `cargo bench --bench dedup_scale -- 100000`; `--keep PATH` keeps the database at PATH, which
//! `bench/run.sh` starts the daemon on to measure memory and start-up with a million items).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use tributary::model::Item;
use tributary::store::{Attempt, FeedPoll, FeedState, PolledBody, Store};

/// Items per poll: one feed document.
const BATCH: usize = 50;
/// Items timed at each mark: the last tenth of those stored, at least 5,000, so that the
/// periodic costs (a WAL checkpoint every ~10,000 items) are spread over enough items.
fn measured(mark: usize) -> usize {
    (mark / 10).max(5_000)
}

/// The first mark is over in about a second, and whether a checkpoint falls in it moves the
/// figure by a tenth: it is measured on this many fresh stores, and the median taken.
const FIRST_MARK_RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stop_at: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1));
    let marks: Vec<usize> = [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|m| *m <= stop_at)
        .collect();
    let mut first_mark: Vec<Mark> = (1..FIRST_MARK_RUNS)
        .map(|_| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let store = Store::open(&dir.path().join("bench.db")).expect("a database");
            grow(&store, &marks[..1]).remove(0)
        })
        .collect();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = keep.map_or_else(|| dir.path().join("bench.db"), std::path::PathBuf::from);
    let store = Store::open(&path).expect("a database");
    println!("stored items  µs per item (ingest + dedup)  CPU µs per item (all threads)  merged");
    for (i, mark) in grow(&store, &marks).into_iter().enumerate() {
        let mark = if i == 0 {
            first_mark.push(mark);
            first_mark.sort_by(|a, b| a.wall.total_cmp(&b.wall));
            first_mark.swap_remove(first_mark.len() / 2)
        } else {
            mark
        };
        println!(
            "{:>12}  {:>30.1}  {:>29.1}  {:>6}",
            mark.stored, mark.wall, mark.cpu, mark.merged
        );
    }
}

/// The cost per item at one size of the store.
struct Mark {
    stored: usize,
    /// Microseconds of the writer's time: how long a poll's items take to be stored.
    wall: f64,
    /// Microseconds of CPU, the process's threads together (the checkpoint thread's work too).
    cpu: f64,
    /// How many of the items timed joined another's story.
    merged: usize,
}

/// Fills `store` up to each mark; at each, the cost per item of the last [`measured`] items
/// and how many of them joined another's story (a third should).
fn grow(store: &Store, marks: &[usize]) -> Vec<Mark> {
    let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("a date")
        .to_utc();
    let mut words = Words::new(7);
    let mut stored = 0usize;
    let mut out = Vec::new();
    for &mark in marks {
        while stored < mark - measured(mark) {
            stored += ingest(store, &mut words, start, stored).0;
        }
        let (clock, cpu) = (Instant::now(), cpu_seconds());
        let first = stored;
        let mut timed = Vec::new();
        while stored < mark {
            let (count, ids) = ingest(store, &mut words, start, stored);
            stored += count;
            timed.extend(ids);
        }
        let per_item = |seconds: f64| seconds * 1e6 / (stored - first) as f64;
        let (wall, cpu) = (
            per_item(clock.elapsed().as_secs_f64()),
            per_item(cpu_seconds() - cpu),
        );
        let merged = timed
            .iter()
            .filter(|id| store.story_of(id).ok().flatten().as_deref() != Some(id.as_str()))
            .count();
        out.push(Mark {
            stored: mark,
            wall,
            cpu,
            merged,
        });
    }
    out
}

/// User and system CPU time of the whole process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given, which is plain data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Stores one poll's worth of items; returns how many, and their ids.
fn ingest(
    store: &Store,
    words: &mut Words,
    start: DateTime<Utc>,
    n: usize,
) -> (usize, Vec<String>) {
    let now = start + Duration::seconds(60 * n as i64);
    let outlet = if (n / BATCH) % 2 == 0 {
        "abc"
    } else {
        "newscomau"
    };
    let items: Vec<Item> = (n..n + BATCH).map(|i| words.item(outlet, i, now)).collect();
    let poll = FeedPoll {
        outlet,
        feed_url: "https://bench.example/feed",
        attempt: Attempt {
            at: now,
            duration_ms: 1,
            status: Some(200),
            error: None,
            failures: 0,
            next_poll_at: now,
            next_poll_reason: "interval".into(),
            current_url: None,
        },
        body: Some(PolledBody {
            state: FeedState::default(),
            items: &items,
            problems: None,
        }),
    };
    let cutoff = now - Duration::days(36_500);
    let ingested = store.record_poll(&poll, cutoff, now).expect("stored");
    let ids = items.iter().map(|i| i.id.to_string()).collect();
    (ingested.new + ingested.updated, ids)
}

/// A deterministic generator of news-like text: a vocabulary with a long tail, names, numbers.
struct Words {
    state: u64,
}

impl Words {
    fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.state >> 33
    }

    /// A content word from a vocabulary of 20,000, the first ones far more common (roughly
    /// Zipf, without the head that stop words take in real text).
    fn word(&mut self) -> String {
        let r = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        format!("zw{}", letters((20_000f64.powf(0.3 + 0.7 * r)) as u64))
    }

    fn name(&mut self) -> String {
        format!("Zn{}", letters(self.next() % 5_000))
    }

    /// Item `i`; every third item retells (in other words) the story of item `i - 50`, the same
    /// slot in the other outlet's previous poll.
    fn item(&mut self, outlet: &str, i: usize, now: DateTime<Utc>) -> Item {
        let story = if i % 3 == 0 && i >= BATCH {
            i - BATCH
        } else {
            i
        };
        let mut seeded = Words::new(story as u64 * 7919 + 1);
        let mut title: Vec<String> = (0..8).map(|_| seeded.word()).collect();
        let names: Vec<String> = (0..3).map(|_| seeded.name()).collect();
        let mut summary: Vec<String> = (0..25).map(|_| seeded.word()).collect();
        if story != i {
            // Another outlet's telling: some words changed.
            for w in title
                .iter_mut()
                .step_by(3)
                .chain(summary.iter_mut().step_by(4))
            {
                *w = self.word();
            }
        }
        Item {
            url: Some(format!("https://{outlet}.example/story/{i}")),
            summary: Some(format!(
                "<p>Officials in {} said {} met {} about {} items. {}.</p>",
                names[0],
                names[1],
                names[2],
                story % 97,
                summary.join(" ")
            )),
            published: Some(now),
            guid: Some(format!("{outlet}-{i}")),
            ..Item::new(outlet, &format!("{} {}", title.join(" "), names[0]))
        }
        .identified()
    }
}

/// `n` spelt in letters: words and names with digits in them would count as numbers too, which
/// real words do not, and dedup would weigh them as such.
fn letters(mut n: u64) -> String {
    let mut spelt = String::new();
    loop {
        spelt.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return spelt;
        }
    }
}
