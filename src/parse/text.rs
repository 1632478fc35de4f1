//! Text and HTML as readers should get them: titles as plain text, bodies as safe HTML.

use std::borrow::Cow;
use std::cell::RefCell;

use url::Url;

use super::nesting;

/// Extracts plain text from a title that may hold markup or (doubly) encoded entities, with
/// whitespace collapsed, so that every reader shows the same words.
pub fn plain_text(raw: &str) -> String {
    let looks_like_markup = raw
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'));
    // With no tag allowed, ammonia keeps only the text, escaped; decoding follows below. Its
    // builder is made once per thread: making one (the default sets, then emptied) cost more
    // than cleaning a summary, and the store's writer makes the text of every summary.
    thread_local! {
        static TEXT_ONLY: ammonia::Builder<'static> = ammonia::Builder::empty();
    }
    let text = if !looks_like_markup {
        raw.to_owned()
    } else if nesting::too_deep(raw).is_some() {
        nesting::text_of(raw)
    } else {
        TEXT_ONLY.with(|text_only| text_only.clean(raw).to_string())
    };
    collapse_whitespace(&html_escape::decode_html_entities(&text))
}

pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// HTML as [`sanitize_html`] left it.
pub struct Sanitized {
    /// `None` when nothing is left.
    pub html: Option<String>,
    /// How deep the markup nested, when that was too deep to sanitize and its text was kept.
    pub flattened_from: Option<usize>,
}

/// Makes feed HTML safe to embed in any reader: no scripts, event handlers, styles, forms or
/// frames, no `javascript:` or `data:` URLs, and relative URLs made absolute against `base`
/// (a relative link means nothing once the item leaves its outlet; without a base they are
/// dropped). HTML nested deeper than [`nesting::MAX_DEPTH`] is kept as its text, at a cost
/// that grows with its length only.
pub fn sanitize_html(html: &str, base: Option<&Url>) -> Sanitized {
    if let Some(depth) = nesting::too_deep(html) {
        let text = collapse_whitespace(&nesting::text_of(html));
        return Sanitized {
            html: (!text.is_empty()).then_some(text),
            flattened_from: Some(depth),
        };
    }
    // A sanitizer's sets of allowed tags and attributes cost more to build than most summaries
    // cost to clean: each thread builds one, and tells it each call's base.
    thread_local! {
        static BASE: RefCell<Option<Url>> = const { RefCell::new(None) };
        static SANITIZER: ammonia::Builder<'static> = {
            let mut builder = ammonia::Builder::default();
            builder.url_relative(ammonia::UrlRelative::Custom(Box::new(against_base)));
            builder
        };
    }
    fn against_base(relative: &str) -> Option<Cow<'_, str>> {
        BASE.with_borrow(|base| {
            let absolute = base.as_ref()?.join(relative).ok()?;
            Some(Cow::Owned(String::from(absolute)))
        })
    }
    BASE.with_borrow_mut(|current| *current = base.cloned());
    let clean = SANITIZER.with(|sanitizer| sanitizer.clean(html).to_string());
    let clean = clean.trim();
    Sanitized {
        html: (!clean.is_empty()).then(|| clean.to_owned()),
        flattened_from: None,
    }
}

/// Carries plain text into an HTML field (an Atom `type="text"` summary, say).
pub fn text_to_html(text: &str) -> Option<String> {
    let text = collapse_whitespace(text);
    (!text.is_empty()).then(|| html_escape::encode_text(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_plain_text() {
        assert_eq!(
            plain_text("Labor&#039;s   plan\n for\tschools"),
            "Labor's plan for schools"
        );
        assert_eq!(
            plain_text("<b>Breaking:</b> rates &amp;amp; tax"),
            "Breaking: rates &amp; tax"
        );
        assert_eq!(plain_text("Tom &amp; Jerry"), "Tom & Jerry");
        assert_eq!(plain_text("5 < 6 and AT&T"), "5 < 6 and AT&T");
    }

    #[test]
    fn html_loses_everything_unsafe() {
        let dirty = r#"<p onclick="x()" style="color:red">Hi<script>alert(1)</script>
            <a href="javascript:alert(1)">j</a><img src="data:image/png;base64,AAAA">
            <iframe src="https://evil.example"></iframe><form><input></form></p>"#;
        let clean = sanitize_html(dirty, None).html.unwrap();
        for banned in [
            "onclick",
            "style",
            "script",
            "javascript:",
            "data:",
            "iframe",
            "form",
            "input",
        ] {
            assert!(!clean.contains(banned), "{banned} survived in {clean}");
        }
        assert!(clean.starts_with("<p>Hi"));
    }

    #[test]
    fn relative_urls_become_absolute() {
        let base = Url::parse("https://www.abc.net.au/news/2017-05-23/story/8550000").unwrap();
        let clean = sanitize_html(
            r#"<a href="/news/other">x</a><img src="pic.jpg">"#,
            Some(&base),
        )
        .html
        .unwrap();
        assert!(
            clean.contains(r#"href="https://www.abc.net.au/news/other""#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"src="https://www.abc.net.au/news/2017-05-23/story/pic.jpg""#),
            "{clean}"
        );
    }

    #[test]
    fn empty_html_is_none() {
        assert_eq!(sanitize_html("  <script>x</script> ", None).html, None);
    }

    #[test]
    fn html_nested_too_deep_to_sanitize_is_kept_as_text() {
        let deep = "<div>".repeat(100_000) + "Tom &amp; <i>Jerry</i>" + &"</div>".repeat(100_000);
        let kept = sanitize_html(&deep, None);
        assert_eq!(kept.html.as_deref(), Some("Tom &amp; Jerry"));
        assert_eq!(kept.flattened_from, Some(100_001));
        assert_eq!(plain_text(&deep), "Tom & Jerry");
        assert_eq!(text_to_html("  "), None);
        assert_eq!(text_to_html("a < b").as_deref(), Some("a &lt; b"));
    }
}
