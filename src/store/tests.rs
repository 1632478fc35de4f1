use super::*;
use crate::fetch::Validators;
use chrono::Duration;
use std::collections::HashSet;

fn item(guid: &str, url: &str, title: &str) -> Item {
    let mut item = Item {
        id: ItemId::from(String::new()),
        outlet: "abc".into(),
        title: title.into(),
        url: Some(url.into()),
        summary: Some("<p>text</p>".into()),
        content: None,
        published: Some(Utc.with_ymd_and_hms(2026, 11, 20, 1, 0, 0).unwrap()),
        updated: None,
        authors: vec![],
        categories: vec![],
        image: None,
        enclosures: vec![],
        guid: Some(guid.into()),
    };
    item.id = ItemId::derive("abc", &item.identity_key());
    item
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap()
}

fn attempt(status: u16, error: Option<&str>) -> Attempt {
    Attempt {
        at: now(),
        duration_ms: 12,
        status: Some(status),
        error: error.map(str::to_owned),
        failures: u32::from(error.is_some()),
        next_poll_at: now() + Duration::minutes(5),
        next_poll_reason: "interval".into(),
        current_url: None,
    }
}

fn poll<'a>(items: &'a [Item], etag: &str) -> FeedPoll<'a> {
    FeedPoll {
        outlet: "abc",
        feed_url: "https://abc.example/rss",
        attempt: attempt(200, None),
        body: Some(PolledBody {
            state: FeedState {
                validators: Validators {
                    etag: Some(etag.into()),
                    last_modified: None,
                },
                body_hash: Some(format!("hash-{etag}")),
                ..FeedState::default()
            },
            items,
            problems: Some(&[]),
        }),
    }
}

/// Where a test's store lives. The store's tests run on both engines, so that the two cannot
/// drift apart.
enum Place {
    Sqlite(tempfile::TempDir),
    /// The URL of a fresh database on the test server.
    Postgres(String),
}

impl Place {
    /// Opens a store at this place: a new one the first time, the same database after (a restart,
    /// or another process beside the first).
    fn open(&self) -> Store {
        match self {
            Place::Sqlite(dir) => Store::open(&dir.path().join("t.db")).unwrap(),
            Place::Postgres(url) => Store::connect(url).unwrap(),
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Place::Sqlite(_) => "SQLite",
            Place::Postgres(_) => "PostgreSQL",
        })
    }
}

/// Runs `test` on a SQLite file, then on a PostgreSQL database (unless PostgreSQL is not
/// installed here and CI is not running the tests: see `pg_server`).
fn on_each_engine(test: impl Fn(&Place)) {
    test(&Place::Sqlite(tempfile::tempdir().unwrap()));
    if let Some(url) = pg_server::fresh_database() {
        test(&Place::Postgres(url));
    }
}

#[path = "../../tests/common/pg_server.rs"]
mod pg_server;

/// Searches every outlet for `query`; the ids of the items found.
fn found(store: &Store, query: &str) -> HashSet<String> {
    store
        .search(&SearchQuery::parse(query).unwrap(), None, 1_000)
        .unwrap()
        .items
}

fn record(store: &Store, items: &[Item]) -> Ingested {
    let cutoff = now() - Duration::days(30);
    store
        .record_poll(&poll(items, "\"v1\""), cutoff, now())
        .unwrap()
}

#[test]
fn new_unchanged_and_updated_items_are_told_apart() {
    on_each_engine(|place| {
        let store = place.open();
        let a = item("g1", "https://abc.example/1", "First");
        let b = item("g2", "https://abc.example/2", "Second");
        let counts = record(&store, &[a.clone(), b.clone()]);
        assert_eq!((counts.new, counts.updated, counts.unchanged), (2, 0, 0));
        assert_eq!(record(&store, &[a.clone(), b.clone()]).unchanged, 2);

        let retitled = item("g1", "https://abc.example/1", "First, retitled");
        let counts = record(&store, &[retitled]);
        assert_eq!((counts.new, counts.updated), (0, 1));
        let stored = store.recent("abc", 10).unwrap();
        assert_eq!(stored.len(), 2);
        assert!(stored
            .iter()
            .any(|s| s.item.title == "First, retitled" && s.item.id == a.id));
    });
}

