//! `GET /metrics`: valid Prometheus (OpenMetrics) text that counts what the daemon did.

mod common;

use common::*;
use openmetrics_parser::openmetrics::parse_openmetrics;
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};

type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

/// Finds the value of family `name`'s sample with all of `labels`.
fn sample(scrape: &Exposition, name: &str, labels: &[(&str, &str)]) -> OpenMetricsValue {
    let family = scrape
        .families
        .get(name)
        .unwrap_or_else(|| panic!("no family {name}"));
    family
        .iter_samples()
        .find(|s| {
            let set = s.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no {name} sample with {labels:?}"))
        .value
        .clone()
}

fn number(value: OpenMetricsValue) -> f64 {
    match value {
        OpenMetricsValue::Counter(c) => c.value.as_f64(),
        OpenMetricsValue::Gauge(n) => n.as_f64(),
        other => panic!("not a number: {other:?}"),
    }
}

fn observations(value: OpenMetricsValue) -> u64 {
    match value {
        OpenMetricsValue::Histogram(h) => h.count.unwrap_or(0),
        other => panic!("not a histogram: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_parse_and_count_polls_items_requests_and_renders() {
    let server = FixtureServer::start().await;
    server.serve("/gone.xml", Doc::status(500));
    server.serve("/top.xml", Doc::feed(ABC_TOP_0706, "v1"));
    let dir = tempfile::tempdir().unwrap();
    let feeds = [server.url("/top.xml"), server.url("/gone.xml")];
    let daemon = Daemon::start(dir.path(), &config(free_port(), &[("abc", &feeds)])).await;
    let stored = daemon
        .wait_for("items", |h| h["items"].as_u64() > Some(0))
        .await["items"]
        .as_u64()
        .unwrap();
    eventually("a failed poll", 10, || !server.seen("/gone.xml").is_empty()).await;
    assert_eq!(daemon.get("/feed.xml").await.status(), 200);
    assert_eq!(daemon.get("/outlets/abc/feed.json").await.status(), 200);
    assert_eq!(daemon.get("/nowhere").await.status(), 404);
    let posted = reqwest::Client::new()
        .post(format!("{}/feed.xml", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 405);
    assert_eq!(posted.headers()["allow"], "GET,HEAD");

    let response = daemon.get("/metrics").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let scrape = parse_openmetrics(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));

    let abc = [("outlet", "abc")];
    let stored_polls = number(sample(
        &scrape,
        "tributary_polls",
        &[("outlet", "abc"), ("outcome", "stored")],
    ));
    assert!(stored_polls >= 1.0, "{text}");
    let failed = number(sample(
        &scrape,
        "tributary_polls",
        &[("outlet", "abc"), ("outcome", "failed")],
    ));
    assert!(failed >= 1.0, "{text}");
    let new = number(sample(
        &scrape,
        "tributary_items",
        &[("outlet", "abc"), ("change", "new")],
    ));
    assert_eq!(new, stored as f64, "{text}");
    assert!(number(sample(&scrape, "tributary_fetched_bytes", &abc)) > 10_000.0);
    let fetches = observations(sample(&scrape, "tributary_fetch_duration_seconds", &abc));
    assert!(fetches as f64 >= stored_polls + failed, "{text}");
    assert!(observations(sample(&scrape, "tributary_render_duration_seconds", &[])) >= 1);
    assert_eq!(
        number(sample(&scrape, "tributary_items_stored", &[])),
        stored as f64
    );
    let requests = |route: &str, status: &str| {
        number(sample(
            &scrape,
            "tributary_http_requests",
            &[("route", route), ("status", status)],
        ))
    };
    assert_eq!(requests("/feed.xml", "200"), 1.0);
    assert_eq!(requests("/outlets/{outlet}/{file}", "200"), 1.0);
    assert_eq!(requests("/feed.xml", "405"), 1.0);
    assert_eq!(requests("unmatched", "404"), 1.0);
    assert!(requests("/healthz", "200") >= 1.0);
}
