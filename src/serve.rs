//! HTTP for readers: the merged feed and each outlet's feed in three formats, served from
//! bytes rendered once per change; no feed request touches SQLite. For operators, `/status`
//! reads the store, `/healthz` says whether the daemon runs the config on disk, and `/metrics`
//! is for Prometheus.

mod conditional;
mod published;

pub use published::Published;

use std::sync::{Arc, RwLock};

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::config::LiveConfig;
use crate::metrics::{self, Metrics};
use crate::render::Format;
use crate::status;
use crate::store::Store;

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
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn replace(&self, published: Published) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(published);
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
    let feeds = Router::new()
        .route("/feed.xml", get(|s, q, h| merged(s, q, h, Format::Rss)))
        .route("/feed.atom", get(|s, q, h| merged(s, q, h, Format::Atom)))
        .route("/feed.json", get(|s, q, h| merged(s, q, h, Format::Json)))
        .route("/outlets/{outlet}/{file}", get(outlet))
        .with_state(Arc::clone(&state.cache));
    let operators = Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state.clone());
    feeds
        .merge(operators)
        .layer(middleware::from_fn_with_state(state.metrics, count_request))
}

/// Counts each answered request by its route and status for `/metrics`.
async fn count_request(
    State(metrics): State<Arc<Metrics>>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.observe_request(route, response.status().as_u16());
    response
}

#[derive(Deserialize)]
struct FeedQuery {
    limit: Option<String>,
}

/// An error a reader can act on, as a plain-text response.
struct HttpError(StatusCode, String);

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

fn parse_limit(query: &FeedQuery) -> Result<usize, HttpError> {
    let Some(raw) = &query.limit else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(0) | Err(_) => Err(HttpError(
            StatusCode::BAD_REQUEST,
            format!("limit={raw:?} is not allowed: give a whole number from 1 to {MAX_LIMIT}"),
        )),
        Ok(n) => Ok(n.min(MAX_LIMIT)),
    }
}

async fn merged(
    State(cache): State<Arc<FeedCache>>,
    Query(query): Query<FeedQuery>,
    headers: HeaderMap,
    format: Format,
) -> Result<Response, HttpError> {
    respond(&cache, None, format, &query, &headers)
}

async fn outlet(
    State(cache): State<Arc<FeedCache>>,
    Path((outlet, file)): Path<(String, String)>,
    Query(query): Query<FeedQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let Some(format) = Format::ALL.into_iter().find(|f| f.file_name() == file) else {
        return Err(HttpError(
            StatusCode::NOT_FOUND,
            format!("no feed named {file:?}"),
        ));
    };
    respond(&cache, Some(&outlet), format, &query, &headers)
}

fn respond(
    cache: &FeedCache,
    outlet: Option<&str>,
    format: Format,
    query: &FeedQuery,
    headers: &HeaderMap,
) -> Result<Response, HttpError> {
    let limit = parse_limit(query)?;
    let published = cache.current();
    let Some(feed) = published.feed(outlet, format, limit) else {
        let outlet = outlet.unwrap_or_default();
        return Err(HttpError(
            StatusCode::NOT_FOUND,
            format!("no outlet {outlet:?}"),
        ));
    };
    let mut response = if conditional::not_modified(headers, &feed.etag, feed.last_modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut ok = feed.body.clone().into_response();
        ok.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        ok
    };
    let response_headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&feed.etag) {
        response_headers.insert(header::ETAG, etag);
    }
    if let Some(date) = feed.last_modified {
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(date)) {
            response_headers.insert(header::LAST_MODIFIED, value);
        }
    }
    Ok(response)
}

/// Alive and serving; a refused config edit is a warning, not a failure: the daemon still
/// serves, on the previous config, and a restart would not fix the file.
async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    let items = state.cache.current().item_count();
    let mut health = serde_json::json!({ "status": "ok", "items": items });
    if let Some(refused) = state.config.refused() {
        health["warning"] = serde_json::Value::String(format!(
            "the config file was refused, so the previous one is in force: {}",
            refused.error
        ));
    }
    Json(health)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)];
    (content_type, state.metrics.encode()).into_response()
}

/// How polling goes, for every configured feed (see [`status::Status`]).
async fn status(State(state): State<AppState>) -> Result<Json<status::Status>, HttpError> {
    let report = tokio::task::spawn_blocking(move || {
        let mut report = status::build(&state.config.get(), &state.store, chrono::Utc::now())?;
        report.config_refused = state.config.refused();
        Ok::<_, crate::store::StoreError>(report)
    })
    .await;
    let failed = |e: &dyn std::fmt::Display| {
        HttpError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the status: {e}"),
        )
    };
    match report {
        Ok(Ok(report)) => Ok(Json(report)),
        Ok(Err(e)) => Err(failed(&e)),
        Err(e) => Err(failed(&e)),
    }
}
