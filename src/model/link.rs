//! Links two ways. The publisher's link is what a reader follows: as the feed wrote it, resolved
//! when relative, less tracking parameters. The canonical link is one spelling per page, so that
//! the same story reached through a tracking link, a fragment or an upper-case host is found
//! again as the same page; an entry identified by its link keeps the fragment besides
//! ([`identity_link`]), for anchors on one page are distinct entries.

use url::Url;

/// Query parameters that identify a campaign or a click, never the article.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
];

fn is_tracking_param(name: &str) -> bool {
    name.starts_with("utm_") || TRACKING_PARAMS.contains(&name)
}

/// Returns the publisher's link: `raw` as written when it is an absolute http(s) URL of printable
/// ASCII (the scheme lower-cased), byte for byte — a fragment, a parameter without `=`, the host's
/// case — else resolved against `base` and spelled as the `url` crate spells it. `None` when `raw`
/// names no web page.
///
/// ```
/// use tributary::model::link::publisher_url;
///
/// let url = publisher_url("https://E.example/a?utm_source=x&id=5&flag#frag", None).unwrap();
/// assert_eq!(url, "https://E.example/a?utm_source=x&id=5&flag#frag");
/// ```
pub fn publisher_url(raw: &str, base: Option<&Url>) -> Option<String> {
    let raw = raw.trim();
    let absolute = Url::parse(raw);
    let resolved = match (&absolute, base) {
        (Ok(url), _) => url.clone(),
        (Err(_), Some(base)) => base.join(raw).ok()?,
        (Err(_), None) => return None,
    };
    if !matches!(resolved.scheme(), "http" | "https") || resolved.host().is_none() {
        return None;
    }
    let as_written = absolute.is_ok() && raw.bytes().all(|b| b.is_ascii_graphic());
    if !as_written {
        return Some(resolved.into());
    }
    // The scheme, which names no page, in the one case every reader expects.
    let after_scheme = &raw[resolved.scheme().len()..];
    Some(format!("{}{after_scheme}", resolved.scheme()))
}

/// Strips `url` of its tracking parameters (`utm_*`, `fbclid`, `gclid` and the like), every other
/// byte kept: what `[polling] strip_tracking_parameters` does to the links served.
///
/// ```
/// use tributary::model::link::without_tracking_parameters;
///
/// let url = without_tracking_parameters("https://E.example/a?utm_source=x&id=5&flag#frag");
/// assert_eq!(url, "https://E.example/a?id=5&flag#frag");
/// ```
pub fn without_tracking_parameters(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    let mut out = match rest.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| !is_tracking_param(pair.split('=').next().unwrap_or(pair)))
                .collect();
            match kept.is_empty() {
                true => path.to_owned(),
                false => format!("{path}?{}", kept.join("&")),
            }
        }
        None => rest.to_owned(),
    };
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Resolves `raw` against `base` and canonicalizes it: http(s) only, host lower-cased (the `url`
/// crate does that), no fragment, no tracking parameters. `None` when `raw` names no web page.
///
/// ```
/// use tributary::model::link::canonical_url;
///
/// let url = canonical_url("HTTPS://News.com.au/story?id=7&utm_source=rss#top", None).unwrap();
/// assert_eq!(url.as_str(), "https://news.com.au/story?id=7");
/// assert!(canonical_url("javascript:alert(1)", None).is_none());
/// ```
pub fn canonical_url(raw: &str, base: Option<&Url>) -> Option<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let mut url = match base {
        Some(base) => base.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_tracking_param(name))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url)
}

/// Returns `raw` canonicalized with its fragment kept: the identity of an entry identified by its
/// link, for the fragment is what tells apart entries that are anchors on one page (a blog's
/// posts of a day on the day's page). `None` when `raw` names no web page.
///
/// ```
/// use tributary::model::link::identity_link;
///
/// let link = identity_link("HTTPS://Blog.example/2017/06/26.html?utm_source=rss#a080605");
/// assert_eq!(link.as_deref(), Some("https://blog.example/2017/06/26.html#a080605"));
/// ```
pub fn identity_link(raw: &str) -> Option<String> {
    let mut url = canonical_url(raw, None)?;
    let fragment = raw
        .split_once('#')
        .map(|(_, f)| f.trim())
        .filter(|f| !f.is_empty());
    url.set_fragment(fragment);
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(raw: &str) -> Option<String> {
        canonical_url(raw, None).map(String::from)
    }

    #[test]
    fn strips_tracking_fragment_and_case() {
        assert_eq!(
            canon("HTTPS://WWW.News.com.au/world/story?utm_source=rss&id=7&fbclid=x#comments")
                .as_deref(),
            Some("https://www.news.com.au/world/story?id=7")
        );
        assert_eq!(
            canon("http://www.abc.net.au/news/2017-05-23/x/8550000?utm_medium=feed&gclid=1")
                .as_deref(),
            Some("http://www.abc.net.au/news/2017-05-23/x/8550000")
        );
    }

    #[test]
    fn keeps_meaningful_queries_and_paths() {
        assert_eq!(
            canon("https://a.example/p?page=2").as_deref(),
            Some("https://a.example/p?page=2")
        );
        assert_eq!(
            canon("https://a.example/Path/Case").as_deref(),
            Some("https://a.example/Path/Case")
        );
    }

    #[test]
    fn resolves_relative_links_against_the_base() {
        let base = Url::parse("https://a.example/news/feed.xml").unwrap();
        assert_eq!(
            canonical_url("../story/1", Some(&base))
                .map(String::from)
                .as_deref(),
            Some("https://a.example/story/1")
        );
    }

    #[test]
    fn the_publishers_link_is_kept_as_written() {
        let kept = |raw| publisher_url(raw, None);
        assert_eq!(
            kept(" https://E.example/a?utm_source=x&id=5&flag#frag ").as_deref(),
            Some("https://E.example/a?utm_source=x&id=5&flag#frag")
        );
        assert_eq!(
            kept("http://purl.org/rss/2.0/?item").as_deref(),
            Some("http://purl.org/rss/2.0/?item")
        );
        assert_eq!(
            without_tracking_parameters("https://a.example/x?fbclid=1&utm_medium=rss"),
            "https://a.example/x"
        );
        assert_eq!(
            kept("https://a.example/a b").as_deref(),
            Some("https://a.example/a%20b")
        );
        assert_eq!(
            kept("HTTP://www.Example.org/thing").as_deref(),
            Some("http://www.Example.org/thing")
        );
        assert_eq!(kept("javascript:alert(1)"), None);
        let base = Url::parse("https://a.example/news/feed.xml").unwrap();
        assert_eq!(
            publisher_url("../story/1#c2", Some(&base)).as_deref(),
            Some("https://a.example/story/1#c2")
        );
    }

    #[test]
    fn an_identity_link_keeps_the_fragment_that_tells_anchors_apart() {
        let day = "http://scripting.com/2017/06/26.html";
        let first = identity_link(&format!("{day}#a080605"));
        let second = identity_link(&format!("{day}#a030658"));
        assert_ne!(first, second);
        assert_eq!(
            first.as_deref(),
            Some("http://scripting.com/2017/06/26.html#a080605")
        );
        assert_eq!(identity_link(&format!("{day}#")).as_deref(), Some(day));
        assert_eq!(identity_link("javascript:x#y"), None);
    }

    #[test]
    fn refuses_what_is_not_a_web_page() {
        assert_eq!(canon(""), None);
        assert_eq!(canon("/relative/without/base"), None);
        assert_eq!(canon("javascript:alert(1)"), None);
        assert_eq!(canon("mailto:news@example.com"), None);
    }
}
