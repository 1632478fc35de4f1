//! How well dedup keeps one story as one item, measured on labelled two-outlet sets
//! ([`LabelledSet`]) through the real pipeline: each set's feeds parsed, identified and stored
//! poll by poll in a real store, as the daemon would. [`cross_validate`] fits the model on
//! some stories and measures it on the others, so that the figures it reports are those of
//! stories the weights never saw. `examples/dedup_eval.rs` and `examples/dedup_fit.rs` print
//! them; `tests/dedup.rs` holds them to floors.

pub mod fit;
mod labelled;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Duration, DurationRound, Utc};

pub use labelled::{Duplicate, LabelledSet, OUTLETS};

use crate::dedup::Model;
use crate::model::Item;
use crate::store::{FeedPoll, Store};

/// How often each outlet's feed is polled in a run.
const POLL_EVERY_MINUTES: i64 = 30;

/// In what order a set's items reach the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Each outlet polled every half hour, each poll bringing what was published since.
    AsPublished,
    /// Everything at once, newest first, one item a poll: a daemon starting on full feeds.
    NewestFirst,
}

/// What the pipeline made of a set.
pub struct Outcome {
    /// Each item's story, by its place in the set.
    pub story: Vec<String>,
    /// Pairs of items linked as related coverage.
    pub related: Vec<(usize, usize)>,
}

/// Runs `set` through the real pipeline — parse, identity, dedup with `model`, store — in a
/// store of its own, in the order `arrival` says.
pub fn run(set: &LabelledSet, model: Model, arrival: Arrival) -> anyhow::Result<Outcome> {
    let dir = Scratch::new()?;
    let store = Store::open(&dir.0.join("evaluation.db")).context("cannot open a store")?;
    store.set_model(model);
    for (now, outlet, items) in polls(set, arrival) {
        let (items, _) = crate::dedup::identify(items, false);
        let feed_url = format!("https://{outlet}.example/feed");
        let poll = FeedPoll::of_items(&outlet, &feed_url, &items, now);
        store.record_poll(&poll, now - Duration::days(3650), now)?;
    }
    let mut place_of: HashMap<&str, usize> = HashMap::new();
    let mut story = Vec::with_capacity(set.items.len());
    for (place, item) in set.items.iter().enumerate() {
        place_of.entry(item.id.as_str()).or_insert(place);
        let id = item.id.as_str();
        story.push(store.story_of(id)?.unwrap_or_else(|| id.to_owned()));
    }
    let related = store
        .related_pairs()?
        .into_iter()
        .filter_map(|(a, b)| Some((*place_of.get(a.as_str())?, *place_of.get(b.as_str())?)))
        .collect();
    Ok(Outcome { story, related })
}

/// Plans the polls that bring `set`'s items in: when, whose, and what each document lists.
fn polls(set: &LabelledSet, arrival: Arrival) -> Vec<(DateTime<Utc>, String, Vec<Item>)> {
    let dated = |item: &Item| item.published.unwrap_or_default();
    match arrival {
        Arrival::AsPublished => {
            let step = Duration::minutes(POLL_EVERY_MINUTES);
            let mut polls: BTreeMap<(DateTime<Utc>, &str), Vec<Item>> = BTreeMap::new();
            for item in &set.items {
                let published = dated(item);
                let due = published.duration_trunc(step).unwrap_or(published) + step;
                polls
                    .entry((due, item.outlet.as_str()))
                    .or_default()
                    .push(item.clone());
            }
            polls
                .into_iter()
                .map(|((at, outlet), items)| (at, outlet.to_owned(), items))
                .collect()
        }
        Arrival::NewestFirst => {
            let mut items: Vec<&Item> = set.items.iter().collect();
            items.sort_by_key(|i| std::cmp::Reverse(dated(i)));
            let now = items.first().map_or_else(Utc::now, |i| dated(i)) + Duration::hours(1);
            items
                .into_iter()
                .map(|i| (now, i.outlet.clone(), vec![i.clone()]))
                .collect()
        }
    }
}

/// A folder of its own under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tributary-evaluation-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a folder left behind in the temporary folder harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Orders a pair of places as one key, whichever came first.
pub(crate) fn unordered(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// What a run got right and wrong on a set (or on one fold of it).
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub set: String,
    /// Labelled duplicates merged, and how many there are, by difficulty.
    pub found: BTreeMap<String, (usize, usize)>,
    /// Pairs of distinct items the run put in one story, and how many of those are one.
    pub merged_pairs: usize,
    pub correct_pairs: usize,
    /// Pairs put in one story that are not one: their titles.
    pub false_merges: Vec<(String, String)>,
    /// Hard negatives put in one story, and how many there are.
    pub negatives_merged: usize,
    pub negatives: usize,
    /// Hard negatives linked as related coverage.
    pub negatives_related: usize,
    /// Related links between items of stories no label connects.
    pub unlabelled_related: usize,
    /// Same-outlet repeats shown once, and how many there are.
    pub repeats_once: usize,
    pub repeats: usize,
}

