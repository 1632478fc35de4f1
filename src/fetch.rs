//! HTTP for feeds, as a polite and careful client: conditional GET, a total time limit, a body
//! cap counted after decompression, redirects followed by hand (so that each hop is checked and
//! a permanent move is noticed), per-host and global concurrency limits, and the server's hints
//! on when to ask again. It knows nothing of feed formats; it hands back bytes.

mod guard;
mod hints;
mod limits;

pub use limits::Slot;

use std::time::{Duration, SystemTime};

use reqwest::header::{
    HeaderMap, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, LOCATION,
};
use reqwest::StatusCode;
use url::Url;

use crate::config::Polling;
use limits::Limits;

/// Redirects followed for one request before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Feed types first, then anything XML, so that content negotiation picks the feed.
const ACCEPT_FEEDS: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
    application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.1";

/// What the server said last time, sent back so that an unchanged feed costs a `304`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// How the client behaves; [`Settings::from`] reads it from `[polling]`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub user_agent: String,
    pub timeout: Duration,
    pub max_body_bytes: u64,
    pub per_host_concurrency: usize,
    pub max_concurrency: usize,
    pub allow_private_networks: bool,
    pub proxy: Option<Url>,
}

impl From<&Polling> for Settings {
    fn from(polling: &Polling) -> Self {
        Self {
            user_agent: polling.user_agent.clone(),
            timeout: Duration::from_secs(polling.timeout_secs),
            max_body_bytes: polling.max_body_bytes,
            per_host_concurrency: polling.per_host_concurrency,
            max_concurrency: polling.max_concurrency,
            allow_private_networks: polling.allow_private_networks,
            proxy: polling.proxy.clone(),
        }
    }
}

/// A successful answer: a new body, or `304 Not Modified`.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    /// The address that answered, after any redirects: the base for relative links.
    pub url: Url,
    /// Where a chain of only permanent redirects (`301`, `308`) led: the feed's new address.
    pub moved_to: Option<Url>,
    /// How long the server says the answer stays fresh (`Cache-Control`, `Expires`).
    pub fresh_for: Option<Duration>,
    /// `None` for `304 Not Modified`.
    pub body: Option<Body>,
}

#[derive(Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {}", causes(.0))]
    Request(#[from] reqwest::Error),
    #[error("no complete answer within {} s (the time limit)", .0.as_secs())]
    TimedOut(Duration),
    #[error("server answered {status}{}", retry_after_words(*.retry_after))]
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    #[error("body is larger than {limit} bytes ([polling] max_body_bytes)")]
    TooLarge { limit: u64 },
    #[error("server answered {0} with an empty body")]
    Empty(StatusCode),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect loop at {0}")]
    RedirectLoop(Url),
    #[error("redirect to {0:?}, which is not an http or https URL")]
    BadRedirect(String),
    #[error("refused the redirect to {url}: {reason}; set [polling] allow_private_networks = true if this is intended")]
    Refused { url: Url, reason: String },
}

fn retry_after_words(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(" (retry after {} s)", d.as_secs()))
}

/// Joins the error and each of its causes: reqwest's own message ("error sending request") says
/// nothing of what went wrong, which its sources do ("dns error", "connection refused").
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl FetchError {
    /// Returns the HTTP status behind the error, when the server got as far as answering.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            FetchError::Status { status, .. } | FetchError::Empty(status) => Some(*status),
            _ => None,
        }
    }

    /// Tells how long the server asked us to wait (`429` or `503` with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// One HTTP client for the whole daemon: connections to an outlet are pooled across its feeds,
/// and the concurrency limits hold across all outlets.
#[derive(Clone)]
pub struct Fetcher {
    /// For the hosts the operator wrote, which may be anywhere.
    trusted: reqwest::Client,
    /// For every other host: connects to public addresses only (unless allowed otherwise).
    guarded: reqwest::Client,
    settings: std::sync::Arc<Settings>,
    limits: std::sync::Arc<Limits>,
}

impl Fetcher {
    pub fn new(settings: Settings) -> Result<Self, FetchError> {
        let builder = || {
            let builder = reqwest::Client::builder()
                .user_agent(&settings.user_agent)
                // The time limit is one deadline over the whole exchange, in `fetch`.
                .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
                // Redirects are followed by hand, one checked hop at a time.
                .redirect(reqwest::redirect::Policy::none())
                // A daemon's traffic should not change route because of a variable in its
                // environment: only a configured proxy is used.
                .no_proxy();
            match &settings.proxy {
                Some(proxy) => reqwest::Proxy::all(proxy.as_str()).map(|p| builder.proxy(p)),
                None => Ok(builder),
            }
        };
        let trusted = builder()?.build()?;
        // Behind a proxy, the proxy resolves names and must enforce the same rule.
        let guarded = match (settings.allow_private_networks, &settings.proxy) {
            (false, None) => builder()?
                .dns_resolver(std::sync::Arc::new(guard::PublicOnlyResolver))
                .build()?,
            _ => trusted.clone(),
        };
        Ok(Self {
            trusted,
            guarded,
            limits: std::sync::Arc::new(Limits::new(
                settings.per_host_concurrency,
                settings.max_concurrency,
            )),
            settings: std::sync::Arc::new(settings),
        })
    }

