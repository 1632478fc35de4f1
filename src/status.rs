//! What the operator reads: for every configured outlet and feed, how polling goes. The daemon
//! serves it as JSON at `/status`, and `tributary status` prints it as a table; both read the
//! store, so the table works whether or not the daemon runs.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::config::{Config, Refusal};
use crate::schedule;
use crate::store::{FeedStatus, Store, StoreError};

#[derive(Debug, Serialize)]
pub struct Status {
    pub generated_at: DateTime<Utc>,
    /// Set while the config file on disk was refused and the daemon runs the previous one.
    pub config_refused: Option<Refusal>,
    pub outlets: Vec<OutletStatus>,
}

#[derive(Debug, Serialize)]
pub struct OutletStatus {
    pub id: String,
    pub name: String,
    pub schedule: String,
    pub feeds: Vec<FeedView>,
}

/// One feed; every field but `url` is null (or zero) until the feed was first polled.
#[derive(Debug, Serialize)]
pub struct FeedView {
    /// As configured.
    pub url: String,
    /// Where it is polled now, after permanent redirects; null when that is `url`.
    pub current_url: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_duration_ms: Option<u64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// The first scheduled tick at which the feed is due.
    pub next_poll: Option<DateTime<Utc>>,
    /// What holds the next poll back: "interval", "Cache-Control", "ttl", "Retry-After" or
    /// "backoff"; null before the first poll.
    pub next_poll_reason: Option<String>,
    pub items: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// What was wrong with the last document parsed and mended (a lying encoding, undeclared
    /// entities, a cut-off end), `; `-separated; null for a well-formed one.
    pub document_problems: Option<String>,
}

/// Builds the status of every outlet and feed in `config`, as of `now`.
pub fn build(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<Status, StoreError> {
    let now = now.trunc_subsecs(0);
    let mut rows: HashMap<(String, String), FeedStatus> = store
        .feed_statuses()?
        .into_iter()
        .map(|row| ((row.outlet.clone(), row.url.clone()), row))
        .collect();
    let outlets = config
        .outlets
        .iter()
        .map(|outlet| OutletStatus {
            id: outlet.id.clone(),
            name: outlet.name.clone(),
            schedule: outlet.schedule.clone(),
            feeds: outlet
                .feeds
                .iter()
                .map(|url| {
                    let row = rows.remove(&(outlet.id.clone(), url.to_string()));
                    view(url.as_str(), row, &outlet.schedule, now)
                })
                .collect(),
        })
        .collect();
    Ok(Status {
        generated_at: now,
        config_refused: None,
        outlets,
    })
}

fn view(url: &str, row: Option<FeedStatus>, cron: &str, now: DateTime<Utc>) -> FeedView {
    // The scheduler looks at the feed on each tick; it is asked on the first tick at or after
    // its own earliest next poll (ticks fall on whole seconds).
    let earliest = row
        .as_ref()
        .and_then(|r| r.next_poll_at)
        .map_or(now, |at| at.max(now));
    let next_poll = schedule::next_tick(cron, earliest - chrono::Duration::nanoseconds(1));
    let Some(row) = row else {
        return FeedView {
            url: url.to_owned(),
            current_url: None,
            last_attempt: None,
            last_success: None,
            last_status: None,
            last_duration_ms: None,
            consecutive_failures: 0,
            last_error: None,
            next_poll,
            next_poll_reason: None,
            items: 0,
            etag: None,
            last_modified: None,
            document_problems: None,
        };
    };
    FeedView {
        url: url.to_owned(),
        current_url: row.current_url,
        last_attempt: Some(row.last_attempt),
        last_success: row.last_success,
        last_status: row.status,
        last_duration_ms: row.duration_ms,
        consecutive_failures: row.failures,
        last_error: row.error,
        next_poll,
        next_poll_reason: row.next_poll_reason,
        items: row.items,
        etag: row.validators.etag,
        last_modified: row.validators.last_modified,
        document_problems: row.document_problems,
    }
}

/// The table `tributary status` prints: a line per feed, its error (if any) on the next.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: Option<DateTime<Utc>>| {
            t.map_or_else(
                || "-".to_owned(),
                |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
            )
        };
        if let Some(refused) = &self.config_refused {
            writeln!(
                f,
                "warning: the config file was refused at {}; running the previous one: {}",
                time(Some(refused.at)),
                refused.error
            )?;
        }
        writeln!(
            f,
            "{:<12} {:>6} {:>5} {:>6} {:<19} {:<19} {:<13} FEED",
            "OUTLET", "STATUS", "FAILS", "ITEMS", "LAST SUCCESS", "NEXT POLL", "WAITING FOR"
        )?;
        for outlet in &self.outlets {
            for feed in &outlet.feeds {
                let status = feed
                    .last_status
                    .map_or_else(|| "-".to_owned(), |s| s.to_string());
                let address = match &feed.current_url {
                    Some(current) => format!("{} -> {current}", feed.url),
                    None => feed.url.clone(),
                };
                writeln!(
                    f,
                    "{:<12} {:>6} {:>5} {:>6} {:<19} {:<19} {:<13} {address}",
                    outlet.id,
                    status,
                    feed.consecutive_failures,
                    feed.items,
                    time(feed.last_success),
                    time(feed.next_poll),
                    feed.next_poll_reason.as_deref().unwrap_or("-"),
                )?;
                if let Some(error) = &feed.last_error {
                    writeln!(f, "{:<12} error: {error}", "")?;
                }
                if let Some(problems) = &feed.document_problems {
                    writeln!(f, "{:<12} mended: {problems}", "")?;
                }
            }
        }
        Ok(())
    }
}
