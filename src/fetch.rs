//! HTTP for feeds: conditional GET, a total time limit and a body cap. It knows nothing of
//! feed formats; it hands back bytes and the validators to send next time.

use std::time::Duration;

use reqwest::header::{
    HeaderMap, ACCEPT, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;
use url::Url;

/// Bodies larger than this are cut off: no real feed comes close, and an endless or hostile
/// response must not exhaust memory.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Feed types first, then anything XML, so that content negotiation picks the feed.
const ACCEPT_FEEDS: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
    application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.1";

/// What the server said last time, sent back so that an unchanged feed costs a `304`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    NotModified,
    Body(Body),
}

#[derive(Debug)]
pub struct Body {
    pub status: StatusCode,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request failed: {}", causes(.0))]
    Request(#[from] reqwest::Error),
    #[error("server answered {0}")]
    Status(StatusCode),
    #[error("body is larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// The error and each of its causes: reqwest's own message ("error sending request") says
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
    /// The HTTP status behind the error, when the server got as far as answering.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            FetchError::Status(status) => Some(*status),
            FetchError::Request(e) => e.status(),
            FetchError::TooLarge { .. } => None,
        }
    }
}

/// One HTTP client for the whole daemon: connections to an outlet are pooled across its feeds.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(user_agent: &str, timeout: Duration) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            // A daemon's traffic should not change route because of a variable in its environment.
            .no_proxy()
            .build()?;
        Ok(Self { client })
    }

    /// GETs `url`, sending `validators` so that the server can answer `304 Not Modified`.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone()).header(ACCEPT, ACCEPT_FEEDS);
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(date) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date);
        }
        let mut response = request.send().await?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge {
                    limit: MAX_BODY_BYTES,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(Body {
            status,
            bytes,
            content_type: header(&headers, CONTENT_TYPE),
            validators: Validators {
                etag: header(&headers, ETAG),
                last_modified: header(&headers, LAST_MODIFIED),
            },
        }))
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let fetcher = Fetcher::new("test", Duration::from_secs(5)).unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/feed")).unwrap();
        let error = fetcher
            .fetch(&url, &Validators::default())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("Connection refused"), "{error}");
        assert_eq!(error.status(), None);
    }
}
