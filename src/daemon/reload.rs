//! Reloading `feeds.toml` while the daemon runs. A valid file is applied as a diff against the
//! config in force — outlets added, removed, rescheduled or given other feeds, and sections
//! changed — and the diff is logged in one line. An invalid file changes nothing: the daemon
//! keeps the config in force and says why in the log, `/status` and `/healthz`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Config};
use crate::schedule::Schedule;

use super::{systemd, Pipeline};

/// What differs between the config in force and a new one.
#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub rescheduled: Vec<String>,
    /// Outlets whose feeds or name changed.
    pub changed: Vec<String>,
    /// Sections (or keys) that changed and are applied at once.
    pub sections: Vec<&'static str>,
    /// Keys that changed but only take effect at the next start.
    pub need_restart: Vec<&'static str>,
}

impl Diff {
    pub fn between(old: &Config, new: &Config) -> Self {
        let mut diff = Diff::default();
        diff.compare_outlets(old, new);
        let order = |c: &Config| c.outlets.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        let reordered =
            diff.added.is_empty() && diff.removed.is_empty() && order(old) != order(new);
        diff.sections = changed([
            ("[polling]", old.polling != new.polling),
            ("[dedup]", old.dedup != new.dedup),
            ("[log]", old.log != new.log),
            (
                "[server] base_url/title",
                (&old.server.base_url, &old.server.title)
                    != (&new.server.base_url, &new.server.title),
            ),
            (
                "[server] websub_hub",
                old.server.websub_hub != new.server.websub_hub,
            ),
            ("[[view]]", old.views != new.views),
            (
                "[storage] retention_days",
                old.storage.retention_days != new.storage.retention_days,
            ),
            (
                "[storage] purge_removed",
                old.storage.purge_removed != new.storage.purge_removed,
            ),
            ("outlet order", reordered),
        ]);
        diff.need_restart = changed([
            ("[server] listen", old.server.listen != new.server.listen),
            (
                "[storage] path or url",
                old.storage.database != new.storage.database,
            ),
        ]);
        diff
    }

    /// Lists the outlets added, removed, rescheduled and changed (feeds or name).
    fn compare_outlets(&mut self, old: &Config, new: &Config) {
        for outlet in &new.outlets {
            match old.outlet(&outlet.id) {
                None => self.added.push(outlet.id.clone()),
                Some(before) => {
                    if before.schedule != outlet.schedule {
                        self.rescheduled.push(outlet.id.clone());
                    }
                    if before.feeds != outlet.feeds || before.name != outlet.name {
                        self.changed.push(outlet.id.clone());
                    }
                }
            }
        }
        self.removed = old
            .outlets
            .iter()
            .filter(|o| new.outlet(&o.id).is_none())
            .map(|o| o.id.clone())
            .collect();
    }

    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "nothing changed");
        }
        let parts = [
            ("added", self.added.join(", ")),
            ("removed", self.removed.join(", ")),
            ("rescheduled", self.rescheduled.join(", ")),
            ("feeds changed", self.changed.join(", ")),
            ("changed", self.sections.join(", ")),
            (
                "changed, from the next restart",
                self.need_restart.join(", "),
            ),
        ];
        let parts: Vec<String> = parts
            .into_iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(what, list)| format!("{what} {list}"))
            .collect();
        write!(f, "{}", parts.join("; "))
    }
}

/// Reads `path` again and applies it, or refuses it and keeps the config in force.
pub(super) async fn reload(path: &Path, pipeline: &Pipeline, schedule: &mut Schedule) {
    systemd::reloading();
    let applied = match config::load(path) {
        Ok(new) => apply(new, pipeline, schedule).await,
        Err(e) => Err(anyhow::Error::new(e)),
    };
    pipeline.metrics.observe_reload(applied.is_ok());
    let summary = match applied {
        Ok(diff) => format!("config reloaded: {diff}"),
        Err(e) => {
            tracing::error!("config reload refused, the previous config stays in force: {e:#}");
            pipeline.live.refuse(format!("{e:#}"));
            format!("config reload refused: {e:#}")
        }
    };
    systemd::ready(&summary);
}

