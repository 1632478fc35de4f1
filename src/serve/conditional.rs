//! Conditional requests (RFC 9110 §13): a reader that already has the current feed gets `304`.

use std::time::SystemTime;

use axum::http::{header, HeaderMap};

/// Tells whether the request's validators show the reader already has the representation whose
/// validators are `etag` and `last_modified`. `If-None-Match` wins over `If-Modified-Since`.
pub fn not_modified(headers: &HeaderMap, etag: &str, last_modified: Option<SystemTime>) -> bool {
    if let Some(if_none_match) = headers.get(header::IF_NONE_MATCH) {
        let Ok(candidates) = if_none_match.to_str() else {
            return false;
        };
        // Weak comparison: a `W/` prefix (added by some proxies when they compress) still matches.
        let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
        return candidates
            .split(',')
            .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag));
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    matches!((since, last_modified), (Some(since), Some(modified)) if modified <= since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn etags_match_strongly_weakly_and_in_lists() {
        let etag = "\"abc\"";
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "\"abc\"")]),
            etag,
            None
        ));
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "W/\"abc\"")]),
            etag,
            None
        ));
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "\"x\", \"abc\"")]),
            etag,
            None
        ));
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "*")]),
            etag,
            None
        ));
        assert!(!not_modified(
            &headers(&[(header::IF_NONE_MATCH, "\"abd\"")]),
            etag,
            None
        ));
        assert!(!not_modified(&HeaderMap::new(), etag, None));
    }

    #[test]
    fn dates_compare_and_etags_take_precedence() {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let same = httpdate::fmt_http_date(modified);
        let earlier = httpdate::fmt_http_date(modified - Duration::from_secs(1));
        assert!(not_modified(
            &headers(&[(header::IF_MODIFIED_SINCE, &same)]),
            "\"e\"",
            Some(modified)
        ));
        assert!(!not_modified(
            &headers(&[(header::IF_MODIFIED_SINCE, &earlier)]),
            "\"e\"",
            Some(modified)
        ));
        let both = headers(&[
            (header::IF_NONE_MATCH, "\"old\""),
            (header::IF_MODIFIED_SINCE, &same),
        ]);
        assert!(!not_modified(&both, "\"e\"", Some(modified)));
        assert!(!not_modified(
            &headers(&[(header::IF_MODIFIED_SINCE, "yesterday")]),
            "\"e\"",
            Some(modified)
        ));
    }
}
