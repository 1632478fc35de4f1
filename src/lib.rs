//! Tributary polls news outlets' feeds and republishes them as one merged feed.
//!
//! Data flows one way through one module per stage:
//!
//! 1. [`config`] reads `feeds.toml`: what to poll, how often, where to serve.
//! 2. [`schedule`] runs one cron job per outlet and never lets two polls of an outlet overlap.
//! 3. [`fetch`] makes the polite HTTP request (conditional GET, limits, redirects checked hop by hop).
//! 4. [`parse`] turns any feed format into normalized [`model::Item`]s.
//! 5. [`dedup`] decides what becomes of each arriving item: every entry a document lists kept
//!    once, re-publications found again, and one item per story across outlets by comparing
//!    each new item with the window of recent ones.
//! 6. [`store`] keeps items in SQLite, or in PostgreSQL shared by several instances, each feed
//!    poll all or nothing, polls that end together committed together, each feed leased to one
//!    process while it is polled.
//! 7. [`render`] writes RSS 2.0, Atom 1.0 and JSON Feed 1.1, once per change.
//! 8. [`serve`] answers readers from those pre-rendered bytes.
//!
//! [`evaluation`] measures stage 5 on labelled sets through stages 4–6 and fits its model.
//! [`poll`] strings stages 3–6 together for one outlet and decides when each feed may be asked
//! again; [`priority`] keeps its CPU-heavy threads behind the readers'; [`status`] reports how
//! polling goes; [`metrics`] counts what happens for Prometheus; [`sync`] keeps locks usable
//! after a panic and runs blocking work off the async workers; [`model`] is the one item
//! model every stage speaks, with the two spellings of a link; [`opml`] reads and writes
//! subscription lists; [`logging`] sets up the log and its level; [`daemon`] wires the whole
//! pipeline into a running service, and reloads it when the config changes.

pub mod config;
pub mod daemon;
pub mod dedup;
pub mod evaluation;
pub mod fetch;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod opml;
pub mod parse;
pub mod poll;
pub mod priority;
pub mod render;
pub mod schedule;
pub mod serve;
pub mod status;
pub mod store;
pub mod sync;
