//! `feeds.toml`: the operator's description of what to poll and how to serve it.
//!
//! Loading is strict on purpose: an unknown key is usually a typo that would otherwise be
//! silently ignored, so every mistake is an error that names the file, line and column.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use url::Url;

mod import;
mod live;
mod view;
mod write;

pub use import::{import, ImportError, Imported};
pub use live::{LiveConfig, Refusal};
pub use view::{Pattern, View};
pub use write::{replace_file, ReplaceError, Replaced};

/// The longest dedup window: a year.
const MAX_WINDOW_HOURS: u32 = 24 * 365;

/// The probability from which two items are one story unless `[dedup] threshold` says
/// otherwise: where cross-validation on the labelled sets kept precision above 0.98 (see
/// BENCHMARKS.md).
const DEFAULT_THRESHOLD: f64 = 0.5;

/// The probability from which another outlet's item is related coverage unless `[dedup]
/// related` says otherwise.
const DEFAULT_RELATED: f64 = 0.1;

/// Where the daemon looks when `--config` is not given and `$TRIBUTARY_CONFIG` is unset.
pub const DEFAULT_PATH: &str = "feeds.toml";

/// A validated configuration: every value parsed, every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub server: Server,
    pub storage: Storage,
    pub polling: Polling,
    pub dedup: Dedup,
    pub log: Log,
    pub outlets: Vec<Outlet>,
    pub views: Vec<View>,
}

/// What the daemon logs, unless `RUST_LOG` says otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Log {
    /// A `tracing` filter: a level ("info") or per-module directives ("warn,tributary=debug").
    pub level: String,
}

/// How the same story from several outlets (or re-published by one) becomes one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Dedup {
    /// Merge copies across outlets; re-publications within an outlet are merged regardless.
    pub enabled: bool,
    /// How far apart two copies may be, in publication time and in when they were first seen.
    pub window_hours: u32,
    /// The probability (0 to 1) from which two items are one story.
    pub threshold: f64,
    /// The probability from which another outlet's item that is not the same story is shown
    /// as related coverage; above `threshold`, nothing is.
    pub related: f64,
    pub prefer: Prefer,
}

/// Which copy of a story the merged feed shows, the others being "also reported by".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefer {
    FirstSeen,
    /// The outlet listed first in `feeds.toml`.
    ConfigOrder,
}

impl Default for Dedup {
    fn default() -> Self {
        RawDedup::default()
            .validate()
            .expect("the defaults are valid")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    pub listen: SocketAddr,
    /// The public address readers use; self links in the feeds are built from it.
    pub base_url: Url,
    pub title: String,
    /// A WebSub hub: the feeds advertise it, and it is told each time a feed changes.
    pub websub_hub: Option<Url>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    pub database: Database,
    pub retention_days: u32,
    /// Delete an outlet's items as soon as it leaves the config, rather than at retention.
    pub purge_removed: bool,
}

/// Where items and feed state are kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Database {
    /// An SQLite file, the default. Absolute: resolved against `$STATE_DIRECTORY` or the
    /// config file's folder.
    Sqlite(PathBuf),
    /// A PostgreSQL server that several instances share: a `postgres://` URL or libpq's
    /// `key=value` string, as written (libpq's `PG*` environment fills in what it leaves out).
    Postgres(String),
}

impl Database {
    /// Reads the database a command line names: a PostgreSQL server for a `postgres://` or
    /// `postgresql://` URL or a libpq `key=value` string, an SQLite file for anything else.
    pub fn named(name: &str) -> Self {
        let postgres = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| name.starts_with(scheme))
            || name.contains('=');
        match postgres {
            true => Database::Postgres(name.to_owned()),
            false => Database::Sqlite(PathBuf::from(name)),
        }
    }
}

impl std::fmt::Display for Database {
    /// Writes the file, or the server's URL without its password: what logs and messages may show.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => match Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("the PostgreSQL server of the url's key=value string"),
            },
        }
    }
}

