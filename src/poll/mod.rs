//! One poll of one outlet: each of its feeds that is due is fetched concurrently (within the
//! fetcher's per-host limit), what changed is parsed off the async workers, one item is kept per
//! story, and each feed's result — items, validators, status and when to ask next — is stored in
//! one transaction.

mod cadence;

pub use cadence::{Cadence, Next};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use url::Url;

use crate::config::{Outlet, Polling};
use crate::fetch::{FetchError, Fetcher};
use crate::model::{hex, Item};
use crate::store::{Attempt, FeedPoll, FeedState, Ingested, PolledBody, Store, StoreError};
use crate::{dedup, parse, schedule};

/// Everything a poll needs; cheap to clone into each feed's task.
#[derive(Clone)]
pub struct Poller {
    pub fetcher: Fetcher,
    pub store: Arc<Store>,
    pub retention: chrono::Duration,
    pub min_interval: Duration,
    pub respect_cache_headers: bool,
}

/// Whether a poll honours each feed's earliest next poll (the daemon) or asks every feed now
/// (an operator's `tributary poll --force`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Due,
    Now,
}

/// What became of one feed in one poll.
#[derive(Debug)]
pub struct FeedReport {
    pub outlet: String,
    pub feed: Url,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// Not asked: the feed may not be polled before `until`.
    Deferred {
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
    /// Whether the stored items changed, so that the published feeds must be rendered again.
    pub fn changed(&self) -> bool {
        matches!(&self.outcome, Outcome::Stored { ingested, .. } if ingested.changed())
    }
}

impl fmt::Display for FeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.outlet, self.feed)?;
        match &self.outcome {
            Outcome::Deferred { until } => write!(f, "not due until {}", until.to_rfc3339()),
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

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{source}")]
    Parse {
        status: u16,
        source: parse::ParseError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl PollError {
    fn status(&self) -> Option<u16> {
        match self {
            PollError::Fetch(fetch) => fetch.status().map(|s| s.as_u16()),
            PollError::Parse { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What a feed's server answered, before anything is written.
struct Exchange {
    status: u16,
    moved_to: Option<Url>,
    fresh_for: Option<Duration>,
    body: Answer,
}

enum Answer {
    NotModified,
    /// The same bytes as last time, perhaps under new validators.
    Unchanged(FeedState),
    New(NewBody),
}

/// A body to record: its state, and its items and problems if it was parsed.
struct NewBody {
    state: FeedState,
    items: Vec<Item>,
    /// What was wrong with the document and mended; `None` for the same bytes as last time,
    /// which were not parsed again.
    problems: Option<Vec<String>>,
}

impl Poller {
    /// Builds the poller for `[polling]`, around a fetcher and a store.
    pub fn new(
        fetcher: Fetcher,
        store: Arc<Store>,
        polling: &Polling,
        retention_days: u32,
    ) -> Self {
        Self {
            fetcher,
            store,
            retention: chrono::Duration::days(retention_days.into()),
            min_interval: Duration::from_secs(polling.min_interval_secs),
            respect_cache_headers: polling.respect_cache_headers,
        }
    }

    /// Polls the feeds of `outlet` at once and reports on each, in the config's order.
    pub async fn poll_outlet(&self, outlet: &Outlet, when: When) -> Vec<FeedReport> {
        let cadence = Cadence {
            min_interval: self.min_interval,
            respect_cache_headers: self.respect_cache_headers,
            tick: schedule::period(&outlet.schedule, Utc::now()).unwrap_or(self.min_interval),
        };
        let mut tasks = JoinSet::new();
        for (index, feed) in outlet.feeds.iter().enumerate() {
            let (poller, outlet, feed) = (self.clone(), outlet.id.clone(), feed.clone());
            tasks.spawn(async move {
                let report = poller.poll_feed(outlet, feed, cadence, when).await;
                (index, report)
            });
        }
        let mut reports: Vec<(usize, FeedReport)> = tasks.join_all().await;
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, report)| report).collect()
    }

    async fn poll_feed(
        &self,
        outlet: String,
        feed: Url,
        cadence: Cadence,
        when: When,
    ) -> FeedReport {
        let started = Instant::now();
        let outcome = match self.try_poll_feed(&outlet, &feed, cadence, when).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed {
                status: e.status(),
                error: e.to_string(),
            },
        };
        let ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Outcome::Deferred { until } => tracing::debug!(%outlet, %feed, %until, "not due"),
            Outcome::Failed { status, error } => {
                tracing::warn!(%outlet, %feed, ?status, ms, %error, "poll failed")
            }
            Outcome::Stored { status, ingested } => tracing::info!(
                %outlet, %feed, status, ms, new = ingested.new, updated = ingested.updated,
                unchanged = ingested.unchanged, future_dates = ingested.clamped, "polled"
            ),
            Outcome::NotModified | Outcome::Unchanged { .. } => {
                tracing::info!(%outlet, %feed, ms, "polled, unchanged")
            }
        }
        FeedReport {
            outlet,
            feed,
            outcome,
        }
    }

    /// Asks the feed if it is due, and records what came of it (success or failure) together
    /// with any new items in one write.
    async fn try_poll_feed(
        &self,
        outlet: &str,
        feed: &Url,
        cadence: Cadence,
        when: When,
    ) -> Result<Outcome, PollError> {
        let state = self
            .blocking({
                let (outlet, feed) = (outlet.to_owned(), feed.to_string());
                move |store| store.feed_state(&outlet, &feed)
            })
            .await?;
        let now = Utc::now();
        if when == When::Due && !cadence.is_due(state.next_poll_at, now) {
            let until = state.next_poll_at.unwrap_or(now);
            return Ok(Outcome::Deferred { until });
        }
        let clock = Instant::now();
        let exchange = self.exchange(outlet, feed, &state).await;
        let duration_ms = clock.elapsed().as_millis() as u64;
        let (next, failures) = match &exchange {
            Ok(ex) => {
                let ttl = match &ex.body {
                    Answer::New(new) => new.state.ttl,
                    _ => state.ttl,
                };
                (cadence.after_success(now, ex.fresh_for, ttl), 0)
            }
            Err(e) => {
                let failures = state.failures.saturating_add(1);
                let retry_after = match e {
                    PollError::Fetch(fetch) => fetch.retry_after(),
                    _ => None,
                };
                let next = cadence.after_failure(now, Utc::now(), failures, retry_after);
                (next, failures)
            }
        };
        let moved_to = exchange.as_ref().ok().and_then(|ex| ex.moved_to.as_ref());
        if let Some(new_url) = moved_to.filter(|u| state.current_url.as_deref() != Some(u.as_str()))
        {
            tracing::info!(%outlet, %feed, %new_url, "feed moved permanently; polling its new address from now on");
        }
        let attempt = Attempt {
            at: now,
            duration_ms,
            status: match &exchange {
                Ok(ex) => Some(ex.status),
                Err(e) => e.status(),
            },
            error: exchange.as_ref().err().map(ToString::to_string),
            failures,
            next_poll_at: next.at,
            next_poll_reason: next.reason.to_owned(),
            current_url: moved_to
                .map(|u| u.to_string())
                .or(state.current_url)
                .filter(|u| u != feed.as_str()),
        };
        let (result, written) = match exchange {
            Err(e) => (Err(e), None),
            Ok(Exchange { status, body, .. }) => match body {
                Answer::NotModified => (Ok(Outcome::NotModified), None),
                Answer::Unchanged(state) => (
                    Ok(Outcome::Unchanged { status }),
                    Some(NewBody {
                        state,
                        items: Vec::new(),
                        problems: None,
                    }),
                ),
                Answer::New(body) => (
                    Ok(Outcome::Stored {
                        status,
                        ingested: Ingested::default(),
                    }),
                    Some(body),
                ),
            },
        };
        let ingested = self.record(outlet, feed, attempt, written).await?;
        let mut outcome = result?;
        if let Outcome::Stored {
            ingested: counts, ..
        } = &mut outcome
        {
            *counts = ingested;
        }
        Ok(outcome)
    }

    /// Fetches the feed from its current address and parses a new body; writes nothing.
    async fn exchange(
        &self,
        outlet: &str,
        feed: &Url,
        state: &FeedState,
    ) -> Result<Exchange, PollError> {
        let current = state
            .current_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| feed.clone());
        let fetched = self
            .fetcher
            .fetch(&current, feed, &state.validators)
            .await?;
        let status = fetched.status.as_u16();
        let mut exchange = Exchange {
            status,
            moved_to: fetched.moved_to,
            fresh_for: fetched.fresh_for,
            body: Answer::NotModified,
        };
        let Some(body) = fetched.body else {
            return Ok(exchange);
        };
        let mut new_state = FeedState {
            validators: body.validators,
            body_hash: Some(hex(&Sha256::digest(&body.bytes)[..16])),
            ttl: state.ttl,
            ..FeedState::default()
        };
        if new_state.body_hash == state.body_hash {
            exchange.body = Answer::Unchanged(new_state);
            return Ok(exchange);
        }
        // Parsing is CPU work: it runs off the async workers, like every SQLite call.
        let parsed = tokio::task::spawn_blocking({
            let (outlet, base) = (outlet.to_owned(), current.clone());
            move || {
                let content_type = body.content_type.as_deref();
                parse::parse_feed(&body.bytes, content_type, Some(&base), &outlet)
            }
        })
        .await?
        .map_err(|source| PollError::Parse { status, source })?;
        new_state.ttl = parsed.ttl;
        exchange.body = Answer::New(NewBody {
            state: new_state,
            items: dedup::within_document(parsed.items),
            problems: Some(parsed.notes),
        });
        Ok(exchange)
    }

    /// Records the attempt and, when there is one, the new body's state and items, in one
    /// transaction: a crash keeps all of the poll or none of it.
    async fn record(
        &self,
        outlet: &str,
        feed: &Url,
        attempt: Attempt,
        body: Option<NewBody>,
    ) -> Result<Ingested, PollError> {
        let retention = self.retention;
        let (outlet, feed) = (outlet.to_owned(), feed.to_string());
        self.blocking(move |store| {
            let now = Utc::now();
            let body = body.as_ref().map(|body| PolledBody {
                state: body.state.clone(),
                items: &body.items,
                problems: body.problems.as_deref(),
            });
            let poll = FeedPoll {
                outlet: &outlet,
                feed_url: &feed,
                attempt,
                body,
            };
            store.record_poll(&poll, now - retention, now)
        })
        .await
    }

    /// Runs `work` against the store on a blocking thread: SQLite calls block.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, PollError> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }
}
