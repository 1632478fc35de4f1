//! Ingest cost per item, deduplication included, as the store grows: 10k, 100k and 1M stored
//! items. Items arrive as outlets publish them — two outlets, together an item a minute of
//! simulated time (about what ABC and News.com.au publish), a third of them stories both carry
//! — so once the first 48 hours have passed the dedup window always holds about the same
//! number of items (2,880), and the cost per item should stay flat however many are stored.
//!
//! A store of each size is filled first; then each is continued by a slice of items in turn,
//! [`TURNS`] times, so that the sizes are measured within the same minutes: this machine's
//! speed drifts by a quarter within minutes, and measuring one size after the other (as this
//! benchmark did until 2026-12-02) put that drift into the ratio. Each mark gives the writer's
//! time per item over its slices (how long a poll takes to store) and the CPU time per item of
//! all the process's threads over them, each slice followed by a pause in which the store's
//! checkpoint thread finishes copying what it committed (its work shows in the CPU column, not
//! in the writer's time).
//!
//! Run: `cargo bench --bench dedup_scale` (add a number to stop at that many items, e.g.
//! `cargo bench --bench dedup_scale -- 100000`; `--keep PATH` keeps the largest store at PATH,
//! which `bench/run.sh` starts the daemon on to measure memory and start-up with a million
//! items).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use tributary::model::Item;
use tributary::store::{Attempt, FeedPoll, FeedState, PolledBody, Store};

/// Items per poll: one feed document.
const BATCH: usize = 50;
/// Items per slice: 20 polls, the first [`WARM_UP`] of them untimed, so that each size is
/// timed with its working set back in the CPU's caches after the other sizes' turns, as when
/// it runs alone.
const SLICE: usize = 1_000;
const WARM_UP: usize = 200;
/// Slices per size: 4,000 items timed at each.
const TURNS: usize = 5;
/// After each slice, untimed: the checkpoint thread waits 100 ms between checkpoints, and a
/// checkpoint of a large store takes a few hundred more.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

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
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut sizes: Vec<Size> = marks
        .iter()
        .map(|&mark| {
            let path = match keep {
                Some(keep) if mark == *marks.last().expect("a mark") => keep.into(),
                _ => dir.path().join(format!("{mark}.db")),
            };
            Size::filled(&path, mark)
        })
        .collect();
    for _ in 0..TURNS {
        for size in &mut sizes {
            size.measure_slice();
        }
    }
    println!("stored items  µs per item (ingest + dedup)  CPU µs per item (all threads)  merged");
    for size in &sizes {
        let per_item = |seconds: f64| seconds * 1e6 / size.timed.len() as f64;
        let merged = size
            .timed
            .iter()
            .filter(|id| size.store.story_of(id).ok().flatten().as_deref() != Some(id.as_str()))
            .count();
        println!(
            "{:>12}  {:>30.1}  {:>29.1}  {:>6}",
            size.mark,
            per_item(size.wall),
            per_item(size.cpu),
            merged
        );
    }
}

/// One store, filled to its mark, and what its slices cost.
struct Size {
    mark: usize,
    store: Store,
    words: Words,
    start: DateTime<Utc>,
    stored: usize,
    /// Seconds of the writer's time and of CPU over the slices.
    wall: f64,
    cpu: f64,
    /// The ids of the items its slices stored.
    timed: Vec<String>,
}

impl Size {
    /// A store at `path` with `mark` items, from the same stream of items as every other.
    fn filled(path: &std::path::Path, mark: usize) -> Self {
        let mut size = Size {
            mark,
            store: Store::open(path).expect("a database"),
            words: Words::new(7),
            start: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .expect("a date")
                .to_utc(),
            stored: 0,
            wall: 0.0,
            cpu: 0.0,
            timed: Vec::new(),
        };
        while size.stored < mark {
            size.stored += ingest(&size.store, &mut size.words, size.start, size.stored).0;
        }
        size
    }

    /// Continues the store by [`SLICE`] items, all but the first [`WARM_UP`] timed, then lets
    /// its checkpoint finish.
    fn measure_slice(&mut self) {
        let warm = self.stored + WARM_UP;
        while self.stored < warm {
            self.stored += ingest(&self.store, &mut self.words, self.start, self.stored).0;
        }
        let (clock, cpu) = (Instant::now(), cpu_seconds());
        let end = self.stored + SLICE - WARM_UP;
        while self.stored < end {
            let (count, ids) = ingest(&self.store, &mut self.words, self.start, self.stored);
            self.stored += count;
            self.timed.extend(ids);
        }
        self.wall += clock.elapsed().as_secs_f64();
        std::thread::sleep(SETTLE);
        self.cpu += cpu_seconds() - cpu;
    }
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
