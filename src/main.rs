//! The `tributary` command line: parses arguments and calls into the library, nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tributary::config::{self, Config};
use tributary::fetch::{Fetcher, Settings};
use tributary::poll::{Reading, When};
use tributary::store::Store;
use tributary::{daemon, logging, opml, status};

#[derive(Parser)]
#[command(
    version,
    about = "Polls news feeds and republishes them as one merged feed"
)]
struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "TRIBUTARY_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll on schedule and serve the merged feed (the default).
    Run {
        /// Reload the config only on SIGHUP, not whenever its file changes (for deployments
        /// that write the file in several steps).
        #[arg(long)]
        no_watch: bool,
    },
    /// Validate the configuration and print what would be polled.
    Check,
    /// Poll the feeds that are due, store what is new, print one line per feed and exit.
    Poll {
        /// Poll only this outlet.
        #[arg(long)]
        outlet: Option<String>,
        /// Ask every feed now, even one whose backoff, Retry-After or cache time has not passed.
        #[arg(long)]
        force: bool,
    },
    /// Print the story an item belongs to and why each of its items joined it.
    Explain {
        /// The item's id (as in `tributary parse`, or the tail of a feed entry's id).
        item: String,
    },
    /// Print how polling goes for every feed, from the database (the daemon need not run).
    Status {
        /// Print JSON, as `GET /status` does, instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add the feeds of an OPML subscription list to the config as outlets, keeping the file's
    /// comments and layout; print what was added and what was skipped.
    ImportOpml {
        /// The OPML file (as feed readers export it).
        file: PathBuf,
        /// Print what would change without writing the config.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy everything the configured store holds into another, empty database (an SQLite
    /// file into PostgreSQL, or back); then point `[storage]` at it. Stop the daemon first.
    MigrateStore {
        /// The target: a `postgres://` URL (or libpq's `key=value` string), or an SQLite file.
        #[arg(long)]
        to: String,
    },
    /// Print the normalized items of one feed document as JSON Lines.
    Parse {
        /// A file, or an http(s) URL to fetch.
        source: String,
        /// The outlet id to give the items.
        #[arg(long, default_value = "local")]
        outlet: String,
        /// For a file: the `Content-Type` it was served with (its charset is heeded).
        #[arg(long)]
        content_type: Option<String>,
        /// For a file: the address it was fetched from, against which relative links resolve.
        #[arg(long)]
        base_url: Option<url::Url>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        None | Some(Command::Run { .. }) => "info",
        // The other commands print what matters themselves.
        Some(_) => "error",
    };
    let log = logging::init(default_level);
    daemon::limit_arenas();
    // SQLite reads and renderings run on blocking threads (parsing has threads of its own,
    // `poll::Parsers`); a few threads do all the work there is, and each thread more costs its
    // own stack and (with glibc) possibly its own malloc arena.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Run { no_watch: false });
    if !matches!(command, Command::Run { .. }) {
        end_quietly_on_a_closed_pipe();
    }
    let result = runtime.block_on(execute(command, &cli.config, log));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `work` with the config's path on a blocking thread, as what reads the database must:
/// PostgreSQL's client runs a runtime of its own, which cannot start inside this one.
async fn blocking(
    config: &Path,
    work: impl FnOnce(&Path) -> anyhow::Result<bool> + Send + 'static,
) -> anyhow::Result<bool> {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || work(&config)).await?
}

/// Runs `command` with the config at `config`; whether it succeeded.
async fn execute(command: Command, config: &Path, log: logging::LogLevel) -> anyhow::Result<bool> {
    match command {
        Command::Run { no_watch } => daemon::run(config, log, !no_watch).await.map(|()| true),
        Command::Check => check(config),
        Command::Poll { outlet, force } => poll(config, outlet.as_deref(), force).await,
        Command::Status { json } => {
            blocking(config, move |config| status(config, json).map(|()| true)).await
        }
        Command::Explain { item } => blocking(config, move |config| explain(config, &item)).await,
        Command::ImportOpml { file, dry_run } => import_opml(config, &file, dry_run),
        Command::MigrateStore { to } => {
            blocking(config, move |config| migrate_store(config, &to)).await
        }
        Command::Parse {
            source,
            outlet,
            content_type,
            base_url,
        } => parse_one(&source, &outlet, content_type, base_url)
            .await
            .map(|()| true),
    }
}

/// Makes a command that prints and exits end quietly when its reader stops reading
/// (`tributary check | head`), as Unix tools do: SIGPIPE back at its default, which Rust's
/// runtime ignores so that a write to a closed pipe fails instead, and `println!` then panics.
/// The daemon keeps it ignored: its peers' sockets may close under it.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to the default touches no Rust state; it runs
    // before any thread of ours that writes is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn check(path: &Path) -> anyhow::Result<bool> {
    let config = config::load(path)?;
    print_config(path, &config);
    Ok(true)
}

fn print_config(path: &Path, config: &Config) {
    println!("{}: valid", path.display());
    println!(
        "serve on {} as {}",
        config.server.listen, config.server.base_url
    );
    println!(
        "store in {} for {} days",
        config.storage.database, config.storage.retention_days
    );
    for outlet in &config.outlets {
        println!(
            "outlet {} ({}) on \"{}\":",
            outlet.id, outlet.name, outlet.schedule
        );
        for feed in &outlet.feeds {
            println!("  {feed}");
        }
    }
}