async fn apply(
    mut new: Config,
    pipeline: &Pipeline,
    schedule: &mut Schedule,
) -> anyhow::Result<Diff> {
    let old = pipeline.live.get();
    let diff = Diff::between(&old, &new);
    // The listener and the open database stay as they are until the next start.
    new.server.listen = old.server.listen;
    new.storage.database = old.storage.database.clone();
    if diff
        .sections
        .iter()
        .any(|s| s.starts_with("[polling]") || s.contains("retention"))
    {
        pipeline.replace_poller(&new)?;
    }
    let mut removed = Vec::new();
    for id in &diff.removed {
        removed.extend(schedule.remove_outlet(id).await?.map(|r| (id, r)));
    }
    for id in diff.added.iter().chain(&diff.rescheduled) {
        if let Some(outlet) = new.outlet(id) {
            schedule.add_outlet(outlet).await?;
        }
    }
    // A new window waits for the writer's batch under way, which runs at the idle priority:
    // off the async workers, which answer readers.
    let (store, dedup) = (Arc::clone(&pipeline.store), new.dedup.clone());
    tokio::task::spawn_blocking(move || store.set_dedup(dedup)).await?;
    pipeline.log.set(&new.log.level);
    let purge = new.storage.purge_removed;
    pipeline.live.apply(new);
    tracing::info!(%diff, "config reloaded");
    if !diff.need_restart.is_empty() {
        tracing::warn!(
            keys = %diff.need_restart.join(", "),
            "these keys take effect at the next restart"
        );
    }
    // New outlets and new feeds are polled at once; feeds not due yet are left alone.
    for id in diff.added.iter().chain(&diff.changed) {
        schedule.poll_now(id);
    }
    if purge {
        // A poll of a removed outlet still under way would store its items after the purge.
        for (id, outlet) in removed {
            outlet.settled().await;
            pipeline.forget_outlet(id).await;
        }
    }
    pipeline.changed.notify_one();
    Ok(diff)
}

/// Lists the names of the parts that changed.
fn changed<const N: usize>(parts: [(&'static str, bool); N]) -> Vec<&'static str> {
    parts
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        config::parse(text, Path::new("/etc/tributary/feeds.toml"), None).unwrap()
    }

    const TWO: &str = r#"
[[outlet]]
id = "abc"
feeds = ["https://abc.example/rss"]
[[outlet]]
id = "news"
feeds = ["https://news.example/rss"]
"#;

    #[test]
    fn the_same_config_is_no_change() {
        let diff = Diff::between(&config(TWO), &config(TWO));
        assert!(diff.is_empty());
        assert_eq!(diff.to_string(), "nothing changed");
    }

    #[test]
    fn every_kind_of_change_is_named_in_one_line() {
        let new = r#"
[server]
listen = "127.0.0.1:9999"
title = "Other"
[dedup]
threshold = 0.6
[[outlet]]
id = "abc"
feeds = ["https://abc.example/rss", "https://abc.example/more"]
schedule = "0 * * * * *"
[[outlet]]
id = "wire"
feeds = ["https://wire.example/rss"]
"#;
        let diff = Diff::between(&config(TWO), &config(new));
        assert_eq!(diff.added, ["wire"]);
        assert_eq!(diff.removed, ["news"]);
        assert_eq!(diff.rescheduled, ["abc"]);
        assert_eq!(diff.changed, ["abc"]);
        assert_eq!(diff.sections, ["[dedup]", "[server] base_url/title"]);
        assert_eq!(diff.need_restart, ["[server] listen"]);
        assert_eq!(
            diff.to_string(),
            "added wire; removed news; rescheduled abc; feeds changed abc; \
             changed [dedup], [server] base_url/title; \
             changed, from the next restart [server] listen"
        );
    }

    #[test]
    fn a_new_order_of_the_same_outlets_is_a_change() {
        let swapped = r#"
[[outlet]]
id = "news"
feeds = ["https://news.example/rss"]
[[outlet]]
id = "abc"
feeds = ["https://abc.example/rss"]
"#;
        let diff = Diff::between(&config(TWO), &config(swapped));
        assert_eq!(diff.sections, ["outlet order"]);
    }
}
