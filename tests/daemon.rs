//! The daemon end to end: real HTTP from a local fixture server, the real scheduler, real SQLite,
//! and the merged feeds read back with feed parsers.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;

const JUNO_GUID: &str =
    "http://www.abc.net.au/news/science/2017-07-10/juno-getting-up-close-to-jupiters-great-red-spot/8688326";

fn outlet_of(item: &Value) -> &str {
    item["_tributary"]["outlet"].as_str().unwrap()
}

/// Serves ABC's Just In (250) and Top Stories (19) and the two News.com.au feeds (12 stories, one
/// in both). News.com.au's Mosul story is ABC Top Stories' Iraq-victory story: one story, so the
/// merged feed has 280 items.
async fn two_outlets(server: &FixtureServer) -> String {
    server.serve("/abc/justin.xml", Doc::feed(ABC_JUSTIN, "j1"));
    server.serve("/abc/top.xml", Doc::feed(ABC_TOP_0706, "t1"));
    server.serve("/news/national/", Doc::feed(NEWS_NATIONAL, "n1"));
    server.serve("/news/world/", Doc::feed(NEWS_WORLD, "w1"));
    let abc = [server.url("/abc/justin.xml"), server.url("/abc/top.xml")];
    let news = [server.url("/news/national/"), server.url("/news/world/")];
    config(free_port(), &[("abc", &abc), ("newscomau", &news)])
}

