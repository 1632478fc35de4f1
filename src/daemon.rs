//! The running service: the pipeline's stages wired together, from the first bound socket to
//! a clean exit on SIGTERM or Ctrl-C, with the config reloaded on SIGHUP or when its file
//! changes.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tokio::sync::{watch, Notify};

use crate::config::{self, Config, LiveConfig};
use crate::fetch::{Fetcher, Settings};
use crate::logging::LogLevel;
use crate::metrics::Metrics;
use crate::poll::{Outcome, Poller, When};
use crate::schedule::{PollFn, Schedule};
use crate::serve::{self, FeedCache, Published};
use crate::store::Store;
use crate::sync::Unpoisoned;

mod config_file;
mod files;
mod memory;
mod reload;
mod signals;
mod systemd;
mod websub;

pub use memory::limit_arenas;

/// Retention runs hourly, off the round minutes when outlets are polled.
const RETENTION_SCHEDULE: &str = "0 17 * * * *";

/// How often the store's change mark is read, to render the feeds again after another process
/// sharing the store changed it: instances behind one load balancer serve the same feeds
/// within this much of a change (plus a rendering).
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// How long polls under way and open connections get to finish once shutdown starts (both
/// at once): well inside systemd's stop timeout, and the 10 s an operator waits at most.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Opens the store and builds the poller a configuration describes; shared with `tributary poll`.
pub async fn open(config: &Config) -> anyhow::Result<Poller> {
    let database = config.storage.database.clone();
    let store = crate::sync::blocking(move || Store::open_database(&database))
        .await
        .with_context(|| format!("cannot open the database {}", config.storage.database))?;
    store.set_dedup(config.dedup.clone());
    poller(config, Arc::new(store))
}

fn poller(config: &Config, store: Arc<Store>) -> anyhow::Result<Poller> {
    let fetcher =
        Fetcher::new(Settings::from(&config.polling)).context("cannot build the HTTP client")?;
    Poller::new(
        fetcher,
        store,
        &config.polling,
        config.storage.retention_days,
    )
    .context("cannot start the store's writer")
}

/// What the daemon's tasks share. The config and the poller are replaced whole by a reload.
#[derive(Clone)]
struct Pipeline {
    live: Arc<LiveConfig>,
    store: Arc<Store>,
    poller: Arc<RwLock<Poller>>,
    cache: Arc<FeedCache>,
    metrics: Arc<Metrics>,
    log: LogLevel,
    /// Asks for the published feeds to be rendered again.
    changed: Arc<Notify>,
    /// How many polls are under way: shutdown waits for none.
    polls: Arc<watch::Sender<usize>>,
}

/// Runs the daemon until SIGTERM or Ctrl-C. The config is reloaded on SIGHUP, and when its
/// file changes if `watch` is set.
pub async fn run(config_path: &Path, log: LogLevel, watch: bool) -> anyhow::Result<()> {
    let open_files = files::raise_open_files_limit().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot raise the open files limit");
        files::FALLBACK_OPEN_FILES
    });
    let pipeline = build_pipeline(config_path, log).await?;
    let mut signals = signals::Signals::listen().context("cannot listen for signals")?;
    let mut config_file = config_file::ConfigFile::new(config_path).await;
    let serving = start_serving(&pipeline, open_files).await?;
    let followers = [
        tokio::spawn(pipeline.clone().refresh_on_change()),
        tokio::spawn(pipeline.clone().follow_other_writers()),
    ];
    let mut schedule = schedule_work(&pipeline, serving.liveness.clone()).await?;
    let mut check = tokio::time::interval(config_file::CHECK_EVERY);
    loop {
        tokio::select! {
            request = signals.next() => match request {
                signals::Request::Stop => break,
                signals::Request::Reload => {
                    tracing::info!("SIGHUP: reloading the config");
                    reload::reload(config_path, &pipeline, &mut schedule).await;
                    config_file.mark_loaded().await;
                }
            },
            _ = check.tick(), if watch => {
                if config_file.settled_change().await {
                    tracing::info!(path = %config_path.display(), "the config file changed: reloading it");
                    reload::reload(config_path, &pipeline, &mut schedule).await;
                }
            }
        }
    }
    shut_down(&pipeline, schedule, serving, followers).await
}

/// Loads the config, opens the store and renders what it holds, and deletes what is past
/// retention: everything the daemon's tasks share.
async fn build_pipeline(config_path: &Path, log: LogLevel) -> anyhow::Result<Pipeline> {
    let config = config::load(config_path)?;
    log.set(&config.log.level);
    let poller = open(&config).await?;
    let store = Arc::clone(&poller.store);
    let live = Arc::new(LiveConfig::new(config));
    let (published, _) = render(&store, &live.get()).await?;
    let pipeline = Pipeline {
        live,
        store,
        poller: Arc::new(RwLock::new(poller)),
        cache: Arc::new(FeedCache::new(published)),
        metrics: Arc::new(Metrics::default()),
        log,
        changed: Arc::new(Notify::new()),
        polls: Arc::new(watch::Sender::new(0)),
    };
    pipeline.purge_expired().await?;
    Ok(pipeline)
}

