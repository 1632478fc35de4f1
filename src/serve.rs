//! HTTP for readers: the merged feed and each outlet's feed in three formats, served from
//! bytes rendered once per change; no feed request touches SQLite. For operators, `/status`
//! reads the store, `/healthz` says whether the daemon runs the config on disk, and `/metrics`
//! is for Prometheus.

mod conditional;
mod counting;
mod encoding;
mod feeds;
mod filter;
mod listen;
mod page;
mod published;

pub use listen::{connection_cap, serve, HEADER_TIMEOUT, SEND_TIMEOUT};
pub use published::{Published, ScopeKey};

use counting::Routes;

use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::config::LiveConfig;
use crate::metrics::{self, Metrics};
use crate::opml::Outline;
use crate::render::{Format, STYLESHEET, STYLESHEET_ROUTE};
use crate::status;
use crate::store::Store;
use crate::sync::Unpoisoned;

/// Items per feed when the reader does not ask for a number.
pub const DEFAULT_LIMIT: usize = 100;
/// The most items one request can get; also how many each published scope keeps in memory.
pub const MAX_LIMIT: usize = 1000;

/// What the handlers share: the current published feeds, swapped whole after each change.
pub struct FeedCache {
    current: RwLock<Arc<Published>>,
}

impl FeedCache {
    pub fn new(published: Published) -> Self {
        Self {
            current: RwLock::new(Arc::new(published)),
        }
    }

    pub fn current(&self) -> Arc<Published> {
        Arc::clone(&self.current.read().unpoisoned())
    }

    /// Publishes `published` and returns what it replaced, to be dropped by the caller: freeing
    /// a thousand items per scope and their renderings is long work, not to be done holding
    /// the lock every request takes, nor on a thread that answers requests.
    #[must_use = "the replaced feeds are freed where they are dropped"]
    pub fn replace(&self, published: Published) -> Arc<Published> {
        let published = Arc::new(published);
        std::mem::replace(&mut *self.current.write().unpoisoned(), published)
    }
}

/// What the routes need: the published feeds; for operators the store, the config in force
/// and the metrics.
#[derive(Clone)]
pub struct AppState {
    pub cache: Arc<FeedCache>,
    pub store: Arc<Store>,
    pub config: Arc<LiveConfig>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: AppState) -> Router {
    let merged = |format| move |state, request| feeds::merged(state, request, format);
    Routes::default()
        .get("/", page::merged)
        .get("/outlets/{outlet}/", page::outlet)
        .get("/views/{view}/", page::view)
        .get("/feed.xml", merged(Format::Rss))
        .get("/feed.atom", merged(Format::Atom))
        .get("/feed.json", merged(Format::Json))
        .get("/outlets/{outlet}/{file}", feeds::outlet)
        .get("/views/{view}/{file}", feeds::view)
        .get(STYLESHEET_ROUTE, stylesheet)
        .get("/opml", opml)
        .get("/healthz", healthz)
        .get("/status", status)
        .get("/metrics", metrics)
        .build()
        .with_state(state)
}

/// An error a reader can act on, as a plain-text response.
pub struct HttpError(StatusCode, String);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.1 + "\n",
        )
            .into_response()
    }
}

/// Serves every feed as an OPML 2.0 subscription list: tributary's own (merged, per outlet, per
/// view) and the outlets' feeds it polls, grouped by outlet.
async fn opml(State(state): State<AppState>) -> Response {
    let config = state.config.get();
    let base = &config.server.base_url;
    let url = |path: &str| crate::render::public_url(base, path);
    let feed = |text: String, xml_url: String, html_url: Option<String>| Outline {
        text,
        xml_url: Some(xml_url),
        html_url,
        children: Vec::new(),
    };
    let title = &config.server.title;
    let mut own = vec![feed(title.clone(), url("feed.xml"), Some(url("")))];
    own.extend(config.outlets.iter().map(|o| {
        let path = format!("outlets/{}/", o.id);
        feed(
            format!("{title}: {}", o.name),
            url(&format!("{path}feed.xml")),
            Some(url(&path)),
        )
    }));
    own.extend(config.views.iter().map(|v| {
        let path = format!("views/{}/", v.id);
        feed(
            format!("{title}: {}", v.title),
            url(&format!("{path}feed.xml")),
            Some(url(&path)),
        )
    }));
    let mut outlines = vec![Outline {
        text: title.clone(),
        xml_url: None,
        html_url: None,
        children: own,
    }];
    outlines.extend(config.outlets.iter().map(|o| {
        Outline {
            text: o.name.clone(),
            xml_url: None,
            html_url: None,
            children: o
                .feeds
                .iter()
                .map(|f| feed(o.name.clone(), f.to_string(), None))
                .collect(),
        }
    }));
    let headers = [(header::CONTENT_TYPE, "text/x-opml; charset=utf-8")];
    (headers, crate::opml::write(title, &outlines)).into_response()
}

/// Serves the XSLT stylesheet `/feed.xml` links, for browsers.
async fn stylesheet() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/xsl; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=86400"),
    ];
    (headers, STYLESHEET).into_response()
}

/// Reports whether the daemon is alive and serving; a refused config edit is a warning, not a
/// failure: the daemon still serves, on the previous config, and a restart would not fix the file.
/// `200` with `"status": "ok"` while the daemon can read its database; `503` with
/// `"status": "unhealthy"` and the reason while it cannot (the feeds are still served as last
/// rendered, but nothing new is stored), so that a load balancer sends readers elsewhere.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let items = state.cache.current().item_count();
    let mut health = serde_json::json!({ "status": "ok", "items": items });
    if let Some(refused) = state.config.refused() {
        health["warning"] = serde_json::Value::String(format!(
            "the config file was refused, so the previous one is in force: {}",
            refused.error
        ));
    }
    if let Some(error) = state.store.unreachable() {
        health["status"] = "unhealthy".into();
        health["error"] = format!("the database cannot be read: {error}").into();
        return (StatusCode::SERVICE_UNAVAILABLE, Json(health));
    }
    (StatusCode::OK, Json(health))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)];
    (content_type, state.metrics.encode()).into_response()
}

/// Reports how polling goes, for every configured feed (see [`status::Status`]).
async fn status(State(state): State<AppState>) -> Result<Json<status::Status>, HttpError> {
    let report = crate::sync::blocking(move || {
        let mut report = status::build(&state.config.get(), &state.store, chrono::Utc::now())?;
        report.config_refused = state.config.refused();
        Ok::<_, crate::store::StoreError>(report)
    })
    .await;
    report.map(Json).map_err(|e| {
        HttpError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the status: {e}"),
        )
    })
}