/// How politely to poll: see the README's "Polling" section for what each key means to an outlet.
#[derive(Clone, Debug, PartialEq)]
pub struct Polling {
    pub schedule: String,
    /// The total time limit of one fetch, redirects and body included.
    pub timeout_secs: u64,
    pub user_agent: String,
    /// The shortest time between two requests for one feed, whatever the schedule or the server
    /// says.
    pub min_interval_secs: u64,
    /// Honour `Cache-Control: max-age`, `Expires` and RSS `<ttl>` as the earliest next poll.
    pub respect_cache_headers: bool,
    /// Drop `utm_*`, `fbclid`, `gclid` and the like from the links of the items read.
    pub strip_tracking_parameters: bool,
    /// Requests in flight to one host at once.
    pub per_host_concurrency: usize,
    /// Requests in flight at once, over all hosts.
    pub max_concurrency: usize,
    /// The largest body read, counted after decompression.
    pub max_body_bytes: u64,
    /// Follow redirects from the operator's hosts into loopback, private and link-local networks.
    pub allow_private_networks: bool,
    /// Fetch through this proxy; the environment's proxy variables are never used.
    pub proxy: Option<Url>,
}

/// A news organisation and the feeds it publishes; its items share one identity space.
#[derive(Clone, Debug, PartialEq)]
pub struct Outlet {
    pub id: String,
    pub name: String,
    pub feeds: Vec<Url>,
    /// The outlet's own schedule, or `[polling].schedule`.
    pub schedule: String,
}

impl Default for Polling {
    fn default() -> Self {
        RawPolling::default()
            .validate()
            .expect("the defaults are valid")
    }
}

impl Config {
    pub fn outlet(&self, id: &str) -> Option<&Outlet> {
        self.outlets.iter().find(|o| o.id == id)
    }
}

/// Builds the User-Agent every request carries, so that outlets can see who polls them and whom to
/// ask.
pub fn default_user_agent() -> String {
    format!(
        "tributary/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_REPOSITORY")
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is said in the message, not chained as a source: an `anyhow` chain would
    /// say it twice.
    #[error("{path}: cannot read the configuration: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|cause| ConfigError::Read {
        path: path.to_owned(),
        cause,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message: "this is not UTF-8 text: save the file as UTF-8".into(),
        }
    })?;
    parse_with_env(&text, path)
}

/// Validates `text` as the contents of `path`, with the environment's `$STATE_DIRECTORY`.
fn parse_with_env(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let state_dir = std::env::var_os("STATE_DIRECTORY").map(PathBuf::from);
    parse(text, path, state_dir.as_deref())
}