/// The server and what watches it.
struct Serving {
    task: tokio::task::JoinHandle<()>,
    /// Tells the server to stop accepting and to finish what it serves.
    stop: watch::Sender<bool>,
    liveness: systemd::Liveness,
    watchdog: Option<tokio::task::JoinHandle<()>>,
}

/// Binds the listener (or takes systemd's), starts serving the rendered feeds and tells
/// systemd the daemon is ready.
async fn start_serving(pipeline: &Pipeline, open_files: u64) -> anyhow::Result<Serving> {
    let config = pipeline.live.get();
    let listener = match systemd::inherited_listener().context("cannot take systemd's socket")? {
        Some(inherited) => tokio::net::TcpListener::from_std(inherited)?,
        None => tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?,
    };
    let address = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let app = serve::router(serve::AppState {
        cache: Arc::clone(&pipeline.cache),
        store: Arc::clone(&pipeline.store),
        config: Arc::clone(&pipeline.live),
        metrics: Arc::clone(&pipeline.metrics),
    });
    let connections = serve::connection_cap(open_files);
    tracing::debug!(open_files, connections, "limits");
    let server = serve::serve(
        listener,
        app,
        connections,
        Arc::clone(&pipeline.metrics),
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    );
    let liveness = systemd::Liveness::default();
    liveness.serving.store(true, Ordering::Relaxed);
    liveness.beat();
    let task = tokio::spawn({
        let serving = Arc::clone(&liveness.serving);
        async move {
            server.await;
            serving.store(false, Ordering::Relaxed);
        }
    });
    tracing::info!(listen = %address, base_url = %config.server.base_url, "serving feeds");
    let served = pipeline.cache.current().item_count();
    systemd::ready(&format!("serving {served} items on {address}"));
    let watchdog = systemd::watchdog(liveness.clone());
    Ok(Serving {
        task,
        stop,
        liveness,
        watchdog,
    })
}

/// Schedules every outlet's polls, retention and the watchdog's heartbeat, and polls every
/// outlet once now.
async fn schedule_work(
    pipeline: &Pipeline,
    liveness: systemd::Liveness,
) -> anyhow::Result<Schedule> {
    let config = pipeline.live.get();
    let schedule = Schedule::start(&config.outlets, pipeline.poll_fn()).await?;
    schedule
        .add_task(RETENTION_SCHEDULE, {
            let pipeline = pipeline.clone();
            move || {
                let pipeline = pipeline.clone();
                Box::pin(async move {
                    if let Err(e) = pipeline.purge_expired().await {
                        tracing::error!(error = %e, "retention failed");
                    }
                })
            }
        })
        .await?;
    schedule
        .add_task(systemd::HEARTBEAT_SCHEDULE, move || {
            liveness.beat();
            Box::pin(async {})
        })
        .await?;
    for outlet in &config.outlets {
        schedule.poll_now(&outlet.id);
    }
    Ok(schedule)
}

/// Stops scheduling, gives polls under way and open connections [`SHUTDOWN_GRACE`] to finish
/// (both at once), and cancels what is left.
async fn shut_down(
    pipeline: &Pipeline,
    schedule: Schedule,
    serving: Serving,
    followers: [tokio::task::JoinHandle<()>; 2],
) -> anyhow::Result<()> {
    tracing::info!("shutting down");
    systemd::stopping();
    if let Some(watchdog) = serving.watchdog {
        watchdog.abort();
    }
    schedule.shutdown().await?;
    let _ = serving.stop.send(true);
    let (polls, served) = tokio::join!(
        tokio::time::timeout(SHUTDOWN_GRACE, pipeline.polls_finished()),
        tokio::time::timeout(SHUTDOWN_GRACE, serving.task),
    );
    for follower in followers {
        follower.abort();
    }
    if polls.is_err() {
        let cut = *pipeline.polls.borrow();
        // Each feed's result is one transaction: a cancelled poll stored all of it or nothing.
        tracing::warn!(
            polls = cut,
            "polls still under way after the grace period; cancelling them"
        );
    }
    match served {
        Ok(result) => result.context("server task failed")?,
        Err(_) => tracing::warn!("connections still open after the grace period; closing them"),
    }
    Ok(())
}

impl Pipeline {
    /// Builds what each scheduled tick runs: poll the outlet as the config in force describes it,
    /// and ask for new renderings if items changed.
    fn poll_fn(&self) -> PollFn {
        let pipeline = self.clone();
        Arc::new(move |outlet_id, tick| {
            let pipeline = pipeline.clone();
            Box::pin(async move {
                let _under_way = pipeline.poll_started();
                let config = pipeline.live.get();
                let Some(outlet) = config.outlet(&outlet_id) else {
                    return;
                };
                let poller = pipeline.current_poller();
                let reports = poller.poll_outlet(outlet, When::Due(tick)).await;
                reports
                    .iter()
                    .for_each(|r| pipeline.metrics.observe_poll(r));
                if reports.iter().any(|r| r.changed()) {
                    pipeline.changed.notify_one();
                }
                let asked = reports.iter().filter(|r| r.duration_ms.is_some()).count();
                if asked > 0 {
                    let failed = reports
                        .iter()
                        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
                        .count();
                    systemd::status(&format!(
                        "polled {}: {asked} feeds asked, {failed} failed",
                        outlet.id
                    ));
                }
            })
        })
    }