#[test]
fn the_same_link_under_another_guid_updates_the_stored_item() {
    on_each_engine(|place| {
        let store = place.open();
        let original = item("g1", "https://abc.example/1", "Story");
        record(&store, std::slice::from_ref(&original));
        let counts = record(
            &store,
            &[item("other-guid", "https://abc.example/1", "Story again")],
        );
        assert_eq!((counts.new, counts.updated), (0, 1));
        let stored = store.recent("abc", 10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].item.id, original.id, "the stored id wins");
    });
}

/// An episode of a podcast whose every entry links the show's page, with a GUID of its own.
fn episode(n: usize) -> Item {
    Item {
        summary: Some(format!("<p>Episode {n}: a conversation of its own.</p>")),
        ..item(
            &format!("episode-{n}"),
            "https://podcast.example/",
            &format!("Episode {n}"),
        )
    }
}

#[test]
fn entries_that_share_a_link_but_not_their_guid_or_text_are_each_stored() {
    on_each_engine(|place| {
        let store = place.open();
        let first: Vec<Item> = (1..=3).map(episode).collect();
        let counts = record(&store, &first);
        assert_eq!(counts.new, 3, "{counts:?}");
        let next: Vec<Item> = (1..=4).map(episode).collect();
        let counts = record(&store, &next);
        assert_eq!((counts.new, counts.unchanged, counts.updated), (1, 3, 0));
        let stored = store.recent("abc", 10).unwrap();
        let mut ids: Vec<&ItemId> = stored.iter().map(|s| &s.item.id).collect();
        ids.sort();
        let mut expected: Vec<&ItemId> = next.iter().map(|i| &i.id).collect();
        expected.sort();
        assert_eq!(ids, expected, "every episode under its own id");
    });
}

#[test]
fn an_entry_folded_by_the_old_link_rule_is_its_own_item_again() {
    on_each_engine(|place| {
        let store = place.open();
        record(&store, &[episode(1)]);
        // What earlier versions recorded when the second episode arrived: its id as an alias
        // of the first's, found by the shared link.
        store
            .conn()
            .batch(&format!(
                "INSERT INTO aliases (alias, item_id) VALUES ('{}', '{}')",
                episode(2).id,
                episode(1).id
            ))
            .unwrap();
        let counts = record(&store, &[episode(1), episode(2)]);
        assert_eq!((counts.new, counts.unchanged), (1, 1), "{counts:?}");
        let stored = store.recent("abc", 10).unwrap();
        assert_eq!(stored.len(), 2);
        let titles: HashSet<&str> = stored.iter().map(|s| s.item.title.as_str()).collect();
        assert_eq!(titles, HashSet::from(["Episode 1", "Episode 2"]));
        let aliases: i64 = store
            .conn()
            .value("SELECT count(*) FROM aliases", &[])
            .unwrap();
        assert_eq!(aliases, 0, "the wrong alias is forgotten");
    });
}

#[test]
fn a_newer_post_given_an_older_ones_guid_never_takes_its_item() {
    on_each_engine(|place| {
        let store = place.open();
        let post = |title: &str, hour: u32| Item {
            published: Some(Utc.with_ymd_and_hms(2026, 11, 20, hour, 0, 0).unwrap()),
            summary: Some(format!("<p>{title}, in a few words.</p>")),
            ..item("reused", "https://abc.example/day", title)
        };
        let document = |posts: Vec<Item>| crate::dedup::within_document(posts);
        record(&store, &document(vec![post("Older", 1)]));
        let counts = record(&store, &document(vec![post("Newer", 5), post("Older", 1)]));
        assert_eq!((counts.new, counts.unchanged), (1, 1), "{counts:?}");
        let stored = store.recent("abc", 10).unwrap();
        let titles: HashSet<&str> = stored.iter().map(|s| s.item.title.as_str()).collect();
        assert_eq!(titles, HashSet::from(["Older", "Newer"]));
    });
}

