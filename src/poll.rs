//! One poll of one outlet: fetch each of its feeds concurrently, parse what changed, keep one
//! item per story and store each feed's result in its own transaction.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use url::Url;

use crate::config::Outlet;
use crate::fetch::{Fetched, Fetcher};
use crate::model::hex;
use crate::store::{FeedPoll, FeedState, Ingested, PolledBody, Store};
use crate::{dedup, parse};

/// Everything a poll needs; cheap to clone into each feed's task.
#[derive(Clone)]
pub struct Poller {
    pub fetcher: Fetcher,
    pub store: Arc<Store>,
    pub retention: Duration,
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
            Outcome::NotModified => write!(f, "304 not modified"),
            Outcome::Unchanged { status } => write!(f, "{status} unchanged body"),
            Outcome::Stored {
                status,
                ingested: i,
            } => write!(
                f,
                "{status} new {}, updated {}, unchanged {}, too old {}",
                i.new, i.updated, i.unchanged, i.expired
            ),
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
    Fetch(#[from] crate::fetch::FetchError),
    #[error(transparent)]
    Parse(#[from] parse::ParseError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl PollError {
    fn status(&self) -> Option<u16> {
        match self {
            PollError::Fetch(fetch) => fetch.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}

impl Poller {
    /// Polls every feed of `outlet` at once and reports on each, in the config's order.
    pub async fn poll_outlet(&self, outlet: &Outlet) -> Vec<FeedReport> {
        let mut tasks = JoinSet::new();
        for (index, feed) in outlet.feeds.iter().enumerate() {
            let (poller, outlet, feed) = (self.clone(), outlet.id.clone(), feed.clone());
            tasks.spawn(async move { (index, poller.poll_feed(outlet, feed).await) });
        }
        let mut reports: Vec<(usize, FeedReport)> = tasks.join_all().await;
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, report)| report).collect()
    }

    async fn poll_feed(&self, outlet: String, feed: Url) -> FeedReport {
        let started = Instant::now();
        let outcome = match self.try_poll_feed(&outlet, &feed).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let (status, error) = (e.status(), e.to_string());
                self.record_failure(&outlet, &feed, status, &error).await;
                Outcome::Failed { status, error }
            }
        };
        let ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Outcome::Failed { status, error } => {
                tracing::warn!(%outlet, %feed, ?status, ms, %error, "poll failed")
            }
            Outcome::Stored { status, ingested } => tracing::info!(
                %outlet, %feed, status, ms, new = ingested.new, updated = ingested.updated,
                unchanged = ingested.unchanged, "polled"
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

    async fn try_poll_feed(&self, outlet: &str, feed: &Url) -> Result<Outcome, PollError> {
        let state = self
            .blocking({
                let (outlet, feed) = (outlet.to_owned(), feed.to_string());
                move |store| store.feed_state(&outlet, &feed)
            })
            .await?;
        let body = match self.fetcher.fetch(feed, &state.validators).await? {
            Fetched::NotModified => {
                self.record(outlet, feed, Some(304), None).await?;
                return Ok(Outcome::NotModified);
            }
            Fetched::Body(body) => body,
        };
        let status = body.status.as_u16();
        let new_state = FeedState {
            validators: body.validators,
            body_hash: Some(hex(&Sha256::digest(&body.bytes)[..16])),
        };
        if new_state.body_hash == state.body_hash {
            let no_items = Some((new_state, Vec::new()));
            self.record(outlet, feed, Some(status), no_items).await?;
            return Ok(Outcome::Unchanged { status });
        }
        // Parsing is CPU work: it runs off the async workers, like every SQLite call.
        let items = tokio::task::spawn_blocking({
            let (outlet, feed) = (outlet.to_owned(), feed.clone());
            move || parse::parse_feed(&body.bytes, Some(&feed), &outlet).map(dedup::within_document)
        })
        .await??;
        // Validators and the body hash are stored only with a successful parse, so a broken
        // document is fetched and reported again rather than hidden behind a 304.
        let ingested = self
            .record(outlet, feed, Some(status), Some((new_state, items)))
            .await?;
        Ok(Outcome::Stored { status, ingested })
    }

    async fn record_failure(&self, outlet: &str, feed: &Url, status: Option<u16>, error: &str) {
        let recorded = self.blocking({
            let (outlet, feed, error) = (outlet.to_owned(), feed.to_string(), error.to_owned());
            move |store| {
                let poll = FeedPoll {
                    outlet: &outlet,
                    feed_url: &feed,
                    status,
                    error: Some(error),
                    body: None,
                };
                store.record_poll(&poll, Utc::now(), Utc::now())
            }
        });
        if let Err(e) = recorded.await {
            tracing::error!(%outlet, %feed, error = %e, "could not record the failed poll");
        }
    }

    /// Records a successful poll: its status, and the new body's state and items if there is one.
    async fn record(
        &self,
        outlet: &str,
        feed: &Url,
        status: Option<u16>,
        body: Option<(FeedState, Vec<crate::model::Item>)>,
    ) -> Result<Ingested, PollError> {
        let retention = self.retention;
        let (outlet, feed) = (outlet.to_owned(), feed.to_string());
        self.blocking(move |store| {
            let now = Utc::now();
            let body = body.as_ref().map(|(state, items)| PolledBody {
                state: state.clone(),
                items,
            });
            let poll = FeedPoll {
                outlet: &outlet,
                feed_url: &feed,
                status,
                error: None,
                body,
            };
            store.record_poll(&poll, now - retention, now)
        })
        .await
    }

    /// Runs `work` against the store on a blocking thread: SQLite calls block.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, PollError> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }
}