#[tokio::test]
async fn the_merged_feed_has_every_item_once_newest_first() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &two_outlets(&server).await).await;
    daemon.wait_for_items(250 + 19 + 12).await;

    let response = daemon.get("/feed.json?limit=1000").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/feed+json; charset=utf-8"
    );
    let feed: Value = response.json().await.unwrap();
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 280);
    let ids: HashSet<_> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 280, "an item appears twice");
    let dates: Vec<_> = items
        .iter()
        .map(|i| i["date_published"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    let outlets: HashSet<_> = items.iter().map(outlet_of).collect();
    assert_eq!(outlets, HashSet::from(["abc", "newscomau"]));
    let shared: Vec<_> = items
        .iter()
        .filter(|i| i["title"] == "Man charged after Melbourne CBD crash injures three")
        .collect();
    assert_eq!(
        shared.len(),
        1,
        "a story in two of an outlet's feeds is one item"
    );
    let tracked = items
        .iter()
        .find(|i| i["title"].as_str().unwrap().starts_with("Sydney train"))
        .unwrap();
    assert_eq!(
        tracked["url"],
        "https://www.news.com.au/national/nsw-act/transport/sydney-train-commuters-face-delays/news-story/9b2d11e0"
    );
    assert_eq!(
        feed["items"][0]["title"],
        "Trump Jr. emails: what we know so far"
    );

    let rss_response = daemon.get("/feed.xml").await;
    assert_eq!(
        rss_response.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let rss = rss::Channel::read_from(&rss_response.bytes().await.unwrap()[..]).unwrap();
    assert_eq!(rss.items().len(), 100, "the default limit");
    assert!(rss
        .items()
        .iter()
        .all(|i| i.source().is_some() && i.guid().is_some_and(|g| !g.is_permalink())));
    assert_eq!(
        rss.items()[0].title(),
        Some("Trump Jr. emails: what we know so far")
    );

    let atom_response = daemon.get("/feed.atom?limit=5").await;
    assert_eq!(
        atom_response.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let atom =
        atom_syndication::Feed::read_from(&atom_response.bytes().await.unwrap()[..]).unwrap();
    assert_eq!(atom.entries().len(), 5);
    assert_eq!(
        atom.entries()[0].source().unwrap().title().as_str(),
        "newscomau name"
    );

    let news: Value = daemon.json("/outlets/newscomau/feed.json?limit=1000").await;
    let news_items = news["items"].as_array().unwrap();
    assert_eq!(news_items.len(), 12);
    assert!(news_items.iter().all(|i| outlet_of(i) == "newscomau"));
    // A reader of any of the three formats sees every stored item exactly once.
    let rss_all = daemon
        .get("/feed.xml?limit=1000")
        .await
        .bytes()
        .await
        .unwrap();
    let rss_all = rss::Channel::read_from(&rss_all[..]).unwrap();
    let guids: HashSet<_> = rss_all
        .items()
        .iter()
        .map(|i| i.guid().unwrap().value().to_owned())
        .collect();
    assert_eq!((rss_all.items().len(), guids.len()), (280, 280));
    let atom_all = daemon
        .get("/feed.atom?limit=1000")
        .await
        .bytes()
        .await
        .unwrap();
    let atom_all = atom_syndication::Feed::read_from(&atom_all[..]).unwrap();
    let atom_ids: HashSet<_> = atom_all
        .entries()
        .iter()
        .map(|e| e.id().to_owned())
        .collect();
    assert_eq!(atom_ids, guids, "RSS and Atom name the same items");
    let json_ids: HashSet<_> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(json_ids, guids, "RSS and JSON Feed name the same items");

    let abc = atom_syndication::Feed::read_from(
        &daemon
            .get("/outlets/abc/feed.atom")
            .await
            .bytes()
            .await
            .unwrap()[..],
    )
    .unwrap();
    assert_eq!(abc.entries().len(), 100);
}

#[tokio::test]
async fn bad_requests_get_clear_answers() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &two_outlets(&server).await).await;
    let bad_limit = daemon.get("/feed.xml?limit=lots").await;
    assert_eq!(bad_limit.status(), 400);
    assert!(bad_limit.text().await.unwrap().contains("limit=\"lots\""));
    assert_eq!(daemon.get("/feed.xml?limit=0").await.status(), 400);
    assert_eq!(daemon.get("/outlets/nope/feed.xml").await.status(), 404);
    assert_eq!(daemon.get("/outlets/abc/feed.html").await.status(), 404);
    // One rule for too few and too many: both are refused, saying what is allowed.
    let huge = daemon.get("/feed.json?limit=999999").await;
    assert_eq!(huge.status(), 400);
    assert!(huge.text().await.unwrap().contains("from 1 to 1000"));
    let most: Value = daemon.json("/feed.json?limit=1000").await;
    assert!(most["items"].as_array().unwrap().len() <= 1000);
}

#[tokio::test]
async fn an_item_seen_again_is_updated_in_place() {
    let server = FixtureServer::start().await;
    let (daemon, _dir) = Daemon::with_one_feed(&server, Doc::feed(ABC_TOP_0706, "morning")).await;
    daemon.wait_for_items(19).await;
    let morning: Value = daemon.json("/feed.json").await;
    let juno = |feed: &Value| -> Vec<Value> {
        feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["url"] == JUNO_GUID)
            .cloned()
            .collect()
    };
    let before = juno(&morning);
    assert_eq!(before.len(), 1);
    assert!(before[0]["title"].as_str().unwrap().contains("set to buzz"));

    server.serve("/top.xml", Doc::feed(ABC_TOP_1240, "afternoon"));
    daemon.wait_for_items(19 + 15).await;
    // Renderings follow the store closely but not in the same instant.
    let mut after = juno(&daemon.json("/feed.json").await);
    for _ in 0..50 {
        if after[0]["title"] != before[0]["title"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = juno(&daemon.json("/feed.json").await);
    }
    assert_eq!(after.len(), 1, "the retitled story is still one item");
    assert_eq!(
        after[0]["title"],
        "'Through the gates of hell': Spacecraft peers into depths of solar system's biggest storm"
    );
    assert_eq!(after[0]["id"], before[0]["id"], "its id did not change");
}

#[tokio::test]
async fn conditional_get_in_both_directions() {
    let server = FixtureServer::start().await;
    let (daemon, _dir) = Daemon::with_one_feed(&server, Doc::feed(ABC_TOP_0706, "v1")).await;
    daemon.wait_for_items(19).await;

    // Outlet side: after the first fetch, every poll sends the validators back and gets a 304.
    eventually("three polls", 15, || server.seen("/top.xml").len() >= 3).await;
    let seen = server.seen("/top.xml");
    assert!(seen[0].headers.get("if-none-match").is_none());
    assert_eq!(seen[0].status, 200);
    let user_agent = seen[0].headers["user-agent"].to_str().unwrap();
    assert!(user_agent.starts_with("tributary/"), "{user_agent}");
    let accept_encoding = seen[0].headers["accept-encoding"].to_str().unwrap();
    assert!(
        accept_encoding.contains("gzip") && accept_encoding.contains("br"),
        "{accept_encoding}"
    );
    assert!(seen[0].headers["accept"]
        .to_str()
        .unwrap()
        .contains("application/rss+xml"));
    for later in &seen[1..] {
        assert_eq!(later.headers["if-none-match"], "\"v1\"");
        assert_eq!(
            later.headers["if-modified-since"],
            "Tue, 11 Jul 2017 02:40:00 GMT"
        );
        assert_eq!(later.status, 304);
    }

    // Reader side: ETag and Last-Modified, honoured by a 304 with no body.
    let client = reqwest::Client::new();
    let first = daemon.get("/feed.xml").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/feed.xml", daemon.base);
    let by_etag = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(by_etag.status(), 304);
    assert_eq!(by_etag.headers()["etag"].to_str().unwrap(), etag);
    assert!(by_etag.bytes().await.unwrap().is_empty());
    let by_date = client
        .get(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(by_date.status(), 304);
    let stale = client
        .get(&url)
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);
    for path in ["/feed.atom", "/feed.json", "/outlets/abc/feed.json"] {
        let etag = daemon.get(path).await.headers()["etag"]
            .to_str()
            .unwrap()
            .to_owned();
        let again = client
            .get(format!("{}{path}", daemon.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
}

#[tokio::test]
async fn items_survive_a_crash_and_a_restart() {
    let server = FixtureServer::start().await;
    server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "v1"));
    let dir = tempfile::tempdir().unwrap();
    let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(19).await;
    let before: Value = daemon.json("/feed.json").await;
    let status = daemon.stop("KILL");
    assert!(!status.success());

    // The outlet is down now: what was stored is still served, with the same ids.
    server.serve("/top.xml", Doc::status(500));
    let daemon = Daemon::start(dir.path(), &config).await;
    let after: Value = daemon.json("/feed.json").await;
    assert_eq!(after["items"], before["items"]);
    eventually("a poll after the restart", 15, || {
        server.seen("/top.xml").iter().any(|s| s.status == 500)
    })
    .await;
    let still: Value = daemon.json("/feed.json").await;
    assert_eq!(
        still["items"], before["items"],
        "a failed poll lost nothing"
    );

    let status = daemon.stop("TERM");
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
}

/// The kernel's scheduling policy of each of the daemon's threads: ingest behind the readers.
#[cfg(target_os = "linux")]
mod thread_priority {
    use super::*;

    /// Lists each thread of the daemon `pid` by name (cut to 15 bytes by the kernel), with its
    /// scheduling policy (`/proc/PID/task/TID/stat`, field 41).
    fn thread_policies(pid: u32) -> Vec<(String, u32)> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        tasks
            .filter_map(|task| {
                let task = task.ok()?.path();
                let name = std::fs::read_to_string(task.join("comm")).ok()?;
                let stat = std::fs::read_to_string(task.join("stat")).ok()?;
                // Fields after the name, which is in parentheses, start at field 3.
                let after_name = &stat[stat.rfind(')')? + 1..];
                let policy = after_name.split_whitespace().nth(41 - 3)?.parse().ok()?;
                Some((name.trim().to_owned(), policy))
            })
            .collect()
    }

    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;

    /// Reads the policies of the daemon's threads after one poll, with `env` set.
    async fn policies_after_a_poll(env: &[(&str, &str)]) -> Vec<(String, u32)> {
        let server = FixtureServer::start().await;
        server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "t1"));
        let dir = tempfile::tempdir().unwrap();
        let config = config(free_port(), &[("abc", &[server.url("/top.xml")])]);
        let daemon = Daemon::start_with_env(dir.path(), &config, env).await;
        daemon.wait_for_items(19).await;
        thread_policies(daemon.child.id())
    }

    #[tokio::test]
    async fn ingest_runs_behind_the_readers() {
        let threads = policies_after_a_poll(&[]).await;
        let policy_of = |name: &str| -> Vec<u32> {
            let found: Vec<u32> = threads
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, p)| *p)
                .collect();
            assert!(!found.is_empty(), "no thread {name} in {threads:?}");
            found
        };
        for ingest in ["parse", "store-writer", "store-checkpoin"] {
            assert!(
                policy_of(ingest).iter().all(|p| *p == SCHED_IDLE),
                "{ingest} is not at the idle priority: {threads:?}"
            );
        }
        assert!(
            policy_of("tokio-rt-worker")
                .iter()
                .all(|p| *p == SCHED_OTHER),
            "the runtime's threads, which answer readers, keep the normal priority: {threads:?}"
        );
    }

    #[tokio::test]
    async fn ingest_can_be_kept_at_the_normal_priority() {
        let threads = policies_after_a_poll(&[("TRIBUTARY_INGEST_PRIORITY", "normal")]).await;
        assert!(threads.iter().any(|(name, _)| name == "store-writer"));
        assert!(
            threads.iter().all(|(_, policy)| *policy == SCHED_OTHER),
            "{threads:?}"
        );
    }
}