#[test]
fn items_older_than_retention_are_neither_stored_nor_kept() {
    on_each_engine(|place| {
        let store = place.open();
        let mut old = item("old", "https://abc.example/old", "Old");
        old.published = Some(now() - Duration::days(45));
        let fresh = item("new", "https://abc.example/new", "New");
        let counts = record(&store, &[old, fresh]);
        assert_eq!((counts.new, counts.expired), (1, 1));

        assert_eq!(store.purge_older_than(now()).unwrap(), 1);
        assert_eq!(store.item_count().unwrap(), 0);
    });
}

#[test]
fn everything_survives_reopening() {
    on_each_engine(|place| {
        let a = item("g1", "https://abc.example/1", "First");
        record(&place.open(), std::slice::from_ref(&a));

        let store = place.open();
        assert_eq!(store.recent("abc", 10).unwrap()[0].item, a);
        let state = store.feed_state("abc", "https://abc.example/rss").unwrap();
        assert_eq!(state.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(state.body_hash.as_deref(), Some("hash-\"v1\""));
    });
}

#[test]
fn a_failed_poll_keeps_the_validators_and_items() {
    on_each_engine(|place| {
        let store = place.open();
        record(&store, &[item("g1", "https://abc.example/1", "First")]);
        let failure = FeedPoll {
            outlet: "abc",
            feed_url: "https://abc.example/rss",
            attempt: attempt(500, Some("server answered 500")),
            body: None,
        };
        store
            .record_poll(&failure, now() - Duration::days(30), now())
            .unwrap();
        let state = store.feed_state("abc", "https://abc.example/rss").unwrap();
        assert_eq!(state.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(state.failures, 1);
        assert_eq!(store.item_count().unwrap(), 1);
        let status = &store.feed_statuses().unwrap()[0];
        assert_eq!(status.error.as_deref(), Some("server answered 500"));
        assert_eq!(
            status.last_success,
            Some(now()),
            "the earlier success is kept"
        );
        assert_eq!((status.status, status.items), (Some(500), 1));
        assert_eq!(status.document_problems, None);
    });
}

#[test]
fn future_and_missing_dates_become_the_first_sighting_and_stay_so() {
    on_each_engine(|place| {
        let store = place.open();
        let mut future = item("f", "https://abc.example/f", "From the future");
        future.published = Some(now() + Duration::days(365));
        let mut soon = item("s", "https://abc.example/s", "A clock a little fast");
        soon.published = Some(now() + Duration::minutes(10));
        let mut undated = item("u", "https://abc.example/u", "Undated");
        undated.published = None;
        let items = [future, soon.clone(), undated];
        let counts = record(&store, &items);
        assert_eq!((counts.new, counts.clamped), (3, 1));
        let stored = store.recent("abc", 10).unwrap();
        let date_of = |title: &str| {
            let s = stored.iter().find(|s| s.item.title == title).unwrap();
            (s.item.published, s.sort_at)
        };
        assert_eq!(date_of("From the future"), (Some(now()), now()));
        assert_eq!(date_of("Undated"), (Some(now()), now()));
        assert_eq!(date_of("A clock a little fast"), (soon.published, now()));

        let later = now() + Duration::hours(2);
        let again = store
            .record_poll(&poll(&items, "\"v1\""), later - Duration::days(30), later)
            .unwrap();
        assert_eq!(
            again.unchanged, 3,
            "first-seen dates do not change: {again:?}"
        );
    });
}

#[test]
fn a_malformed_document_is_recorded_until_a_clean_one_replaces_it() {
    on_each_engine(|place| {
        let store = place.open();
        let items = [item("g1", "https://abc.example/1", "First")];
        let problems = ["bare ampersands were escaped".to_owned()];
        let mut malformed = poll(&items, "\"v1\"");
        malformed.body.as_mut().unwrap().problems = Some(&problems);
        store
            .record_poll(&malformed, now() - Duration::days(30), now())
            .unwrap();
        let recorded = || store.feed_statuses().unwrap()[0].document_problems.clone();
        assert_eq!(recorded().as_deref(), Some("bare ampersands were escaped"));

        let mut same_bytes = poll(&[], "\"v2\"");
        same_bytes.body.as_mut().unwrap().problems = None;
        store
            .record_poll(&same_bytes, now() - Duration::days(30), now())
            .unwrap();
        assert!(
            recorded().is_some(),
            "bytes not parsed again keep their problems"
        );
        record(&store, &items);
        assert_eq!(recorded(), None);
    });
}

#[test]
fn forgetting_an_outlet_deletes_its_items_and_feed_state_only() {
    on_each_engine(|place| {
        let store = place.open();
        record(&store, &[item("a", "https://abc.example/a", "Alpha story")]);
        let mut other = item("b", "https://news.example/b", "Beta story");
        other.outlet = "news".into();
        other.id = ItemId::derive("news", &other.identity_key());
        let mut news_poll = poll(std::slice::from_ref(&other), "n1");
        news_poll.outlet = "news";
        news_poll.feed_url = "https://news.example/rss";
        store
            .record_poll(&news_poll, now() - Duration::days(30), now())
            .unwrap();
        assert_eq!(store.forget_outlet("abc").unwrap(), 1);
        assert_eq!(store.item_count().unwrap(), 1);
        assert!(store.recent("abc", 10).unwrap().is_empty());
        assert_eq!(store.recent("news", 10).unwrap().len(), 1);
        let feeds: Vec<_> = store
            .feed_statuses()
            .unwrap()
            .into_iter()
            .map(|f| f.outlet)
            .collect();
        assert_eq!(feeds, ["news"]);
    });
}

#[test]
fn search_finds_words_in_titles_and_summary_text_but_not_in_markup() {
    on_each_engine(|place| {
        let store = place.open();
        let mut flood = item(
            "f",
            "https://abc.example/flood",
            "Murray floods: towns brace",
        );
        flood.summary = Some("<p class=\"strong\">Levees along the river <b>hold</b></p>".into());
        let fire = item(
            "b",
            "https://abc.example/fire",
            "Bushfire season starts early",
        );
        record(&store, &[flood.clone(), fire.clone()]);
        let found = |q: &str| {
            let mut ids: Vec<String> = store
                .search(&SearchQuery::parse(q).unwrap(), None, 10)
                .unwrap()
                .items
                .into_iter()
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found("murray"), [flood.id.to_string()]);
        assert_eq!(found("levees hold"), [flood.id.to_string()]);
        assert_eq!(found("bush*"), [fire.id.to_string()]);
        assert!(found("strong").is_empty(), "markup is not text");
        assert!(found("levees fire").is_empty(), "every word must appear");
        // An item deleted (by retention) is no longer found.
        store.purge_older_than(now() + Duration::days(400)).unwrap();
        assert!(found("murray").is_empty());
    });
}

#[test]
fn a_database_from_before_search_is_indexed_when_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let story = item("s", "https://abc.example/s", "Parliament sits late");
    record(&Store::open(&path).unwrap(), std::slice::from_ref(&story));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        // Back to the schema of version 5: no search index, the band index in a table,
        // every item indexed by its story, no related coverage.
        "DROP TRIGGER items_unsearchable; DROP TABLE items_search; DROP TABLE related;
         DROP TABLE leases; DROP TABLE changes;
         DROP INDEX items_by_first_seen;
         DROP INDEX items_by_joined_story; CREATE INDEX items_by_story ON items (story);
         CREATE INDEX decisions_by_story ON decisions (story);
         CREATE TABLE bands (band INTEGER NOT NULL, item_id TEXT NOT NULL, seen_at INTEGER NOT NULL);
         PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let found = store
        .search(
            &SearchQuery::parse("parliament").unwrap(),
            Some(&["abc".to_owned()]),
            10,
        )
        .unwrap();
    assert!(found.items.contains(story.id.as_str()));
}

/// Builds `outlet`'s copy of a story told in `text`.
fn copy(outlet: &str, guid: &str, text: &str) -> Item {
    let mut item = Item {
        outlet: outlet.into(),
        summary: Some(format!("<p>{text}</p>")),
        ..item(
            guid,
            &format!("https://{outlet}.example/{guid}"),
            &text[..40],
        )
    };
    item.id = ItemId::derive(outlet, &item.identity_key());
    item
}

/// Records `item` alone; the story it is in afterwards (its own id if it joined none).
fn story_after_recording(store: &Store, item: &Item) -> String {
    record(store, std::slice::from_ref(item));
    store.story_of(item.id.as_str()).unwrap().unwrap()
}

const FLOOD: &str = "Floodwaters cut off Lismore as the Wilsons River peaks above twelve metres \
    and the State Emergency Service orders thousands of residents to evacuate overnight";
const BUDGET: &str = "The Reserve Bank holds the cash rate steady for a third month while \
    economists warn that household spending is slowing across every capital city";

/// Opens a store at `place` whose database refuses rows of outlet `broken` in `table`, as another
/// process's trigger would.
fn store_refusing(place: &Place, table: &str) -> Store {
    let store = place.open();
    let trigger = match place {
        Place::Sqlite(_) => format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON {table} WHEN new.outlet = 'broken'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        ),
        Place::Postgres(_) => format!(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF new.outlet = 'broken' THEN RAISE EXCEPTION 'refused'; END IF;
                 RETURN new;
             END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON {table}
                 FOR EACH ROW EXECUTE FUNCTION refuse();"
        ),
    };
    store.conn().batch(&trigger).unwrap();
    store
}