/// Polls the configured outlets (or one) once; fails if any feed failed.
async fn poll(path: &Path, only: Option<&str>, force: bool) -> anyhow::Result<bool> {
    let config = config::load(path)?;
    if let Some(id) = only {
        config
            .outlet(id)
            .with_context(|| format!("{} has no outlet {id:?}", path.display()))?;
    }
    let poller = daemon::open(&config).await?;
    let when = match force {
        true => When::Now,
        false => When::Due(chrono::Utc::now()),
    };
    // Outlets are polled at once, as the daemon's schedule would; the fetcher's limits per
    // host and overall still hold. Reports are printed in the config's order.
    let mut polls = tokio::task::JoinSet::new();
    for (index, outlet) in config.outlets.iter().enumerate() {
        if only.is_none_or(|id| id == outlet.id) {
            let (poller, outlet) = (poller.clone(), outlet.clone());
            polls.spawn(async move { (index, poller.poll_outlet(&outlet, when).await) });
        }
    }
    let mut polled = polls.join_all().await;
    polled.sort_by_key(|(index, _)| *index);
    let mut all_ok = true;
    for report in polled.into_iter().flat_map(|(_, reports)| reports) {
        all_ok &= !matches!(report.outcome, tributary::poll::Outcome::Failed { .. });
        println!("{report}");
    }
    Ok(all_ok)
}

/// Adds an OPML file's feeds to the config and writes it (see [`config::replace_file`]).
fn import_opml(path: &Path, file: &Path, dry_run: bool) -> anyhow::Result<bool> {
    let config = config::load(path)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let subscriptions =
        opml::read(&bytes).with_context(|| format!("cannot read {} as OPML", file.display()))?;
    let imported = config::import(&text, path, &config, &subscriptions)
        .with_context(|| format!("cannot add the feeds to {}", path.display()))?;
    for line in &imported.report {
        println!("{line}");
    }
    if imported.added == 0 {
        println!("nothing to add; {} unchanged", path.display());
    } else if dry_run {
        println!(
            "{} feeds would be added (dry run: {} unchanged)",
            imported.added,
            path.display()
        );
    } else {
        let replaced = config::replace_file(path, &imported.text)?;
        if let Some(e) = replaced.owner_not_kept {
            eprintln!(
                "warning: {} has this user's owner and group, not the old file's ({e})",
                path.display()
            );
        }
        println!("{} feeds added to {}", imported.added, path.display());
    }
    Ok(true)
}

fn open_store(path: &Path) -> anyhow::Result<(Config, Store)> {
    let config = config::load(path)?;
    let db = &config.storage.database;
    let store =
        Store::open_existing(db).with_context(|| format!("cannot open the database {db}"))?;
    Ok((config, store))
}

/// Copies the configured store into the database `to` names; prints what was copied.
fn migrate_store(path: &Path, to: &str) -> anyhow::Result<bool> {
    let (_, source) = open_store(path)?;
    let target = config::Database::named(to);
    let into = Store::open_database(&target)
        .with_context(|| format!("cannot open the database {target}"))?;
    let copied = source
        .copy_to(&into)
        .with_context(|| format!("cannot copy the store into {target}"))?;
    println!(
        "copied {} items, {} feeds and {} dedup decisions into {target}; point [storage] at it \
         (url = \"…\" for PostgreSQL, path = \"…\" for a file) and start the daemon",
        copied.items, copied.feeds, copied.decisions
    );
    Ok(true)
}

/// Prints the story of `item` and why each member joined; fails for an unknown id.
fn explain(path: &Path, item: &str) -> anyhow::Result<bool> {
    let (_, store) = open_store(path)?;
    let id = item.trim_start_matches("urn:tributary:item:");
    let Some(explanation) = store.explain(id)? else {
        anyhow::bail!("no stored item has the id {id:?}");
    };
    print!("{explanation}");
    Ok(true)
}

fn status(path: &Path, json: bool) -> anyhow::Result<()> {
    let (config, store) = open_store(path)?;
    let report = status::build(&config, &store, chrono::Utc::now())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

async fn parse_one(
    source: &str,
    outlet: &str,
    content_type: Option<String>,
    base_url: Option<url::Url>,
) -> anyhow::Result<()> {
    let (bytes, content_type, base) = if source.starts_with("http://")
        || source.starts_with("https://")
    {
        let url = url::Url::parse(source).with_context(|| format!("{source:?} is not a URL"))?;
        let fetcher = Fetcher::new(Settings::from(&config::Polling::default()))?;
        let slot = fetcher.slot(&url).await;
        let fetched = fetcher
            .fetch(slot, &url, &url, &Default::default())
            .await
            .with_context(|| format!("cannot fetch {url}"))?;
        let base = fetched.url;
        match fetched.body {
            Some(body) => (body.bytes, body.content_type, Some(base)),
            None => anyhow::bail!("{base} answered 304 to an unconditional request"),
        }
    } else {
        let bytes = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
        (bytes, content_type, base_url)
    };
    // As the daemon reads a new feed by default.
    let reading = Reading {
        content_type: content_type.as_deref(),
        base: base.as_ref(),
        outlet,
        strip_tracking: true,
        by_link: false,
    };
    let document = reading
        .document(&bytes)
        .with_context(|| format!("cannot parse {source}"))?;
    // Standard output stays pure JSON Lines; what was mended goes to standard error.
    for problem in &document.notes {
        eprintln!("note: {source}: {problem}");
    }
    if let Some(reason) = document.unreliable_guids {
        eprintln!("note: {source}: {reason}; items are identified by link");
    }
    let items = document.items;
    let mut out = std::io::stdout().lock();
    let written = items.iter().try_for_each(|item| {
        serde_json::to_writer(&mut out, item)?;
        out.write_all(b"\n")
    });
    match written.and_then(|()| out.flush()) {
        // A reader such as `head` that stops early is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => Ok(result?),
    }
}
