//! Deduplication measured on a labelled evaluation set (`tests/fixtures/dedup/pairs.toml`):
//! pairs of items written in the two outlets' styles, labelled the same story or not, and
//! unrelated items. Everything goes through the real store (SQLite, band index, decisions), in
//! the order of publication and in the reverse order, which must give the same answers.
//! ABC's real "Just In" capture adds 250 distinct stories of its own that must stay apart.

mod common;

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use tributary::model::Item;
use tributary::store::{Attempt, FeedPoll, FeedState, PolledBody, Store};

#[derive(Deserialize)]
struct EvaluationSet {
    pair: Vec<Pair>,
    unrelated: Vec<Entry>,
}

#[derive(Deserialize)]
struct Pair {
    label: String,
    kind: String,
    a: Entry,
    b: Entry,
}

#[derive(Deserialize, Clone)]
struct Entry {
    outlet: String,
    guid: String,
    url: String,
    title: String,
    summary: String,
    published: DateTime<Utc>,
}

impl Entry {
    fn item(&self) -> Item {
        Item {
            url: Some(self.url.clone()),
            summary: Some(format!("<p>{}</p>", self.summary)),
            published: Some(self.published),
            guid: Some(self.guid.clone()),
            ..Item::new(&self.outlet, &self.title)
        }
        .identified()
    }
}

fn evaluation_set() -> EvaluationSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/pairs.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Stores `items` one poll each, in the given order; `now` is when each arrives.
fn ingest(store: &Store, items: &[Item], now: impl Fn(&Item) -> DateTime<Utc>) {
    for item in items {
        let at = now(item);
        let poll = FeedPoll {
            outlet: &item.outlet,
            feed_url: &format!("https://{}.example/feed", item.outlet),
            attempt: Attempt {
                at,
                duration_ms: 1,
                status: Some(200),
                error: None,
                failures: 0,
                next_poll_at: at,
                next_poll_reason: "interval".into(),
                current_url: None,
            },
            body: Some(PolledBody {
                state: FeedState::default(),
                items: std::slice::from_ref(item),
                problems: None,
            }),
        };
        store
            .record_poll(&poll, at - Duration::days(3650), at)
            .unwrap();
    }
}

/// What the store decided for every labelled pair, and which unrelated items joined anything.
struct Verdicts {
    pairs: Vec<bool>,
    merged_unrelated: Vec<String>,
}

fn run(set: &EvaluationSet, reverse: bool) -> Verdicts {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("eval.db")).unwrap();
    let entries = set
        .pair
        .iter()
        .flat_map(|p| [&p.a, &p.b])
        .chain(&set.unrelated);
    let mut items: Vec<Item> = entries.map(Entry::item).collect();
    items.sort_by_key(|i| (i.published, i.id.clone()));
    let latest = items.iter().filter_map(|i| i.published).max().unwrap();
    if reverse {
        // Everything arrives in one burst, newest first.
        items.reverse();
        ingest(&store, &items, |_| latest + Duration::hours(1));
    } else {
        ingest(&store, &items, |i| {
            i.published.unwrap() + Duration::minutes(5)
        });
    }
    let story = |entry: &Entry| store.story_of(entry.item().id.as_str()).unwrap().unwrap();
    let mut members: HashMap<String, usize> = HashMap::new();
    for item in &items {
        *members
            .entry(store.story_of(item.id.as_str()).unwrap().unwrap())
            .or_default() += 1;
    }
    Verdicts {
        pairs: set
            .pair
            .iter()
            .map(|p| story(&p.a) == story(&p.b))
            .collect(),
        merged_unrelated: set
            .unrelated
            .iter()
            .filter(|u| members[&story(u)] > 1)
            .map(|u| u.title.clone())
            .collect(),
    }
}

#[test]
fn precision_and_recall_on_the_labelled_set() {
    let set = evaluation_set();
    let same = set.pair.iter().filter(|p| p.label == "same").count();
    let different = set.pair.iter().filter(|p| p.label == "different").count();
    assert!(same >= 30 && different >= 30 && !set.unrelated.is_empty());

    let verdicts = run(&set, false);
    let mut report = Vec::new();
    let (mut true_positive, mut false_positive) = (0usize, verdicts.merged_unrelated.len());
    for (pair, merged) in set.pair.iter().zip(&verdicts.pairs) {
        match (pair.label.as_str(), merged) {
            ("same", true) => true_positive += 1,
            ("same", false) => report.push(format!(
                "missed ({}): {} | {}",
                pair.kind, pair.a.title, pair.b.title
            )),
            (_, true) => {
                false_positive += 1;
                report.push(format!(
                    "merged ({}): {} | {}",
                    pair.kind, pair.a.title, pair.b.title
                ));
            }
            _ => {}
        }
    }
    for title in &verdicts.merged_unrelated {
        report.push(format!("merged an unrelated item: {title}"));
    }
    let precision = true_positive as f64 / (true_positive + false_positive).max(1) as f64;
    let recall = true_positive as f64 / same as f64;
    println!(
        "dedup evaluation: {same} same pairs, {different} different pairs, {} unrelated items: \
         precision {precision:.3}, recall {recall:.3}\n{}",
        set.unrelated.len(),
        report.join("\n")
    );
    assert!(
        precision >= 0.98,
        "precision {precision:.3} < 0.98:\n{}",
        report.join("\n")
    );
    assert!(
        recall >= 0.90,
        "recall {recall:.3} < 0.90:\n{}",
        report.join("\n")
    );

    let reversed = run(&set, true);
    assert_eq!(
        verdicts.pairs, reversed.pairs,
        "the order of arrival changed a verdict"
    );
}

#[test]
fn a_real_day_of_distinct_stories_stays_distinct() {
    let bytes = common::fixture(common::ABC_JUSTIN);
    let feed_url = url::Url::parse("https://www.abc.net.au/news/feed/51120/rss.xml").unwrap();
    let parsed = tributary::parse::parse_feed(&bytes, None, Some(&feed_url), "abc").unwrap();
    let items = tributary::dedup::within_document(parsed.items);
    assert_eq!(items.len(), 250);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("justin.db")).unwrap();
    let mut by_date = items.clone();
    by_date.sort_by_key(|i| i.published);
    ingest(&store, &by_date, |i| {
        i.published.unwrap() + Duration::minutes(5)
    });
    let merged: Vec<String> = items
        .iter()
        .filter(|i| store.story_of(i.id.as_str()).unwrap().as_deref() != Some(i.id.as_str()))
        .map(|i| i.title.clone())
        .collect();
    assert!(merged.is_empty(), "distinct stories merged: {merged:#?}");
}