#[test]
fn a_batch_keeps_each_poll_whole_and_apart() {
    on_each_engine(|place| {
        // A write the database refuses, in the middle of the batch.
        let store = store_refusing(place, "items");
        let first = [copy("abc", "1", FLOOD)];
        let broken = [copy("broken", "2", BUDGET)];
        let last = [copy("news", "3", BUDGET)];
        let mut polls = [
            poll(&first, "\"a\""),
            poll(&broken, "\"b\""),
            poll(&last, "\"c\""),
        ];
        polls[1].outlet = "broken";
        polls[2].outlet = "news";
        let results = store.record_polls(&polls, now() - Duration::days(30), now());
        assert_eq!(results[0].as_ref().unwrap().new, 1);
        let refused = results[1].as_ref().unwrap_err().to_string();
        assert!(refused.contains("refused"), "{refused}");
        assert_eq!(results[2].as_ref().unwrap().new, 1);
        assert_eq!(store.item_count().unwrap(), 2);
        // Nothing of the refused poll stayed, not even its attempt; the others' did.
        let state = |outlet| store.feed_state(outlet, "https://abc.example/rss").unwrap();
        assert_eq!(state("broken"), FeedState::default());
        assert_eq!(state("news").validators.etag.as_deref(), Some("\"c\""));
    });
}

