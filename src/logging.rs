//! Where log lines go and which ones are kept: `RUST_LOG` when set, else `[log] level`, which a
//! config reload can change while the daemon runs.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// The scheduler logs its own life cycle at info; operators need only its warnings.
const QUIET_DEPENDENCIES: &str = "tokio_cron_scheduler=warn";

/// The handle that changes what is logged; it does nothing when `RUST_LOG` decides.
#[derive(Clone)]
pub struct LogLevel {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

/// Installs the global subscriber, logging at `default_level` until [`LogLevel::set`] says
/// otherwise. Lines go to standard error.
pub fn init(default_level: &str) -> LogLevel {
    // An empty RUST_LOG (as `RUST_LOG= tributary` or a unit's `Environment=RUST_LOG=`
    // leaves it) is no filter at all: the config decides.
    let from_env = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::builder().parse(v).ok());
    let env_decides = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| filter(default_level));
    let (filter, handle) = reload::Layer::new(filter);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // journald (which sets JOURNAL_STREAM for a service's output) keeps its own timestamps and
    // shows no colours: lines carry only the level, the target, the message and its fields.
    let lines = if std::env::var_os("JOURNAL_STREAM").is_some() {
        lines.with_ansi(false).without_time().boxed()
    } else {
        lines.with_ansi(std::io::stderr().is_terminal()).boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .init();
    LogLevel {
        handle: (!env_decides).then_some(handle),
    }
}

impl LogLevel {
    /// Logs by `level` (a filter `[log] level` accepted) from now on, unless `RUST_LOG` is set.
    pub fn set(&self, level: &str) {
        if let Some(handle) = &self.handle {
            if let Err(e) = handle.reload(filter(level)) {
                tracing::warn!(error = %e, "cannot change the log level");
            }
        }
    }
}

fn filter(level: &str) -> EnvFilter {
    let directives = match level.contains("tokio_cron_scheduler") {
        true => level.to_owned(),
        false => format!("{level},{QUIET_DEPENDENCIES}"),
    };
    EnvFilter::builder()
        .parse(&directives)
        .unwrap_or_else(|_| EnvFilter::new("info"))
}
