//! What a poll says about each feed: to `tributary poll`'s output and to the log.

use std::fmt;

use chrono::{DateTime, Utc};
use url::Url;

use crate::store::Ingested;

/// What became of one feed in one poll.
#[derive(Debug)]
pub struct FeedReport {
    pub outlet: String,
    pub feed: Url,
    pub outcome: Outcome,
    /// How long the request took, from its turn in the per-host queue to the stored result;
    /// `None` when the feed was not asked.
    pub duration_ms: Option<u64>,
    /// The size of the body received, decompressed; 0 for a 304 or a failure before the body.
    pub bytes: u64,
}

#[derive(Debug)]
pub enum Outcome {
    /// Not asked: the feed may not be polled before `until`.
    Deferred {
        until: DateTime<Utc>,
    },
    /// Not asked: another process sharing the store is polling it, `by` name, and holds it
    /// until `until` at the latest.
    Elsewhere {
        by: String,
        until: DateTime<Utc>,
    },
    /// The server answered `304 Not Modified`.
    NotModified,
    /// The body was byte-for-byte the one parsed last time.
    Unchanged {
        status: u16,
    },
    Stored {
        status: u16,
        ingested: Ingested,
    },
    Failed {
        status: Option<u16>,
        error: String,
    },
}

impl FeedReport {
    /// Tells whether the stored items changed, so that the published feeds must be rendered again.
    pub fn changed(&self) -> bool {
        matches!(&self.outcome, Outcome::Stored { ingested, .. } if ingested.changed())
    }

    /// Writes one log line: info for an answer, warn with the reason for a failure, debug for a
    /// feed that was not due (every tick would otherwise log every waiting feed).
    pub fn log(&self) {
        let (outlet, feed, duration_ms) = (&self.outlet, &self.feed, self.duration_ms.unwrap_or(0));
        match &self.outcome {
            Outcome::Deferred { until } => tracing::debug!(%outlet, %feed, %until, "not due"),
            Outcome::Elsewhere { by, until } => {
                tracing::debug!(%outlet, %feed, %by, %until, "polled by another instance")
            }
            Outcome::Failed { status, error } => {
                let status = status.map_or_else(|| "-".to_owned(), |s| s.to_string());
                tracing::warn!(%outlet, %feed, %status, duration_ms, %error, "poll failed")
            }
            Outcome::Stored { status, ingested } => tracing::info!(
                %outlet, %feed, status, duration_ms, new = ingested.new, updated = ingested.updated, merged = ingested.merged,
                unchanged = ingested.unchanged, future_dates = ingested.clamped, "polled"
            ),
            Outcome::NotModified => {
                tracing::info!(%outlet, %feed, status = 304, duration_ms, "polled, unchanged")
            }
            Outcome::Unchanged { status } => {
                tracing::info!(%outlet, %feed, status, duration_ms, "polled, unchanged")
            }
        }
    }
}

impl fmt::Display for FeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.outlet, self.feed)?;
        match &self.outcome {
            Outcome::Deferred { until } => write!(f, "not due until {}", until.to_rfc3339()),
            Outcome::Elsewhere { by, until } => write!(
                f,
                "being polled by {by} (its lease ends by {})",
                until.to_rfc3339()
            ),
            Outcome::NotModified => write!(f, "304 not modified"),
            Outcome::Unchanged { status } => write!(f, "{status} unchanged body"),
            Outcome::Stored {
                status,
                ingested: i,
            } => {
                write!(
                    f,
                    "{status} new {}, updated {}, unchanged {}, too old {}",
                    i.new, i.updated, i.unchanged, i.expired
                )?;
                match i.clamped {
                    0 => Ok(()),
                    n => write!(f, ", {n} dated in the future (dated when first seen)"),
                }
            }
            Outcome::Failed {
                status: Some(s),
                error,
            } => write!(f, "{s} failed: {error}"),
            Outcome::Failed {
                status: None,
                error,
            } => write!(f, "failed: {error}"),
        }
    }
}
