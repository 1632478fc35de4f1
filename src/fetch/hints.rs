//! What a response says about when to ask again: `Retry-After` on a refusal, and
//! `Cache-Control: max-age` or `Expires` on an answer.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, CACHE_CONTROL, DATE, EXPIRES, RETRY_AFTER};

/// Reads `Retry-After`, in seconds or as an HTTP date, as a delay. A date is measured against the
/// response's own `Date` (else `now`), so that a skewed clock on either side does not matter.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let sent = http_date(headers, DATE).unwrap_or(now);
    Some(date.duration_since(sent).unwrap_or_default())
}

fn http_date(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(name)?.to_str().ok()?).ok()
}

/// Tells how long the response stays fresh: `Cache-Control: max-age`, else `Expires` less the
/// response's own `Date` (so that a skewed clock on either side does not matter). `no-store` and
/// `no-cache` promise nothing.
pub fn fresh_for(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let cache_control = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|directive| directive.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    if cache_control
        .iter()
        .any(|d| d == "no-store" || d == "no-cache")
    {
        return None;
    }
    let max_age = cache_control.iter().find_map(|d| {
        let value = d.strip_prefix("max-age=")?;
        value.trim_matches('"').parse::<u64>().ok()
    });
    if let Some(secs) = max_age {
        return Some(Duration::from_secs(secs));
    }
    let expires = http_date(headers, EXPIRES)?;
    let sent = http_date(headers, DATE).unwrap_or(now);
    Some(expires.duration_since(sent).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn at(http_date: &str) -> SystemTime {
        httpdate::parse_http_date(http_date).unwrap()
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = at("Wed, 25 Nov 2026 08:00:00 GMT");
        let secs = headers(&[(RETRY_AFTER, "120")]);
        assert_eq!(retry_after(&secs, now), Some(Duration::from_secs(120)));
        let date = headers(&[(RETRY_AFTER, "Wed, 25 Nov 2026 08:05:00 GMT")]);
        assert_eq!(retry_after(&date, now), Some(Duration::from_secs(300)));
        let skewed = headers(&[
            (RETRY_AFTER, "Wed, 25 Nov 2026 10:05:00 GMT"),
            (DATE, "Wed, 25 Nov 2026 10:00:00 GMT"),
        ]);
        assert_eq!(retry_after(&skewed, now), Some(Duration::from_secs(300)));
        let past = headers(&[(RETRY_AFTER, "Wed, 25 Nov 2026 07:00:00 GMT")]);
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn max_age_wins_over_expires_and_no_cache_promises_nothing() {
        let now = at("Wed, 25 Nov 2026 08:00:00 GMT");
        let both = headers(&[
            (CACHE_CONTROL, "public, max-age=600"),
            (EXPIRES, "Wed, 25 Nov 2026 09:00:00 GMT"),
        ]);
        assert_eq!(fresh_for(&both, now), Some(Duration::from_secs(600)));
        let expires = headers(&[
            (DATE, "Wed, 25 Nov 2026 07:00:00 GMT"),
            (EXPIRES, "Wed, 25 Nov 2026 07:15:00 GMT"),
        ]);
        assert_eq!(fresh_for(&expires, now), Some(Duration::from_secs(900)));
        let no_cache = headers(&[(CACHE_CONTROL, "no-cache, max-age=600")]);
        assert_eq!(fresh_for(&no_cache, now), None);
        let bad = headers(&[(EXPIRES, "0")]);
        assert_eq!(fresh_for(&bad, now), None);
    }
}
