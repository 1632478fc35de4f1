//! The command line: `check`, `poll` and `parse` as an operator runs them.

mod common;

use common::*;

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    let output = binary()
        .args(args)
        .current_dir(dir)
        .env_remove("TRIBUTARY_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn check_accepts_the_shipped_config_and_lists_what_it_polls() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let (ok, out, _) = run(&["check"], std::path::Path::new(repo));
    assert!(ok);
    assert!(
        out.contains("outlet abc (ABC News) on \"0 */5 * * * *\""),
        "{out}"
    );
    assert!(
        out.contains("  https://www.news.com.au/content-feeds/latest-news-world/"),
        "{out}"
    );
}

#[test]
fn check_ends_quietly_when_its_reader_stops_reading() {
    use std::os::unix::process::ExitStatusExt;
    // A pipe nobody reads: the first line check prints meets a closed pipe (`check | head`).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = binary()
        .arg("check")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIBUTARY_CONFIG")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{err}");
}

#[test]
fn check_names_the_line_and_column_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[polling]\nschedule = \"0 */10 * * * *\"\ntimout_secs = 3\n",
            "feeds.toml:3:1:",
            "timout_secs",
        ),
        (
            "[[outlet]]\nid = \"a\"\nfeeds = [\"ftp://x\"]\n",
            "feeds.toml:3:10:",
            "not an http or https URL",
        ),
        (
            "[polling]\nschedule = \"*/5 * * *\"\n",
            "feeds.toml:2:12:",
            "cron",
        ),
    ];
    for (text, position, words) in cases {
        std::fs::write(dir.path().join("feeds.toml"), text).unwrap();
        let (ok, _, err) = run(&["check"], dir.path());
        assert!(!ok, "{text}");
        assert!(
            err.contains(position) && err.contains(words),
            "{text:?} gave {err}"
        );
    }
    let (ok, _, err) = run(&["check", "--config", "missing.toml"], dir.path());
    assert!(!ok);
    assert!(
        err.contains("missing.toml: cannot read the configuration"),
        "{err}"
    );
    assert_eq!(
        err.matches("No such file").count(),
        1,
        "the cause once: {err}"
    );
    // Not UTF-8 (Latin-1 on line 2): the position of the first byte that is not, said once.
    std::fs::write(
        dir.path().join("latin1.toml"),
        b"[server]\ntitle = \"caf\xe9\"\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["check", "--config", "latin1.toml"], dir.path());
    assert!(!ok);
    assert!(
        err.contains("latin1.toml:2:13: this is not UTF-8 text"),
        "{err}"
    );
    assert_eq!(err.matches("UTF-8").count(), 2, "said once: {err}");
}

#[tokio::test]
async fn poll_stores_once_and_reports_each_feed() {
    let server = FixtureServer::start().await;
    server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "v1"));
    server.serve("/national/", Doc::feed(NEWS_NATIONAL, "n1"));
    server.serve("/gone.xml", Doc::status(404));
    let dir = tempfile::tempdir().unwrap();
    let feeds = [server.url("/top.xml")];
    let news = [server.url("/national/"), server.url("/gone.xml")];
    std::fs::write(
        dir.path().join("feeds.toml"),
        config(free_port(), &[("abc", &feeds), ("newscomau", &news)]),
    )
    .unwrap();
    let path = dir.path().to_owned();

    let (ok, out, _) =
        tokio::task::spawn_blocking(move || run(&["poll", "--outlet", "abc"], &path))
            .await
            .unwrap();
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("/top.xml 200 new 19, updated 0, unchanged 0"),
        "{out}"
    );

    let path = dir.path().to_owned();
    let (ok, out, _) = tokio::task::spawn_blocking(move || run(&["poll"], &path))
        .await
        .unwrap();
    assert!(!ok, "a failed feed makes poll fail");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].ends_with("/top.xml 304 not modified"), "{out}");
    assert!(lines[1].contains("/national/ 200 new 7"), "{out}");
    assert!(lines[2].contains("/gone.xml 404 failed"), "{out}");

    // The status, read from the database without the daemon.
    let path = dir.path().to_owned();
    let (ok, table, err) = tokio::task::spawn_blocking(move || run(&["status"], &path))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let rows: Vec<_> = table.lines().collect();
    assert!(
        rows[0].starts_with("OUTLET") && rows[0].contains("NEXT POLL"),
        "{table}"
    );
    let gone = rows.iter().position(|r| r.ends_with("/gone.xml")).unwrap();
    assert!(
        rows[gone].starts_with("newscomau") && rows[gone].contains(" 404 "),
        "{table}"
    );
    assert!(
        rows[gone + 1].contains("error: server answered 404 Not Found"),
        "{table}"
    );
    let path = dir.path().to_owned();
    let (ok, json, _) = tokio::task::spawn_blocking(move || run(&["status", "--json"], &path))
        .await
        .unwrap();
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let news = &status["outlets"][1]["feeds"];
    assert_eq!(news[0]["items"], 7);
    assert_eq!(news[0]["etag"], "\"n1\"");
    assert_eq!(news[1]["consecutive_failures"], 1);
    assert_eq!(news[1]["next_poll_reason"], "backoff");
}

#[test]
fn parse_prints_one_json_object_per_item_with_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("{}/{ABC_JUSTIN}", env!("CARGO_MANIFEST_DIR"));
    let (ok, out, err) = run(&["parse", &file, "--outlet", "abc"], dir.path());
    assert!(ok, "{err}");
    let items: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 250);
    let fields = [
        "id",
        "outlet",
        "title",
        "url",
        "summary",
        "content",
        "published",
        "updated",
        "authors",
        "categories",
        "image",
        "enclosures",
        "guid",
    ];
    for item in &items {
        let keys: Vec<_> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), fields.len());
        assert!(fields.iter().all(|f| keys.contains(f)), "{keys:?}");
        assert_eq!(item["outlet"], "abc");
        assert!(item["url"]
            .as_str()
            .unwrap()
            .starts_with("http://www.abc.net.au/news/"));
        assert!(item["published"].as_str().unwrap().ends_with('Z'));
        assert!(
            !item["title"].as_str().unwrap().contains("&#"),
            "{}",
            item["title"]
        );
    }
    let (ok, _, err) = run(
        &["parse", "Cargo.toml"],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert!(!ok);
    assert!(err.contains("cannot parse Cargo.toml"), "{err}");
}
