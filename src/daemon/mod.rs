//! The running service: the pipeline's stages wired together, from the first bound socket to
//! a clean exit on SIGTERM or Ctrl-C.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::{watch, Notify};

use crate::config::{self, Config};
use crate::fetch::{Fetcher, Settings};
use crate::poll::{Outcome, Poller, When};
use crate::schedule::{PollFn, Schedule};
use crate::serve::{self, FeedCache, Published};
use crate::store::Store;

mod systemd;

/// Retention runs hourly, off the round minutes when outlets are polled.
const RETENTION_SCHEDULE: &str = "0 17 * * * *";

/// How long open connections get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Opens the store and builds the poller a configuration describes; shared with `tributary poll`.
pub fn open(config: &Config) -> anyhow::Result<Poller> {
    let path = &config.storage.path;
    let store = Store::open(path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    store.set_dedup(config.dedup.clone());
    let fetcher =
        Fetcher::new(Settings::from(&config.polling)).context("cannot build the HTTP client")?;
    Ok(Poller::new(
        fetcher,
        Arc::new(store),
        &config.polling,
        config.storage.retention_days,
    ))
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Arc::new(config::load(config_path)?);
    let poller = open(&config)?;
    let store = Arc::clone(&poller.store);
    purge_expired(&store, &config).await?;
    let cache = Arc::new(FeedCache::new(build_published(&store, &config).await?));

    let listener = match systemd::inherited_listener().context("cannot take systemd's socket")? {
        Some(inherited) => tokio::net::TcpListener::from_std(inherited)?,
        None => tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?,
    };
    let address = listener.local_addr()?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let app = serve::router(serve::AppState {
        cache: Arc::clone(&cache),
        store: Arc::clone(&store),
        config: Arc::clone(&config),
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    });
    let liveness = systemd::Liveness::default();
    liveness.serving.store(true, Ordering::Relaxed);
    liveness.beat();
    let server = tokio::spawn({
        let serving = Arc::clone(&liveness.serving);
        async move {
            let result = server.await;
            serving.store(false, Ordering::Relaxed);
            result
        }
    });
    tracing::info!(listen = %address, base_url = %config.server.base_url, "serving feeds");
    let served = cache.current().item_count();
    systemd::ready(&format!("serving {served} items on {address}"));
    let watchdog = systemd::watchdog(liveness.clone());

    let changed = Arc::new(Notify::new());
    let refresher = tokio::spawn(refresh_on_change(
        Arc::clone(&changed),
        Arc::clone(&store),
        Arc::clone(&config),
        Arc::clone(&cache),
    ));
    let schedule = Schedule::start(&config.outlets, poll_fn(poller, &config, &changed)).await?;
    schedule
        .add_task(RETENTION_SCHEDULE, {
            let (store, config, changed) = (
                Arc::clone(&store),
                Arc::clone(&config),
                Arc::clone(&changed),
            );
            move || {
                let (store, config, changed) = (
                    Arc::clone(&store),
                    Arc::clone(&config),
                    Arc::clone(&changed),
                );
                Box::pin(async move {
                    match purge_expired(&store, &config).await {
                        Ok(0) => {}
                        Ok(_) => changed.notify_one(),
                        Err(e) => tracing::error!(error = %e, "retention failed"),
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

    shutdown_signal().await;
    tracing::info!("shutting down");
    systemd::stopping();
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    schedule.shutdown().await?;
    refresher.abort();
    let _ = stop_tx.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(result) => result
            .context("server task failed")?
            .context("server failed")?,
        Err(_) => tracing::warn!("connections still open after the grace period; closing them"),
    }
    Ok(())
}

/// What each scheduled tick runs: poll the outlet, and ask for new renderings if items changed.
fn poll_fn(poller: Poller, config: &Arc<Config>, changed: &Arc<Notify>) -> PollFn {
    let (config, changed) = (Arc::clone(config), Arc::clone(changed));
    Arc::new(move |outlet_id, tick| {
        let (poller, config, changed) = (poller.clone(), Arc::clone(&config), Arc::clone(&changed));
        Box::pin(async move {
            let Some(outlet) = config.outlet(&outlet_id) else {
                return;
            };
            let reports = poller.poll_outlet(outlet, When::Due(tick)).await;
            if reports.iter().any(|r| r.changed()) {
                changed.notify_one();
            }
            let asked = reports.iter().filter(|r| r.ms.is_some()).count();
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

/// Rebuilds the published feeds after each change. One task does it, so a slow rebuild can
/// never overwrite a newer one; `Notify` folds a burst of changes into one rebuild that starts
/// after the last of them was committed.
async fn refresh_on_change(
    changed: Arc<Notify>,
    store: Arc<Store>,
    config: Arc<Config>,
    cache: Arc<FeedCache>,
) {
    loop {
        changed.notified().await;
        match build_published(&store, &config).await {
            Ok(published) => cache.replace(published),
            Err(e) => {
                tracing::error!(error = %e, "could not render the feeds; serving the previous ones")
            }
        }
    }
}

async fn build_published(store: &Arc<Store>, config: &Arc<Config>) -> anyhow::Result<Published> {
    let (store, config) = (Arc::clone(store), Arc::clone(config));
    let started = std::time::Instant::now();
    let published =
        tokio::task::spawn_blocking(move || Published::build(&store, &config)).await??;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "rendered feeds");
    Ok(published)
}

async fn purge_expired(store: &Arc<Store>, config: &Config) -> anyhow::Result<usize> {
    let cutoff = Utc::now() - chrono::Duration::days(config.storage.retention_days.into());
    let store = Arc::clone(store);
    let deleted = tokio::task::spawn_blocking(move || store.purge_older_than(cutoff)).await??;
    if deleted > 0 {
        tracing::info!(deleted, "deleted items past retention");
    }
    Ok(deleted)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the daemon");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
