//! One poll of one outlet: each of its feeds that is due is fetched concurrently (within the
//! fetcher's per-host limit), what changed is parsed off the async workers, one item is kept per
//! story, and each feed's result — items, validators, status and when to ask next — is stored in
//! one transaction.

mod cadence;
mod exchange;
mod parsers;
mod recorder;
mod report;

pub use exchange::{Document, Reading};
pub use report::{FeedReport, Outcome};

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use url::Url;

use crate::config::{Outlet, Polling};
use crate::fetch::{FetchError, Fetcher};
use crate::store::{Attempt, Claim, FeedState, Ingested, Store, StoreError};
use crate::{parse, schedule};
use cadence::Cadence;
use exchange::{Answer, Cost, Exchange, NewBody};
use parsers::Parsers;
use recorder::{Record, Recorder, WriterStopped};

/// Everything a poll needs; cheap to clone into each feed's task.
#[derive(Clone)]
pub struct Poller {
    pub fetcher: Fetcher,
    pub store: Arc<Store>,
    parsers: Parsers,
    recorder: Recorder,
    pub min_interval: Duration,
    pub respect_cache_headers: bool,
    /// `[polling] strip_tracking_parameters`, applied to each item's link as it is read.
    pub strip_tracking_parameters: bool,
    /// How long a lease on a feed lasts: a fetch takes at most `[polling] timeout_secs`, and
    /// twice that and ten seconds more leaves room for parsing and writing. A process that
    /// dies while polling holds the feed no longer than this.
    pub lease: Duration,
}