#[test]
fn a_poll_undone_after_its_items_were_written_leaves_nothing_to_search() {
    on_each_engine(|place| {
        // Refused when its feed's state is written, after its items.
        let store = store_refusing(place, "feeds");
        let kept = [item(
            "k",
            "https://abc.example/kept",
            "Levee holds at Mannum",
        )];
        let undone = [item(
            "u",
            "https://abc.example/undone",
            "Ferry halted at Wellington",
        )];
        let mut polls = [poll(&kept, "\"a\""), poll(&undone, "\"b\"")];
        polls[1].outlet = "broken";
        let results = store.record_polls(&polls, now() - Duration::days(30), now());
        assert!(results[1].is_err());
        // The next item takes the row the undone one had: it must not be found by the undone words.
        let next = [item("n", "https://abc.example/next", "Roads reopen")];
        record(&store, &next);
        let found = |q: &str| found(&store, q);
        assert_eq!(found("levee"), [kept[0].id.to_string()].into());
        assert!(found("ferry").is_empty(), "{:?}", found("ferry"));
        assert_eq!(found("roads"), [next[0].id.to_string()].into());
    });
}

#[test]
fn copies_are_found_after_a_restart_and_beside_another_writer() {
    on_each_engine(|place| {
        let first = place.open();
        let flood = copy("abc", "1", FLOOD);
        record(&first, std::slice::from_ref(&flood));
        // Opened again (a restart, or `tributary poll` beside the daemon): the window is loaded.
        let second = place.open();
        let retold = copy("news", "2", FLOOD);
        assert_eq!(story_after_recording(&second, &retold), flood.id.as_str());
        // What the second wrote is read by the first before its next write.
        let budget = copy("news", "3", BUDGET);
        record(&second, std::slice::from_ref(&budget));
        let again = copy("sbs", "4", BUDGET);
        assert_eq!(story_after_recording(&first, &again), budget.id.as_str());
    });
}

