//! The published state: for the merged feed, each outlet and each view, its newest items and
//! their default renderings in every coding, built once per change of the stored items or of
//! the config.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::encoding::{Encoded, Encoding};
use super::filter::Filter;
use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::config::Config;
use crate::model::hex;
use crate::render::{self, Channel, Format};
use crate::schedule;
use crate::store::{ChangeMark, Store, StoreError, StoredItem};

/// Which feed: the merged one, one outlet's, or one view's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ScopeKey {
    Merged,
    Outlet(String),
    View(String),
}

/// A feed document ready to send, with its validators.
#[derive(Clone)]
pub struct RenderedFeed {
    body: Body,
    last_modified: Option<SystemTime>,
    /// The headers as sent, made when the feed is rendered and again when it is dated, so that
    /// a request only copies them (what formatting them per request costs: BENCHMARKS.md,
    /// section 2).
    headers: Headers,
}

/// Each coding's headers, by [`Encoding`] as `usize`: each coding is a representation of its
/// own, with its own ETag (see [`Encoding::etag`]).
#[derive(Clone)]
struct Headers {
    /// With a `200`: the body's type and coding, the validators, caching and CORS.
    ok: [HeaderMap; 3],
    /// With a `304`: the same but the body's type and coding (RFC 9110 §15.4.5).
    not_modified: [HeaderMap; 3],
}

#[derive(Clone)]
enum Body {
    /// A published feed, compressed ahead of time.
    Encoded(Encoded),
    /// A feed rendered for one request, compressed for it if the reader asks.
    Plain(Bytes),
}

impl RenderedFeed {
    fn new(
        body: Body,
        format: Format,
        etag: &str,
        last_modified: Option<SystemTime>,
        max_age: Option<Duration>,
    ) -> Self {
        let mut feed = Self {
            body,
            headers: Headers::of(format, etag, max_age),
            last_modified: None,
        };
        feed.date(last_modified);
        feed
    }

    /// Sets `Last-Modified`, and the header that says it.
    fn date(&mut self, last_modified: Option<SystemTime>) {
        self.last_modified = last_modified;
        let date = last_modified
            .and_then(|date| HeaderValue::from_str(&httpdate::fmt_http_date(date)).ok());
        let headers = &mut self.headers;
        for sent in headers.ok.iter_mut().chain(&mut headers.not_modified) {
            match &date {
                Some(date) => sent.insert(header::LAST_MODIFIED, date.clone()),
                None => sent.remove(header::LAST_MODIFIED),
            };
        }
    }

    pub fn last_modified(&self) -> Option<SystemTime> {
        self.last_modified
    }

    /// Returns the `ETag` of the feed in `encoding`, as its headers say it.
    pub fn etag(&self, encoding: Encoding) -> &str {
        self.not_modified_headers(encoding)
            .get(header::ETAG)
            .and_then(|etag| etag.to_str().ok())
            .unwrap_or_default()
    }

    /// Returns the headers of a `200` with the feed in `encoding`.
    pub fn headers(&self, encoding: Encoding) -> &HeaderMap {
        &self.headers.ok[encoding as usize]
    }

    /// Returns the headers of a `304` for the feed in `encoding`.
    pub fn not_modified_headers(&self, encoding: Encoding) -> &HeaderMap {
        &self.headers.not_modified[encoding as usize]
    }

    pub fn body(&self, encoding: Encoding) -> Bytes {
        match &self.body {
            Body::Encoded(encoded) => encoded.get(encoding),
            Body::Plain(bytes) if encoding == Encoding::Identity => bytes.clone(),
            Body::Plain(bytes) => encoding.encode(bytes),
        }
    }
}

impl Headers {
    /// Builds the headers of a feed in `format` whose ETag is `etag` (hex digits, quoted: a valid
    /// header value) and which a cache may keep for `max_age` (until the outlets can next
    /// have changed it), not dated yet.
    fn of(format: Format, etag: &str, max_age: Option<Duration>) -> Self {
        let value = |text: String| {
            HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        };
        let max_age = max_age.map_or(60, |age| age.as_secs().max(1));
        let cache_control = value(format!("public, max-age={max_age}"));
        let not_modified = Encoding::ALL.map(|encoding| {
            HeaderMap::from_iter([
                (header::ETAG, value(encoding.etag(etag))),
                (header::CACHE_CONTROL, cache_control.clone()),
                (header::VARY, HeaderValue::from_static("Accept-Encoding")),
                // Feeds are public: web-based readers on other origins may fetch them.
                (
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ),
            ])
        });
        let ok = Encoding::ALL.map(|encoding| {
            let mut ok = not_modified[encoding as usize].clone();
            let content_type = HeaderValue::from_static(format.content_type());
            ok.insert(header::CONTENT_TYPE, content_type);
            if let Some(coding) = encoding.header_value() {
                ok.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
            }
            ok
        });
        Self { ok, not_modified }
    }
}