/// Which feeds a poll asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Those due at this time: a scheduled tick's own time, so that "every 5 minutes" from one
    /// tick is due exactly on the tick 5 minutes later; or now, for a poll out of schedule.
    Due(DateTime<Utc>),
    /// All of them, now (an operator's `tributary poll --force`).
    Now,
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
    #[error(transparent)]
    Writer(#[from] WriterStopped),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The outlet's feeds could not be read or claimed: none of them was asked.
    #[error("not asked: {0}")]
    Unclaimed(Arc<String>),
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

impl Poller {
    /// Builds the poller for `[polling]`, around a fetcher and a store, and starts the threads
    /// that parse what it fetches and write its results.
    pub fn new(
        fetcher: Fetcher,
        store: Arc<Store>,
        polling: &Polling,
        retention_days: u32,
    ) -> std::io::Result<Self> {
        let retention = chrono::Duration::days(retention_days.into());
        Ok(Self {
            fetcher,
            parsers: Parsers::start()?,
            recorder: Recorder::start(Arc::clone(&store), retention)?,
            store,
            min_interval: Duration::from_secs(polling.min_interval_secs),
            respect_cache_headers: polling.respect_cache_headers,
            strip_tracking_parameters: polling.strip_tracking_parameters,
            lease: Duration::from_secs(polling.timeout_secs.saturating_mul(2).saturating_add(10)),
        })
    }

    /// Polls the feeds of `outlet` at once and reports on each, in the config's order.
    pub async fn poll_outlet(&self, outlet: &Outlet, when: When) -> Vec<FeedReport> {
        let cadence = Cadence {
            min_interval: self.min_interval,
            respect_cache_headers: self.respect_cache_headers,
            tick: schedule::period(&outlet.schedule, Utc::now()).unwrap_or(self.min_interval),
        };
        let turns = self.take_turns(outlet, cadence, when).await;
        // At most as many of the outlet's feeds wait for a fetch slot at once as may be fetched
        // at once: outlets polled at the same tick then take turns at a host (or the global cap)
        // they share, rather than the first outlet's whole list going before the others.
        let queue = Arc::new(Semaphore::new(self.fetcher.max_concurrency()));
        let mut tasks = JoinSet::new();
        for (index, (feed, turn)) in outlet.feeds.iter().zip(turns).enumerate() {
            let (poller, outlet, feed) = (self.clone(), outlet.id.clone(), feed.clone());
            let queue = Arc::clone(&queue);
            tasks.spawn(async move {
                let _in_queue = match turn {
                    Ok(Turn::Ask { .. }) => queue.acquire_owned().await.ok(),
                    _ => None,
                };
                let report = poller.poll_feed(outlet, feed, cadence, turn).await;
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
        turn: Result<Turn, PollError>,
    ) -> FeedReport {
        let asked = match turn {
            Ok(turn) => self.try_poll_feed(&outlet, &feed, cadence, turn).await,
            Err(e) => Err(e),
        };
        let (outcome, cost) = match asked {
            Ok(done) => done,
            Err(e) => {
                let (status, error) = (e.status(), e.to_string());
                (Outcome::Failed { status, error }, None)
            }
        };
        let report = FeedReport {
            outlet,
            feed,
            outcome,
            duration_ms: cost.map(|c| c.duration.as_millis() as u64),
            bytes: cost.map_or(0, |c| c.bytes),
        };
        report.log();
        report
    }

    /// Asks the feed if it is this process's turn, and records what came of it (success or
    /// failure) together with any new items in one write. Returns the outcome and what the
    /// exchange cost.
    async fn try_poll_feed(
        &self,
        outlet: &str,
        feed: &Url,
        cadence: Cadence,
        turn: Turn,
    ) -> Result<(Outcome, Option<Cost>), PollError> {
        let (state, at) = match turn {
            Turn::Ask { state, at } => (state, at),
            Turn::Skip(outcome) => return Ok((outcome, None)),
        };
        let (exchange, cost) = exchange::exchange(self, outlet, feed, &state).await;
        let asked = Asked {
            outlet,
            feed,
            state: &state,
            cadence,
            at,
            duration: cost.duration,
        };
        let attempt = asked.attempt(&exchange);
        let outcome = self.store_answer(outlet, feed, attempt, exchange).await?;
        Ok((outcome, Some(cost)))
    }

    /// Decides whether this process asks each of the outlet's feeds now, in the config's order: a
    /// feed must be due, and no other process sharing the store may be asking it (a lease, see
    /// `store::Claim`). The feeds are read first without a lease — most feeds at most ticks are not
    /// due, and are left so without a write — and those due are claimed together.
    async fn take_turns(
        &self,
        outlet: &Outlet,
        cadence: Cadence,
        when: When,
    ) -> Vec<Result<Turn, PollError>> {
        let feeds: Vec<String> = outlet.feeds.iter().map(Url::to_string).collect();
        let due_at = match when {
            When::Due(at) => Some(at),
            When::Now => None,
        };
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX);
        let id = outlet.id.clone();
        let count = feeds.len();
        let turns = self
            .blocking(move |store| {
                let mut turns: Vec<Turn> = Vec::with_capacity(feeds.len());
                let mut due: Vec<(usize, String)> = Vec::new();
                for feed in &feeds {
                    let state = store.feed_state(&id, feed)?;
                    let until = state.next_poll_at.unwrap_or_else(Utc::now);
                    if due_at.is_none_or(|at| cadence.is_due(state.next_poll_at, at)) {
                        due.push((turns.len(), feed.clone()));
                    }
                    turns.push(Turn::Skip(Outcome::Deferred { until }));
                }
                if due.is_empty() {
                    return Ok(turns);
                }
                let now = Utc::now();
                let urls: Vec<String> = due.iter().map(|(_, feed)| feed.clone()).collect();
                let claims = store.claim_feeds(&id, &urls, due_at, now + lease, now)?;
                for ((index, _), claim) in due.into_iter().zip(claims) {
                    turns[index] = match claim {
                        Claim::Granted(state) => Turn::Ask {
                            state,
                            at: due_at.unwrap_or(now),
                        },
                        Claim::NotDue { until } => Turn::Skip(Outcome::Deferred { until }),
                        Claim::Held { by, until } => Turn::Skip(Outcome::Elsewhere { by, until }),
                    };
                }
                Ok(turns)
            })
            .await;
        match turns {
            Ok(turns) => turns.into_iter().map(Ok).collect(),
            Err(e) => {
                let failed = Arc::new(e.to_string());
                (0..count)
                    .map(|_| Err(PollError::Unclaimed(Arc::clone(&failed))))
                    .collect()
            }
        }
    }

    /// Stores what the exchange brought with its attempt, and says what became of the feed.
    async fn store_answer(
        &self,
        outlet: &str,
        feed: &Url,
        attempt: Attempt,
        exchange: Result<Exchange, PollError>,
    ) -> Result<Outcome, PollError> {
        let Exchange { status, body, .. } = match exchange {
            Ok(exchange) => exchange,
            Err(e) => {
                self.record(outlet, feed, attempt, None).await?;
                return Ok(Outcome::Failed {
                    status: e.status(),
                    error: e.to_string(),
                });
            }
        };
        Ok(match body {
            Answer::NotModified => {
                self.record(outlet, feed, attempt, None).await?;
                Outcome::NotModified
            }
            Answer::Unchanged(new_validators) => {
                let state = new_validators.map(|state| NewBody {
                    state,
                    items: Vec::new(),
                    problems: None,
                });
                self.record(outlet, feed, attempt, state).await?;
                Outcome::Unchanged { status }
            }
            Answer::New(body) => {
                let ingested = self.record(outlet, feed, attempt, Some(body)).await?;
                if ingested.guids_changed {
                    tracing::warn!(%outlet, %feed, relinked = ingested.relinked, "the feed's GUIDs changed since the last poll; identifying its items by link from now on");
                }
                Outcome::Stored { status, ingested }
            }
        })
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
        let record = Record {
            outlet: outlet.to_owned(),
            feed: feed.to_string(),
            attempt,
            body,
        };
        Ok(self.recorder.record(record).await??)
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

/// Whether a feed is asked in this poll.
enum Turn {
    /// Asked, as of `at` (the tick's time, or now), with what is known of it.
    Ask { state: FeedState, at: DateTime<Utc> },
    /// Not asked: not due, or another process is asking it.
    Skip(Outcome),
}

/// A feed asked: what the store keeps of the attempt is made from it and the exchange.
struct Asked<'a> {
    outlet: &'a str,
    feed: &'a Url,
    state: &'a FeedState,
    cadence: Cadence,
    at: DateTime<Utc>,
    duration: Duration,
}

impl Asked<'_> {
    /// Builds what the store keeps of the attempt: its status or error, and when to ask next.
    fn attempt(&self, exchange: &Result<Exchange, PollError>) -> Attempt {
        let Asked {
            outlet,
            feed,
            state,
            cadence,
            at,
            duration,
        } = *self;
        let (next, failures) = match exchange {
            Ok(ex) => {
                let ttl = match &ex.body {
                    Answer::New(new) => new.state.ttl,
                    _ => state.ttl,
                };
                (cadence.after_success(at, ex.fresh_for, ttl), 0)
            }
            Err(e) => {
                let failures = state.failures.saturating_add(1);
                let retry_after = match e {
                    PollError::Fetch(fetch) => fetch.retry_after(),
                    _ => None,
                };
                let next = cadence.after_failure(at, Utc::now(), failures, retry_after);
                (next, failures)
            }
        };
        let moved_to = exchange.as_ref().ok().and_then(|ex| ex.moved_to.as_ref());
        if let Some(new_url) = moved_to.filter(|u| state.current_url.as_deref() != Some(u.as_str()))
        {
            tracing::info!(%outlet, %feed, %new_url, "feed moved permanently; polling its new address from now on");
        }
        Attempt {
            at,
            duration_ms: duration.as_millis() as u64,
            status: match exchange {
                Ok(ex) => Some(ex.status),
                Err(e) => e.status(),
            },
            error: exchange.as_ref().err().map(ToString::to_string),
            failures,
            next_poll_at: next.at,
            next_poll_reason: next.reason.to_owned(),
            current_url: moved_to
                .map(|u| u.to_string())
                .or_else(|| state.current_url.clone())
                .filter(|u| u != feed.as_str()),
        }
    }
}
