//! When to poll: one cron job per outlet (`tokio-cron-scheduler`), plus housekeeping jobs.
//! A config reload adds, removes and reschedules outlets' jobs while the scheduler runs.
//!
//! An outlet's poll can outlast its interval (a slow server, a short schedule). A tick that
//! finds the previous poll of the same outlet still running is skipped rather than queued, so
//! an outlet is never polled twice at once and a slow outlet never piles up work.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use croner::parser::{CronParser, Seconds};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use uuid::Uuid;

use crate::config::Outlet;

pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Polls the outlet with the given id, for the tick at the given time (the cron tick's own
/// time, not the moment the job got to run; or now, for a poll out of schedule).
pub type PollFn = Arc<dyn Fn(String, DateTime<Utc>) -> BoxFuture + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("scheduler: {0}")]
pub struct ScheduleError(#[from] JobSchedulerError);

pub struct Schedule {
    scheduler: JobScheduler,
    outlets: HashMap<String, OutletJob>,
    poll: PollFn,
}

struct OutletJob {
    job: Uuid,
    /// Held for the length of each of the outlet's polls; kept when the outlet is
    /// rescheduled, so that a poll still running is not overlapped by the new job's first.
    running: Arc<Mutex<()>>,
}

/// An outlet no longer scheduled, whose last poll may still be running.
pub struct Removed(Arc<Mutex<()>>);

impl Removed {
    /// Waits until no poll of the outlet is running: after that nothing more of it is stored.
    pub async fn settled(&self) {
        drop(self.0.lock().await);
    }
}

impl Schedule {
    /// Starts one job per outlet on its cron schedule.
    pub async fn start(outlets: &[Outlet], poll: PollFn) -> Result<Self, ScheduleError> {
        let mut schedule = Self {
            scheduler: JobScheduler::new().await?,
            outlets: HashMap::new(),
            poll,
        };
        for outlet in outlets {
            schedule.add_outlet(outlet).await?;
        }
        schedule.scheduler.start().await?;
        Ok(schedule)
    }

    /// Polls `outlet` on its schedule from now on, replacing the job it had. The new job is
    /// built before the old one is removed: a schedule the scheduler refuses leaves the
    /// outlet on the one it had.
    pub async fn add_outlet(&mut self, outlet: &Outlet) -> Result<(), ScheduleError> {
        let running = self
            .outlets
            .get(&outlet.id)
            .map_or_else(|| Arc::new(Mutex::new(())), |old| Arc::clone(&old.running));
        let (id, poll, guard) = (
            outlet.id.clone(),
            Arc::clone(&self.poll),
            Arc::clone(&running),
        );
        let cron = outlet.schedule.clone();
        let job = Job::new_async(outlet.schedule.as_str(), move |_, _| {
            let now = Utc::now();
            let tick = latest_tick(&cron, now).unwrap_or(now);
            Box::pin(run_exclusive(
                Arc::clone(&guard),
                id.clone(),
                tick,
                Arc::clone(&poll),
            ))
        })?;
        if let Some(old) = self.outlets.remove(&outlet.id) {
            self.scheduler.remove(&old.job).await?;
        }
        let job = self.scheduler.add(job).await?;
        self.outlets
            .insert(outlet.id.clone(), OutletJob { job, running });
        Ok(())
    }

    /// Stops polling `outlet`; a poll of it already running finishes, which the returned
    /// [`Removed`] can wait for.
    pub async fn remove_outlet(&mut self, outlet: &str) -> Result<Option<Removed>, ScheduleError> {
        let Some(old) = self.outlets.remove(outlet) else {
            return Ok(None);
        };
        self.scheduler.remove(&old.job).await?;
        Ok(Some(Removed(old.running)))
    }

    /// Adds a housekeeping job (retention, say) that runs `task` on the cron schedule `cron`.
    pub async fn add_task(
        &self,
        cron: &str,
        task: impl Fn() -> BoxFuture + Send + Sync + 'static,
    ) -> Result<(), ScheduleError> {
        let job = Job::new_async(cron, move |_, _| task())?;
        self.scheduler.add(job).await?;
        Ok(())
    }

    /// Polls `outlet` now, unless a poll of it is already running.
    pub fn poll_now(&self, outlet: &str) {
        if let Some(job) = self.outlets.get(outlet) {
            tokio::spawn(run_exclusive(
                Arc::clone(&job.running),
                outlet.to_owned(),
                Utc::now(),
                Arc::clone(&self.poll),
            ));
        }
    }

    /// Stops scheduling; polls already running finish on their own.
    pub async fn shutdown(mut self) -> Result<(), ScheduleError> {
        self.scheduler.shutdown().await?;
        Ok(())
    }
}

/// Reads a cron expression exactly as the scheduler reads it.
fn parse_cron(cron: &str) -> Option<croner::Cron> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(cron)
        .ok()
}

