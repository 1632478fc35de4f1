//! Deduplication measured on the labelled two-outlet sets through the real pipeline (parse,
//! identity, dedup, SQLite): `../shared/fixtures/dedup-dev`, the project's own set and an
//! independent hold-out set (`tests/fixtures/dedup/`). The floors are held on the figures of
//! five-fold cross-validation by story — stories the weights were not fitted on — and on the
//! shipped model. ABC's real "Just In" capture adds 250 distinct stories that must stay apart,
//! and templated and odd items must neither panic nor merge.

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tributary::dedup::Model;
use tributary::evaluation::{cross_validate, run, Arrival, LabelledSet, Report};
use tributary::model::Item;
use tributary::store::{FeedPoll, Store};

fn set(name: &str) -> LabelledSet {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = match name {
        "dedup-dev" => root.join("../shared/fixtures/dedup-dev"),
        other => root.join("tests/fixtures/dedup").join(other),
    };
    LabelledSet::load(&dir).unwrap_or_else(|e| panic!("{}: {e:#}", dir.display()))
}

/// Checks the floors a report must stay above: precision, recall, and every easy pair merged.
fn hold(report: &Report, precision: f64, recall: f64, hard: f64) {
    println!("{report}");
    assert!(
        report.precision() >= precision,
        "precision below {precision}:\n{report}"
    );
    assert!(
        report.recall(None) >= recall,
        "recall below {recall}:\n{report}"
    );
    assert!(
        report.recall(Some("hard")) >= hard,
        "hard pairs below {hard}:\n{report}"
    );
    assert_eq!(
        report.recall(Some("easy")),
        1.0,
        "an easy pair missed:\n{report}"
    );
    assert_eq!(
        report.repeats_once, report.repeats,
        "repeats shown twice:\n{report}"
    );
}

#[test]
fn cross_validated_figures_hold_their_floors() {
    let sets = [set("dedup-dev"), set("holdout"), set("own")];
    let reports = cross_validate(&sets, 5).unwrap();
    hold(&reports[0], 0.94, 0.77, 0.35);
    hold(&reports[1], 0.98, 0.77, 0.35);
    hold(&reports[2], 0.98, 0.90, 0.85);
    for report in &reports {
        assert!(report.negatives_merged * 10 <= report.negatives, "{report}");
    }
}

#[test]
fn the_shipped_model_merges_copies_and_links_related_coverage() {
    for (name, precision, recall) in [
        ("dedup-dev", 0.94, 0.78),
        ("holdout", 0.96, 0.78),
        ("own", 0.98, 0.86),
    ] {
        let set = set(name);
        let outcome = run(&set, Model::FITTED, Arrival::AsPublished).unwrap();
        let report = Report::of(&set, &outcome, |_| true);
        hold(&report, precision, recall, 0.35);
        assert!(
            report.negatives_related >= report.negatives / 10,
            "hard negatives are the same event thread: some must be linked as related\n{report}"
        );
        for &(a, b) in &outcome.related {
            assert_ne!(
                outcome.story[a], outcome.story[b],
                "related never hides an item"
            );
        }
        let reversed = run(&set, Model::FITTED, Arrival::NewestFirst).unwrap();
        let verdicts = |o: &tributary::evaluation::Outcome| -> Vec<bool> {
            set.duplicates
                .iter()
                .map(|d| o.story[d.a] == o.story[d.b])
                .collect()
        };
        let (forward, backward) = (verdicts(&outcome), verdicts(&reversed));
        let changed = forward
            .iter()
            .zip(&backward)
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            changed <= 2,
            "{name}: {changed} labelled pairs changed with the order of arrival"
        );
    }
}

/// Stores `items` one poll each, in the given order; `now` is when each arrives.
fn ingest(store: &Store, items: &[Item], now: impl Fn(&Item) -> DateTime<Utc>) {
    for item in items {
        let at = now(item);
        let feed_url = format!("https://{}.example/feed", item.outlet);
        let poll = FeedPoll::of_items(&item.outlet, &feed_url, std::slice::from_ref(item), at);
        store
            .record_poll(&poll, at - Duration::days(3650), at)
            .unwrap();
    }
}