    fn current_poller(&self) -> Poller {
        self.poller.read().unpoisoned().clone()
    }

    /// Builds the poller for a new `[polling]` (or retention); polls under way keep theirs.
    fn replace_poller(&self, config: &Config) -> anyhow::Result<()> {
        let poller = poller(config, Arc::clone(&self.store))?;
        *self.poller.write().unpoisoned() = poller;
        Ok(())
    }

    /// Counts a poll as under way until the returned guard drops.
    fn poll_started(&self) -> PollUnderWay {
        self.polls.send_modify(|n| *n += 1);
        PollUnderWay(Arc::clone(&self.polls))
    }

    async fn polls_finished(&self) {
        let mut polls = self.polls.subscribe();
        let _ = polls.wait_for(|n| *n == 0).await;
    }

    /// Rebuilds the published feeds after each change (and tells the WebSub hub which feeds
    /// changed). One task does it, so a slow rebuild can never overwrite a newer one;
    /// `Notify` folds a burst of changes into one rebuild that starts after the last of them
    /// was committed.
    async fn refresh_on_change(self) {
        let client = reqwest::Client::builder()
            .user_agent(self.live.get().polling.user_agent.clone())
            .build()
            .unwrap_or_default();
        let live = Arc::clone(&self.live);
        let hub = websub::Publisher::start(client, move || live.get().server.websub_hub.clone());
        loop {
            self.changed.notified().await;
            let config = self.live.get();
            match render(&self.store, &config).await {
                Ok((mut published, took)) => {
                    self.metrics.observe_render(took, published.item_count());
                    let changed = published.settle(&self.cache.current());
                    let replaced = self.cache.replace(published);
                    if config.server.websub_hub.is_some() && !changed.is_empty() {
                        hub.changed(changed);
                    }
                    // Renderings follow polls: what the polls, this rendering and the one it
                    // replaced freed can go back to the system now, off the async workers.
                    tokio::task::spawn_blocking(move || {
                        drop(replaced);
                        memory::release_free();
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not render the feeds; serving the previous ones")
                }
            }
        }
    }

    /// Asks for a rendering whenever the store's change mark moved past the one the served
    /// feeds were built from: another process sharing the store (an instance on the same
    /// PostgreSQL database, `tributary poll`) wrote a change. This process's own changes ask
    /// for their rendering as they are written.
    async fn follow_other_writers(self) {
        let mut every = tokio::time::interval(FOLLOW_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_seen = self.cache.current().change();
        loop {
            every.tick().await;
            let store = Arc::clone(&self.store);
            let looked = crate::sync::blocking(move || {
                let mark = store.change_mark()?;
                Ok::<_, crate::store::StoreError>((mark, store.leases_held()?))
            })
            .await;
            self.metrics.observe_store(
                looked.is_ok(),
                looked.as_ref().map_or(0, |(_, leases)| *leases),
            );
            match looked.map(|(mark, _)| mark) {
                Ok(mark) if mark != last_seen => {
                    last_seen = mark;
                    if mark != self.cache.current().change() {
                        self.changed.notify_one();
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot read the store's change mark"),
            }
        }
    }

    async fn purge_expired(&self) -> anyhow::Result<()> {
        let days = self.live.get().storage.retention_days;
        let cutoff = Utc::now() - chrono::Duration::days(days.into());
        let store = Arc::clone(&self.store);
        let deleted = tokio::task::spawn_blocking(move || store.purge_older_than(cutoff)).await??;
        if deleted > 0 {
            tracing::info!(deleted, "deleted items past retention");
            self.metrics.observe_deleted(deleted);
            self.changed.notify_one();
        }
        Ok(())
    }

    /// Deletes what is stored of an outlet removed from the config (`purge_removed`).
    async fn forget_outlet(&self, outlet: &str) {
        let (store, id) = (Arc::clone(&self.store), outlet.to_owned());
        match crate::sync::blocking(move || store.forget_outlet(&id)).await {
            Ok(deleted) => {
                tracing::info!(%outlet, deleted, "deleted the items of a removed outlet");
                self.metrics.observe_deleted(deleted);
            }
            Err(e) => {
                tracing::error!(%outlet, error = %e, "cannot delete a removed outlet's items")
            }
        }
    }
}

struct PollUnderWay(Arc<watch::Sender<usize>>);

impl Drop for PollUnderWay {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Renders every published feed from the store, off the async workers; returns how long it took.
async fn render(store: &Arc<Store>, config: &Arc<Config>) -> anyhow::Result<(Published, Duration)> {
    let (store, config) = (Arc::clone(store), Arc::clone(config));
    let started = Instant::now();
    let published =
        tokio::task::spawn_blocking(move || Published::build(&store, &config)).await??;
    let took = started.elapsed();
    tracing::debug!(duration_ms = took.as_millis() as u64, "rendered feeds");
    Ok((published, took))
}
