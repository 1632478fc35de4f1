//! The store's one writer for polls. Feeds polled at the same time hand their results to a
//! thread that commits whatever has queued up in one transaction (group commit): a round of a
//! thousand feeds costs tens of commits, not a thousand, and nobody waits longer than the
//! batch in front of them. A poll is answered only once its batch has committed, so what a
//! report says was stored survives the process (WAL with `synchronous = NORMAL`: a power cut
//! may still take the last commits).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::exchange::NewBody;
use crate::store::{Attempt, FeedPoll, Ingested, PolledBody, Store, StoreError};

/// The most polls committed together: a batch holds the writer's connection while it is
/// written (readers have their own), and the polls at the back of it wait that long.
const MAX_BATCH: usize = 32;

/// What one poll brought, to be written.
pub struct Record {
    pub outlet: String,
    pub feed: String,
    pub attempt: Attempt,
    pub body: Option<NewBody>,
}

struct Job {
    record: Record,
    done: oneshot::Sender<Result<Ingested, StoreError>>,
}

/// The queue to the writer thread; cheap to clone. The thread ends when the last clone goes.
#[derive(Clone)]
pub struct Recorder {
    jobs: mpsc::UnboundedSender<Job>,
}

/// The writer did not answer: the process is shutting down, or writing this poll panicked
/// (a bug, logged; the writer goes on with the next).
#[derive(Debug, thiserror::Error)]
#[error("the store's writer did not answer")]
pub struct WriterStopped;

impl Recorder {
    /// Starts the writer for `store`; items older than `retention` are not stored.
    pub fn start(store: Arc<Store>, retention: chrono::Duration) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                crate::priority::lower_to_background();
                write(&store, queue, retention)
            })?;
        Ok(Self { jobs })
    }

    /// Writes `record` with whatever else is queued, and says how its items compared.
    pub async fn record(
        &self,
        record: Record,
    ) -> Result<Result<Ingested, StoreError>, WriterStopped> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Job { record, done })
            .map_err(|_| WriterStopped)?;
        result.await.map_err(|_| WriterStopped)
    }
}

/// Takes what has queued (at most [`MAX_BATCH`]), writes it in one transaction, answers each.
fn write(store: &Store, mut queue: mpsc::UnboundedReceiver<Job>, retention: chrono::Duration) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match record(store, &batch, retention) {
            Some(results) => answer(batch, results),
            // A panic (a bug) rolled the batch back: each poll is written again on its own,
            // so that one bad poll costs only itself.
            None => {
                for job in batch {
                    match record(store, std::slice::from_ref(&job), retention) {
                        Some(results) => answer(vec![job], results),
                        None => {
                            tracing::error!(outlet = %job.record.outlet, feed = %job.record.feed,
                            "writing the poll panicked; it was not stored")
                        }
                    }
                }
            }
        }
    }
}

/// Writes `batch` in one transaction; `None` if that panicked.
fn record(
    store: &Store,
    batch: &[Job],
    retention: chrono::Duration,
) -> Option<Vec<Result<Ingested, StoreError>>> {
    let polls: Vec<FeedPoll<'_>> = batch.iter().map(|job| job.record.as_poll()).collect();
    let now = Utc::now();
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        store.record_polls(&polls, now - retention, now)
    }))
    .ok()
}

fn answer(batch: Vec<Job>, results: Vec<Result<Ingested, StoreError>>) {
    for (job, result) in batch.into_iter().zip(results) {
        // The poll may have been cancelled meanwhile (a shutdown): its result is stored
        // all the same, and nobody is told.
        let _ = job.done.send(result);
    }
}

impl Record {
    fn as_poll(&self) -> FeedPoll<'_> {
        FeedPoll {
            outlet: &self.outlet,
            feed_url: &self.feed,
            attempt: self.attempt.clone(),
            body: self.body.as_ref().map(|body| PolledBody {
                state: body.state.clone(),
                items: &body.items,
                problems: body.problems.as_deref(),
            }),
        }
    }
}
