//! The published state: for the merged feed, each outlet and each view, its newest items and
//! their default renderings in every coding, built once per change of the stored items or of
//! the config.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::HeaderValue;
use sha2::{Digest, Sha256};

use super::encoding::{Encoded, Encoding};
use super::filter::Filter;
use super::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::config::Config;
use crate::model::hex;
use crate::render::{self, Channel, Format};
use crate::schedule;
use crate::store::{Store, StoreError, StoredItem};

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
    /// The validators and caching headers as sent, made when the feed is rendered and again
    /// when it is dated: a request only copies them. (Formatting them per request, with the
    /// copy of the request's headers that went with it, was a third of what a request cost
    /// beyond the least an axum server does: BENCHMARKS.md, section 2.)
    headers: Headers,
}

#[derive(Clone)]
struct Headers {
    /// The ETag of each coding, each a representation of its own (see [`Encoding::etag`]).
    etags: [HeaderValue; 3],
    last_modified: Option<HeaderValue>,
    cache_control: HeaderValue,
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
        etag: &str,
        last_modified: Option<SystemTime>,
        max_age: Option<Duration>,
    ) -> Self {
        let mut feed = Self {
            body,
            headers: Headers::of(etag, max_age),
            last_modified: None,
        };
        feed.date(last_modified);
        feed
    }

    /// Sets `Last-Modified`, and the header that says it.
    fn date(&mut self, last_modified: Option<SystemTime>) {
        self.last_modified = last_modified;
        self.headers.last_modified = last_modified
            .and_then(|date| HeaderValue::from_str(&httpdate::fmt_http_date(date)).ok());
    }

    pub fn last_modified(&self) -> Option<SystemTime> {
        self.last_modified
    }

    /// The `ETag` of the feed in `encoding`.
    pub fn etag(&self, encoding: Encoding) -> &HeaderValue {
        &self.headers.etags[encoding as usize]
    }

    pub fn last_modified_header(&self) -> Option<&HeaderValue> {
        self.headers.last_modified.as_ref()
    }

    pub fn cache_control(&self) -> &HeaderValue {
        &self.headers.cache_control
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
    /// The headers of a feed whose ETag is `etag` (hex digits, quoted: a valid header value)
    /// and which a cache may keep for `max_age` (until the outlets can next have changed it),
    /// not dated yet.
    fn of(etag: &str, max_age: Option<Duration>) -> Self {
        let value = |text: String| {
            HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        };
        let max_age = max_age.map_or(60, |age| age.as_secs().max(1));
        Self {
            etags: Encoding::ALL.map(|encoding| value(encoding.etag(etag))),
            last_modified: None,
            cache_control: value(format!("public, max-age={max_age}")),
        }
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
    rendered: HashMap<Format, RenderedFeed>,
}

pub struct Published {
    base_url: url::Url,
    hub: Option<url::Url>,
    pub outlet_names: HashMap<String, String>,
    /// Outlets, then views, in the config's order: the navigation of the HTML pages.
    pub order: Vec<ScopeKey>,
    scopes: HashMap<ScopeKey, Scope>,
    item_count: u64,
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
            rendered: HashMap::new(),
        };
        let shown = &scope.items[..DEFAULT_LIMIT.min(scope.items.len())];
        for format in Format::ALL {
            let body = Body::Encoded(Encoded::new(self.render(&scope, format, shown)));
            let feed = feed_of(shown, scope.update_every, body);
            scope.rendered.insert(format, feed);
        }
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

    /// The feed of `key` in `format`, with at most `limit` items that pass `filter`; `None`
    /// for a scope that is not configured. The default feed is served as published; any
    /// other is rendered from the items in memory.
    pub fn feed(
        &self,
        key: &ScopeKey,
        format: Format,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Option<Cow<'_, RenderedFeed>> {
        let scope = self.scopes.get(key)?;
        if let (Some(feed), None, DEFAULT_LIMIT) = (scope.rendered.get(&format), filter, limit) {
            return Some(Cow::Borrowed(feed));
        }
        let items: Vec<Arc<StoredItem>> = scope
            .items
            .iter()
            .filter(|s| filter.is_none_or(|f| f.accepts(s, scope.merged)))
            .take(limit)
            .cloned()
            .collect();
        let body = Body::Plain(Bytes::from(self.render(scope, format, &items)));
        Some(Cow::Owned(feed_of(&items, scope.update_every, body)))
    }

    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    pub fn scope(&self, key: &ScopeKey) -> Option<&Scope> {
        self.scopes.get(key)
    }

    /// Takes over from `before`, the feeds served until now: a feed whose bytes are the same
    /// keeps its `Last-Modified`, one whose bytes changed gets the time of this change, later
    /// than the one before — its items' own times can stay the same while it changes (another
    /// outlet's copy joining a story, a deletion, a new title). Returns the public URLs of the
    /// feeds that changed, for a WebSub hub to fetch.
    pub fn settle(&mut self, before: &Published) -> Vec<String> {
        let now = SystemTime::now();
        let mut changed = Vec::new();
        for (key, scope) in &mut self.scopes {
            for (format, feed) in &mut scope.rendered {
                let old = before.scopes.get(key).and_then(|s| s.rendered.get(format));
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
                    [feed.last_modified, after_previous, Some(now)]
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
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let since_epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
}

fn feed_of(items: &[Arc<StoredItem>], max_age: Option<Duration>, body: Body) -> RenderedFeed {
    let bytes = match &body {
        Body::Encoded(encoded) => encoded.identity().clone(),
        Body::Plain(bytes) => bytes.clone(),
    };
    RenderedFeed::new(
        body,
        &format!("\"{}\"", hex(&Sha256::digest(&bytes)[..12])),
        items.iter().map(|s| SystemTime::from(s.modified_at)).max(),
        max_age,
    )
}

/// How often the feed of `outlets` can change: the shortest time between two polls of any of
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