pub struct Scope {
    pub title: String,
    /// What navigation calls it: "All", the outlet's name or the view's title.
    pub label: String,
    /// Below the base URL: `""`, `"outlets/abc/"` or `"views/sport/"`.
    pub path: String,
    /// One entry per story (the merged feed and views) rather than per item.
    pub merged: bool,
    pub items: Vec<Arc<StoredItem>>,
    update_every: Option<Duration>,
    /// The default feed in each format, in [`Format::ALL`]'s order: found by index, as every
    /// feed request finds one.
    rendered: Vec<RenderedFeed>,
}

pub struct Published {
    base_url: url::Url,
    hub: Option<url::Url>,
    pub outlet_names: HashMap<String, String>,
    /// Outlets, then views, in the config's order: the navigation of the HTML pages.
    pub order: Vec<ScopeKey>,
    scopes: HashMap<ScopeKey, Scope>,
    item_count: u64,
    /// The store's change mark when the build began: a change written during the build moves
    /// the mark past it, and is rendered by the next build.
    change: ChangeMark,
}

impl Published {
    /// Reads the newest items of every scope and renders each scope's default feeds.
    pub fn build(store: &Store, config: &Config) -> Result<Self, StoreError> {
        let mut published = Published {
            base_url: config.server.base_url.clone(),
            hub: config.server.websub_hub.clone(),
            outlet_names: config
                .outlets
                .iter()
                .map(|o| (o.id.clone(), o.name.clone()))
                .collect(),
            order: Vec::new(),
            scopes: HashMap::new(),
            change: store.change_mark()?,
            // Counted first: a poll committing during the build is then shown before it is
            // counted, never counted before it is shown (tests and probes wait on the count).
            item_count: store.item_count()?,
        };
        let title = &config.server.title;
        let order: Vec<&str> = config.outlets.iter().map(|o| o.id.as_str()).collect();
        let all: Vec<String> = order.iter().map(|o| o.to_string()).collect();
        let merged = store.recent_stories(MAX_LIMIT, &order, None)?;
        let every = update_every(config, &all);
        published.add_scope(
            ScopeKey::Merged,
            (title.clone(), "All".to_owned()),
            String::new(),
            every,
            merged,
        );
        for outlet in &config.outlets {
            let items = store.recent(&outlet.id, MAX_LIMIT)?;
            let scope_title = (format!("{title}: {}", outlet.name), outlet.name.clone());
            let path = format!("outlets/{}/", outlet.id);
            let every = update_every(config, std::slice::from_ref(&outlet.id));
            let key = ScopeKey::Outlet(outlet.id.clone());
            published.add_scope(key, scope_title, path, every, items);
        }
        for view in &config.views {
            let outlets = (!view.outlets.is_empty()).then_some(view.outlets.as_slice());
            let filter = Filter::of_view(view);
            let items: Vec<StoredItem> = store
                .recent_stories(MAX_LIMIT, &order, outlets)?
                .into_iter()
                .filter(|stored| filter.accepts(stored, true))
                .collect();
            let scope_title = (format!("{title}: {}", view.title), view.title.clone());
            let path = format!("views/{}/", view.id);
            let every = update_every(config, outlets.unwrap_or(&all));
            let key = ScopeKey::View(view.id.clone());
            published.add_scope(key, scope_title, path, every, items);
        }
        Ok(published)
    }

    fn add_scope(
        &mut self,
        key: ScopeKey,
        (title, label): (String, String),
        path: String,
        update_every: Option<Duration>,
        items: Vec<StoredItem>,
    ) {
        let mut scope = Scope {
            merged: !matches!(key, ScopeKey::Outlet(_)),
            title,
            label,
            path,
            items: items.into_iter().map(Arc::new).collect(),
            update_every,
            rendered: Vec::new(),
        };
        let shown = &scope.items[..DEFAULT_LIMIT.min(scope.items.len())];
        scope.rendered = Format::ALL
            .map(|format| {
                let body = Body::Encoded(Encoded::new(self.render(&scope, format, shown)));
                feed_of(format, shown, scope.update_every, body)
            })
            .into();
        if key != ScopeKey::Merged {
            self.order.push(key.clone());
        }
        self.scopes.insert(key, scope);
    }

