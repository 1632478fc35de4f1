//! What `GET /metrics` reports, in the Prometheus (OpenMetrics) text format: how polling goes
//! per outlet, what the store gained and lost, how readers are served, and how reloads went.
//!
//! The stages do not know about metrics: the daemon and the server observe what the stages
//! return (a poll's reports, a rebuild's duration) and count it here.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Metric, Registry};

use crate::poll::{FeedReport, Outcome};

/// What a scraper is told the body is.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    outlet: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutletLabels {
    outlet: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    outlet: String,
    change: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// Fetches take from milliseconds to the time limit (30 s by default).
fn fetch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

pub struct Metrics {
    registry: Registry,
    polls: Family<PollLabels, Counter>,
    fetch_seconds: Family<OutletLabels, Histogram, fn() -> Histogram>,
    fetched_bytes: Family<OutletLabels, Counter>,
    items: Family<ItemLabels, Counter>,
    items_stored: Gauge,
    retention_deleted: Counter,
    requests: Family<RequestLabels, Counter>,
    connections: Gauge,
    connection_cap: Gauge,
    leases: Gauge,
    database_up: Gauge,
    render_seconds: Histogram,
    reloads: Family<ReloadLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tributary");
        let mut add = Registering(&mut registry);
        Self {
            polls: add.metric(
                "polls",
                "Feed polls by outlet and outcome (stored, unchanged, not_modified, failed)",
                Family::default(),
            ),
            fetch_seconds: add.metric(
                "fetch_duration_seconds",
                "Time from a request's turn to its body read, by outlet",
                Family::new_with_constructor(fetch_histogram),
            ),
            fetched_bytes: add.metric(
                "fetched_bytes",
                "Feed body bytes received, decompressed, by outlet",
                Family::default(),
            ),
            items: add.metric(
                "items",
                "Items stored by outlet and change (new, updated, merged into another outlet's story)",
                Family::default(),
            ),
            items_stored: add.metric("items_stored", "Items in the store", Gauge::default()),
            retention_deleted: add.metric(
                "retention_deleted_items",
                "Items deleted past retention or with their outlet",
                Counter::default(),
            ),
            requests: add.metric(
                "http_requests",
                "HTTP requests answered, by route and status",
                Family::default(),
            ),
            connections: add.metric(
                "http_connections",
                "Readers' connections open",
                Gauge::default(),
            ),
            connection_cap: add.metric(
                "http_connections_max",
                "The most readers' connections served at once; more wait to be accepted",
                Gauge::default(),
            ),
            leases: add.metric(
                "feed_leases",
                "Feeds this instance holds a lease on: those it is polling now",
                Gauge::default(),
            ),
            database_up: add.metric(
                "database_up",
                "1 when the database could be read at the last look (every 2 s), 0 otherwise",
                Gauge::default(),
            ),
            render_seconds: add.metric(
                "render_duration_seconds",
                "Time to render every published feed after a change",
                Histogram::new(exponential_buckets(0.001, 2.0, 12)),
            ),
            reloads: add.metric(
                "config_reloads",
                "Configuration reloads by result (applied, refused)",
                Family::default(),
            ),
            registry,
        }
    }
}

/// A registry that registers each metric as it is created, so that a metric is named in one
/// place.
struct Registering<'a>(&'a mut Registry);

impl Registering<'_> {
    fn metric<M: Metric + Clone>(&mut self, name: &str, help: &str, metric: M) -> M {
        self.0.register(name, help, metric.clone());
        metric
    }
}

impl Metrics {
    /// Counts one feed's poll; a feed that was not due was not polled.
    pub fn observe_poll(&self, report: &FeedReport) {
        let outcome = match &report.outcome {
            Outcome::Deferred { .. } | Outcome::Elsewhere { .. } => return,
            Outcome::NotModified => "not_modified",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Stored { .. } => "stored",
            Outcome::Failed { .. } => "failed",
        };
        let outlet = report.outlet.clone();
        self.polls
            .get_or_create(&PollLabels {
                outlet: outlet.clone(),
                outcome,
            })
            .inc();
        let by_outlet = OutletLabels {
            outlet: outlet.clone(),
        };
        if let Some(ms) = report.duration_ms {
            self.fetch_seconds
                .get_or_create(&by_outlet)
                .observe(ms as f64 / 1000.0);
        }
        self.fetched_bytes
            .get_or_create(&by_outlet)
            .inc_by(report.bytes);
        if let Outcome::Stored { ingested, .. } = &report.outcome {
            for (change, count) in [
                ("new", ingested.new),
                ("updated", ingested.updated),
                ("merged", ingested.merged),
            ] {
                let labels = ItemLabels {
                    outlet: outlet.clone(),
                    change,
                };
                self.items.get_or_create(&labels).inc_by(count as u64);
            }
        }
    }

    pub fn observe_render(&self, took: Duration, items_stored: u64) {
        self.render_seconds.observe(took.as_secs_f64());
        self.items_stored
            .set(i64::try_from(items_stored).unwrap_or(i64::MAX));
    }

    pub fn observe_deleted(&self, items: usize) {
        self.retention_deleted.inc_by(items as u64);
    }

    /// Counts an answered request by its route pattern (`/outlets/{outlet}/{file}`, not each
    /// outlet's path: label values must stay few).
    pub fn observe_request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    pub fn set_connection_cap(&self, cap: usize) {
        self.connection_cap
            .set(i64::try_from(cap).unwrap_or(i64::MAX));
    }

    /// Records what the last look at the store found: whether it could be read, and how many feeds
    /// this instance holds leases on.
    pub fn observe_store(&self, up: bool, leases: u64) {
        self.database_up.set(i64::from(up));
        self.leases.set(i64::try_from(leases).unwrap_or(i64::MAX));
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    pub fn observe_reload(&self, applied: bool) {
        let result = if applied { "applied" } else { "refused" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
    }

    /// Renders the exposition a scraper reads.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