/// Validates `text` as the contents of `path`; `state_dir` is systemd's `$STATE_DIRECTORY`.
pub fn parse(text: &str, path: &Path, state_dir: Option<&Path>) -> Result<Config, ConfigError> {
    let invalid = |span: Range<usize>, message: String| {
        let (line, column) = line_and_column(text, span.start);
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let raw: RawConfig = toml::from_str(text)
        .map_err(|e| invalid(e.span().unwrap_or(0..0), e.message().trim_end().to_owned()))?;
    let config_dir = path.parent().unwrap_or(Path::new("."));
    raw.validate(config_dir, state_dir)
        .map_err(|(span, message)| invalid(span, message))
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

type Invalid = (Range<usize>, String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default)]
    log: RawLog,
    #[serde(default, rename = "outlet")]
    outlets: Vec<RawOutlet>,
    #[serde(default, rename = "view")]
    views: Vec<view::RawView>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    title: Option<String>,
    websub_hub: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    retention_days: Option<Spanned<u32>>,
    purge_removed: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    schedule: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
    user_agent: Option<String>,
    min_interval_secs: Option<u64>,
    respect_cache_headers: Option<bool>,
    strip_tracking_parameters: Option<bool>,
    per_host_concurrency: Option<Spanned<u64>>,
    max_concurrency: Option<Spanned<u64>>,
    max_body_bytes: Option<Spanned<u64>>,
    allow_private_networks: Option<bool>,
    proxy: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    enabled: Option<bool>,
    window_hours: Option<Spanned<u32>>,
    threshold: Option<Spanned<f64>>,
    related: Option<Spanned<f64>>,
    prefer: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutlet {
    id: Spanned<String>,
    name: Option<String>,
    feeds: Spanned<Vec<Spanned<String>>>,
    schedule: Option<Spanned<String>>,
}

impl RawConfig {
    fn validate(self, config_dir: &Path, state_dir: Option<&Path>) -> Result<Config, Invalid> {
        let polling = self.polling.validate()?;
        let mut seen = HashSet::new();
        let mut outlets = Vec::with_capacity(self.outlets.len());
        for raw in self.outlets {
            if !seen.insert(raw.id.get_ref().clone()) {
                return Err((
                    raw.id.span(),
                    format!("duplicate outlet id {:?}", raw.id.get_ref()),
                ));
            }
            outlets.push(raw.validate(&polling.schedule)?);
        }
        Ok(Config {
            server: self.server.validate()?,
            storage: self.storage.validate(state_dir.unwrap_or(config_dir))?,
            polling,
            dedup: self.dedup.validate()?,
            log: self.log.validate()?,
            views: view::validate(self.views, &outlets)?,
            outlets,
        })
    }
}

impl RawDedup {
    fn validate(self) -> Result<Dedup, Invalid> {
        let probability = |value: Option<Spanned<f64>>, key: &str, default: f64| match value {
            Some(t) if !(0.0..=1.0).contains(t.get_ref()) => {
                let message = format!("{key} = {} must be between 0 and 1", t.get_ref());
                Err((t.span(), message))
            }
            Some(t) => Ok(t.into_inner()),
            None => Ok(default),
        };
        let threshold = probability(self.threshold, "threshold", DEFAULT_THRESHOLD)?;
        let related = probability(self.related, "related", DEFAULT_RELATED)?;
        let prefer = match self.prefer {
            None => Prefer::FirstSeen,
            Some(p) => match p.get_ref().as_str() {
                "first-seen" => Prefer::FirstSeen,
                "config-order" => Prefer::ConfigOrder,
                other => {
                    let message =
                        format!("prefer = {other:?} is not \"first-seen\" or \"config-order\"");
                    return Err((p.span(), message));
                }
            },
        };
        Ok(Dedup {
            enabled: self.enabled.unwrap_or(true),
            window_hours: match self.window_hours {
                Some(hours) if *hours.get_ref() > MAX_WINDOW_HOURS => {
                    let message =
                        format!("window_hours must be at most {MAX_WINDOW_HOURS} (a year)");
                    return Err((hours.span(), message));
                }
                hours => at_least_one(hours, "window_hours", 48)?,
            },
            threshold,
            related,
            prefer,
        })
    }
}

impl RawServer {
    fn validate(self) -> Result<Server, Invalid> {
        let listen = match self.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(listen) => listen.get_ref().parse().map_err(|_| {
                let message = format!(
                    "listen = {:?} is not an address and port such as \"127.0.0.1:8080\"",
                    listen.get_ref()
                );
                (listen.span(), message)
            })?,
        };
        let base_url = match self.base_url {
            None => {
                Url::parse(&format!("http://{listen}")).expect("an address and port form a URL")
            }
            Some(url) => {
                parse_http_url(&url).map_err(|m| (url.span(), format!("base_url: {m}")))?
            }
        };
        let websub_hub = match self.websub_hub {
            None => None,
            Some(hub) => {
                Some(parse_http_url(&hub).map_err(|m| (hub.span(), format!("websub_hub: {m}")))?)
            }
        };
        Ok(Server {
            listen,
            base_url,
            title: self.title.unwrap_or_else(|| "Tributary".to_owned()),
            websub_hub,
        })
    }
}

impl RawStorage {
    fn validate(self, base_dir: &Path) -> Result<Storage, Invalid> {
        let retention_days = at_least_one(self.retention_days, "retention_days", 30)?;
        let database = match (self.path, self.url) {
            (Some(_), Some(url)) => {
                let message = "url and path both say where to store: keep url (PostgreSQL) \
                               or path (an SQLite file), not both"
                    .to_owned();
                return Err((url.span(), message));
            }
            (None, Some(url)) => {
                if let Err(e) = url.get_ref().parse::<postgres::Config>() {
                    let message = format!(
                        "url is not a PostgreSQL connection string such as \
                         \"postgres://user@host:5432/tributary\": {e}"
                    );
                    return Err((url.span(), message));
                }
                Database::Postgres(url.into_inner())
            }
            (path, None) => Database::Sqlite(
                base_dir.join(path.map_or_else(|| "tributary.db".to_owned(), Spanned::into_inner)),
            ),
        };
        Ok(Storage {
            database,
            retention_days,
            purge_removed: self.purge_removed.unwrap_or(false),
        })
    }
}

impl RawLog {
    fn validate(self) -> Result<Log, Invalid> {
        let Some(level) = self.level else {
            return Ok(Log {
                level: "info".to_owned(),
            });
        };
        let invalid = |why: String| {
            let message = format!(
                "level = {:?} is not a log filter such as \"info\" or \"warn,tributary=debug\": {why}",
                level.get_ref()
            );
            (level.span(), message)
        };
        // A filter reads a bare word as a module name, so a misspelt level would silently log
        // nothing at all: a directive without `=` must be a level.
        const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
        let directives = level.get_ref().split(',').map(str::trim);
        if let Some(word) = directives
            .filter(|d| !d.contains(['=', '[']))
            .find(|d| !LEVELS.contains(&d.to_ascii_lowercase().as_str()))
        {
            return Err(invalid(format!(
                "{word:?} is not one of {}",
                LEVELS.join(", ")
            )));
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(level.get_ref())
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Log {
            level: level.into_inner(),
        })
    }
}

