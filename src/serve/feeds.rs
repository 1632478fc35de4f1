//! The feed routes: the merged feed, each outlet's and each view's, in three formats, narrowed
//! by the reader's query when it has one, with the headers a good web citizen sends.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::encoding::Encoding;
use super::filter::Filter;
use super::published::{RenderedFeed, ScopeKey};
use super::{conditional, AppState, HttpError, DEFAULT_LIMIT, MAX_LIMIT};
use crate::render::Format;
use crate::store::{SearchQuery, StoreError};

/// The most items a full-text search considers: far more than a feed shows.
const SEARCH_LIMIT: usize = 10 * MAX_LIMIT;

#[derive(Default, Deserialize)]
pub struct FeedQuery {
    limit: Option<String>,
    outlet: Option<String>,
    q: Option<String>,
    category: Option<String>,
    since: Option<String>,
}

// Each handler takes the whole request last and reads its headers and query there: the
// `HeaderMap` extractor would copy the headers for every request, and `Query` would run the
// deserializer over an empty query, which most requests have.

pub async fn merged(
    state: State<AppState>,
    request: Request,
    format: Format,
) -> Result<Response, HttpError> {
    respond(state, ScopeKey::Merged, format, request).await
}

pub async fn outlet(
    state: State<AppState>,
    Path((outlet, file)): Path<(String, String)>,
    request: Request,
) -> Result<Response, HttpError> {
    let format = format_named(&file)?;
    respond(state, ScopeKey::Outlet(outlet), format, request).await
}

pub async fn view(
    state: State<AppState>,
    Path((view, file)): Path<(String, String)>,
    request: Request,
) -> Result<Response, HttpError> {
    let format = format_named(&file)?;
    respond(state, ScopeKey::View(view), format, request).await
}

fn format_named(file: &str) -> Result<Format, HttpError> {
    Format::ALL
        .into_iter()
        .find(|f| f.file_name() == file)
        .ok_or_else(|| HttpError(StatusCode::NOT_FOUND, format!("no feed named {file:?}")))
}

fn bad(parameter: &str, raw: &str, why: &str) -> HttpError {
    // A long value is named by its start: the answer to a 15 KB query need not repeat it.
    let shown = match raw.char_indices().nth(80) {
        Some((cut, _)) => format!("{:?}…", &raw[..cut]),
        None => format!("{raw:?}"),
    };
    HttpError(
        StatusCode::BAD_REQUEST,
        format!("{parameter}={shown} is not allowed: {why}"),
    )
}

/// Parses the reader's query, or none.
fn feed_query(uri: &Uri) -> Result<FeedQuery, HttpError> {
    if uri.query().is_none() {
        return Ok(FeedQuery::default());
    }
    Query::try_from_uri(uri)
        .map(|Query(query)| query)
        .map_err(|rejection| HttpError(rejection.status(), rejection.body_text()))
}

/// Reads the query's limit, and its filter if it narrows the feed at all.
fn read_query(
    query: &FeedQuery,
    known_outlet: impl Fn(&str) -> bool,
) -> Result<(usize, Option<Filter>), HttpError> {
    let limit = match &query.limit {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(
                    "limit",
                    raw,
                    &format!("give a whole number from 1 to {MAX_LIMIT}"),
                ))
            }
        },
    };
    let mut filter = Filter::default();
    let mut narrowed = false;
    if let Some(raw) = &query.outlet {
        let outlets: Vec<String> = raw.split(',').map(|o| o.trim().to_owned()).collect();
        if let Some(unknown) = outlets.iter().find(|o| !known_outlet(o)) {
            return Err(bad(
                "outlet",
                raw,
                &format!("{unknown:?} is not a configured outlet"),
            ));
        }
        filter.outlets = outlets;
        narrowed = true;
    }
    if let Some(raw) = &query.category {
        let categories: Vec<String> = raw
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        if categories.is_empty() {
            return Err(bad("category", raw, "name at least one category"));
        }
        filter.categories = categories;
        narrowed = true;
    }
    if let Some(raw) = &query.since {
        let since = DateTime::parse_from_rfc3339(raw).map_err(|e| {
            bad(
                "since",
                raw,
                &format!("give an RFC 3339 time such as 2026-11-25T08:00:00Z ({e})"),
            )
        })?;
        filter.since = Some(since.with_timezone(&Utc));
        narrowed = true;
    }
    Ok((limit, narrowed.then_some(filter)))
}

async fn respond(
    State(state): State<AppState>,
    key: ScopeKey,
    format: Format,
    request: Request,
) -> Result<Response, HttpError> {
    // The parts, not the request, are kept across the search's await: its body is not `Sync`.
    let (request, _) = request.into_parts();
    let published = state.cache.current();
    let Some(scope) = published.scope(&key) else {
        let what = match &key {
            ScopeKey::Merged => "feed".to_owned(),
            ScopeKey::Outlet(id) => format!("outlet {id:?}"),
            ScopeKey::View(id) => format!("view {id:?}"),
        };
        return Err(HttpError(StatusCode::NOT_FOUND, format!("no {what}")));
    };
    let query = feed_query(&request.uri)?;
    let known = |id: &str| published.outlet_names.contains_key(id);
    let (limit, mut filter) = read_query(&query, known)?;
    if let Some(raw) = &query.q {
        let fts = SearchQuery::parse(raw).map_err(|why| bad("q", raw, &why.to_string()))?;
        // Only the outlets the feed can show: a busy outlet's matches never crowd out a
        // quiet one's.
        let asked = filter
            .as_ref()
            .map(|f| f.outlets.clone())
            .filter(|o| !o.is_empty());
        let outlets = asked.or_else(|| match &key {
            ScopeKey::Merged => None,
            ScopeKey::Outlet(id) => Some(vec![id.clone()]),
            ScopeKey::View(id) => state
                .config
                .get()
                .views
                .iter()
                .find(|v| v.id == *id)
                .map(|v| v.outlets.clone())
                .filter(|o| !o.is_empty()),
        });
        let store = state.store.clone();
        let matches = tokio::task::spawn_blocking(move || {
            store.search(&fts, outlets.as_deref(), SEARCH_LIMIT)
        })
        .await
        .map_err(|e| HttpError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| match e {
            StoreError::TooSlow(_) => HttpError(StatusCode::BAD_REQUEST, e.to_string()),
            e => HttpError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("search failed: {e}"),
            ),
        })?;
        filter.get_or_insert_with(Filter::default).matches = Some(matches);
    }
    let feed = published.feed(scope, format, limit, filter.as_ref());
    Ok(send(&feed, &request.headers))
}

/// Builds the response for `feed`: `304` when the reader has it, else the body in the coding the
/// reader prefers; with validators, caching and CORS headers either way.
fn send(feed: &RenderedFeed, request: &HeaderMap) -> Response {
    let encoding = Encoding::negotiate(request);
    if conditional::not_modified(request, feed.etag(encoding), feed.last_modified()) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        *response.headers_mut() = feed.not_modified_headers(encoding).clone();
        return response;
    }
    let mut response = Response::new(Body::from(feed.body(encoding)));
    *response.headers_mut() = feed.headers(encoding).clone();
    response
}
