//! Ingest cost per item, deduplication included, as the store grows: 10k, 100k and 1M stored
//! items. Items arrive as outlets publish them — two outlets, together an item a minute of
//! simulated time (about what ABC and News.com.au publish), a third of them stories both carry
//! — so once the first 48 hours have passed the dedup window always holds about the same
//! number of items (2,880), and the cost per item should stay flat however many are stored.
//!
//! A store of each size is filled first; then the sizes take turns poll by poll — one poll of
//! 50 items to each store in turn, [`ROTATIONS`] times — so that every size is measured in
//! the same seconds. This machine's speed drifts by a quarter within minutes and by a fifth
//! from one second to the next; measuring one size after the other (as this benchmark did
//! until 2026-12-02), or in slices of a thousand items taking turns (until 1fe9ed1), left that
//! drift in the ratio. Each mark gives the writer's time per item (how long a poll takes
//! to store), the CPU time per item of the writer's thread, and that of the store's checkpoint
//! thread, which copies what the writer committed into the database file meanwhile (read from
//! `/proc`, so that the other stores' checkpoints are not counted in).
//!
//! Run: `cargo bench --bench dedup_scale` (add a number to stop at that many items, e.g.
//! `cargo bench --bench dedup_scale -- 100000`; `--keep PATH` keeps the largest store at PATH,
//! which `bench/run.sh` starts the daemon on to measure memory and start-up with a million
//! items).

use std::time::{Duration as Elapsed, Instant};

use chrono::{DateTime, Duration, Utc};
use tributary::model::Item;
use tributary::store::{FeedPoll, Store, CHECKPOINT_THREAD_NAME};

/// Items per poll: one feed document.
const BATCH: usize = 50;
/// Turns untimed before the timed ones, so that each store's pages and window are back in
/// the CPU's caches as in the turns that follow.
const WARM_UP: usize = 20;
/// Turns timed: 10,000 items at each size.
const ROTATIONS: usize = 200;
/// Before and after the timed turns: the checkpoint thread waits 100 ms between checkpoints,
/// and a checkpoint of a large store takes a few hundred more.
const SETTLE: Elapsed = Elapsed::from_millis(1_500);

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
    for _ in 0..WARM_UP {
        for size in &mut sizes {
            size.poll();
        }
    }
    std::thread::sleep(SETTLE);
    let checkpointed: Vec<f64> = sizes.iter().map(Size::checkpoint_seconds).collect();
    for _ in 0..ROTATIONS {
        for size in &mut sizes {
            size.measure_poll();
        }
    }
    std::thread::sleep(SETTLE);
    println!(
        "stored items  writer's µs per item (median poll)  CPU µs per item: writer + checkpoint = all  merged"
    );
    for (size, checkpointed) in sizes.iter().zip(checkpointed) {
        let per_item = |seconds: f64| seconds * 1e6 / size.timed.len() as f64;
        let mut polls = size.polls.clone();
        polls.sort_by(f64::total_cmp);
        let median = polls[polls.len() / 2] * 1e6 / BATCH as f64;
        let writer_cpu = per_item(size.cpu);
        let checkpoint_cpu = per_item(size.checkpoint_seconds() - checkpointed);
        let merged = size
            .timed
            .iter()
            .filter(|id| size.store.story_of(id).ok().flatten().as_deref() != Some(id.as_str()))
            .count();
        println!(
            "{:>12}  {:>24.1} ({:>6.1})  {:>24.1} + {:>10.1} = {:>5.1}  {:>6}",
            size.mark,
            per_item(polls.iter().sum()),
            median,
            writer_cpu,
            checkpoint_cpu,
            writer_cpu + checkpoint_cpu,
            merged
        );
    }
}

/// One store, filled to its mark, and what its timed polls cost.
struct Size {
    mark: usize,
    store: Store,
    /// The thread that checkpoints this store, among the process's threads.
    checkpointer: u32,
    words: Words,
    start: DateTime<Utc>,
    stored: usize,
    /// Seconds of the writer's time, poll by poll.
    polls: Vec<f64>,
    /// Seconds of CPU of the writer's thread over the timed polls.
    cpu: f64,
    /// The ids of the items its timed polls stored.
    timed: Vec<String>,
}

impl Size {
    /// Fills a store at `path` with `mark` items, from the same stream of items as every other.
    fn filled(path: &std::path::Path, mark: usize) -> Self {
        let before = checkpoint_threads();
        let store = Store::open(path).expect("a database");
        // The thread names itself once it runs, which may be a moment after the store opens.
        let checkpointer = (0..100)
            .find_map(|_| {
                let found = checkpoint_threads()
                    .into_iter()
                    .find(|t| !before.contains(t));
                found
                    .is_none()
                    .then(|| std::thread::sleep(Elapsed::from_millis(10)));
                found
            })
            .expect("the store's checkpoint thread");
        let mut size = Size {
            mark,
            store,
            checkpointer,
            words: Words::new(7),
            start: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .expect("a date")
                .to_utc(),
            stored: 0,
            polls: Vec::new(),
            cpu: 0.0,
            timed: Vec::new(),
        };
        while size.stored < mark {
            size.poll();
        }
        size
    }

    /// Stores the next poll, untimed.
    fn poll(&mut self) -> Vec<String> {
        let (count, ids) = ingest(&self.store, &mut self.words, self.start, self.stored);
        self.stored += count;
        ids
    }

    /// Stores the next poll, timed.
    fn measure_poll(&mut self) {
        let (clock, cpu) = (Instant::now(), thread_cpu_seconds());
        let ids = self.poll();
        self.polls.push(clock.elapsed().as_secs_f64());
        self.cpu += thread_cpu_seconds() - cpu;
        self.timed.extend(ids);
    }

    /// Reads the CPU time of this store's checkpoint thread so far.
    fn checkpoint_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/self/task/{}/schedstat", self.checkpointer))
                .expect("the checkpoint thread's schedstat");
        let nanoseconds: f64 = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("time on CPU in nanoseconds");
        nanoseconds / 1e9
    }
}

/// Finds the ids of the process's threads that checkpoint a store, by the name the store gives them
/// (of which Linux keeps the first 15 bytes).
fn checkpoint_threads() -> Vec<u32> {
    let kept = &CHECKPOINT_THREAD_NAME[..CHECKPOINT_THREAD_NAME.len().min(15)];
    std::fs::read_dir("/proc/self/task")
        .expect("the process's threads")
        .filter_map(|task| {
            let task = task.ok()?;
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            (name.trim_end() == kept)
                .then(|| task.file_name().to_str()?.parse().ok())
                .flatten()
        })
        .collect()
}

/// Reads the CPU time of the calling thread so far.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime only writes the struct it is given, which is plain data.
    let time = unsafe {
        let mut time: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
        time
    };
    time.tv_sec as f64 + time.tv_nsec as f64 / 1e9
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
    let poll = FeedPoll::of_items(outlet, "https://bench.example/feed", &items, now);
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

    /// Picks a content word from a vocabulary of 20,000, the first ones far more common (roughly
    /// Zipf, without the head that stop words take in real text).
    fn word(&mut self) -> String {
        let r = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        format!("zw{}", letters((20_000f64.powf(0.3 + 0.7 * r)) as u64))
    }

    fn name(&mut self) -> String {
        format!("Zn{}", letters(self.next() % 5_000))
    }

    /// Builds item `i`; every third item retells (in other words) the story of item `i - 50`, the
    /// same slot in the other outlet's previous poll.
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

/// Spells `n` in letters: words and names with digits in them would count as numbers too, which
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