impl RawPolling {
    fn validate(self) -> Result<Polling, Invalid> {
        let schedule = match self.schedule {
            Some(schedule) => validated_schedule(schedule)?,
            None => "0 */10 * * * *".to_owned(),
        };
        let proxy = match self.proxy {
            Some(proxy) => {
                Some(parse_http_url(&proxy).map_err(|m| (proxy.span(), format!("proxy: {m}")))?)
            }
            None => None,
        };
        Ok(Polling {
            schedule,
            timeout_secs: at_least_one(self.timeout_secs, "timeout_secs", 30)?,
            user_agent: self.user_agent.unwrap_or_else(default_user_agent),
            min_interval_secs: self.min_interval_secs.unwrap_or(300),
            respect_cache_headers: self.respect_cache_headers.unwrap_or(true),
            strip_tracking_parameters: self.strip_tracking_parameters.unwrap_or(true),
            per_host_concurrency: at_least_one(
                self.per_host_concurrency,
                "per_host_concurrency",
                2,
            )? as usize,
            max_concurrency: at_least_one(self.max_concurrency, "max_concurrency", 16)? as usize,
            max_body_bytes: at_least_one(self.max_body_bytes, "max_body_bytes", 10 << 20)?,
            allow_private_networks: self.allow_private_networks.unwrap_or(false),
            proxy,
        })
    }
}

impl RawOutlet {
    fn validate(self, default_schedule: &str) -> Result<Outlet, Invalid> {
        check_id("outlet", &self.id)?;
        let id = self.id.get_ref();
        if self.feeds.get_ref().is_empty() {
            return Err((self.feeds.span(), format!("outlet {id:?} lists no feeds")));
        }
        let feeds = self
            .feeds
            .get_ref()
            .iter()
            .map(|feed| parse_http_url(feed).map_err(|m| (feed.span(), m)))
            .collect::<Result<Vec<_>, _>>()?;
        let schedule = match self.schedule {
            Some(schedule) => validated_schedule(schedule)?,
            None => default_schedule.to_owned(),
        };
        Ok(Outlet {
            name: self.name.unwrap_or_else(|| id.clone()),
            id: self.id.into_inner(),
            feeds,
            schedule,
        })
    }
}

/// Checks an outlet or view id: ids appear in URLs, so lower-case letters, digits, '-' and '_'
/// only.
fn check_id(kind: &str, id: &Spanned<String>) -> Result<(), Invalid> {
    let valid = !id.get_ref().is_empty()
        && id
            .get_ref()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        return Ok(());
    }
    let message = format!(
        "{kind} id {:?} must be lower-case letters, digits, '-' or '_' (it appears in URLs)",
        id.get_ref()
    );
    Err((id.span(), message))
}

/// Returns the value of `key`, or `default` when it is absent; zero is refused.
fn at_least_one<T: Copy + PartialEq + From<u8>>(
    value: Option<Spanned<T>>,
    key: &str,
    default: T,
) -> Result<T, Invalid> {
    match value {
        Some(v) if *v.get_ref() == T::from(0) => {
            Err((v.span(), format!("{key} must be at least 1")))
        }
        Some(v) => Ok(v.into_inner()),
        None => Ok(default),
    }
}

fn parse_http_url(raw: &Spanned<String>) -> Result<Url, String> {
    let url =
        Url::parse(raw.get_ref()).map_err(|e| format!("{:?} is not a URL: {e}", raw.get_ref()))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(format!("{:?} is not an http or https URL", raw.get_ref())),
    }
}

/// Checks a cron expression with the parser the scheduler itself uses, so that `check` accepts
/// exactly what `run` can schedule.
fn validated_schedule(raw: Spanned<String>) -> Result<String, Invalid> {
    let job =
        tokio_cron_scheduler::Job::new_async(raw.get_ref().as_str(), |_, _| Box::pin(async {}));
    match job {
        Ok(_) => Ok(raw.into_inner()),
        Err(_) => Err((
            raw.span(),
            format!(
                "schedule {:?} is not a cron expression with seconds first, such as \"0 */10 * * * *\"",
                raw.get_ref()
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