    /// Returns the most requests in flight at once, over every host (`[polling] max_concurrency`).
    pub fn max_concurrency(&self) -> usize {
        self.settings.max_concurrency
    }

    /// Waits for the turn of a request to `url`'s host (see `limits`).
    pub async fn slot(&self, url: &Url) -> Slot {
        self.limits
            .acquire(url.host_str().unwrap_or_default())
            .await
    }

    /// GETs `url` in its `slot`, sending `validators` so that the server can answer `304 Not
    /// Modified`. `origin` is the address the operator configured: redirects to its host are
    /// trusted, any other host must be on the public internet. The whole exchange, redirects
    /// and body included, ends within the configured time limit, counted from now (the turn
    /// has come). The host limit applies to `url`'s host; redirect hops share its slot.
    pub async fn fetch(
        &self,
        _slot: Slot,
        url: &Url,
        origin: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let limit = self.settings.timeout;
        tokio::time::timeout(limit, self.follow(url, origin, validators))
            .await
            .map_err(|_| FetchError::TimedOut(limit))?
    }

    async fn follow(
        &self,
        url: &Url,
        origin: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let mut visited = vec![url.clone()];
        let mut only_permanent = true;
        loop {
            let current = visited.last().expect("starts with the requested URL");
            let response = self.send(current, origin, validators).await?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                let moved_to = (only_permanent && visited.len() > 1).then(|| current.clone());
                return self.answer(response, current.clone(), moved_to).await;
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects);
            }
            only_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            let next = redirect_target(current, response.headers())?;
            if visited.contains(&next) {
                return Err(FetchError::RedirectLoop(next));
            }
            visited.push(next);
        }
    }

    /// Sends one hop: a request to `url`, through the client its host calls for.
    async fn send(
        &self,
        url: &Url,
        origin: &Url,
        validators: &Validators,
    ) -> Result<reqwest::Response, FetchError> {
        let guarded = !self.settings.allow_private_networks && url.host() != origin.host();
        let refused = |reason| FetchError::Refused {
            url: url.clone(),
            reason,
        };
        if guarded {
            guard::check_literal(url).map_err(refused)?;
        }
        let client = if guarded {
            &self.guarded
        } else {
            &self.trusted
        };
        let mut request = client.get(url.clone()).header(ACCEPT, ACCEPT_FEEDS);
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date);
        }
        let response = request.send().await?;
        if guarded && self.settings.proxy.is_none() {
            if let Some(addr) = response.remote_addr() {
                guard::check_connected(addr).map_err(refused)?;
            }
        }
        Ok(response)
    }

    /// Reads the body, refused once it is larger than `max_body_bytes`: at once when it says so, or
    /// as soon as it grows past it. Chunks arrive decompressed, so a small gzip bomb is cut off at
    /// the limit too.
    async fn read_body(
        &self,
        response: &mut reqwest::Response,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.settings.max_body_bytes;
        let declared = header(headers, CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Turns the last hop's response into a result, reading at most `max_body_bytes`.
    async fn answer(
        &self,
        mut response: reqwest::Response,
        url: Url,
        moved_to: Option<Url>,
    ) -> Result<Fetched, FetchError> {
        let status = response.status();
        let now = SystemTime::now();
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            let asks_to_wait = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            let retry_after = asks_to_wait
                .then(|| hints::retry_after(response.headers(), now))
                .flatten();
            return Err(FetchError::Status {
                status,
                retry_after,
            });
        }
        let headers = response.headers().clone();
        let fresh_for = hints::fresh_for(&headers, now);
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                status,
                url,
                moved_to,
                fresh_for,
                body: None,
            });
        }
        let bytes = self.read_body(&mut response, &headers).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(FetchError::Empty(status));
        }
        Ok(Fetched {
            status,
            url,
            moved_to,
            fresh_for,
            body: Some(Body {
                bytes,
                content_type: header(&headers, CONTENT_TYPE),
                validators: Validators {
                    etag: header(&headers, ETAG),
                    last_modified: header(&headers, LAST_MODIFIED),
                },
            }),
        })
    }
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = header(headers, LOCATION).unwrap_or_default();
    match from.join(&location) {
        Ok(next) if matches!(next.scheme(), "http" | "https") && !location.is_empty() => Ok(next),
        _ => Err(FetchError::BadRedirect(location)),
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests;