/// Finds the first tick of `cron` after `after`; `None` for an expression the config would have
/// refused. Ticks fall on whole seconds whatever fraction `after` has.
pub fn next_tick(cron: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after = after.trunc_subsecs(0);
    parse_cron(cron)?.find_next_occurrence(&after, false).ok()
}

/// Finds the last tick of `cron` at or before `now`: the tick a job that runs now was started for.
fn latest_tick(cron: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let now = now.trunc_subsecs(0);
    parse_cron(cron)?.find_previous_occurrence(&now, true).ok()
}

/// Measures the time from the next tick of `cron` to the one after: the unit in which a failing
/// feed backs off.
pub fn period(cron: &str, now: DateTime<Utc>) -> Option<std::time::Duration> {
    let first = next_tick(cron, now)?;
    (next_tick(cron, first)? - first).to_std().ok()
}

async fn run_exclusive(guard: Arc<Mutex<()>>, outlet: String, tick: DateTime<Utc>, poll: PollFn) {
    match guard.try_lock_owned() {
        Ok(_running) => poll(outlet, tick).await,
        Err(_) => tracing::info!(%outlet, "previous poll still running; skipping this tick"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn ticks_and_periods_follow_the_cron_expression() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T08:03:20Z")
            .unwrap()
            .to_utc();
        let next = next_tick("0 */5 * * * *", now).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-25T08:05:00+00:00");
        assert_eq!(period("0 */5 * * * *", now), Some(Duration::from_secs(300)));
        assert_eq!(period("* * * * * *", now), Some(Duration::from_secs(1)));
        assert_eq!(next_tick("not cron", now), None);
        let late = now + chrono::Duration::milliseconds(1_400);
        assert_eq!(
            latest_tick("* * * * * *", late).unwrap().to_rfc3339(),
            "2026-11-25T08:03:21+00:00"
        );
        assert_eq!(
            latest_tick("0 */5 * * * *", late).unwrap().to_rfc3339(),
            "2026-11-25T08:00:00+00:00"
        );
        let fraction = now + chrono::Duration::milliseconds(581);
        assert_eq!(
            next_tick("0 */5 * * * *", fraction).unwrap().to_rfc3339(),
            "2026-11-25T08:05:00+00:00"
        );
    }

    #[tokio::test]
    async fn a_slow_poll_is_never_overlapped() {
        let outlet = Outlet {
            id: "slow".into(),
            name: "Slow".into(),
            feeds: vec![],
            schedule: "* * * * * *".into(),
        };
        let (running, most, total) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let poll: PollFn = {
            let (running, most, total) = (running.clone(), most.clone(), total.clone());
            Arc::new(move |_, _| {
                let (running, most, total) = (running.clone(), most.clone(), total.clone());
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2500)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    total.fetch_add(1, Ordering::SeqCst);
                })
            })
        };
        let schedule = Schedule::start(&[outlet], poll).await.unwrap();
        schedule.poll_now("slow");
        tokio::time::sleep(Duration::from_millis(5600)).await;
        schedule.shutdown().await.unwrap();
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "two polls of one outlet overlapped"
        );
        assert!(
            total.load(Ordering::SeqCst) >= 2,
            "ticks after a finished poll still run"
        );
    }
}