    fn render(&self, scope: &Scope, format: Format, items: &[Arc<StoredItem>]) -> Vec<u8> {
        let channel = Channel {
            title: scope.title.clone(),
            base_url: &self.base_url,
            path: scope.path.clone(),
            outlet_names: &self.outlet_names,
            merged: scope.merged,
            update_every: scope.update_every,
            hub: self.hub.as_ref(),
        };
        render::render(format, &channel, items)
    }

    /// Returns the feed of `scope` (one of [`Published::scope`]'s) in `format`, with at most
    /// `limit` items that pass `filter`. The default feed is served as published; any other is
    /// rendered from the items in memory.
    pub fn feed<'a>(
        &self,
        scope: &'a Scope,
        format: Format,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Cow<'a, RenderedFeed> {
        let published = scope.rendered.get(format as usize);
        if let (Some(feed), None, DEFAULT_LIMIT) = (published, filter, limit) {
            return Cow::Borrowed(feed);
        }
        let items: Vec<Arc<StoredItem>> = scope
            .items
            .iter()
            .filter(|s| filter.is_none_or(|f| f.accepts(s, scope.merged)))
            .take(limit)
            .cloned()
            .collect();
        let body = Body::Plain(Bytes::from(self.render(scope, format, &items)));
        Cow::Owned(feed_of(format, &items, scope.update_every, body))
    }

    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    pub fn scope(&self, key: &ScopeKey) -> Option<&Scope> {
        self.scopes.get(key)
    }

    /// Takes over from `before`, the feeds served until now: a feed whose bytes are the same
    /// keeps its `Last-Modified`, one whose bytes changed gets the time of this change (as the
    /// store's change mark says it, so that every process sharing the store says the same),
    /// later than the one before — its items' own times can stay the same while it changes
    /// (another outlet's copy joining a story, a deletion, a new title). Returns the public
    /// URLs of the feeds that changed, for a WebSub hub to fetch.
    pub fn settle(&mut self, before: &Published) -> Vec<String> {
        let changed_at = SystemTime::from(self.change.at);
        let mut changed = Vec::new();
        for (key, scope) in &mut self.scopes {
            for (format, feed) in Format::ALL.into_iter().zip(&mut scope.rendered) {
                let old = before
                    .scopes
                    .get(key)
                    .and_then(|s| s.rendered.get(format as usize));
                let same_bytes = |old: &&RenderedFeed| {
                    old.etag(Encoding::Identity) == feed.etag(Encoding::Identity)
                };
                if let Some(old) = old.filter(same_bytes) {
                    feed.date(old.last_modified);
                    continue;
                }
                let after_previous = old
                    .and_then(|old| old.last_modified)
                    .map(|t| t + Duration::from_secs(1));
                // In whole seconds, as HTTP dates are: a fraction would make the date a reader
                // sends back look older than the feed.
                feed.date(
                    [feed.last_modified, after_previous, Some(changed_at)]
                        .into_iter()
                        .flatten()
                        .max()
                        .map(whole_seconds),
                );
                let path = format!("{}{}", scope.path, format.file_name());
                if let Ok(url) = self.base_url.join(&path) {
                    changed.push(url.to_string());
                }
            }
        }
        changed.sort();
        changed
    }

    pub fn item_count(&self) -> u64 {
        self.item_count
    }

    pub fn change(&self) -> ChangeMark {
        self.change
    }
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let since_epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
}

fn feed_of(
    format: Format,
    items: &[Arc<StoredItem>],
    max_age: Option<Duration>,
    body: Body,
) -> RenderedFeed {
    let bytes = match &body {
        Body::Encoded(encoded) => encoded.identity().clone(),
        Body::Plain(bytes) => bytes.clone(),
    };
    RenderedFeed::new(
        body,
        format,
        &format!("\"{}\"", hex(&Sha256::digest(&bytes)[..12])),
        items.iter().map(|s| SystemTime::from(s.modified_at)).max(),
        max_age,
    )
}

/// Tells how often the feed of `outlets` can change: the shortest time between two polls of any of
/// them (a schedule's period, but never less than `min_interval_secs`).
fn update_every(config: &Config, outlets: &[String]) -> Option<Duration> {
    let now = chrono::Utc::now();
    let floor = Duration::from_secs(config.polling.min_interval_secs);
    outlets
        .iter()
        .filter_map(|id| config.outlet(id))
        .filter_map(|outlet| schedule::period(&outlet.schedule, now))
        .map(|period| period.max(floor))
        .min()
}