impl Report {
    /// Reports what `outcome` got right and wrong on the items `counted` keeps.
    pub fn of(set: &LabelledSet, outcome: &Outcome, counted: impl Fn(usize) -> bool) -> Self {
        let mut report = Report {
            set: set.name.clone(),
            ..Report::default()
        };
        for duplicate in set.duplicates.iter().filter(|d| counted(d.a)) {
            let entry = report.found.entry(duplicate.level.clone()).or_default();
            entry.1 += 1;
            entry.0 += usize::from(outcome.story[duplicate.a] == outcome.story[duplicate.b]);
        }
        let mut members: HashMap<&str, Vec<usize>> = HashMap::new();
        for (place, story) in outcome.story.iter().enumerate() {
            members.entry(story.as_str()).or_default().push(place);
        }
        for places in members.values() {
            for (i, &a) in places.iter().enumerate() {
                for &b in &places[i + 1..] {
                    if set.items[a].id == set.items[b].id || !(counted(a) || counted(b)) {
                        continue;
                    }
                    report.merged_pairs += 1;
                    if set.story[a] == set.story[b] {
                        report.correct_pairs += 1;
                    } else {
                        report
                            .false_merges
                            .push((set.items[a].title.clone(), set.items[b].title.clone()));
                    }
                }
            }
        }
        report.false_merges.sort();
        let related: HashSet<(usize, usize)> = outcome
            .related
            .iter()
            .map(|&(a, b)| unordered(a, b))
            .collect();
        for &(a, b) in set.hard_negatives.iter().filter(|(a, _)| counted(*a)) {
            report.negatives += 1;
            report.negatives_merged += usize::from(outcome.story[a] == outcome.story[b]);
            report.negatives_related += usize::from(related.contains(&unordered(a, b)));
        }
        let labelled: HashSet<(usize, usize)> = set
            .hard_negatives
            .iter()
            .map(|&(a, b)| unordered(a, b))
            .collect();
        report.unlabelled_related = related
            .iter()
            .filter(|(a, b)| (counted(*a) || counted(*b)) && !labelled.contains(&(*a, *b)))
            .count();
        for &(a, b) in set.same_outlet.iter().filter(|(a, _)| counted(*a)) {
            report.repeats += 1;
            report.repeats_once += usize::from(outcome.story[a] == outcome.story[b]);
        }
        report
    }

    /// Adds another fold's counts.
    pub fn add(&mut self, other: Report) {
        for (level, (found, total)) in other.found {
            let entry = self.found.entry(level).or_default();
            entry.0 += found;
            entry.1 += total;
        }
        self.merged_pairs += other.merged_pairs;
        self.correct_pairs += other.correct_pairs;
        self.false_merges.extend(other.false_merges);
        self.negatives_merged += other.negatives_merged;
        self.negatives += other.negatives;
        self.negatives_related += other.negatives_related;
        self.unlabelled_related += other.unlabelled_related;
        self.repeats_once += other.repeats_once;
        self.repeats += other.repeats;
    }

    /// Returns the share of the pairs put in one story that are one (1 when none were).
    pub fn precision(&self) -> f64 {
        match self.merged_pairs {
            0 => 1.0,
            n => self.correct_pairs as f64 / n as f64,
        }
    }

    /// Returns the share of the labelled cross-outlet duplicates merged; `level` for one
    /// difficulty.
    pub fn recall(&self, level: Option<&str>) -> f64 {
        let (found, total) = self
            .found
            .iter()
            .filter(|(l, _)| level.is_none_or(|level| level == l.as_str()))
            .fold((0, 0), |(f, t), (_, (found, total))| (f + found, t + total));
        match total {
            0 => 1.0,
            n => found as f64 / n as f64,
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (found, total) = self
            .found
            .values()
            .fold((0, 0), |(f, t), (a, b)| (f + a, t + b));
        write!(
            f,
            "{}: precision {:.3} ({} of {} merged pairs), recall {:.3} ({found}/{total})",
            self.set,
            self.precision(),
            self.correct_pairs,
            self.merged_pairs,
            self.recall(None)
        )?;
        for (level, (found, total)) in &self.found {
            write!(f, ", {level} {found}/{total}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  hard negatives merged {}/{}, linked as related {}/{}; other related links {}; \
             same-outlet repeats shown once {}/{}",
            self.negatives_merged,
            self.negatives,
            self.negatives_related,
            self.negatives,
            self.unlabelled_related,
            self.repeats_once,
            self.repeats
        )?;
        for (a, b) in &self.false_merges {
            writeln!(f, "  false merge: {a} | {b}")?;
        }
        Ok(())
    }
}

/// Measures on each of `sets` the model fitted without the stories measured: the stories of
/// every set are dealt into `folds` folds, and each fold is run through the pipeline with the
/// model fitted on the other folds of all the sets. Returns one report per set, the folds
/// added up.
pub fn cross_validate(sets: &[LabelledSet], folds: usize) -> anyhow::Result<Vec<Report>> {
    let examples: Vec<Vec<fit::Example>> = sets.iter().map(fit::examples).collect();
    let fold_of: Vec<Vec<usize>> = sets.iter().map(|s| s.folds(folds)).collect();
    let mut reports: Vec<Report> = sets
        .iter()
        .map(|s| Report {
            set: s.name.clone(),
            ..Report::default()
        })
        .collect();
    for fold in 0..folds {
        let training: Vec<&fit::Example> = examples
            .iter()
            .zip(&fold_of)
            .flat_map(|(examples, fold_of)| {
                examples
                    .iter()
                    .filter(move |e| fold_of[e.items.0] != fold && fold_of[e.items.1] != fold)
            })
            .collect();
        let model = fit::logistic(&training);
        for ((set, fold_of), report) in sets.iter().zip(&fold_of).zip(&mut reports) {
            let outcome = run(set, model, Arrival::AsPublished)?;
            report.add(Report::of(set, &outcome, |place| fold_of[place] == fold));
        }
    }
    Ok(reports)
}

/// Fits the model on every example of `sets`: what [`Model::FITTED`] holds.
pub fn fit_all(sets: &[LabelledSet]) -> Model {
    let examples: Vec<fit::Example> = sets.iter().flat_map(fit::examples).collect();
    fit::logistic(&examples.iter().collect::<Vec<_>>())
}