#[test]
fn a_forgotten_outlet_leaves_no_story_to_join() {
    on_each_engine(|place| {
        let store = place.open();
        let flood = copy("abc", "1", FLOOD);
        record(&store, std::slice::from_ref(&flood));
        store.forget_outlet("abc").unwrap();
        let retold = copy("news", "2", FLOOD);
        assert_eq!(story_after_recording(&store, &retold), retold.id.as_str());
    });
}

#[test]
fn a_story_whose_first_item_is_gone_is_still_shown_in_the_copies_left() {
    on_each_engine(|place| {
        let store = place.open();
        let flood = copy("abc", "1", FLOOD);
        record(&store, std::slice::from_ref(&flood));
        let retold = copy(
            "news",
            "2",
            &FLOOD
                .replace("overnight", "before dark")
                .replace("cut off", "isolate"),
        );
        assert_eq!(story_after_recording(&store, &retold), flood.id.as_str());
        let joined = store.explain(retold.id.as_str()).unwrap().unwrap().members;
        let score = joined.iter().find_map(|m| m.joined.clone()).unwrap().score;
        assert!(score < 1.0, "a retelling, not a copy: {score}");
        let both = store.recent_stories(10, &[], None).unwrap();
        assert_eq!(both[0].also.len(), 1);
        assert_eq!(
            both[0].also[0].score, score,
            "shown with the score it joined with"
        );
        store.forget_outlet("abc").unwrap();
        let news = ["news".to_owned()];
        for only in [None, Some(&news[..])] {
            let shown = store.recent_stories(10, &[], only).unwrap();
            assert_eq!(shown.len(), 1, "{only:?}");
            assert_eq!(shown[0].item.id, retold.id);
            assert_eq!(shown[0].story.as_str(), flood.id.as_str());
        }
        let explained = store.explain(retold.id.as_str()).unwrap().unwrap();
        assert_eq!(explained.members.len(), 1);
        assert!(explained.members[0].joined.is_some());
    });
}

#[test]
fn rows_written_elsewhere_after_a_delete_are_still_read() {
    on_each_engine(|place| {
        let daemon = place.open();
        record(&daemon, &[copy("abc", "1", FLOOD)]);
        record(&daemon, &[copy("gone", "2", FLOOD)]);
        // The newest rows go, so SQLite hands their rowids out again, here to another process.
        daemon.forget_outlet("gone").unwrap();
        let budget = copy("news", "3", BUDGET);
        record(&place.open(), std::slice::from_ref(&budget));
        let again = copy("sbs", "4", BUDGET);
        assert_eq!(story_after_recording(&daemon, &again), budget.id.as_str());
    });
}

#[test]
fn readings_do_not_wait_for_a_write_under_way() {
    on_each_engine(|place| {
        let store = std::sync::Arc::new(place.open());
        record(&store, &[copy("abc", "1", FLOOD)]);
        // A batch being written: the writer's connection held, a transaction open, rows deleted.
        let mut writing = store.conn();
        let tx = writing.write_transaction().unwrap();
        tx.execute("DELETE FROM items", &[]).unwrap();
        let reading = std::sync::Arc::clone(&store);
        let (done, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let read = (reading.item_count(), reading.recent_stories(10, &[], None));
            done.send(read).unwrap();
        });
        let (count, stories) = answer
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("read while the write is under way");
        assert_eq!(
            count.unwrap(),
            1,
            "the last commit, not the write under way"
        );
        assert_eq!(stories.unwrap().len(), 1);
        drop(tx);
    });
}

#[test]
fn a_batch_that_cannot_commit_keeps_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    // A constraint checked only at COMMIT, broken by what the poll writes.
    store
        .conn()
        .batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER orphan AFTER INSERT ON items WHEN new.outlet = 'broken'
             BEGIN INSERT INTO child VALUES (1); END;",
        )
        .unwrap();
    let flood = [copy("broken", "1", FLOOD)];
    let mut polls = [poll(&flood, "\"a\"")];
    polls[0].outlet = "broken";
    let results = store.record_polls(&polls, now() - Duration::days(30), now());
    let error = results[0].as_ref().unwrap_err().to_string();
    assert!(error.starts_with("not saved: "), "{error}");
    assert_eq!(store.item_count().unwrap(), 0);
    // The window forgot it too: another outlet's copy starts a story of its own.
    let retold = copy("news", "2", FLOOD);
    assert_eq!(story_after_recording(&store, &retold), retold.id.as_str());
}