/// Lists the items of `items` that joined another's story.
fn merged(store: &Store, items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter(|i| store.story_of(i.id.as_str()).unwrap().as_deref() != Some(i.id.as_str()))
        .map(|i| i.title.clone())
        .collect()
}

#[test]
fn a_real_day_of_distinct_stories_stays_distinct() {
    let bytes = common::fixture(common::ABC_JUSTIN);
    let feed_url = url::Url::parse("https://www.abc.net.au/news/feed/51120/rss.xml").unwrap();
    let parsed = tributary::parse::parse_feed(&bytes, None, Some(&feed_url), "abc").unwrap();
    let (items, _) = tributary::dedup::identify(parsed.items, false);
    assert_eq!(items.len(), 250);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("justin.db")).unwrap();
    let mut by_date = items.clone();
    by_date.sort_by_key(|i| i.published);
    ingest(&store, &by_date, |i| {
        i.published.unwrap() + Duration::minutes(5)
    });
    let merged = merged(&store, &items);
    assert!(merged.is_empty(), "distinct stories merged: {merged:#?}");
}

fn item(outlet: &str, n: usize, title: &str, summary: &str, at: DateTime<Utc>) -> Item {
    Item {
        summary: (!summary.is_empty()).then(|| summary.to_owned()),
        published: Some(at),
        guid: Some(format!("{outlet}-{n}")),
        url: Some(format!("https://{outlet}.example/{n}")),
        ..Item::new(outlet, title)
    }
    .identified()
}

#[test]
fn templated_and_odd_items_neither_panic_nor_merge() {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let mut items = Vec::new();
    for n in 0..1_000 {
        let outlet = ["abc", "newscomau"][n % 2];
        let draw = 4_000 + n;
        let title = format!("Lotto draw {draw}");
        let summary = format!("The winning numbers for Lotto draw {draw} are listed here.");
        items.push(item(
            outlet,
            n,
            &title,
            &summary,
            start + Duration::minutes(n as i64),
        ));
    }
    let odd = [
        ("BREAKING: MAJOR FIRE IN CITY CENTRE", ""),
        ("Update", ""),
        ("Update", "<p></p>"),
        (
            "東京で地震、マグニチュード6",
            "気象庁によると、津波の心配はない。",
        ),
        (
            "Ein Erdbeben erschüttert Tokio",
            "Laut Wetteramt besteht keine Tsunamigefahr.",
        ),
        ("", ""),
    ];
    for (n, (title, summary)) in odd.iter().enumerate() {
        for (k, outlet) in ["abc", "newscomau"].iter().enumerate() {
            let at = start + Duration::hours(20) + Duration::minutes((n * 2 + k) as i64);
            items.push(item(outlet, 5_000 + n, title, summary, at));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("templated.db")).unwrap();
    ingest(&store, &items, |i| {
        i.published.unwrap() + Duration::minutes(1)
    });
    let draws = &items[..1_000];
    let merged_draws = merged(&store, draws);
    assert!(
        merged_draws.is_empty(),
        "distinct draws merged: {merged_draws:#?}"
    );
}

#[test]
fn a_set_with_a_missing_guid_is_refused_with_the_guid_named() {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/own");
    for file in ["abc.xml", "newscomau.xml"] {
        std::fs::copy(source.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(
        dir.path().join("labels.json"),
        r#"{"duplicates": [["nowhere", "nothing", "easy"]], "hard_negatives": [], "same_outlet_duplicates": []}"#,
    )
    .unwrap();
    let error = LabelledSet::load(dir.path()).err().expect("refused");
    assert!(format!("{error:#}").contains("\"nowhere\""), "{error:#}");
}
