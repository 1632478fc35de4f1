//! The river of news as an HTML page, for people who open tributary in a browser: newest
//! first, each story with its outlet, when, a thumbnail, a summary and who else reported it.
//! It needs no JavaScript; the template (`templates/river.html`) is compiled into the binary.
//! Pages are rendered per request from the items in memory, since "5 min ago" ages.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::encoding::Encoding;
use super::published::{Published, ScopeKey};
use super::{conditional, AppState, HttpError, DEFAULT_LIMIT};
use crate::model::hex;
use crate::parse::plain_text;
use crate::render::{self, Format};
use crate::store::{AlsoReported, StoredItem};

/// Summaries longer than this are cut at a word.
const SUMMARY_CHARS: usize = 280;

#[derive(Template)]
#[template(path = "river.html")]
struct River {
    title: String,
    heading: String,
    nav: Vec<NavLink>,
    feeds: Vec<FeedLink>,
    stories: Vec<Story>,
    opml: String,
}

struct NavLink {
    label: String,
    href: String,
    current: bool,
}

struct FeedLink {
    label: &'static str,
    mime: &'static str,
    href: String,
}

struct Story {
    title: String,
    url: Option<String>,
    outlet: String,
    when_iso: String,
    when_relative: String,
    image: Option<String>,
    summary: String,
    also: Vec<Also>,
    related: Vec<Also>,
}

struct Also {
    outlet: String,
    url: Option<String>,
    title: String,
}

impl Also {
    fn of(reported: &AlsoReported, name: impl Fn(&str) -> String) -> Self {
        Also {
            outlet: name(&reported.outlet),
            url: reported.url.clone(),
            title: reported.title.clone(),
        }
    }
}

pub async fn merged(state: State<AppState>, headers: HeaderMap) -> Result<Response, HttpError> {
    page(state, ScopeKey::Merged, &headers)
}

pub async fn outlet(
    state: State<AppState>,
    Path(outlet): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    page(state, ScopeKey::Outlet(outlet), &headers)
}

pub async fn view(
    state: State<AppState>,
    Path(view): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    page(state, ScopeKey::View(view), &headers)
}

fn page(
    State(state): State<AppState>,
    key: ScopeKey,
    request: &HeaderMap,
) -> Result<Response, HttpError> {
    let published = state.cache.current();
    let html = render(&published, &key, Utc::now())
        .ok_or_else(|| HttpError(StatusCode::NOT_FOUND, "no such page".into()))?
        .map_err(|e| {
            HttpError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot render the page: {e}"),
            )
        })?;
    let encoding = Encoding::negotiate(request);
    let etag = encoding.etag(&format!(
        "\"{}\"",
        hex(&Sha256::digest(html.as_bytes())[..12])
    ));
    let mut response = if conditional::not_modified(request, &etag, None) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut ok = encoding.encode(html.as_bytes()).into_response();
        let headers = ok.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        if let Some(coding) = encoding.header_value() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        ok
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    // The page runs no script and loads nothing but the stories' images: a policy that allows
    // only those and its own inline style, so that nothing an outlet's text smuggles in runs.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

fn render(
    published: &Published,
    key: &ScopeKey,
    now: DateTime<Utc>,
) -> Option<Result<String, askama::Error>> {
    let scope = published.scope(key)?;
    let base = published.base_url();
    let href = |path: &str| render::public_url(base, path);
    let keys = std::iter::once(ScopeKey::Merged).chain(published.order.iter().cloned());
    let nav = keys
        .filter_map(|k| {
            let other = published.scope(&k)?;
            Some(NavLink {
                label: other.label.clone(),
                href: href(&other.path),
                current: k == *key,
            })
        })
        .collect();
    let feeds = Format::ALL
        .into_iter()
        .map(|format| {
            let (label, mime) = match format {
                Format::Rss => ("RSS", "application/rss+xml"),
                Format::Atom => ("Atom", "application/atom+xml"),
                Format::Json => ("JSON Feed", "application/feed+json"),
            };
            FeedLink {
                label,
                mime,
                href: href(&format!("{}{}", scope.path, format.file_name())),
            }
        })
        .collect();
    let name = |outlet: &str| {
        published
            .outlet_names
            .get(outlet)
            .cloned()
            .unwrap_or_else(|| outlet.to_owned())
    };
    let stories = scope
        .items
        .iter()
        .take(DEFAULT_LIMIT)
        .map(|stored| story(stored, &name, now))
        .collect();
    let river = River {
        title: scope.title.clone(),
        heading: scope.title.clone(),
        nav,
        feeds,
        stories,
        opml: href("opml"),
    };
    Some(river.render())
}

fn story(stored: &StoredItem, name: &impl Fn(&str) -> String, now: DateTime<Utc>) -> Story {
    let item = &stored.item;
    Story {
        title: item.title.clone(),
        url: item.url.clone(),
        outlet: name(&item.outlet),
        when_iso: stored
            .sort_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        when_relative: relative(stored.sort_at, now),
        image: item.image.clone(),
        summary: item
            .summary
            .as_deref()
            .map(|s| shorten(&plain_text(s)))
            .unwrap_or_default(),
        also: stored.also.iter().map(|a| Also::of(a, name)).collect(),
        related: stored.related.iter().map(|a| Also::of(a, name)).collect(),
    }
}

/// Says how long ago `at` was: "just now", "5 min ago", "3 h ago", "2 days ago", then the date.
fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - at).num_minutes();
    match minutes {
        m if m < 1 => "just now".to_owned(),
        m if m < 60 => format!("{m} min ago"),
        m if m < 24 * 60 => format!("{} h ago", m / 60),
        m if m < 7 * 24 * 60 => match m / (24 * 60) {
            1 => "yesterday".to_owned(),
            days => format!("{days} days ago"),
        },
        _ => at.format("%-d %b %Y").to_string(),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= SUMMARY_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(SUMMARY_CHARS).collect();
    let at_word = cut.rfind(char::is_whitespace).unwrap_or(cut.len());
    format!("{}…", cut[..at_word].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_read_as_people_say_them() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let ago = |minutes| relative(now - chrono::Duration::minutes(minutes), now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(5), "5 min ago");
        assert_eq!(ago(150), "2 h ago");
        assert_eq!(ago(30 * 60), "yesterday");
        assert_eq!(ago(3 * 24 * 60), "3 days ago");
        assert_eq!(ago(40 * 24 * 60), "16 Oct 2026");
    }

    #[test]
    fn long_summaries_are_cut_at_a_word() {
        let long = "word ".repeat(100);
        let short = shorten(&long);
        assert!(short.ends_with("word…"), "{short}");
        assert!(short.chars().count() <= SUMMARY_CHARS + 1);
        assert_eq!(shorten("brief"), "brief");
    }
}