#[test]
fn committed_pages_reach_the_database_file_without_waiting_for_the_log_to_fill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    let items: Vec<Item> = (0..20)
        .map(|i| {
            let mut item = item(
                &format!("g{i}"),
                &format!("https://abc.example/{i}"),
                "Title",
            );
            item.summary = Some(format!("<p>{}</p>", "words ".repeat(200)));
            item
        })
        .collect();
    store
        .record_poll(&poll(&items, "e1"), now() - Duration::days(365), now())
        .unwrap();
    // The log is far from the writer's own checkpoint (32 MiB): only the checkpoint thread
    // copies these pages into the file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&path).unwrap().len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "still only in the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_search_past_its_deadline_is_stopped_and_the_next_one_runs() {
    on_each_engine(|place| {
        let store = place.open();
        let items: Vec<Item> = (0..4_000)
            .map(|n| {
                item(
                    &format!("s{n}"),
                    &format!("https://abc.example/{n}"),
                    &format!("Parliament sits late on bill {n}"),
                )
            })
            .collect();
        record(&store, &items);
        let query = SearchQuery::parse("parliament").unwrap();
        // Past its deadline before it starts, and stopped by SQLite part way through.
        for within in [
            std::time::Duration::ZERO,
            std::time::Duration::from_micros(300),
        ] {
            let stopped = store.search_within(&query, None, 10_000, within);
            assert!(
                matches!(stopped, Err(StoreError::TooSlow(_))),
                "{stopped:?}"
            );
        }
        let found = store.search(&query, None, 10_000).unwrap();
        assert_eq!(found.items.len(), 4_000);
    });
}

#[test]
fn a_feed_is_claimed_by_one_process_at_a_time_until_its_poll_is_written() {
    on_each_engine(|place| {
        let (first, second) = (place.open(), place.open());
        let feed = "https://abc.example/rss";
        let lease = Duration::seconds(70);
        let claim = |store: &Store, at| {
            let feeds = [feed.to_owned()];
            let mut claims = store.claim_feeds("abc", &feeds, Some(at), at + lease, at)?;
            Ok::<_, StoreError>(claims.remove(0))
        };
        assert_eq!(
            claim(&first, now()).unwrap(),
            Claim::Granted(FeedState::default())
        );
        assert_eq!(first.leases_held().unwrap(), 1);
        match claim(&second, now()).unwrap() {
            Claim::Held { by, until: held } => {
                assert_eq!((by.as_str(), held), (first.instance(), now() + lease));
            }
            other => panic!("the second process polls it too: {other:?}"),
        }
        // The poll is written: the lease ends, and the feed is due five minutes later.
        record(&first, &[item("g1", "https://abc.example/1", "First")]);
        assert_eq!(first.leases_held().unwrap(), 0);
        let next = now() + Duration::minutes(5);
        assert_eq!(
            claim(&second, now()).unwrap(),
            Claim::NotDue { until: next }
        );
        assert!(matches!(claim(&second, next).unwrap(), Claim::Granted(_)));
        // A process that died holding a feed gives it up when its lease expires.
        match claim(&first, next + Duration::seconds(1)).unwrap() {
            Claim::Held { .. } => {}
            other => panic!("taken from a live holder: {other:?}"),
        }
        let expired = next + lease;
        assert!(matches!(claim(&first, expired).unwrap(), Claim::Granted(_)));
        // Several feeds in one claim: each as it stands, the one not due keeping no lease.
        let feeds = [
            "https://abc.example/rss".to_owned(),
            "https://abc.example/new".to_owned(),
        ];
        let later = expired + Duration::seconds(1);
        let claims = second
            .claim_feeds("abc", &feeds, Some(later), later + lease, later)
            .unwrap();
        assert!(matches!(claims[0], Claim::Held { .. }), "{claims:?}");
        assert_eq!(claims[1], Claim::Granted(FeedState::default()));
        assert_eq!(second.leases_held().unwrap(), 1);
    });
}

#[test]
fn two_processes_claiming_one_feed_over_and_over_are_granted_or_held() {
    on_each_engine(|place| {
        let stores = [place.open(), place.open()];
        let feeds = ["https://abc.example/rss".to_owned()];
        let lease = Duration::seconds(70);
        // Two processes claim one feed over and over, each writing a poll (which ends its
        // lease) whenever it is granted: every claim is granted or refused with its holder
        // named, even when the holder is writing its poll, and no lease outlives its poll.
        std::thread::scope(|threads| {
            for store in &stores {
                let feeds = &feeds;
                threads.spawn(move || {
                    for round in 0..300 {
                        let claims = store
                            .claim_feeds("abc", feeds, None, now() + lease, now())
                            .unwrap_or_else(|e| panic!("round {round} on {place}: {e}"));
                        match claims.as_slice() {
                            [Claim::Granted(_)] => {
                                record(store, &[]);
                            }
                            [Claim::Held { by, .. }] => {
                                assert_ne!(by.as_str(), store.instance(), "on {place}")
                            }
                            other => panic!("round {round} on {place}: {other:?}"),
                        }
                    }
                });
            }
        });
        assert_eq!(stores[0].leases_held().unwrap(), 0);
        assert_eq!(stores[1].leases_held().unwrap(), 0);
    });
}

#[test]
fn copies_written_at_once_by_two_processes_are_one_story() {
    on_each_engine(|place| {
        for round in 0..5 {
            let (first, second) = (place.open(), place.open());
            let text = format!("{FLOOD} in round {round}");
            let copies = [
                copy("abc", &format!("a{round}"), &text),
                copy("news", &format!("n{round}"), &text),
            ];
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|threads| {
                for (store, copy) in [(&first, &copies[0]), (&second, &copies[1])] {
                    let start = &start;
                    threads.spawn(move || {
                        start.wait();
                        record(store, std::slice::from_ref(copy));
                    });
                }
            });
            let stories: Vec<String> = copies
                .iter()
                .map(|c| first.story_of(c.id.as_str()).unwrap().unwrap())
                .collect();
            assert_eq!(stories[0], stories[1], "round {round} on {place}");
        }
    });
}

#[test]
fn processes_opening_a_new_database_together_create_its_schema_once() {
    for _ in 0..3 {
        let Some(url) = pg_server::fresh_database() else {
            return;
        };
        let place = Place::Postgres(url);
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|threads| {
            for _ in 0..4 {
                threads.spawn(|| {
                    start.wait();
                    drop(place.open());
                });
            }
        });
    }
}

#[test]
fn a_server_without_tls_is_refused_when_the_url_requires_it() {
    let Some(url) = pg_server::fresh_database() else {
        return;
    };
    let error = Store::connect(&format!("{url}?sslmode=require"))
        .err()
        .expect("no TLS, no connection")
        .to_string();
    assert!(error.contains("TLS"), "{error}");
    assert!(Store::connect(&format!("{url}?sslmode=prefer")).is_ok());
}

#[test]
fn an_item_written_twice_in_one_batch_is_found_by_its_last_text_only() {
    on_each_engine(|place| {
        let store = place.open();
        let first = [item(
            "g",
            "https://abc.example/g",
            "Ferry halted at Wellington",
        )];
        let mut second = first.clone();
        second[0].title = "Ferry resumes at Wellington".into();
        let many: Vec<Item> = (0..100)
            .map(|n| {
                item(
                    &format!("m{n}"),
                    &format!("https://abc.example/m{n}"),
                    "Roads reopen",
                )
            })
            .collect();
        let polls = [
            poll(&first, "\"a\""),
            poll(&second, "\"b\""),
            poll(&many, "\"c\""),
        ];
        let results = store.record_polls(&polls, now() - Duration::days(30), now());
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let found = |q: &str| found(&store, q);
        assert_eq!(found("resumes"), [first[0].id.to_string()].into());
        assert!(found("halted").is_empty(), "{place}");
        assert_eq!(found("roads").len(), 100);
    });
}
